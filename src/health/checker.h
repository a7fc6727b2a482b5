// The active health checker: one thread with its own epoll loop that probes every registered
// target of every target group a listener uses (HTTP GET or TCP connect), spreads the probes
// over the interval, drives each target's HealthStateMachine and publishes the verdict to the
// workers through TargetStats::routable. It never runs on a worker's request path.
//
// Cost: O(log n) per probe (a timer heap orders the checks), at most max_probes sockets open
// at once, and the DescribeTargetHealth report is kept up to date row by row and published at
// most every publish_interval_ms, a copy of each group in which something changed. Targets
// keep their slot across updates: an update costs what its changed groups hold.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "balancer/picker.h"
#include "base/ip_address.h"
#include "config/model.h"
#include "health/target_health.h"
#include "tls/client_context.h"

namespace sluice::health {

// The HTTP version of a group's HTTP and HTTPS checks: its ProtocolVersion (reference §2.3).
// HTTP2 and GRPC groups are checked over HTTP/2 (probe_h2.h), a GRPC group's checks judged
// by grpc-status against check.grpc_matcher.
enum class CheckVersion : uint8_t { kHttp1, kHttp2, kGrpc };

// A health-check log stream a group's checks go to (the load balancers that forward to it
// with health_check_logs.s3.enabled): an opaque key for the sink and the elb field.
struct CheckLogStream {
  uint64_t key = 0;
  std::string elb;  // "app/<name>/<id>"
  bool operator==(const CheckLogStream&) const = default;
};

// A target group as the checker sees it.
struct MonitoredGroup {
  std::string name;
  config::HealthCheck check;
  int slow_start_seconds = 0;
  // Some listener's default actions or rules forward to it. When false its targets are not
  // checked and are reported unused (Target.NotInUse), as ALB does.
  bool in_use = true;
  // HTTPS checks: the group's TLS client side (SNI, verification); null for other checks.
  std::shared_ptr<const tls::ClientContext> tls;
  // proxy_protocol_v2.enabled: checks start with PROXY v2's LOCAL header (NLB's checks do,
  // reference §8.7), so that a target that requires the header accepts them; an HTTPS
  // check sends it in the clear before its handshake.
  bool proxy_protocol_v2 = false;
  CheckVersion version = CheckVersion::kHttp1;
  // Health-check logs: where each completed check is logged (none: not logged), and the
  // group's identity in the entries (its ARN).
  std::vector<CheckLogStream> check_logs;
  std::string log_group_id;
  // The unhealthy-flow grace its targets' stats carry (TargetStats::unhealthy_flow_grace_ms),
  // from which a row's unhealthy.draining deadline is computed: here so that a change makes
  // the group differ and its rows are computed again.
  int32_t unhealthy_flow_grace_ms = 0;
  bool operator==(const MonitoredGroup&) const = default;  // tls: the same context
};

// A target as the checker sees it: what to probe and where to publish the verdict.
struct MonitoredTarget {
  size_t group = 0;         // index in MonitoredSet::groups
  std::string id;           // Target.Id as configured
  SocketAddress address;    // traffic address
  uint16_t check_port = 0;  // HealthCheckPort resolved (traffic-port → address.port)
  std::shared_ptr<balancer::TargetStats> stats;
  bool draining = false;  // deregistered: reported as draining, not checked
  bool operator==(const MonitoredTarget&) const = default;
};

// Everything to watch: every target group in configuration order (also those without
// targets: they are reported with an empty list), then the targets, registered ones in
// configuration order and draining ones after them.
//
// An update may leave out what the checker already holds: when `kept` is not empty (a flag
// per group), kept[g] says that the checker's group of groups[g]'s name has these very
// settings and targets (ids, addresses, stats, order, draining flags), and `targets` lists none
// of them. Such a group costs the update nothing per target. Should the held group's checks or
// use differ (the feed's mistake), its targets are kept and take the new settings as in a full
// update, their health-check port aside; a kept group the checker does not hold is empty.
// An update that replaces one the checker has not taken yet takes that one's listing of each
// group it keeps (HealthChecker::Update), so a pair of partial sets loses nothing.
struct MonitoredSet {
  std::vector<MonitoredGroup> groups;
  std::vector<MonitoredTarget> targets;
  std::vector<bool> kept;
  bool operator==(const MonitoredSet&) const = default;
};

// One row of DescribeTargetHealth. The description is Describe(reason, status_code).
struct TargetHealthRow {
  std::string id;
  int port = 0;
  int health_check_port = 0;
  TargetState state = TargetState::kInitial;
  Reason reason = Reason::kNone;
  int status_code = 0;  // the status of a Target.ResponseCodeMismatch
  // An unhealthy target of a network group whose flows drain (termination off, a draining
  // interval, reference §8.6): until when, on the monotonic clock (0: not draining). Its
  // state reads "unhealthy.draining" until then (StateName).
  int64_t unhealthy_draining_until_ms = 0;
};

// The state as DescribeTargetHealth shows it at `now_ms` (monotonic): ToString(row.state),
// or "unhealthy.draining" while an unhealthy target's flows drain.
inline const char* StateName(const TargetHealthRow& row, int64_t now_ms) {
  if (row.state == TargetState::kUnhealthy && now_ms < row.unhealthy_draining_until_ms) {
    return "unhealthy.draining";
  }
  return ToString(row.state);
}

struct TargetGroupHealth {
  std::string group;
  std::vector<TargetHealthRow> targets;
  // TCP segments the group's checks sent and received since the process started (filled
  // by Report(); kept across updates): part of a network load balancer's ProcessedPackets.
  uint64_t check_packets = 0;
};

struct CheckerOptions {
  // Most probe sockets open at once; 0: ProbeSocketBudgetFromRlimit() (see schedule.h).
  int max_probes = 0;
  // Least time between two published reports. A change after a quiet spell is published at
  // once; later ones wait for the rest of this time (so at most 1000/x reports per second).
  int publish_interval_ms = 100;
};

// Counters for tests and benchmarks. Thread-safe snapshot (each value read atomically).
struct CheckerStats {
  int max_probes = 0;                 // the probe socket budget in force
  uint64_t probes_started = 0;        // checks started (sockets opened, or failed at once)
  uint64_t probes_deferred = 0;       // checks put off because this host ran short of fds...
  uint64_t max_probes_in_flight = 0;  // the most probe sockets ever open at once
  uint64_t reports_published = 0;     // report copies made
  uint64_t system_call_errors = 0;    // unexpected failures (epoll, eventfd, close)
};

// One completed health check, as handed to the CheckLogSink (on the checker thread; the
// references live for the call only).
struct CheckLogRecord {
  const std::vector<CheckLogStream>* streams = nullptr;  // never empty
  const std::string* group_id = nullptr;
  int64_t unix_us = 0;      // when the check completed
  SocketAddress target;     // the address checked (its port: the health-check port)
  bool connection = false;  // a TCP check (connection), else an HTTP/gRPC request
  CheckResult result;
  int64_t latency_ms = 0;  // from the check's start to its result
};

// Receives every completed check of a group with check_logs, on the checker thread. Must not
// block (the app's pushes into a bounded ring and drops when it is full).
using CheckLogSink = std::function<void(const CheckLogRecord&)>;

class HealthChecker {
 public:
  explicit HealthChecker(CheckerOptions options = {});
  ~HealthChecker();  // stops the thread

  // Before Start: where completed checks of groups with check_logs go.
  void set_check_log_sink(CheckLogSink sink);

  // Starts the checker thread. Call once. False (the cause already reported on stderr) when
  // its epoll instance or eventfd could not be created, or the thread could not start: then
  // nothing is checked, and a caller at start-up should refuse to serve.
  bool Start();
  // Stops and joins the thread; probes in flight are abandoned. Idempotent.
  void Stop();

  // Thread-safe. Replaces the monitored set: targets already known (same group name and
  // address) keep their state; new ones start in `initial` and get their first check soon
  // (spread over at most one interval when many arrive at once); ones that disappear are
  // dropped. Targets of a group that becomes used start over in `initial`. Applied
  // asynchronously on the checker thread, in time proportional to the targets of the groups
  // not kept (MonitoredSet::kept); returns the update's sequence number.
  uint64_t Update(MonitoredSet set);

  // Blocks until the update numbered seq (or a later one) is reflected in Report(), or until
  // timeout_ms. Returns false on timeout. Thread-safe. Needs Start() to have been called.
  bool WaitForUpdate(uint64_t seq, int timeout_ms) const;

  // Blocks until the latest Update() is applied and Report() shows no target `initial`, or
  // until timeout_ms. Returns false on timeout. Thread-safe.
  bool WaitForInitialChecks(int timeout_ms) const;

  // Thread-safe: the last published report, every group in configuration order. At most
  // publish_interval_ms behind the checker's own state, except that an applied Update is
  // always in it (WaitForUpdate).
  std::vector<TargetGroupHealth> Report() const;

  CheckerStats Stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::health
