// Target pickers: round robin, least outstanding requests, weighted random (ALB's three
// algorithms, reference §2.6), and the weighted choice between target groups of a forward
// action. Pure logic: no I/O, randomness injected.
//
// A picker instance belongs to one worker thread (its state, such as the round-robin cursor,
// is not shared). TargetStats are shared by all workers and read with relaxed atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "config/model.h"

namespace sluice::balancer {

// Live counters for one registered target, shared by every worker; they outlive config
// snapshots for as long as the target stays registered.
struct TargetStats {
  std::atomic<int32_t> outstanding{0};  // requests in flight to this target, all workers
  // Written by the health checker, read by workers: true when the target is healthy (or its
  // checks are disabled). Workers fail open to all targets when none is routable.
  std::atomic<bool> routable{false};
  // Monotonic ms at which the target entered slow start; 0 when not in slow start.
  std::atomic<int64_t> slow_start_since_ms{0};
  // Network load balancers (reference §8.6), for the flows (tunnels) to this target.
  // Written by the snapshot compiler from the group's attributes when a snapshot commits:
  // reset the flows when a deregistration delay ends
  // (deregistration_delay.connection_termination.enabled), and how long after the target
  // turned unhealthy to reset them: -1 never, 0 at once, else that many ms
  // (target_health_state.unhealthy.*).
  std::atomic<bool> reset_flows_at_drain_end{false};
  std::atomic<int32_t> unhealthy_flow_grace_ms{0};
  // Written by the health checker: monotonic ms at which the checks found the target
  // unhealthy (state "unhealthy", not "initial"); 0 while it is not.
  std::atomic<int64_t> unhealthy_since_ms{0};
};

// How many times some target turned unhealthy, process-wide (release/acquire: a reader that
// sees the count sees the unhealthy_since_ms written before it). A worker that sees
// the count change looks at its flows once (Worker::Tick), instead of every flow polling.
uint64_t UnhealthyTransitions();
void CountUnhealthyTransition();

// Randomness source, injected so tests are deterministic.
class Rng {
 public:
  virtual ~Rng() = default;
  virtual uint64_t Next() = 0;
  // Uniform in [0, n); n > 0.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
};

// xoshiro-style fast generator for the data plane (not for secrets).
class FastRng : public Rng {
 public:
  explicit FastRng(uint64_t seed);
  uint64_t Next() override;

 private:
  uint64_t s_[4];
};

class Picker {
 public:
  virtual ~Picker() = default;
  // Chooses one of `candidates` (non-empty) and returns its index.
  virtual size_t Pick(std::span<TargetStats* const> candidates, Rng& rng) = 0;
};

// A new picker for one worker. The round-robin cursor starts at a random offset so that
// workers do not all begin with the same target.
std::unique_ptr<Picker> MakePicker(config::LoadBalancingAlgorithm algorithm, Rng& rng);

// Weighted choice among the target groups of a forward action (weights 0..999). Returns the
// index, or -1 when every weight is 0.
int PickWeighted(std::span<const int> weights, Rng& rng);

// The group (its snapshot index) of a forward action by weight alone: the only one, or one by
// PickWeighted over the first 8; -1 when there is none or every weight is 0. Inline: the
// one-group case is every forwarded request's.
inline int PickForwardGroup(const config::Action& action, Rng& rng) {
  const auto& groups = action.forward.target_groups;
  if (groups.size() <= 1) return groups.empty() ? -1 : groups[0].index;
  int weights[8];
  const size_t n = groups.size() < 8 ? groups.size() : 8;
  for (size_t i = 0; i < n; ++i) weights[i] = groups[i].weight;
  const int pick = PickWeighted(std::span<const int>(weights, n), rng);
  return pick < 0 ? -1 : groups[static_cast<size_t>(pick)].index;
}

}  // namespace sluice::balancer
