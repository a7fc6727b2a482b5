// SameMonitoredTargets lets a publish skip the health checker's update: it must say "same"
// exactly when MonitoredTargets would build an equal set, for every kind of change an API call
// or a reload makes; and CheckerFeed must still hand the checker the sets that differ, and the
// end of a drain once, not at every wake-up; KeptGroups must leave out only groups the
// checker holds as they are.
#include "app/monitored_targets.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "config/loader.h"
#include "snapshot/snapshot.h"

namespace sluice::app {
namespace {

int64_t g_now_ms = 1'000'000;
int64_t FakeNow() { return g_now_ms; }

// One load balancer, one listener whose rules forward to the named groups ("" answers 200
// itself), and groups a and b with targets on 127.0.0.1 at the given ports.
struct Shape {
  std::vector<std::string> rules;
  std::vector<int> a_ports = {1, 2};
  std::vector<int> b_ports = {3};
  int a_interval_seconds = 30;
  bool with_b = true;
};

std::string Yaml(const Shape& s) {
  std::string y =
      "LoadBalancers:\n"
      "  - Name: lb\n"
      "    Listeners:\n"
      "      - Protocol: HTTP\n"
      "        Port: 1\n"
      "        BindAddress: 127.0.0.1\n"
      "        DefaultActions:\n"
      "          - {Type: forward, TargetGroupName: a}\n"
      "        Rules:\n";
  for (size_t i = 0; i < s.rules.size(); ++i) {
    y += "          - Priority: " + std::to_string(i + 1) +
         "\n            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: [\"/r" +
         std::to_string(i) + "\"]}}]\n            Actions:\n";
    y +=
        s.rules[i].empty()
            ? "              - {Type: fixed-response, FixedResponseConfig: {StatusCode: \"200\"}}\n"
            : "              - {Type: forward, TargetGroupName: " + s.rules[i] + "}\n";
  }
  if (s.rules.empty()) y += "          []\n";
  auto group = [&y](const std::string& name, const std::vector<int>& ports, int interval) {
    y += "  - Name: " + name +
         "\n    Protocol: HTTP\n    Port: 80\n    HealthCheckIntervalSeconds: " +
         std::to_string(interval) +
         "\n    Attributes: {deregistration_delay.timeout_seconds: 30}\n    Targets:\n";
    for (int p : ports) y += "      - {Id: 127.0.0.1, Port: " + std::to_string(p) + "}\n";
    if (ports.empty()) y += "      []\n";
  };
  y += "TargetGroups:\n";
  group("a", s.a_ports, s.a_interval_seconds);
  if (s.with_b) group("b", s.b_ports, 30);
  return y;
}

std::shared_ptr<const proxy::Snapshot> Build(snapshot::SnapshotCompiler& compiler,
                                             const Shape& shape) {
  config::LoadResult loaded = config::LoadConfigFromString(Yaml(shape), "test.yaml");
  EXPECT_TRUE(std::holds_alternative<config::Config>(loaded)) << Yaml(shape);
  if (!std::holds_alternative<config::Config>(loaded)) return nullptr;
  auto built = compiler.Build(std::move(std::get<config::Config>(loaded)));
  EXPECT_TRUE(built.ok()) << built.error().message;
  return built.ok() ? built.value() : nullptr;
}

struct Named {
  const char* name;
  Shape shape;
};

std::vector<Named> Changes() {
  Shape base;
  base.rules = {"", ""};
  std::vector<Named> out = {{"base", base}};
  auto add = [&out, &base](const char* name, auto edit) {
    Shape s = base;
    edit(s);
    out.push_back({name, s});
  };
  add("one rule more", [](Shape& s) { s.rules.push_back(""); });
  add("a rule less", [](Shape& s) { s.rules.pop_back(); });
  add("a rule forwards to a", [](Shape& s) { s.rules[0] = "a"; });
  add("a rule forwards to b (b in use)", [](Shape& s) { s.rules[0] = "b"; });
  add("a target more", [](Shape& s) { s.a_ports.push_back(4); });
  add("a target less (draining)", [](Shape& s) { s.a_ports.pop_back(); });
  add("a target's port", [](Shape& s) { s.b_ports = {5}; });
  add("targets reordered", [](Shape& s) { s.a_ports = {2, 1}; });
  add("the check interval", [](Shape& s) { s.a_interval_seconds = 10; });
  add("group b deleted", [](Shape& s) { s.with_b = false; });
  return out;
}

// For every ordered pair of changes: the first put in force, then the second.
TEST(SameMonitoredTargets, SaysSameExactlyWhenTheSetsAreEqual) {
  const std::vector<Named> changes = Changes();
  int same = 0;
  for (const Named& from : changes) {
    for (const Named& to : changes) {
      snapshot::SnapshotCompiler compiler(&FakeNow);
      auto before = Build(compiler, from.shape);
      auto after = Build(compiler, to.shape);
      ASSERT_TRUE(before && after);
      const bool equal = MonitoredTargets(*before, g_now_ms) == MonitoredTargets(*after, g_now_ms);
      EXPECT_EQ(SameMonitoredTargets(*before, *after, g_now_ms), equal)
          << from.name << " → " << to.name;
      if (&from != &to) same += equal ? 1 : 0;
    }
  }
  // Rule changes that forward nowhere new leave the set alone: the first four changes are
  // "same" to each other, so the table is not all "differ".
  EXPECT_GE(same, 4 * 3);
}

TEST(SameMonitoredTargets, ARuleChangeIsSameAndATargetChangeIsNot) {
  snapshot::SnapshotCompiler compiler(&FakeNow);
  Shape s;
  s.rules = {""};
  auto a = Build(compiler, s);
  s.rules.push_back("");
  auto b = Build(compiler, s);
  EXPECT_TRUE(SameMonitoredTargets(*a, *b, g_now_ms));
  s.rules.push_back("b");  // b becomes used: its targets start over in `initial`
  auto c = Build(compiler, s);
  EXPECT_FALSE(SameMonitoredTargets(*b, *c, g_now_ms));
  s.b_ports = {3, 6};
  auto d = Build(compiler, s);
  EXPECT_FALSE(SameMonitoredTargets(*c, *d, g_now_ms));
}

const Named& Change(const std::vector<Named>& changes, const std::string& name) {
  for (const Named& n : changes) {
    if (name == n.name) return n;
  }
  ADD_FAILURE() << "no change named " << name;
  return changes.front();
}

// KeptGroups from the base to each change: a group is kept when nothing of it changed and
// none of its targets drains.
TEST(KeptGroups, KeepsTheGroupsWhoseChecksAndTargetsDidNotChange) {
  const std::vector<Named> changes = Changes();
  const std::vector<std::pair<std::string, std::vector<bool>>> table = {
      {"base", {true, true}},
      {"one rule more", {true, true}},
      {"a rule forwards to b (b in use)", {true, false}},
      {"a target more", {false, true}},
      {"a target less (draining)", {false, true}},
      {"a target's port", {true, false}},
      {"targets reordered", {false, true}},
      {"the check interval", {false, true}},
      {"group b deleted", {true}},
  };
  for (const auto& [name, kept] : table) {
    snapshot::SnapshotCompiler compiler(&FakeNow);
    auto before = Build(compiler, Change(changes, "base").shape);
    auto after = Build(compiler, Change(changes, name).shape);
    ASSERT_TRUE(before && after);
    EXPECT_EQ(KeptGroups(*before, *after), kept) << name;
  }
  // Back from a drain: the group whose target drained in `before` is listed again.
  snapshot::SnapshotCompiler compiler(&FakeNow);
  auto drained = Build(compiler, Change(changes, "a target less (draining)").shape);
  auto rule = Build(compiler, Change(changes, "one rule more").shape);
  ASSERT_TRUE(drained && rule);
  EXPECT_EQ(KeptGroups(*drained, *rule), (std::vector<bool>{false, true}));
  // A group added: not kept.
  auto without_b = Build(compiler, Change(changes, "group b deleted").shape);
  auto with_b = Build(compiler, Change(changes, "base").shape);
  ASSERT_TRUE(without_b && with_b);
  EXPECT_EQ(KeptGroups(*without_b, *with_b), (std::vector<bool>{true, false}));
}

// A report as a list of "group|id|port|check port|kind" rows, kind being what the update
// decides (draining, unused, checked), not what a check found.
std::vector<std::string> Rows(const std::vector<health::TargetGroupHealth>& report) {
  std::vector<std::string> out;
  for (const health::TargetGroupHealth& g : report) {
    out.push_back(g.group);
    for (const health::TargetHealthRow& r : g.targets) {
      const char* kind = r.state == health::TargetState::kDraining ? "draining"
                         : r.state == health::TargetState::kUnused ? "unused"
                                                                   : "checked";
      out.push_back(g.group + "|" + r.id + "|" + std::to_string(r.port) + "|" +
                    std::to_string(r.health_check_port) + "|" + kind);
    }
  }
  return out;
}

// For every ordered pair of changes: a checker that held the first and is given the second
// with KeptGroups' groups left out reports what a checker given the whole second set does.
TEST(CheckerFeed, AnUpdateWithKeptGroupsReportsWhatAWholeOneDoes) {
  const std::vector<Named> changes = Changes();
  int partial = 0;
  for (const Named& from : changes) {
    for (const Named& to : changes) {
      snapshot::SnapshotCompiler compiler(&FakeNow);
      auto before = Build(compiler, from.shape);
      auto after = Build(compiler, to.shape);
      ASSERT_TRUE(before && after);
      health::HealthChecker fed;
      health::HealthChecker whole;
      ASSERT_TRUE(fed.Start() && whole.Start());
      ASSERT_TRUE(fed.WaitForUpdate(fed.Update(MonitoredTargets(*before, g_now_ms)), 5000));
      health::MonitoredSet set = MonitoredTargets(*after, g_now_ms, KeptGroups(*before, *after));
      health::MonitoredSet all = MonitoredTargets(*after, g_now_ms);
      if (set.targets.size() < all.targets.size()) ++partial;
      ASSERT_TRUE(fed.WaitForUpdate(fed.Update(std::move(set)), 5000));
      ASSERT_TRUE(whole.WaitForUpdate(whole.Update(std::move(all)), 5000));
      EXPECT_EQ(Rows(fed.Report()), Rows(whole.Report())) << from.name << " → " << to.name;
    }
  }
  EXPECT_GE(partial, static_cast<int>(changes.size()));  // most pairs leave a group out
}

// A drain that ended between two publishes of otherwise the same group: the group is listed,
// so that the checker does not keep the drained target's row.
TEST(CheckerFeed, AGroupWhoseDrainEndedIsListedAgain) {
  const int64_t start = g_now_ms;
  snapshot::SnapshotCompiler compiler(&FakeNow);
  Shape s;
  s.a_ports = {1};
  auto first = Build(compiler, s);  // no drain yet: the first snapshot knows of no other target
  s.a_ports = {1, 2};
  auto registered = Build(compiler, s);
  s.a_ports = {1};
  auto deregistered = Build(compiler, s);  // 127.0.0.1:2 drains for 30 s
  ASSERT_TRUE(first && registered && deregistered);
  ASSERT_EQ(deregistered->draining.size(), 1u);
  health::HealthChecker fed;
  ASSERT_TRUE(fed.Start());
  CheckerFeed feed(fed);
  feed.Publish(nullptr, *registered, g_now_ms);
  ASSERT_TRUE(fed.WaitForUpdate(feed.Publish(registered.get(), *deregistered, g_now_ms), 5000));
  g_now_ms += 30'000;
  s.b_ports = {3, 6};  // group b changes; group a's registered targets do not
  auto b_changed = Build(compiler, s);
  ASSERT_TRUE(b_changed);
  EXPECT_FALSE(KeptGroups(*deregistered, *b_changed)[0]);
  ASSERT_TRUE(fed.WaitForUpdate(feed.Publish(deregistered.get(), *b_changed, g_now_ms), 5000));
  health::HealthChecker whole;
  ASSERT_TRUE(whole.Start());
  ASSERT_TRUE(whole.WaitForUpdate(whole.Update(MonitoredTargets(*b_changed, g_now_ms)), 5000));
  EXPECT_EQ(Rows(fed.Report()), Rows(whole.Report()));
  g_now_ms = start;
}

// The unhealthy-flow grace is in the targets' stats, not in what the checker is given, yet a
// row's unhealthy.draining deadline is computed from it: a change of it must list the group.
TEST(SameMonitoredTargets, TheUnhealthyDrainingIntervalOfANetworkGroupCounts) {
  auto yaml = [](const std::string& attributes) {
    return "LoadBalancers:\n"
           "  - Name: net\n"
           "    Type: network\n"
           "    Listeners:\n"
           "      - {Protocol: TCP, Port: 1, BindAddress: 127.0.0.1,\n"
           "         DefaultActions: [{Type: forward, TargetGroupName: db}]}\n"
           "TargetGroups:\n"
           "  - Name: db\n"
           "    Protocol: TCP\n"
           "    Port: 6432\n"
           "    Attributes: {" +
           attributes +
           "}\n"
           "    Targets: [{Id: 127.0.0.1}]\n";
  };
  snapshot::SnapshotCompiler compiler(&FakeNow);
  std::vector<std::shared_ptr<const proxy::Snapshot>> built;
  for (const std::string& attributes :
       {std::string("target_health_state.unhealthy.connection_termination.enabled: false"),
        std::string("target_health_state.unhealthy.connection_termination.enabled: false, "
                    "target_health_state.unhealthy.draining_interval_seconds: 60")}) {
    config::LoadResult loaded = config::LoadConfigFromString(yaml(attributes), "net.yaml");
    ASSERT_TRUE(std::holds_alternative<config::Config>(loaded)) << yaml(attributes);
    auto snap = compiler.Build(std::move(std::get<config::Config>(loaded)));
    ASSERT_TRUE(snap.ok()) << snap.error().message;
    built.push_back(snap.value());
  }
  EXPECT_FALSE(SameMonitoredTargets(*built[0], *built[1], g_now_ms));
  EXPECT_EQ(KeptGroups(*built[0], *built[1]), std::vector<bool>{false});
  EXPECT_EQ(KeptGroups(*built[1], *built[1]), std::vector<bool>{true});
}

TEST(CheckerFeed, UpdatesOnlyWhatDiffersAndAnEndedDrainOnce) {
  const int64_t start = g_now_ms;
  snapshot::SnapshotCompiler compiler(&FakeNow);
  health::HealthChecker checker;  // not started: updates wait in its queue
  CheckerFeed feed(checker);
  Shape s;
  auto first = Build(compiler, s);
  EXPECT_EQ(feed.Publish(nullptr, *first, g_now_ms), 1u);
  s.rules = {""};
  auto rule_added = Build(compiler, s);
  EXPECT_EQ(feed.Publish(first.get(), *rule_added, g_now_ms), 1u);  // nothing new to wait for
  s.a_ports = {1};                                                  // 127.0.0.1:2 drains for 30 s
  auto deregistered = Build(compiler, s);
  ASSERT_EQ(deregistered->draining.size(), 1u);
  EXPECT_EQ(feed.Publish(rule_added.get(), *deregistered, g_now_ms), 2u);
  EXPECT_FALSE(feed.Expire(*deregistered, g_now_ms + 29'000).has_value());
  // The drain ends: one update takes it out, the next wake-ups find nothing to do.
  EXPECT_EQ(feed.Expire(*deregistered, g_now_ms + 30'000), std::optional<uint64_t>(3));
  EXPECT_FALSE(feed.Expire(*deregistered, g_now_ms + 31'000).has_value());
  EXPECT_FALSE(feed.Expire(*deregistered, g_now_ms + 32'000).has_value());
  g_now_ms = start;
}

// A drain ended and the loop has not expired it yet: a publish that changes nothing else
// still updates, so that "applied" never leaves the ended drain in the report.
TEST(CheckerFeed, APublishAfterAnEndedDrainIsNotSkipped) {
  const int64_t start = g_now_ms;
  snapshot::SnapshotCompiler compiler(&FakeNow);
  health::HealthChecker checker;
  CheckerFeed feed(checker);
  Shape s;
  auto first = Build(compiler, s);
  s.a_ports = {1};
  auto deregistered = Build(compiler, s);
  EXPECT_EQ(feed.Publish(nullptr, *first, g_now_ms), 1u);
  EXPECT_EQ(feed.Publish(first.get(), *deregistered, g_now_ms), 2u);
  g_now_ms += 30'000;
  s.rules = {""};
  auto rule_added = Build(compiler, s);
  EXPECT_TRUE(SameMonitoredTargets(*deregistered, *rule_added, g_now_ms));
  EXPECT_EQ(feed.Publish(deregistered.get(), *rule_added, g_now_ms), 3u);
  EXPECT_FALSE(feed.Expire(*rule_added, g_now_ms).has_value());
  g_now_ms = start;
}

}  // namespace
}  // namespace sluice::app
