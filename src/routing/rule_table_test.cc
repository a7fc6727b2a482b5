#include "routing/rule_table.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "routing/test_util.h"

namespace sluice::routing {
namespace {

using testing::Forward;
using testing::HeaderCond;
using testing::HostCond;
using testing::MakeListener;
using testing::MakeRule;
using testing::MatchPriority;
using testing::MethodCond;
using testing::PathCond;
using testing::QueryCond;
using testing::Request;
using testing::SourceIpCond;

std::unique_ptr<RuleTable> Compile(const config::Listener& l) {
  auto t = RuleTable::Compile(l);
  EXPECT_TRUE(t.ok()) << t.error().message;
  return t.ok() ? std::move(t.value()) : nullptr;
}

TEST(RuleTableTest, ConditionsAreAndedValuesOred) {
  auto t = Compile(MakeListener({MakeRule(1, {HostCond({"a.example.com", "b.example.com"}),
                                              PathCond({"/api/*"}), MethodCond({"POST"})})}));
  Request r;
  r.method = "POST";
  r.host = "b.example.com";
  r.path = "/api/x";
  EXPECT_EQ(MatchPriority(*t, r), 1);
  r.host = "c.example.com";
  EXPECT_EQ(MatchPriority(*t, r), 0);
  r.host = "a.example.com";
  r.path = "/web";
  EXPECT_EQ(MatchPriority(*t, r), 0);
  r.path = "/api/";
  r.method = "GET";
  EXPECT_EQ(MatchPriority(*t, r), 0);
}

TEST(RuleTableTest, TwoHeaderConditionsOnOneHeaderAreAnded) {
  auto t = Compile(MakeListener(
      {MakeRule(1, {HeaderCond("X-Tag", {"*red*"}), HeaderCond("X-Tag", {"*blue*"})})}));
  Request r;
  r.headers = {{"X-Tag", "red"}};
  EXPECT_EQ(MatchPriority(*t, r), 0);
  r.headers = {{"X-Tag", "red"}, {"X-Tag", "blue"}};
  EXPECT_EQ(MatchPriority(*t, r), 1);
  r.headers = {{"X-Tag", "blue,red"}};
  EXPECT_EQ(MatchPriority(*t, r), 1);
}

TEST(RuleTableTest, PriorityOrderIndependentOfFileOrder) {
  // Listed out of order; all match "/api/x". The lowest priority number wins.
  auto t = Compile(MakeListener(
      {MakeRule(30, {PathCond({"/api/*"})}), MakeRule(7, {PathCond({"/*"})}),
       MakeRule(12, {HostCond({"example.com"})}), MakeRule(2, {PathCond({"/api/y"})})}));
  ASSERT_EQ(t->rule_count(), 4u);
  Request r;
  r.path = "/api/x";
  EXPECT_EQ(MatchPriority(*t, r), 7);
  r.path = "/api/y";
  EXPECT_EQ(MatchPriority(*t, r), 2);
  r.path = "nopath";  // "/*" fails; host rule 12 comes before 30
  EXPECT_EQ(MatchPriority(*t, r), 12);
  r.host = "other.com";
  EXPECT_EQ(MatchPriority(*t, r), 0);
}

TEST(RuleTableTest, DefaultActionsWhenNothingMatches) {
  config::Listener l = MakeListener({MakeRule(5, {PathCond({"/x"})})});
  l.default_actions = {Forward(99)};
  auto t = Compile(l);
  MatchScratch scratch;
  Request req;
  std::vector<http::HeaderField> hs;
  MatchResult m = t->Match(req.Facts(&hs), scratch);
  EXPECT_EQ(m.priority, 0);
  ASSERT_NE(m.actions, nullptr);
  ASSERT_EQ(m.actions->size(), 1u);
  EXPECT_EQ((*m.actions)[0].forward.target_groups[0].target_group, "tg99");
  req.path = "/x";
  m = t->Match(req.Facts(&hs), scratch);
  EXPECT_EQ(m.priority, 5);
  EXPECT_EQ((*m.actions)[0].forward.target_groups[0].target_group, "tg5");
}

TEST(RuleTableTest, NoRulesMeansDefault) {
  auto t = Compile(MakeListener({}));
  EXPECT_EQ(t->rule_count(), 0u);
  EXPECT_EQ(MatchPriority(*t, Request{}), 0);
}

TEST(RuleTableTest, ActionsSortedByOrder) {
  config::Rule rule = MakeRule(3, {PathCond({"/"})});
  config::Action fixed;
  fixed.type = config::ActionType::kFixedResponse;
  fixed.order = 20;
  rule.actions = {fixed, Forward(1, 5)};
  auto t = Compile(MakeListener({rule}));
  MatchScratch scratch;
  std::vector<http::HeaderField> hs;
  MatchResult m = t->Match(Request{}.Facts(&hs), scratch);
  ASSERT_EQ(m.priority, 3);
  ASSERT_EQ(m.actions->size(), 2u);
  EXPECT_EQ((*m.actions)[0].order, 5);
  EXPECT_EQ((*m.actions)[1].order, 20);
}

TEST(RuleTableTest, CompileRejectsBadRegexAndCidr) {
  auto t = RuleTable::Compile(MakeListener({MakeRule(4, {PathCond({}, {"(unclosed"})})}));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().source, ErrorSource::kConfig);
  EXPECT_NE(t.error().message.find("rule priority 4"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find("(unclosed"), std::string::npos);
  // RE2 rejects back-references, as ALB does.
  EXPECT_FALSE(RuleTable::Compile(MakeListener({MakeRule(1, {HostCond({}, {"(a)\\1"})})})).ok());
  EXPECT_FALSE(RuleTable::Compile(MakeListener({MakeRule(1, {SourceIpCond({"10.0.0.1"})})})).ok());
}

TEST(RuleTableTest, SameRuleUnderManyIndexKeys) {
  // Keyed by host (both spellings fold to one key) and, for rule 2, by two path keys.
  auto t = Compile(
      MakeListener({MakeRule(1, {HostCond({"A.example.com", "a.EXAMPLE.com"})}),
                    MakeRule(2, {PathCond({"/x/*", "/y"})}), MakeRule(3, {PathCond({"/z*"})})}));
  Request r;
  r.host = "a.example.com:80";
  EXPECT_EQ(MatchPriority(*t, r), 1);
  r.host = "b.example.com";
  r.path = "/y";
  EXPECT_EQ(MatchPriority(*t, r), 2);
  r.path = "/x/1";
  EXPECT_EQ(MatchPriority(*t, r), 2);
  r.path = "/x";
  EXPECT_EQ(MatchPriority(*t, r), 0);
  r.path = "/zoo/q";
  EXPECT_EQ(MatchPriority(*t, r), 3);
  r.path = "/../y";  // normalised before the index lookup
  EXPECT_EQ(MatchPriority(*t, r), 2);
}

// The indexes must never change the answer. Build random rule sets twice: once as is, once
// with an extra never-matching wildcard value that makes every host/path/header condition
// unindexable, and compare both against random requests.
TEST(RuleTableTest, IndexedAndLinearEvaluationAgree) {
  std::mt19937 rng(12345);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  const std::vector<std::string> hosts = {
      "a.example.com", "B.example.com",   "*.example.com",     "c.test.org",     "?.test.org",
      "example.com",   "*.b.example.com", "api-*.example.com", "*z.example.com", "x*"};
  const std::vector<std::string> paths = {"/api/*", "/api",  "/img/*.png", "/",
                                          "/a?c/*", "*.php", "/static/x",  "/api/v1/*"};
  const std::vector<std::string> header_values = {"one", "Two", "t*", "three"};
  const std::vector<std::string> req_hosts = {
      "a.example.com", "b.EXAMPLE.com:8080", "example.com",       "c.test.org",     "x.test.org",
      "zzz",           "q.b.example.com",    "api-1.example.com", "yz.example.com", ".example.com"};
  const std::vector<std::string> req_paths = {"/api",      "/api/v1/u",       "/img/a.png",
                                              "/",         "/abc/d",          "/x/y.php",
                                              "/static/x", "/static/../api/q"};
  const std::vector<std::string> req_values = {"one", "TWO", "three", "tx", "none"};
  for (int round = 0; round < 30; ++round) {
    std::vector<config::Rule> indexed, linear;
    std::vector<int> prios(200);
    for (size_t i = 0; i < prios.size(); ++i) prios[i] = static_cast<int>(i + 1);
    std::shuffle(prios.begin(), prios.end(), rng);
    for (int p : prios) {
      std::vector<config::Condition> a, b;
      int shape = static_cast<int>(rng() % 6);
      if (shape == 0 || shape == 2) {
        std::vector<std::string> v = {pick(hosts)};
        if (rng() % 2) v.push_back(pick(hosts));
        a.push_back(HostCond(v));
        v.push_back("\x01never*");
        b.push_back(HostCond(v));
      }
      if (shape == 1 || shape == 2) {
        std::vector<std::string> v = {pick(paths)};
        if (rng() % 2) v.push_back(pick(paths));
        a.push_back(PathCond(v));
        v.push_back("?\x01never");
        b.push_back(PathCond(v));
      }
      if (shape == 5 || rng() % 5 == 0) {
        std::string name = rng() % 2 ? "X-A" : "x-b";
        std::vector<std::string> v = {pick(header_values)};
        if (rng() % 2) v.push_back(pick(header_values));
        a.push_back(HeaderCond(name, v));
        v.push_back("\x01never*");
        b.push_back(HeaderCond(name, v));
      }
      if (shape == 3 || rng() % 4 == 0) {
        a.push_back(MethodCond({rng() % 2 ? "GET" : "POST"}));
        b.push_back(a.back());
      }
      if (shape == 4) {
        a.push_back(QueryCond({{std::nullopt, "1"}}));
        b.push_back(a.back());
      }
      indexed.push_back(MakeRule(p, a));
      linear.push_back(MakeRule(p, b));
    }
    auto ti = Compile(MakeListener(indexed));
    auto tl = Compile(MakeListener(linear));
    int matched = 0;
    for (int q = 0; q < 300; ++q) {
      Request r;
      r.host = pick(req_hosts);
      r.path = pick(req_paths);
      r.method = rng() % 2 ? "GET" : "POST";
      r.query = rng() % 2 ? "x=1" : "";
      for (int h = static_cast<int>(rng() % 4); h > 0; --h) {
        r.headers.emplace_back(rng() % 2 ? "x-a" : "X-B", pick(req_values));
      }
      const int want = MatchPriority(*tl, r);
      matched += want != 0;
      ASSERT_EQ(MatchPriority(*ti, r), want)
          << "round " << round << " host " << r.host << " path " << r.path;
    }
    EXPECT_GT(matched, 100) << "the random rules should match most requests";
  }
}

TEST(RuleTableTest, ManyIndexHitsFallBackToTheWholeKind) {
  // 40 rules keyed on distinct headers, and 30 on nested host suffixes; a request hitting all
  // of them exceeds the cursor budget and must still find the lowest priority.
  std::vector<config::Rule> rules;
  std::string suffix = ".example.com";
  for (int i = 0; i < 30; ++i) {
    rules.push_back(MakeRule(100 - i, {HostCond({"*" + suffix}), MethodCond({"PUT"})}));
    suffix = ".l" + std::to_string(i) + suffix;
  }
  for (int i = 0; i < 40; ++i) {
    rules.push_back(
        MakeRule(200 - i, {HeaderCond("X-H" + std::to_string(i), {"v"}), MethodCond({"POST"})}));
  }
  auto t = Compile(MakeListener(rules));
  Request r;
  r.host = "a" + suffix;
  for (int i = 0; i < 40; ++i) r.headers.emplace_back("x-h" + std::to_string(i), "V");
  r.method = "PUT";
  EXPECT_EQ(MatchPriority(*t, r), 71);
  r.method = "POST";
  EXPECT_EQ(MatchPriority(*t, r), 161);
  r.host = "a.l0.example.com";
  r.method = "PUT";
  EXPECT_EQ(MatchPriority(*t, r), 99);
  r.headers.resize(3);
  r.method = "POST";
  EXPECT_EQ(MatchPriority(*t, r), 198);
}

TEST(RuleTableTest, ThousandRulesFindTheRightOne) {
  std::vector<config::Rule> rules;
  for (int i = 1; i <= 1000; ++i) {
    rules.push_back(MakeRule(i, {PathCond({"/svc" + std::to_string(i) + "/*"})}));
  }
  auto t = Compile(MakeListener(rules));
  Request r;
  r.path = "/svc1000/x";
  EXPECT_EQ(MatchPriority(*t, r), 1000);
  r.path = "/svc1/";
  EXPECT_EQ(MatchPriority(*t, r), 1);
  r.path = "/svc1001/x";
  EXPECT_EQ(MatchPriority(*t, r), 0);
}

}  // namespace
}  // namespace sluice::routing
