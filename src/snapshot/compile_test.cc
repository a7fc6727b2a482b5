// SnapshotCompiler reuses a group's compiled targets when the group's targets, health check
// and draining attributes are unchanged (an API call changes one group of many): these tests
// pin what must still follow a change — drains in the changed group only, a changed delay or
// flow-termination attribute taking effect though the target list stayed the same, a deleted
// group draining all of its targets — and that reuse keeps the same counters.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "snapshot/snapshot.h"

namespace sluice::snapshot {
namespace {

int64_t g_now_ms = 0;
int64_t FakeNow() { return g_now_ms; }

config::TargetGroup Group(const std::string& name, const std::vector<int>& ports,
                          int delay_seconds = 300) {
  config::TargetGroup tg;
  tg.name = name;
  tg.port = 80;
  tg.attributes.deregistration_delay_seconds = delay_seconds;
  for (int p : ports) tg.targets.push_back({"127.0.0.1", p, {}});
  return tg;
}

config::Config Config(std::vector<config::TargetGroup> groups) {
  config::Config cfg;
  cfg.target_groups = std::move(groups);
  return cfg;
}

std::shared_ptr<const Snapshot> MustBuild(SnapshotCompiler& c, config::Config cfg) {
  auto r = c.Build(std::move(cfg));
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? r.value() : nullptr;
}

class CompileReuseTest : public ::testing::Test {
 protected:
  void SetUp() override { g_now_ms = 1'000'000; }
  SnapshotCompiler compiler_{&FakeNow};
};

TEST_F(CompileReuseTest, AnUnchangedGroupKeepsItsTargetsAndCounters) {
  auto a = MustBuild(compiler_, Config({Group("a", {1, 2}), Group("b", {3})}));
  a->target_groups[0].targets[0].stats->outstanding.store(4);
  auto b = MustBuild(compiler_, Config({Group("a", {1, 2}), Group("b", {3, 4})}));
  ASSERT_EQ(b->target_groups[0].targets.size(), 2u);
  EXPECT_EQ(b->target_groups[0].targets[0].stats, a->target_groups[0].targets[0].stats);
  EXPECT_EQ(b->target_groups[0].targets[0].stats->outstanding.load(), 4);
  EXPECT_EQ(b->target_groups[0].candidates[1], b->target_groups[0].targets[1].stats.get());
  ASSERT_EQ(b->target_groups[1].targets.size(), 2u);
  EXPECT_EQ(b->target_groups[1].targets[0].stats, a->target_groups[1].targets[0].stats);
  EXPECT_TRUE(b->draining.empty());
  // Groups may change places in the list: the index follows the config.
  auto c = MustBuild(compiler_, Config({Group("b", {3, 4}), Group("a", {1, 2})}));
  EXPECT_EQ(c->target_groups[1].targets[0].stats, a->target_groups[0].targets[0].stats);
  EXPECT_EQ(c->target_groups[0].targets.size(), 2u);
}

TEST_F(CompileReuseTest, OnlyTheChangedGroupDrains) {
  MustBuild(compiler_, Config({Group("a", {1, 2}, 30), Group("b", {3}, 30)}));
  g_now_ms = 2'000'000;
  auto s = MustBuild(compiler_, Config({Group("a", {1, 2}, 30), Group("b", {}, 30)}));
  ASSERT_EQ(s->draining.size(), 1u);
  EXPECT_EQ(s->draining[0].group, "b");
  EXPECT_EQ(s->draining[0].address.port, 3);
  EXPECT_EQ(s->draining[0].deadline_ms, 2'000'000 + 30'000);
  // Registered again while draining: back with its counters, no longer draining.
  auto drained = s->draining[0].stats;
  auto t = MustBuild(compiler_, Config({Group("a", {1, 2}, 30), Group("b", {3}, 30)}));
  EXPECT_TRUE(t->draining.empty());
  EXPECT_EQ(t->target_groups[1].targets[0].stats, drained);
}

TEST_F(CompileReuseTest, AChangedDelayCountsThoughTheTargetsStayed) {
  MustBuild(compiler_, Config({Group("a", {1, 2}, 300)}));
  MustBuild(compiler_, Config({Group("a", {1, 2}, 10)}));
  g_now_ms = 2'000'000;
  auto s = MustBuild(compiler_, Config({Group("a", {1}, 10)}));
  ASSERT_EQ(s->draining.size(), 1u);
  EXPECT_EQ(s->draining[0].deadline_ms, 2'000'000 + 10'000);
}

TEST_F(CompileReuseTest, AChangedHealthCheckCountsThoughTheTargetsStayed) {
  MustBuild(compiler_, Config({Group("a", {1, 2})}));
  config::TargetGroup changed = Group("a", {1, 2});
  changed.health_check.path = "/ready";
  MustBuild(compiler_, Config({changed}));
  changed.targets.pop_back();
  auto s = MustBuild(compiler_, Config({changed}));
  ASSERT_EQ(s->draining.size(), 1u);
  EXPECT_EQ(s->draining[0].check.path, "/ready") << "the drain is checked as its group now is";
}

TEST_F(CompileReuseTest, FlowTerminationAttributesReachTheCountersOfKeptTargets) {
  auto a = MustBuild(compiler_, Config({Group("a", {1})}));
  auto stats = a->target_groups[0].targets[0].stats;
  EXPECT_FALSE(stats->reset_flows_at_drain_end.load());
  config::TargetGroup changed = Group("a", {1});
  changed.attributes.deregistration_termination = true;
  changed.attributes.unhealthy_termination = false;
  changed.attributes.unhealthy_draining_interval_seconds = 60;
  auto b = MustBuild(compiler_, Config({changed}));
  EXPECT_EQ(b->target_groups[0].targets[0].stats, stats);
  EXPECT_TRUE(stats->reset_flows_at_drain_end.load());
  EXPECT_EQ(stats->unhealthy_flow_grace_ms.load(), 60'000);
}

TEST_F(CompileReuseTest, ADeletedGroupDrainsAllItsTargets) {
  MustBuild(compiler_, Config({Group("a", {1}), Group("b", {2, 3}, 20)}));
  auto s = MustBuild(compiler_, Config({Group("a", {1})}));
  ASSERT_EQ(s->draining.size(), 2u);
  EXPECT_EQ(s->draining[0].group, "b");
  EXPECT_EQ(s->draining[1].group, "b");
  EXPECT_EQ(s->draining[0].deadline_ms, 1'000'000 + 20'000);
}

TEST_F(CompileReuseTest, AFailedBuildLeavesTheLastState) {
  MustBuild(compiler_, Config({Group("a", {1, 2}, 30)}));
  config::TargetGroup bad = Group("a", {1});
  bad.protocol = "SMTP";  // does not compile
  EXPECT_FALSE(compiler_.Build(Config({bad})).ok());
  auto s = MustBuild(compiler_, Config({Group("a", {1, 2}, 30)}));
  EXPECT_TRUE(s->draining.empty()) << "the refused build must not have drained port 2";
}

}  // namespace
}  // namespace sluice::snapshot
