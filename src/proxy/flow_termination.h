// When a network load balancer's flow must end because of its target (reference §8.6),
// shared by TCP/TLS tunnels (downstream_tunnel.cc) and UDP flows (udp_listener.cc):
//   - the target was deregistered and its delay is over, with
//     deregistration_delay.connection_termination.enabled;
//   - the target is unhealthy, at once or after target_health_state.unhealthy's draining
//     interval (or never), as its group's attributes say — but not while the group fails
//     open (none of its targets routable), where new flows go to unhealthy targets too.
// Loop thread; reads only atomics and the snapshots.
#pragma once

#include <cstdint>

#include "snapshot/snapshot.h"

namespace sluice::proxy {

// `t`: the flow's target's stats; `group`: its group in the snapshot the flow started with;
// `current`: the worker's snapshot now (its draining list), may be null.
inline bool FlowMustEnd(const balancer::TargetStats* t, const snapshot::TargetGroupRuntime& group,
                        const snapshot::Snapshot* current, int64_t now_ms) {
  if (t == nullptr) return false;
  if (t->reset_flows_at_drain_end.load(std::memory_order_relaxed) && current != nullptr &&
      current->DrainExpired(t, now_ms)) {
    return true;
  }
  const int64_t since = t->unhealthy_since_ms.load(std::memory_order_relaxed);
  const int32_t grace = t->unhealthy_flow_grace_ms.load(std::memory_order_relaxed);
  if (since == 0 || grace < 0 || now_ms < since + grace) return false;
  for (const balancer::TargetStats* other : group.candidates) {
    if (other->routable.load(std::memory_order_acquire)) return true;  // not failing open
  }
  return false;
}

// When FlowMustEnd turns true for the target's unhealthy state (INT64_MAX: not pending).
// One already due while the group fails open stays due: the caller re-checks at its next
// tick, so that the flow ends soon after another target turns healthy.
inline int64_t UnhealthyFlowDeadlineMs(const balancer::TargetStats* t) {
  if (t == nullptr) return INT64_MAX;
  const int64_t since = t->unhealthy_since_ms.load(std::memory_order_relaxed);
  const int32_t grace = t->unhealthy_flow_grace_ms.load(std::memory_order_relaxed);
  return since == 0 || grace < 0 ? INT64_MAX : since + grace;
}

}  // namespace sluice::proxy
