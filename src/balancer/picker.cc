#include "balancer/picker.h"

namespace sluice::balancer {

namespace {
std::atomic<uint64_t> g_unhealthy_transitions{0};
}  // namespace

uint64_t UnhealthyTransitions() { return g_unhealthy_transitions.load(std::memory_order_acquire); }
void CountUnhealthyTransition() { g_unhealthy_transitions.fetch_add(1, std::memory_order_release); }
namespace {

uint64_t SplitMix(uint64_t* x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

class RoundRobin final : public Picker {
 public:
  explicit RoundRobin(uint64_t start) : cursor_(start) {}
  size_t Pick(std::span<TargetStats* const> candidates, Rng&) override {
    return static_cast<size_t>(cursor_++ % candidates.size());
  }

 private:
  uint64_t cursor_;
};

// Fewest in-flight requests wins; ties rotate so that equally idle targets share the load.
class LeastOutstanding final : public Picker {
 public:
  explicit LeastOutstanding(uint64_t start) : cursor_(start) {}
  size_t Pick(std::span<TargetStats* const> candidates, Rng&) override {
    size_t n = candidates.size();
    size_t start = static_cast<size_t>(cursor_++ % n);
    size_t best = start;
    int32_t best_load = candidates[start]->outstanding.load(std::memory_order_relaxed);
    for (size_t k = 1; k < n && best_load > 0; ++k) {
      size_t i = (start + k) % n;
      int32_t load = candidates[i]->outstanding.load(std::memory_order_relaxed);
      if (load < best_load) {
        best = i;
        best_load = load;
      }
    }
    return best;
  }

 private:
  uint64_t cursor_;
};

// Without anomaly mitigation every target has the same weight, so this is uniform.
class WeightedRandom final : public Picker {
 public:
  size_t Pick(std::span<TargetStats* const> candidates, Rng& rng) override {
    return static_cast<size_t>(rng.Below(candidates.size()));
  }
};

}  // namespace

FastRng::FastRng(uint64_t seed) {
  for (uint64_t& s : s_) s = SplitMix(&seed);
}

uint64_t FastRng::Next() {
  uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

std::unique_ptr<Picker> MakePicker(config::LoadBalancingAlgorithm algorithm, Rng& rng) {
  switch (algorithm) {
    case config::LoadBalancingAlgorithm::kLeastOutstandingRequests:
      return std::make_unique<LeastOutstanding>(rng.Next() >> 1);
    case config::LoadBalancingAlgorithm::kWeightedRandom:
      return std::make_unique<WeightedRandom>();
    case config::LoadBalancingAlgorithm::kRoundRobin:
      break;
  }
  return std::make_unique<RoundRobin>(rng.Next() >> 1);
}

int PickWeighted(std::span<const int> weights, Rng& rng) {
  uint64_t total = 0;
  for (int w : weights) total += static_cast<uint64_t>(w > 0 ? w : 0);
  if (total == 0) return -1;
  uint64_t r = rng.Below(total);
  for (size_t i = 0; i < weights.size(); ++i) {
    uint64_t w = static_cast<uint64_t>(weights[i] > 0 ? weights[i] : 0);
    if (r < w) return static_cast<int>(i);
    r -= w;
  }
  return -1;
}

}  // namespace sluice::balancer
