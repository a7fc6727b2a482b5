// The immutable configuration snapshot that worker threads serve from, and the listening
// sockets it owns. Built on the control thread; published to workers; never modified after.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "balancer/picker.h"
#include "base/ip_address.h"
#include "base/result.h"
#include "config/model.h"
#include "routing/rule_table.h"

namespace sluice::proxy {

// One SO_REUSEPORT listening socket per worker for one listener address. Closed when the
// last snapshot referring to it is gone.
struct ListenSocketSet {
  SocketAddress address;
  std::vector<int> fds;  // fds[k] is served by worker k
  ~ListenSocketSet();
};

struct TargetRuntime {
  SocketAddress address;
  std::shared_ptr<balancer::TargetStats> stats;  // shared with later snapshots
};

struct TargetGroupRuntime {
  const config::TargetGroup* config = nullptr;
  std::vector<TargetRuntime> targets;
  std::vector<balancer::TargetStats*> candidates;  // parallel to targets, for the pickers
};

struct ListenerRuntime {
  const config::LoadBalancer* load_balancer = nullptr;
  const config::Listener* listener = nullptr;
  std::unique_ptr<routing::RuleTable> rules;
  std::string port_text;  // listener port in decimal, for headers and redirects
  std::shared_ptr<ListenSocketSet> sockets;
};

struct Snapshot {
  config::Config config;
  std::vector<TargetGroupRuntime> target_groups;  // parallel to config.target_groups
  std::vector<ListenerRuntime> listeners;
  uint64_t generation = 0;
};

// Carries what must survive from one snapshot to the next: listening sockets that stay
// open, and the live counters of targets that stay registered. Control thread only.
class SnapshotBuilder {
 public:
  explicit SnapshotBuilder(int worker_count) : worker_count_(worker_count) {}

  // Compiles `config` into a snapshot, reusing sockets and target counters from the previous
  // build. On error (a port that cannot be bound, a regex that does not compile) nothing
  // changes and the previous snapshot stays in force.
  Result<std::shared_ptr<const Snapshot>> Build(config::Config config);

 private:
  int worker_count_;
  uint64_t generation_ = 0;
  std::map<std::string, std::weak_ptr<ListenSocketSet>> sockets_;             // by address
  std::map<std::string, std::shared_ptr<balancer::TargetStats>> target_stats_;  // by group/ip:port
};

}  // namespace sluice::proxy
