#include "health/checker.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace sluice::health {
namespace {

// A target whose checks are disabled, so the test needs no backend: its state comes from
// registration and deregistration alone.
MonitoredTarget Target(uint16_t port, bool draining) {
  MonitoredTarget t;
  t.group = "tg";
  t.id = "127.0.0.1";
  t.address = *SocketAddress::Parse("127.0.0.1", port);
  t.check_port = port;
  t.check.enabled = false;
  t.stats = std::make_shared<balancer::TargetStats>();
  t.draining = draining;
  t.drain_deadline_ms = draining ? 1'000'000'000 : 0;
  return t;
}

std::vector<TargetState> States(const HealthChecker& c) {
  std::vector<TargetState> out;
  for (const TargetGroupHealth& g : c.Report()) {
    for (const TargetHealthRow& r : g.targets) out.push_back(r.state);
  }
  return out;
}

// After WaitForUpdate returns true, Report() reflects that update: a reload can promise the
// admin endpoint shows a deregistered target as draining as soon as it says "applied".
TEST(HealthCheckerTest, WaitForUpdateMeansTheReportShowsIt) {
  HealthChecker c;
  c.Start();
  uint64_t first = c.Update({Target(1, false), Target(2, false)});
  ASSERT_TRUE(c.WaitForUpdate(first, 5000));
  EXPECT_EQ(States(c).size(), 2u);
  EXPECT_NE(States(c)[0], TargetState::kDraining);

  uint64_t second = c.Update({Target(1, true), Target(2, false)});
  EXPECT_GT(second, first);
  ASSERT_TRUE(c.WaitForUpdate(second, 5000));
  std::vector<TargetState> states = States(c);
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0], TargetState::kDraining);
  EXPECT_NE(states[1], TargetState::kDraining);

  uint64_t third = c.Update({Target(2, false)});
  ASSERT_TRUE(c.WaitForUpdate(third, 5000));
  EXPECT_EQ(States(c).size(), 1u);
  c.Stop();
}

// Start-up serves only once the first checks are in: that must not be fooled by the report
// being still empty because the checker thread has not taken the targets yet.
TEST(HealthCheckerTest, WaitForInitialChecksWaitsForTheTargetsToBeTaken) {
  HealthChecker c;
  c.Update({Target(1, false), Target(2, false)});
  c.Start();
  ASSERT_TRUE(c.WaitForInitialChecks(5000));
  EXPECT_EQ(States(c).size(), 2u);
  c.Stop();
}

TEST(HealthCheckerTest, WaitForUpdateTimesOutWhenNothingAppliesIt) {
  HealthChecker c;  // not started: no thread takes the update
  uint64_t seq = c.Update({Target(1, false)});
  EXPECT_FALSE(c.WaitForUpdate(seq, 50));
  EXPECT_TRUE(c.Report().empty());
}

}  // namespace
}  // namespace sluice::health
