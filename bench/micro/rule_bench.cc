// Rule matching (routing::RuleTable::Match) with 1, 100 and 1,000 path-pattern rules
// "/r0/*" .. "/rN-1/*" (priorities 1..N, each forwarding to one group), for a request that
// matches only the last rule -- the worst case of a first-match-wins list -- and for one that
// matches none (falls to the default action).
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "config/model.h"
#include "http/header.h"
#include "routing/rule_table.h"

namespace sluice::bench {
namespace {

config::Action ForwardTo(const std::string& group) {
  config::Action a;
  a.type = config::ActionType::kForward;
  a.forward.target_groups.push_back({group, 1});
  return a;
}

config::Listener MakeListener(int rules) {
  config::Listener l;
  l.port = 80;
  l.default_actions.push_back(ForwardTo("be"));
  for (int i = 0; i < rules; ++i) {
    config::Rule r;
    r.priority = i + 1;
    config::Condition c;
    c.field = config::ConditionField::kPathPattern;
    c.values.push_back("/r" + std::to_string(i) + "/*");
    r.conditions.push_back(std::move(c));
    r.actions.push_back(ForwardTo("be"));
    l.rules.push_back(std::move(r));
  }
  return l;
}

const http::HeaderField kHeaders[] = {
    {"Host", "shop.example.com"},
    {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"},
    {"Accept", "*/*"},
    {"Accept-Encoding", "gzip, deflate, br"},
    {"Cookie", "session=5f2b8c1e9a7d4e3f8b6a0c2d1e4f7a9b"},
};

void Match(benchmark::State& state, const std::string& path, int expect_priority) {
  const int n = static_cast<int>(state.range(0));
  auto compiled = routing::RuleTable::Compile(MakeListener(n));
  if (!compiled.ok()) {
    state.SkipWithError(compiled.error().message.c_str());
    return;
  }
  const routing::RuleTable& table = *compiled.value();
  routing::MatchScratch scratch;
  routing::RequestFacts facts;
  facts.method = "GET";
  facts.host = "shop.example.com";
  facts.path = path;
  facts.query = "";
  facts.headers = kHeaders;
  facts.source_ip = *IpAddress::Parse("192.0.2.10");
  routing::MatchResult r;
  for (auto _ : state) {
    r = table.Match(facts, scratch);
    benchmark::DoNotOptimize(r);
  }
  if (r.priority != expect_priority) state.SkipWithError("matched the wrong rule");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_RuleMatch_LastRule(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Match(state, "/r" + std::to_string(n - 1) + "/x", n);
}
BENCHMARK(BM_RuleMatch_LastRule)->Arg(1)->Arg(100)->Arg(1000);

void BM_RuleMatch_NoRuleDefault(benchmark::State& state) { Match(state, "/static/app.js", 0); }
BENCHMARK(BM_RuleMatch_NoRuleDefault)->Arg(1)->Arg(100)->Arg(1000);

void BM_RuleTableCompile(benchmark::State& state) {
  const config::Listener l = MakeListener(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto t = routing::RuleTable::Compile(l);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_RuleTableCompile)->Arg(1)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sluice::bench
