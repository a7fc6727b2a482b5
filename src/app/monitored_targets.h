// Between the snapshot, the health checker and the metrics (control thread): what the checker
// watches for a snapshot, and the host counts its report gives the metrics.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "health/checker.h"
#include "observe/metrics.h"
#include "proxy/worker.h"

namespace sluice::app {

// Everything the health checker should watch: every target group (also those without
// targets, so that the admin endpoint lists them) and whether a listener uses it, registered
// targets, and the deregistered ones while they drain (their delay not over at now_ms).
// kept (empty, or a flag per group of snap): groups whose targets are left out, because the
// checker holds them as they are (MonitoredSet::kept).
health::MonitoredSet MonitoredTargets(const proxy::Snapshot& snap, int64_t now_ms,
                                      const std::vector<bool>& kept = {});

// By group of `after`, whether the checker that holds `before`'s targets holds this group's as
// MonitoredTargets(after) gives them: a group of that name in `before` with the same
// MonitoredGroup and registered targets, and no draining target of that name in either
// snapshot (the checker's rows of a draining target may be older than `before`).
std::vector<bool> KeptGroups(const proxy::Snapshot& before, const proxy::Snapshot& after);

// Whether MonitoredTargets(after, now_ms) equals MonitoredTargets(before, now_ms), found
// without building either: the same groups (names, checks, use, TLS client context, check
// logs), the same registered targets in the same order with the same counters, the same
// targets still draining. A change of rules or listeners leaves all of them alone. A group
// whose checks use TLS gets a new client context with every build, so it always differs.
bool SameMonitoredTargets(const proxy::Snapshot& before, const proxy::Snapshot& after,
                          int64_t now_ms);

// Feeds the health checker the snapshots put in force, and only when what it watches would
// change: with 100,000 targets an update costs the checker tens of milliseconds, which a
// rule change would otherwise wait for (decision 0031). An update lists only the groups
// that changed, the others kept (decision 0033). Control thread only.
class CheckerFeed {
 public:
  explicit CheckerFeed(health::HealthChecker& checker) : checker_(checker) {}

  // `next` is in force; it follows `before` (null: the first). Returns the sequence number
  // for HealthChecker::WaitForUpdate: the new update's, or the last one given when the
  // checker has `next` already (it may still be applying it).
  uint64_t Publish(const proxy::Snapshot* before, const proxy::Snapshot& next, int64_t now_ms);

  // Draining targets of `current` whose delay ended since the checker was last fed leave its
  // report: an update (its sequence number) when some did, nullopt otherwise.
  std::optional<uint64_t> Expire(const proxy::Snapshot& current, int64_t now_ms);

 private:
  health::HealthChecker& checker_;
  size_t live_draining_ = 0;  // draining targets in the last set the checker was given
  uint64_t last_update_ = 0;  // its sequence number
};

// HealthyHostCount / UnHealthyHostCount per target group, from the checker's report; a
// network group's (as `slots` knows them) are AWS/NetworkELB's.
std::vector<observe::TargetGroupHealthCount> HealthCounts(
    const std::vector<health::TargetGroupHealth>& report, const observe::MetricSlots& slots);

}  // namespace sluice::app
