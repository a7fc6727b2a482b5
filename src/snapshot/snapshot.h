// The immutable configuration snapshot that worker threads serve from: the config compiled
// into what the data plane decides on (rule tables, target-group runtimes with their live
// counters, protocol and stickiness enums, draining targets). Compiled on the control
// thread; published to workers; never modified after. This module opens no socket: the
// data plane owns listening sockets (proxy/listener_sockets.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "balancer/picker.h"
#include "balancer/sticky_cookie.h"
#include "base/ip_address.h"
#include "base/result.h"
#include "config/model.h"
#include "observe/metrics.h"
#include "routing/rule_table.h"
#include "snapshot/protocols.h"
#include "tls/client_context.h"
#include "tls/server_context.h"

namespace sluice::snapshot {

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
  TargetProtocol protocol = TargetProtocol::kHttp;
  ProtocolVersion protocol_version = ProtocolVersion::kHttp1;
  StickinessType stickiness = StickinessType::kNone;
  HealthCheckProtocol health_check_protocol = HealthCheckProtocol::kHttp;
  // HTTPS traffic or HTTPS health checks: the client side of TLS to its targets.
  std::shared_ptr<const tls::ClientContext> tls;
  uint32_t tls_profile = 0;  // tls->profile() for HTTPS traffic, 0 for HTTP: the pool key's
  std::string arn;           // config::TargetGroupArn (access logs)
  int metrics_slot = -1;     // observe::MetricSlots slot; -1: no metrics (slots exhausted)
};

struct ListenerRuntime {
  const config::LoadBalancer* load_balancer = nullptr;
  const config::Listener* listener = nullptr;
  std::unique_ptr<routing::RuleTable> rules;
  SocketAddress address;  // BindAddress:Port
  ListenerProtocol protocol = ListenerProtocol::kHttp;
  std::string port_text;      // listener port in decimal, for headers and redirects
  uint64_t sticky_scope = 0;  // StickyHash("<lb>:<address>"): scopes AWSALBTG cookies
  // HTTPS: the certificates and policy every accepted connection's session starts from.
  std::shared_ptr<const tls::ServerContext> tls;
  std::string elb_log_name;         // "app/<name>/<id>" (access log elb); "net/" for a network LB
  std::string listener_id;          // the listener ARN's last part (NLB access log field 5)
  uint64_t access_log_key = 0;      // the load balancer's access log stream; 0: logs off
  uint64_t connection_log_key = 0;  // its connection log stream; 0: logs off
  int lb_metrics_slot = -1;         // the load balancer's observe::MetricSlots slot; -1: none
};

// The access / connection log stream keys of a load balancer (non-zero, distinct).
uint64_t AccessLogKey(const std::string& load_balancer_name);
uint64_t ConnectionLogKey(const std::string& load_balancer_name);

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
    return now_ms >= DrainDeadline(stats);
  }
  // When requests to the target counted by `stats` must be ended (INT64_MAX: not draining).
  int64_t DrainDeadline(const balancer::TargetStats* stats) const {
    for (const DrainingTarget& d : draining) {
      if (d.stats.get() == stats) return d.deadline_ms;
    }
    return INT64_MAX;
  }
};

// Compiles configs into snapshots and carries what must survive from one snapshot to the
// next: the live counters of targets that stay registered, and deregistered targets while
// they drain. Control thread only.
class SnapshotCompiler {
 public:
  // Last step before a compiled snapshot is committed (e.g. opening its listening sockets);
  // an error refuses the snapshot and changes nothing.
  using Accept = std::function<Result<bool>(const Snapshot&)>;

  // now_ms: the monotonic clock (injected so that draining deadlines are testable).
  explicit SnapshotCompiler(int64_t (*now_ms)() = nullptr) : now_ms_(now_ms) {}

  // How many workers serve the snapshots: each gets its own TLS session cache per HTTPS
  // target group (tls/client_context.h). Set before the first Build.
  void set_worker_count(size_t workers) { worker_count_ = workers; }
  // Where load balancers and target groups get their metric slots (by name, for the life of
  // the process); none: no metrics. Set before the first Build; must outlive the compiler.
  void set_metric_slots(observe::MetricSlots* slots) { metric_slots_ = slots; }

  // Certificates are read from their files and checked at every build; the errors name the
  // config file, line and field, one per line.

  // Compiles `config` into a snapshot, reusing target counters from the previous build. On
  // error (a regex that does not compile, an unknown protocol, `accept` failing) nothing
  // changes and the previous snapshot stays in force.
  Result<std::shared_ptr<const Snapshot>> Build(config::Config config, const Accept& accept = {});

 private:
  // A registered target of a build.
  struct KnownTarget {
    std::string id;
    SocketAddress address;
    std::shared_ptr<balancer::TargetStats> stats;
  };
  // One group's registered targets as compiled, with what they were compiled from. The next
  // build reuses them whole when those are unchanged: an API call registers targets in one
  // group of many, and 100,000 targets would otherwise be compiled again on every call.
  // The settings of a group its compiled targets depend on.
  struct GroupSettings {
    config::HealthCheck check;
    int deregistration_delay_seconds = 300;
    // The flow-termination attributes, given to the targets' stats at Commit.
    bool reset_flows_at_drain_end = false;
    int32_t unhealthy_flow_grace_ms = 0;
    bool operator==(const GroupSettings&) const = default;
  };
  struct GroupTargets {
    // What they are compiled from: (Id, port) in order, and the group's settings.
    std::vector<std::pair<std::string, int>> ids;
    GroupSettings settings;
    // What they compile to.
    std::vector<TargetRuntime> targets;
    std::vector<balancer::TargetStats*> candidates;  // parallel to targets
    std::map<std::string, KnownTarget> known;        // by group/ip:port
  };
  using GroupMap = std::map<std::string, std::shared_ptr<const GroupTargets>>;  // by group name
  // What a build would commit: the registered targets of every group.
  struct Pending {
    GroupMap groups;
  };
  Result<bool> CompileTargetGroups(Snapshot* snap, Pending* next) const;
  // `tg`'s targets: the last build's when `last` (the same group in it) was compiled from the
  // same inputs, else compiled again.
  Result<std::shared_ptr<const GroupTargets>> TargetsOf(
      const config::TargetGroup& tg, const std::shared_ptr<const GroupTargets>& last) const;
  // The live counters of target `key` ("group/ip:port"): kept from the last build (`last`,
  // its group there) or from its drain, else new.
  std::shared_ptr<balancer::TargetStats> StatsFor(const std::string& key,
                                                  const config::TargetGroup& tg,
                                                  const GroupTargets* last) const;
  // Makes `next` the state, turns deregistered targets into drains, lists them in `snap`.
  void Commit(Pending next, int64_t now, Snapshot* snap);

  int64_t (*now_ms_)();
  size_t worker_count_ = 1;
  observe::MetricSlots* metric_slots_ = nullptr;
  uint64_t generation_ = 0;
  GroupMap groups_;                                 // registered targets of the last build
  std::map<std::string, DrainingTarget> draining_;  // by group/ip:port
  std::shared_ptr<const balancer::StickyCookieCodec> sticky_codec_ =
      std::make_shared<balancer::StickyCookieCodec>();
};

// target_health_state.unhealthy.* as TargetStats::unhealthy_flow_grace_ms: reset at once (0),
// after the draining interval (its ms), or never (-1: termination off and no interval).
int32_t UnhealthyFlowGraceMs(const config::TargetGroupAttributes& a);

}  // namespace sluice::snapshot
