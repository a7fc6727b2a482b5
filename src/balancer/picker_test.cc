#include "balancer/picker.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::balancer {
namespace {

// A scripted generator: returns the given values in turn.
class ScriptedRng : public Rng {
 public:
  explicit ScriptedRng(std::vector<uint64_t> values) : values_(std::move(values)) {}
  uint64_t Next() override { return values_[i_++ % values_.size()]; }

 private:
  std::vector<uint64_t> values_;
  size_t i_ = 0;
};

std::vector<TargetStats*> Ptrs(std::vector<TargetStats>& stats) {
  std::vector<TargetStats*> out;
  for (auto& s : stats) out.push_back(&s);
  return out;
}

TEST(RoundRobinTest, VisitsEveryTargetEvenly) {
  ScriptedRng rng({0});
  auto picker = MakePicker(config::LoadBalancingAlgorithm::kRoundRobin, rng);
  std::vector<TargetStats> stats(3);
  auto c = Ptrs(stats);
  std::vector<int> hits(3);
  for (int i = 0; i < 300; ++i) hits[picker->Pick(c, rng)]++;
  EXPECT_EQ(hits, (std::vector<int>{100, 100, 100}));
}

TEST(RoundRobinTest, RotatesInOrder) {
  ScriptedRng rng({0});
  auto picker = MakePicker(config::LoadBalancingAlgorithm::kRoundRobin, rng);
  std::vector<TargetStats> stats(4);
  auto c = Ptrs(stats);
  EXPECT_EQ(picker->Pick(c, rng), 0u);
  EXPECT_EQ(picker->Pick(c, rng), 1u);
  EXPECT_EQ(picker->Pick(c, rng), 2u);
  EXPECT_EQ(picker->Pick(c, rng), 3u);
  EXPECT_EQ(picker->Pick(c, rng), 0u);
}

TEST(LeastOutstandingTest, PrefersIdleTarget) {
  ScriptedRng rng({0});
  auto picker = MakePicker(config::LoadBalancingAlgorithm::kLeastOutstandingRequests, rng);
  std::vector<TargetStats> stats(3);
  stats[0].outstanding = 5;
  stats[1].outstanding = 0;
  stats[2].outstanding = 2;
  auto c = Ptrs(stats);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(picker->Pick(c, rng), 1u);
}

TEST(LeastOutstandingTest, TiesShareEvenly) {
  ScriptedRng rng({0});
  auto picker = MakePicker(config::LoadBalancingAlgorithm::kLeastOutstandingRequests, rng);
  std::vector<TargetStats> stats(2);
  stats[0].outstanding = 1;
  stats[1].outstanding = 1;
  auto c = Ptrs(stats);
  std::vector<int> hits(2);
  for (int i = 0; i < 100; ++i) hits[picker->Pick(c, rng)]++;
  EXPECT_EQ(hits, (std::vector<int>{50, 50}));
}

TEST(WeightedRandomTest, UniformWithEqualWeights) {
  FastRng rng(42);
  auto picker = MakePicker(config::LoadBalancingAlgorithm::kWeightedRandom, rng);
  std::vector<TargetStats> stats(4);
  auto c = Ptrs(stats);
  std::vector<int> hits(4);
  for (int i = 0; i < 40000; ++i) hits[picker->Pick(c, rng)]++;
  for (int h : hits) {
    EXPECT_GT(h, 9500);
    EXPECT_LT(h, 10500);
  }
}

TEST(WeightedRandomTest, UsesInjectedRandomness) {
  // Below(4) maps the top bits: 0 -> 0, 2^63 -> 2, 2^64-1 -> 3.
  ScriptedRng rng({0, 1ULL << 63, ~0ULL});
  auto picker = MakePicker(config::LoadBalancingAlgorithm::kWeightedRandom, rng);
  std::vector<TargetStats> stats(4);
  auto c = Ptrs(stats);
  EXPECT_EQ(picker->Pick(c, rng), 0u);
  EXPECT_EQ(picker->Pick(c, rng), 2u);
  EXPECT_EQ(picker->Pick(c, rng), 3u);
}

TEST(PickWeightedTest, FollowsWeights) {
  FastRng rng(7);
  std::vector<int> weights = {90, 10};
  std::vector<int> hits(2);
  for (int i = 0; i < 100000; ++i) hits[PickWeighted(weights, rng)]++;
  EXPECT_NEAR(hits[0] / 100000.0, 0.9, 0.01);
  EXPECT_NEAR(hits[1] / 100000.0, 0.1, 0.01);
}

TEST(PickWeightedTest, ZeroWeightNeverChosen) {
  FastRng rng(7);
  std::vector<int> weights = {0, 5, 0};
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(PickWeighted(weights, rng), 1);
}

TEST(PickWeightedTest, AllZeroIsNone) {
  FastRng rng(7);
  std::vector<int> weights = {0, 0};
  EXPECT_EQ(PickWeighted(weights, rng), -1);
}

TEST(PickWeightedTest, BoundariesAreExact) {
  // total 10: r in [0,9) -> index 0, r == 9 -> index 1.
  ScriptedRng low({0});
  ScriptedRng high({~0ULL});
  std::vector<int> weights = {9, 1};
  EXPECT_EQ(PickWeighted(weights, low), 0);
  EXPECT_EQ(PickWeighted(weights, high), 1);
}

}  // namespace
}  // namespace sluice::balancer
