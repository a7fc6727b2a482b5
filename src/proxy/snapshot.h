// The immutable configuration snapshot that worker threads serve from, and the listening
// sockets it owns. Built on the control thread; published to workers; never modified after.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "balancer/picker.h"
#include "balancer/sticky_cookie.h"
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
  uint64_t sticky_id = 0;                        // StickyHash("ip:port"), names it in cookies
};

struct TargetGroupRuntime {
  const config::TargetGroup* config = nullptr;
  std::vector<TargetRuntime> targets;
  std::vector<balancer::TargetStats*> candidates;  // parallel to targets, for the pickers
  uint64_t sticky_id = 0;         // StickyHash(name): names the group in AWSALBTG cookies
  uint64_t lb_cookie_scope = 0;   // scope of its AWSALB cookies
  uint64_t app_cookie_scope = 0;  // scope of its AWSALBAPP cookies
};

struct ListenerRuntime {
  const config::LoadBalancer* load_balancer = nullptr;
  const config::Listener* listener = nullptr;
  std::unique_ptr<routing::RuleTable> rules;
  std::string port_text;      // listener port in decimal, for headers and redirects
  uint64_t sticky_scope = 0;  // StickyHash("<lb>:<address>"): scopes AWSALBTG cookies
  std::shared_ptr<ListenSocketSet> sockets;
};

// A target removed from its group by a reload: it gets no new requests; requests in flight
// may finish until deadline_ms (monotonic), then their connections are closed.
struct DrainingTarget {
  std::string group;
  std::string id;
  SocketAddress address;
  config::HealthCheck check;
  std::shared_ptr<balancer::TargetStats> stats;
  int64_t deadline_ms = 0;
};

struct Snapshot {
  config::Config config;
  std::vector<TargetGroupRuntime> target_groups;  // parallel to config.target_groups
  std::vector<ListenerRuntime> listeners;
  std::vector<DrainingTarget> draining;
  std::shared_ptr<const balancer::StickyCookieCodec> sticky_codec;  // same key for the process
  uint64_t generation = 0;

  // True when requests to the target counted by `stats` must be ended now: it was
  // deregistered and its deregistration delay has passed.
  bool DrainExpired(const balancer::TargetStats* stats, int64_t now_ms) const {
    for (const DrainingTarget& d : draining) {
      if (d.stats.get() == stats) return now_ms >= d.deadline_ms;
    }
    return false;
  }
};

// Carries what must survive from one snapshot to the next: listening sockets that stay
// open, and the live counters of targets that stay registered. Control thread only.
class SnapshotBuilder {
 public:
  // now_ms: the monotonic clock (injected so that draining deadlines are testable).
  explicit SnapshotBuilder(int worker_count, int64_t (*now_ms)() = nullptr)
      : worker_count_(worker_count), now_ms_(now_ms) {}

  // Compiles `config` into a snapshot, reusing sockets and target counters from the previous
  // build. On error (a port that cannot be bound, a regex that does not compile) nothing
  // changes and the previous snapshot stays in force.
  Result<std::shared_ptr<const Snapshot>> Build(config::Config config);

 private:
  // True when a listening socket of an earlier build that is still in use is on `port`.
  bool ListensOnPort(uint16_t port) const;

  struct KnownTarget {
    std::string group;
    std::string id;
    SocketAddress address;
    config::HealthCheck check;
    int deregistration_delay_seconds = 300;
  };
  int worker_count_;
  int64_t (*now_ms_)();
  uint64_t generation_ = 0;
  std::map<std::string, KnownTarget> known_;        // registered targets of the last build
  std::map<std::string, DrainingTarget> draining_;  // by group/ip:port
  std::shared_ptr<const balancer::StickyCookieCodec> sticky_codec_ =
      std::make_shared<balancer::StickyCookieCodec>();
  std::map<std::string, std::weak_ptr<ListenSocketSet>> sockets_;               // by address
  std::map<std::string, std::shared_ptr<balancer::TargetStats>> target_stats_;  // by group/ip:port
};

}  // namespace sluice::proxy
