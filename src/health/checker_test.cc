#include "health/checker.h"

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "health/checker_test_util.h"

namespace sluice::health {
namespace {

// A target whose checks are disabled, so the test needs no backend: its state comes from
// registration and deregistration alone.
MonitoredTarget Target(uint16_t port, bool draining) {
  MonitoredTarget t;
  t.group = 0;
  t.id = "127.0.0.1";
  t.address = *SocketAddress::Parse("127.0.0.1", port);
  t.check_port = port;
  t.stats = std::make_shared<balancer::TargetStats>();
  t.draining = draining;
  return t;
}

MonitoredSet Set(std::vector<MonitoredTarget> targets) {
  MonitoredSet set;
  MonitoredGroup g;
  g.name = "tg";
  g.check.enabled = false;
  set.groups.push_back(g);
  set.targets = std::move(targets);
  return set;
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
  ASSERT_TRUE(c.Start());
  uint64_t first = c.Update(Set({Target(1, false), Target(2, false)}));
  ASSERT_TRUE(c.WaitForUpdate(first, 5000));
  EXPECT_EQ(States(c).size(), 2u);
  EXPECT_NE(States(c)[0], TargetState::kDraining);

  uint64_t second = c.Update(Set({Target(1, true), Target(2, false)}));
  EXPECT_GT(second, first);
  ASSERT_TRUE(c.WaitForUpdate(second, 5000));
  std::vector<TargetState> states = States(c);
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0], TargetState::kDraining);
  EXPECT_NE(states[1], TargetState::kDraining);

  uint64_t third = c.Update(Set({Target(2, false)}));
  ASSERT_TRUE(c.WaitForUpdate(third, 5000));
  EXPECT_EQ(States(c).size(), 1u);
  c.Stop();
}

// Start-up serves only once the first checks are in: that must not be fooled by the report
// being still empty because the checker thread has not taken the targets yet.
TEST(HealthCheckerTest, WaitForInitialChecksWaitsForTheTargetsToBeTaken) {
  HealthChecker c;
  c.Update(Set({Target(1, false), Target(2, false)}));
  ASSERT_TRUE(c.Start());
  ASSERT_TRUE(c.WaitForInitialChecks(5000));
  EXPECT_EQ(States(c).size(), 2u);
  c.Stop();
}

TEST(HealthCheckerTest, WaitForUpdateTimesOutWhenNothingAppliesIt) {
  HealthChecker c;  // not started: no thread takes the update
  uint64_t seq = c.Update(Set({Target(1, false)}));
  EXPECT_FALSE(c.WaitForUpdate(seq, 50));
  EXPECT_TRUE(c.Report().empty());
}

using testing::At;
using testing::Eventually;
using testing::Group;
using testing::Listener;
using testing::RowOf;

// Reference §2.4: the targets of a group no listener forwards to are `unused`
// (Target.NotInUse) and not checked; once a reload makes the group used they start in
// `initial` and are checked.
TEST(HealthCheckerTest, UnusedGroupIsNotCheckedUntilItIsUsed) {
  Listener target;  // a TCP check against it passes
  ASSERT_NE(target.port(), 0);
  HealthChecker c;
  ASSERT_TRUE(c.Start());
  MonitoredSet set;
  set.groups = {Group("used", "TCP"), Group("spare", "TCP", 5, /*in_use=*/false)};
  set.targets = {At(0, "127.0.0.1", target.port()), At(1, "127.0.0.1", target.port())};
  ASSERT_TRUE(c.WaitForUpdate(c.Update(set), 5000));
  ASSERT_TRUE(Eventually(
      [&] { return RowOf(c, "used", target.port())->state == TargetState::kHealthy; }, 5000));
  std::unique_ptr<TargetHealthRow> spare = RowOf(c, "spare", target.port());
  ASSERT_NE(spare, nullptr);
  EXPECT_EQ(spare->state, TargetState::kUnused);
  EXPECT_EQ(spare->reason, Reason::kTargetNotInUse);
  EXPECT_EQ(Describe(spare->reason, spare->status_code),
            "Target group is not configured to receive traffic from the load balancer");
  EXPECT_EQ(c.Stats().probes_started, 1u);  // the used group's target only
  EXPECT_FALSE(set.targets[1].stats->routable.load());

  set.groups[1].in_use = true;
  ASSERT_TRUE(c.WaitForUpdate(c.Update(set), 5000));
  spare = RowOf(c, "spare", target.port());
  EXPECT_EQ(spare->state, TargetState::kInitial);
  EXPECT_TRUE(c.WaitForInitialChecks(5000));
  EXPECT_EQ(RowOf(c, "spare", target.port())->state, TargetState::kHealthy);
  EXPECT_TRUE(set.targets[1].stats->routable.load());
  c.Stop();
}

// A group without targets is in the report, with an empty list (so /targets/<group> finds it).
TEST(HealthCheckerTest, GroupsWithoutTargetsAreReported) {
  HealthChecker c;
  ASSERT_TRUE(c.Start());
  MonitoredSet set;
  set.groups = {Group("empty", "HTTP"), Group("other", "HTTP", 5, false)};
  ASSERT_TRUE(c.WaitForUpdate(c.Update(set), 5000));
  std::vector<TargetGroupHealth> report = c.Report();
  ASSERT_EQ(report.size(), 2u);
  EXPECT_EQ(report[0].group, "empty");
  EXPECT_TRUE(report[0].targets.empty());
  EXPECT_EQ(report[1].group, "other");
  c.Stop();
}

// Reports are published at a bounded rate, but an applied update is always in the report at
// once: that is what lets a reload log 'applied' only when the admin endpoint shows it.
TEST(HealthCheckerTest, AppliedUpdateIsPublishedAtOnceWhateverThePublishingRate) {
  CheckerOptions options;
  options.publish_interval_ms = 60'000;
  HealthChecker c(options);
  ASSERT_TRUE(c.Start());
  for (uint16_t n = 1; n <= 3; ++n) {
    std::vector<MonitoredTarget> targets;
    for (uint16_t p = 1; p <= n; ++p) targets.push_back(Target(p, false));
    ASSERT_TRUE(c.WaitForUpdate(c.Update(Set(targets)), 5000));
    EXPECT_EQ(States(c).size(), n);
  }
  c.Stop();
}

// WaitForInitialChecks returns once the published report has no target in `initial`, with
// real checks (not only disabled ones) and the report rate-limited.
TEST(HealthCheckerTest, WaitForInitialChecksSeesRealFirstChecks) {
  Listener target;
  ASSERT_NE(target.port(), 0);
  HealthChecker c;
  MonitoredSet set;
  for (size_t g = 0; g < 20; ++g) {  // one target per group: the same listener
    set.groups.push_back(Group("tg" + std::to_string(g), "TCP"));
    set.targets.push_back(At(g, "127.0.0.1", target.port()));
  }
  c.Update(set);
  ASSERT_TRUE(c.Start());
  ASSERT_TRUE(c.WaitForInitialChecks(5000));
  EXPECT_EQ(States(c), std::vector<TargetState>(20, TargetState::kHealthy));
  c.Stop();
}

// Every completed check of a group with check_logs reaches the sink with what the health
// check log needs; a group without check_logs sends nothing.
TEST(HealthCheckerTest, CompletedChecksReachTheCheckLogSink) {
  using testing::At;
  using testing::Eventually;
  using testing::Group;
  using testing::Listener;
  Listener target;  // TCP checks pass
  ASSERT_NE(target.port(), 0);
  struct Seen {
    uint64_t key;
    std::string elb, group;
    bool connection;
    CheckOutcome outcome;
    uint16_t port;
  };
  std::mutex mu;
  std::vector<Seen> seen;
  HealthChecker c;
  c.set_check_log_sink([&](const CheckLogRecord& r) {
    std::lock_guard<std::mutex> lock(mu);
    for (const CheckLogStream& s : *r.streams) {
      seen.push_back({s.key, s.elb, *r.group_id, r.connection, r.result.outcome, r.target.port});
    }
  });
  ASSERT_TRUE(c.Start());
  MonitoredSet set;
  set.groups.push_back(Group("logged", "TCP"));
  set.groups.back().check_logs = {{7, "app/a/1"}, {9, "app/b/2"}};
  set.groups.back().log_group_id = "arn:tg/logged";
  set.groups.push_back(Group("quiet", "TCP"));
  set.targets.push_back(At(0, "127.0.0.1", target.port()));
  set.targets.push_back(At(1, "127.0.0.1", target.port()));
  c.Update(std::move(set));
  ASSERT_TRUE(c.WaitForInitialChecks(5000));
  ASSERT_TRUE(Eventually(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return seen.size() >= 2;
      },
      5000));
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 2u);  // one check, two streams; the quiet group sent nothing
  EXPECT_EQ(seen[0].key, 7u);
  EXPECT_EQ(seen[0].elb, "app/a/1");
  EXPECT_EQ(seen[1].key, 9u);
  EXPECT_EQ(seen[1].elb, "app/b/2");
  for (const Seen& s : seen) {
    EXPECT_EQ(s.group, "arn:tg/logged");
    EXPECT_TRUE(s.connection);
    EXPECT_EQ(s.outcome, CheckOutcome::kSuccess);
    EXPECT_EQ(s.port, target.port());
  }
}

TEST(TargetHealthRow, AnUnhealthyTargetDrainingItsFlowsReadsUnhealthyDrainingUntilThen) {
  TargetHealthRow row;
  row.state = TargetState::kUnhealthy;
  EXPECT_STREQ(StateName(row, 1000), "unhealthy");
  row.unhealthy_draining_until_ms = 5000;
  EXPECT_STREQ(StateName(row, 1000), "unhealthy.draining");
  EXPECT_STREQ(StateName(row, 5000), "unhealthy");
  row.state = TargetState::kHealthy;  // a stale stamp on another state means nothing
  EXPECT_STREQ(StateName(row, 1000), "healthy");
}

}  // namespace
}  // namespace sluice::health
