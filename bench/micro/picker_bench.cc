// Target pickers (src/balancer/picker.h): round robin, least outstanding requests and
// weighted random over 4 and 64 targets, and the weighted choice between target groups.
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "balancer/picker.h"
#include "config/model.h"

namespace sluice::bench {
namespace {

void Pick(benchmark::State& state, config::LoadBalancingAlgorithm algorithm) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<balancer::TargetStats> stats(n);
  std::vector<balancer::TargetStats*> candidates;
  for (size_t i = 0; i < n; ++i) {
    stats[i].outstanding.store(static_cast<int32_t>(i % 3), std::memory_order_relaxed);
    candidates.push_back(&stats[i]);
  }
  balancer::FastRng rng(42);
  auto picker = balancer::MakePicker(algorithm, rng);
  for (auto _ : state) {
    size_t i = picker->Pick(candidates, rng);
    benchmark::DoNotOptimize(i);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_Pick_RoundRobin(benchmark::State& state) {
  Pick(state, config::LoadBalancingAlgorithm::kRoundRobin);
}
BENCHMARK(BM_Pick_RoundRobin)->Arg(4)->Arg(64);

void BM_Pick_LeastOutstanding(benchmark::State& state) {
  Pick(state, config::LoadBalancingAlgorithm::kLeastOutstandingRequests);
}
BENCHMARK(BM_Pick_LeastOutstanding)->Arg(4)->Arg(64);

void BM_Pick_WeightedRandom(benchmark::State& state) {
  Pick(state, config::LoadBalancingAlgorithm::kWeightedRandom);
}
BENCHMARK(BM_Pick_WeightedRandom)->Arg(4)->Arg(64);

void BM_PickWeightedGroups(benchmark::State& state) {
  const int weights[] = {10, 20, 30, 0, 40};
  balancer::FastRng rng(7);
  for (auto _ : state) {
    int i = balancer::PickWeighted(weights, rng);
    benchmark::DoNotOptimize(i);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_PickWeightedGroups);

}  // namespace
}  // namespace sluice::bench
