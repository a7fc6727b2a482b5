#include "proxy/flow_keepalive.h"

#include <gtest/gtest.h>

namespace sluice::proxy {
namespace {

using Verdict = FlowKeepAlive::Verdict;
constexpr int64_t kIdle = 60000;

constexpr int64_t kQuiet = FlowKeepAlive::kQuietMs;

TEST(FlowKeepAlive, AQuietFlowIsLookedAtOnceSettledThenAtItsTimeout) {
  FlowKeepAlive k;
  const int64_t last = 1000;
  EXPECT_EQ(k.NextCheckMs(last, kIdle), last + kQuiet);
  EXPECT_FALSE(k.Due(last + kQuiet - 1, last, kIdle));
  ASSERT_TRUE(k.Due(last + kQuiet, last, kIdle));
  EXPECT_EQ(k.Check(last + kQuiet, last, kIdle, 7), Verdict::kWaiting);  // the baseline
  EXPECT_EQ(k.NextCheckMs(last, kIdle), last + kIdle);
  // Nothing came in since: idle.
  EXPECT_EQ(k.Check(last + kIdle, last, kIdle, 7), Verdict::kIdle);
  EXPECT_FALSE(k.ever_kept_alive());
}

TEST(FlowKeepAlive, SegmentsWhileQuietKeepTheFlowForAnotherWholeTimeout) {
  FlowKeepAlive k;
  const int64_t last = 1000;
  k.Check(last + kQuiet, last, kIdle, 7);
  const int64_t at = last + kIdle;
  EXPECT_EQ(k.Check(at, last, kIdle, 8), Verdict::kKeptAlive);  // one keep-alive probe
  EXPECT_TRUE(k.ever_kept_alive());
  EXPECT_EQ(k.IdleSinceMs(last), at);
  // The reading at `at` is the next baseline: the next period watches a whole timeout.
  EXPECT_EQ(k.NextCheckMs(last, kIdle), at + kIdle);
  EXPECT_FALSE(k.Due(at + kIdle - 1, last, kIdle));
  EXPECT_EQ(k.Check(at + kIdle, last, kIdle, 9), Verdict::kKeptAlive);
  EXPECT_EQ(k.Check(at + 2 * kIdle, last, kIdle, 9), Verdict::kIdle);  // the probes stopped
}

TEST(FlowKeepAlive, DataAfterABaselineNeedsANewOne) {
  FlowKeepAlive k;
  k.Check(1000 + kQuiet, 1000, kIdle, 7);
  // Data moved at 40 s: its ACKs must not read as keep-alives, so the old baseline is void.
  const int64_t data = 40000;
  EXPECT_EQ(k.NextCheckMs(data, kIdle), data + kQuiet);
  EXPECT_EQ(k.Check(data + kQuiet, data, kIdle, 20), Verdict::kWaiting);
  EXPECT_EQ(k.Check(data + kIdle, data, kIdle, 20), Verdict::kIdle);
}

TEST(FlowKeepAlive, WithoutABaselineTheTimeoutEndsTheFlow) {
  // A check that comes only at the timeout (no baseline): nothing says it was kept alive.
  FlowKeepAlive k;
  EXPECT_EQ(k.Check(1000 + kIdle, 1000, kIdle, 50), Verdict::kIdle);
}

}  // namespace
}  // namespace sluice::proxy
