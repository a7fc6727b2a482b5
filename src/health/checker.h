// The active health checker: one thread with its own event loop that probes every registered
// target of every target group (HTTP GET or TCP connect), spreads the probes over the
// interval, drives each target's HealthStateMachine and publishes the verdict to the workers
// through TargetStats::routable. It never runs on a worker's request path.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "balancer/picker.h"
#include "base/ip_address.h"
#include "config/model.h"
#include "health/target_health.h"

namespace sluice::health {

// A target as the checker sees it: what to probe and where to publish the verdict.
struct MonitoredTarget {
  std::string group;        // target group name
  std::string id;           // Target.Id as configured
  SocketAddress address;    // traffic address
  uint16_t check_port = 0;  // HealthCheckPort resolved (traffic-port → address.port)
  config::HealthCheck check;
  int slow_start_seconds = 0;
  std::shared_ptr<balancer::TargetStats> stats;
  bool draining = false;  // deregistered: reported as draining until drain_deadline_ms
  int64_t drain_deadline_ms = 0;
};

// One row of DescribeTargetHealth.
struct TargetHealthRow {
  std::string id;
  int port = 0;
  std::string health_check_port;
  TargetState state = TargetState::kInitial;
  Reason reason = Reason::kNone;
  std::string description;
};

struct TargetGroupHealth {
  std::string group;
  std::vector<TargetHealthRow> targets;
};

class HealthChecker {
 public:
  HealthChecker();
  ~HealthChecker();  // stops the thread

  void Start();
  void Stop();

  // Thread-safe. Replaces the monitored set: targets already known (same group and address)
  // keep their state; new ones start in `initial`; ones that disappear are dropped (the
  // caller passes deregistered targets with draining = true for as long as they drain).
  // Applied asynchronously on the checker thread; returns the update's sequence number for
  // WaitForUpdate.
  uint64_t Update(std::vector<MonitoredTarget> targets);

  // Blocks until the update numbered seq (or a later one) is reflected in Report(), or until
  // timeout_ms. Returns false on timeout. Thread-safe. Needs Start() to have been called.
  bool WaitForUpdate(uint64_t seq, int timeout_ms) const;

  // Blocks until the latest Update() is applied and every monitored target has had its first
  // check (none is `initial`), or until timeout_ms. Returns false on timeout. Thread-safe.
  bool WaitForInitialChecks(int timeout_ms) const;

  // Thread-safe snapshot of every group's target health, in configuration order.
  std::vector<TargetGroupHealth> Report() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::health
