// Between the snapshot, the health checker and the metrics (control thread): what the checker
// watches for a snapshot, and the host counts its report gives the metrics.
#pragma once

#include <vector>

#include "health/checker.h"
#include "observe/metrics.h"
#include "proxy/worker.h"

namespace sluice::app {

// Everything the health checker should watch: every target group (also those without
// targets, so that the admin endpoint lists them) and whether a listener uses it, registered
// targets, and the deregistered ones while they drain.
health::MonitoredSet MonitoredTargets(const proxy::Snapshot& snap);

// HealthyHostCount / UnHealthyHostCount per target group, from the checker's report; a
// network group's (as `slots` knows them) are AWS/NetworkELB's.
std::vector<observe::TargetGroupHealthCount> HealthCounts(
    const std::vector<health::TargetGroupHealth>& report, const observe::MetricSlots& slots);

}  // namespace sluice::app
