// How an update matches the new target set with the targets the checker already has (the same
// group name and address keep their state; checker_update.cc matches in order first, by
// address when the order differs): reordered targets keep their state, a target listed twice
// counts once, the same address in two groups is two targets, and a renamed group's targets
// start over in `initial`.
#include <gtest/gtest.h>

#include <memory>

#include "health/checker.h"
#include "health/checker_test_util.h"

namespace sluice::health {
namespace {

using testing::At;
using testing::Eventually;
using testing::Group;
using testing::Listener;
using testing::RowOf;

size_t RowsIn(const HealthChecker& c, const std::string& group) {
  for (const TargetGroupHealth& g : c.Report()) {
    if (g.group == group) return g.targets.size();
  }
  return 0;
}

TEST(HealthCheckerUpdateTest, KeptTargetsKeepTheirStateWhateverTheOrder) {
  Listener one, two, three;
  ASSERT_NE(one.port(), 0);
  ASSERT_NE(two.port(), 0);
  ASSERT_NE(three.port(), 0);
  HealthChecker c;
  ASSERT_TRUE(c.Start());
  MonitoredSet set;
  set.groups = {Group("a", "TCP"), Group("b", "TCP")};
  set.targets = {At(0, "127.0.0.1", one.port()), At(0, "127.0.0.1", two.port()),
                 At(1, "127.0.0.1", one.port())};
  ASSERT_TRUE(c.WaitForUpdate(c.Update(set), 5000));
  auto healthy = [&](const char* g, uint16_t port) {
    auto row = RowOf(c, g, port);
    return row != nullptr && row->state == TargetState::kHealthy;
  };
  ASSERT_TRUE(Eventually(
      [&] {
        return healthy("a", one.port()) && healthy("a", two.port()) && healthy("b", one.port());
      },
      5000));

  // Group a reordered, a new target in it listed twice; group b unchanged.
  MonitoredSet next;
  next.groups = {Group("a", "TCP"), Group("b", "TCP")};
  next.targets = {At(0, "127.0.0.1", two.port()), At(0, "127.0.0.1", three.port()),
                  At(0, "127.0.0.1", one.port()), At(0, "127.0.0.1", three.port()),
                  At(1, "127.0.0.1", one.port())};
  ASSERT_TRUE(c.WaitForUpdate(c.Update(next), 5000));
  EXPECT_TRUE(healthy("a", one.port()));
  EXPECT_TRUE(healthy("a", two.port()));
  EXPECT_TRUE(healthy("b", one.port()));
  ASSERT_NE(RowOf(c, "a", three.port()), nullptr);
  EXPECT_NE(RowOf(c, "a", three.port())->state, TargetState::kHealthy) << "a new target";
  EXPECT_EQ(RowsIn(c, "a"), 3u) << "a target listed twice counts once";

  // Group b renamed c: the same address under another group is another target.
  MonitoredSet renamed = next;
  renamed.groups[1].name = "c";
  ASSERT_TRUE(c.WaitForUpdate(c.Update(renamed), 5000));
  EXPECT_EQ(RowsIn(c, "b"), 0u);
  ASSERT_NE(RowOf(c, "c", one.port()), nullptr);
  EXPECT_EQ(RowOf(c, "c", one.port())->state, TargetState::kInitial);
  EXPECT_TRUE(healthy("a", one.port()));
  c.Stop();
}

// A target deregistered moves to the end of the set (draining ones come last): it is the same
// target, now draining, and a target registered again after it is the same one too.
TEST(HealthCheckerUpdateTest, ADeregisteredTargetIsFoundAmongTheDrainingOnes) {
  Listener one, two;
  ASSERT_NE(one.port(), 0);
  ASSERT_NE(two.port(), 0);
  HealthChecker c;
  ASSERT_TRUE(c.Start());
  MonitoredSet set;
  set.groups = {Group("a", "TCP")};
  set.targets = {At(0, "127.0.0.1", one.port()), At(0, "127.0.0.1", two.port())};
  ASSERT_TRUE(c.WaitForUpdate(c.Update(set), 5000));
  auto healthy = [&](uint16_t port) {
    auto row = RowOf(c, "a", port);
    return row != nullptr && row->state == TargetState::kHealthy;
  };
  ASSERT_TRUE(Eventually([&] { return healthy(one.port()) && healthy(two.port()); }, 5000));
  MonitoredSet next;
  next.groups = set.groups;
  next.targets = {At(0, "127.0.0.1", two.port()), At(0, "127.0.0.1", one.port())};
  next.targets[1].draining = true;
  ASSERT_TRUE(c.WaitForUpdate(c.Update(next), 5000));
  EXPECT_EQ(RowOf(c, "a", one.port())->state, TargetState::kDraining);
  EXPECT_TRUE(healthy(two.port()));
  EXPECT_EQ(RowsIn(c, "a"), 2u);
  c.Stop();
}

// A kept group (MonitoredSet::kept) is not listed: its targets stay as they are, with their
// state, even when groups before it come and go (its index changes), while a listed group
// beside it is matched as usual.
TEST(HealthCheckerUpdateTest, AKeptGroupKeepsItsTargetsWhenItsIndexChanges) {
  Listener one, two;
  ASSERT_NE(one.port(), 0);
  ASSERT_NE(two.port(), 0);
  HealthChecker c;
  ASSERT_TRUE(c.Start());
  MonitoredSet set;
  set.groups = {Group("a", "TCP"), Group("b", "TCP", 1)};
  set.targets = {At(0, "127.0.0.1", one.port()), At(1, "127.0.0.1", one.port()),
                 At(1, "127.0.0.1", two.port())};
  ASSERT_TRUE(c.WaitForUpdate(c.Update(set), 5000));
  auto healthy = [&](const char* g, uint16_t port) {
    auto row = RowOf(c, g, port);
    return row != nullptr && row->state == TargetState::kHealthy;
  };
  ASSERT_TRUE(Eventually(
      [&] {
        return healthy("a", one.port()) && healthy("b", one.port()) && healthy("b", two.port());
      },
      5000));

  // A group z first, b kept (now index 2), a listed with a new target.
  MonitoredSet next;
  next.groups = {Group("z", "TCP"), Group("a", "TCP"), Group("b", "TCP", 1)};
  next.targets = {At(0, "127.0.0.1", two.port()), At(1, "127.0.0.1", one.port()),
                  At(1, "127.0.0.1", two.port())};
  next.kept = {false, false, true};
  ASSERT_TRUE(c.WaitForUpdate(c.Update(next), 5000));
  std::vector<TargetGroupHealth> report = c.Report();
  ASSERT_EQ(report.size(), 3u);
  EXPECT_EQ(report[2].group, "b");
  ASSERT_EQ(report[2].targets.size(), 2u);
  EXPECT_EQ(report[2].targets[0].port, one.port());
  EXPECT_EQ(report[2].targets[1].port, two.port());
  EXPECT_TRUE(healthy("b", one.port()));
  EXPECT_TRUE(healthy("b", two.port()));
  EXPECT_TRUE(healthy("a", one.port()));
  EXPECT_EQ(RowsIn(c, "a"), 2u);
  EXPECT_EQ(RowsIn(c, "z"), 1u);
  // The kept group goes on being checked under its new index: a target that stops answering
  // turns unhealthy there.
  one.Close();
  EXPECT_TRUE(Eventually(
      [&] {
        auto row = RowOf(c, "b", one.port());
        return row != nullptr && row->state == TargetState::kUnhealthy;
      },
      10000));
  EXPECT_TRUE(healthy("b", two.port()));

  // Group a removed, b kept again: a's targets are gone, their slots free for new ones.
  MonitoredSet last;
  last.groups = {Group("b", "TCP", 1), Group("c", "TCP")};
  last.targets = {At(1, "127.0.0.1", two.port())};
  last.kept = {true, false};
  ASSERT_TRUE(c.WaitForUpdate(c.Update(last), 5000));
  EXPECT_EQ(RowsIn(c, "a"), 0u);
  EXPECT_EQ(RowsIn(c, "b"), 2u);
  EXPECT_TRUE(Eventually([&] { return healthy("c", two.port()); }, 5000));
  EXPECT_TRUE(healthy("b", two.port()));
  c.Stop();
}

// A kept group whose checks or use differ from the held one's (the feed's mistake) keeps its
// targets and takes the new settings, as a listed group would.
TEST(HealthCheckerUpdateTest, AKeptGroupWithOtherSettingsTakesThem) {
  Listener one;
  ASSERT_NE(one.port(), 0);
  HealthChecker c;
  ASSERT_TRUE(c.Start());
  MonitoredSet set;
  set.groups = {Group("a", "TCP")};
  set.targets = {At(0, "127.0.0.1", one.port())};
  ASSERT_TRUE(c.WaitForUpdate(c.Update(set), 5000));
  ASSERT_TRUE(Eventually(
      [&] {
        auto row = RowOf(c, "a", one.port());
        return row != nullptr && row->state == TargetState::kHealthy;
      },
      5000));
  MonitoredSet unused;
  unused.groups = {Group("a", "TCP", 5, /*in_use=*/false)};
  unused.kept = {true};
  ASSERT_TRUE(c.WaitForUpdate(c.Update(unused), 5000));
  ASSERT_NE(RowOf(c, "a", one.port()), nullptr);
  EXPECT_EQ(RowOf(c, "a", one.port())->state, TargetState::kUnused);
  ASSERT_TRUE(c.WaitForUpdate(c.Update(set), 5000));  // listed, in use again: starts over
  ASSERT_NE(RowOf(c, "a", one.port()), nullptr);
  EXPECT_EQ(RowOf(c, "a", one.port())->state, TargetState::kInitial);
  c.Stop();
}

// Updates the checker has not taken yet replace each other: a partial one that follows takes
// the listing of each group it keeps from the one it replaces, so neither change is lost.
TEST(HealthCheckerUpdateTest, UpdatesNotYetTakenComposeTheirKeptGroups) {
  HealthChecker c;  // not started: each update waits, and the next replaces it
  MonitoredSet first;
  first.groups = {Group("a", "TCP"), Group("b", "TCP")};
  first.targets = {At(0, "127.0.0.1", 1), At(1, "127.0.0.1", 1)};
  c.Update(first);
  MonitoredSet second;  // a gets a target; b kept
  second.groups = first.groups;
  second.targets = {At(0, "127.0.0.1", 1), At(0, "127.0.0.1", 2)};
  second.kept = {false, true};
  c.Update(second);
  MonitoredSet third;  // b changes; a kept
  third.groups = {Group("b", "TCP"), Group("a", "TCP"), Group("c", "TCP")};
  third.targets = {At(0, "127.0.0.1", 3)};
  third.kept = {false, true, true};  // c: kept but held nowhere, so empty
  const uint64_t seq = c.Update(third);
  ASSERT_TRUE(c.Start());
  ASSERT_TRUE(c.WaitForUpdate(seq, 5000));
  std::vector<TargetGroupHealth> report = c.Report();
  ASSERT_EQ(report.size(), 3u);
  EXPECT_EQ(report[0].group, "b");
  ASSERT_EQ(report[0].targets.size(), 1u);
  EXPECT_EQ(report[0].targets[0].port, 3);
  EXPECT_EQ(report[1].group, "a");
  ASSERT_EQ(report[1].targets.size(), 2u);
  EXPECT_EQ(report[1].targets[0].port, 1);
  EXPECT_EQ(report[1].targets[1].port, 2);
  EXPECT_EQ(report[2].group, "c");
  EXPECT_TRUE(report[2].targets.empty());
  c.Stop();
}

}  // namespace
}  // namespace sluice::health
