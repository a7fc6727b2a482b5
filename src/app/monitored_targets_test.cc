// SameMonitoredTargets lets a publish skip the health checker's update: it must say "same"
// exactly when MonitoredTargets would build an equal set, for every kind of change an API call
// or a reload makes; and CheckerFeed must still hand the checker the sets that differ, and the
// end of a drain once, not at every wake-up.
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
