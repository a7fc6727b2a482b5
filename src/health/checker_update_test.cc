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

}  // namespace
}  // namespace sluice::health
