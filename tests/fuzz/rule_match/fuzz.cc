// libFuzzer target for listener rule matching and redirect building: builds a few random
// rules and one random request from the input, compiles and matches them, and checks
// invariants (and the glob matcher against a slow reference). Must never crash.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "config/model.h"
#include "routing/glob.h"
#include "routing/path_normalize.h"
#include "routing/redirect.h"
#include "routing/rule_table.h"

namespace {

using sluice::routing::Glob;
using sluice::routing::GlobCase;
using sluice::routing::GlobEscapes;

void Check(bool ok) {
  if (!ok) std::abort();
}

// Reference glob: dynamic programming over (pattern, text) positions; no escapes.
bool SlowGlob(const std::string& p, const std::string& t, bool fold) {
  auto f = [&](char c) { return fold ? sluice::routing::FoldAscii(c) : c; };
  std::vector<std::vector<char>> dp(p.size() + 1, std::vector<char>(t.size() + 1, 0));
  dp[p.size()][t.size()] = 1;
  for (size_t i = p.size(); i-- > 0;) {
    for (size_t j = t.size() + 1; j-- > 0;) {
      if (p[i] == '*') {
        dp[i][j] = dp[i + 1][j] || (j < t.size() && dp[i][j + 1]);
      } else if (j < t.size() && (p[i] == '?' || f(p[i]) == f(t[j]))) {
        dp[i][j] = dp[i + 1][j + 1];
      }
    }
  }
  return dp[0][0];
}

std::string SmallString(FuzzedDataProvider& in, size_t max) {
  return in.ConsumeRandomLengthString(max);
}

sluice::config::Condition RandomCondition(FuzzedDataProvider& in) {
  using sluice::config::ConditionField;
  sluice::config::Condition c;
  c.field = static_cast<ConditionField>(in.ConsumeIntegralInRange<int>(0, 5));
  const int values = in.ConsumeIntegralInRange<int>(1, 3);
  for (int i = 0; i < values; ++i) {
    switch (c.field) {
      case ConditionField::kSourceIp: {
        const bool v6 = in.ConsumeBool();
        std::string ip = v6 ? "2001:db8::" : "10.0.0.";
        ip += std::to_string(in.ConsumeIntegralInRange<int>(0, 255));
        const int prefix = in.ConsumeIntegralInRange<int>(0, v6 ? 128 : 32);
        c.values.push_back(ip + "/" + std::to_string(prefix));
        break;
      }
      case ConditionField::kQueryString: {
        sluice::config::QueryStringKeyValue kv;
        if (in.ConsumeBool()) kv.key = SmallString(in, 16);
        kv.value = SmallString(in, 16);
        c.query_values.push_back(kv);
        break;
      }
      default:
        if (in.ConsumeIntegralInRange<int>(0, 7) == 0 &&
            c.field != ConditionField::kHttpRequestMethod) {
          c.regex_values.push_back(SmallString(in, 24));
        } else {
          c.values.push_back(SmallString(in, 32));
        }
    }
  }
  if (c.field == ConditionField::kHttpHeader) c.http_header_name = SmallString(in, 8);
  return c;
}

void FuzzGlob(FuzzedDataProvider& in) {
  const std::string pattern = SmallString(in, 12);
  const std::string text = SmallString(in, 24);
  const bool fold = in.ConsumeBool();
  Glob g = Glob::Compile(pattern, fold ? GlobCase::kInsensitive : GlobCase::kSensitive,
                         GlobEscapes::kNone);
  Check(g.Match(text) == SlowGlob(pattern, text, fold));
  Glob::Compile(pattern, GlobCase::kInsensitive, GlobEscapes::kBackslash).Match(text);
}

void FuzzNormalize(FuzzedDataProvider& in) {
  const std::string path = SmallString(in, 64);
  char buf[80];
  const size_t n = sluice::routing::NormalizePath(path, buf, sizeof(buf));
  Check(n != sluice::routing::kNormalizeOverflow);
  Check(n >= 1 && n <= (path.empty() ? 1 : path.size()));
  if (!path.empty() && path[0] == '/') Check(buf[0] == '/');
}

void FuzzRedirect(FuzzedDataProvider& in) {
  sluice::config::RedirectConfig cfg;
  if (in.ConsumeBool()) cfg.protocol = in.ConsumeBool() ? "HTTPS" : "HTTP";
  if (in.ConsumeBool()) cfg.port = SmallString(in, 8);
  if (in.ConsumeBool()) cfg.host = SmallString(in, 32);
  if (in.ConsumeBool()) cfg.path = "/" + SmallString(in, 32);
  if (in.ConsumeBool()) cfg.query = SmallString(in, 32);
  const std::string host = SmallString(in, 32);
  const std::string port = std::to_string(in.ConsumeIntegralInRange<int>(1, 65535));
  // Occasionally a path near the 8 KiB limit.
  std::string path = SmallString(in, 64);
  if (in.ConsumeBool()) path.append(in.ConsumeIntegralInRange<size_t>(8000, 8300), 'p');
  const std::string query = SmallString(in, 32);
  sluice::routing::RedirectInputs inputs{in.ConsumeBool() ? "https" : "http", host, port, path,
                                         query};
  std::string out;
  if (sluice::routing::BuildRedirectLocation(cfg, inputs, &out)) {
    Check(out.size() <= sluice::routing::kMaxRedirectLocation);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  FuzzGlob(in);
  FuzzNormalize(in);

  sluice::config::Listener listener;
  listener.port = 80;
  listener.default_actions.emplace_back();
  const int rules = in.ConsumeIntegralInRange<int>(0, 4);
  for (int r = 0; r < rules; ++r) {
    sluice::config::Rule rule;
    rule.priority = in.ConsumeIntegralInRange<int>(1, 50000);
    const int conditions = in.ConsumeIntegralInRange<int>(1, 3);
    for (int c = 0; c < conditions; ++c) rule.conditions.push_back(RandomCondition(in));
    rule.actions.emplace_back();
    listener.rules.push_back(std::move(rule));
  }

  const std::string method = SmallString(in, 8);
  const std::string host = SmallString(in, 32);
  const std::string path = SmallString(in, 64);
  const std::string query = SmallString(in, 48);
  std::vector<std::string> header_text;
  const int headers = in.ConsumeIntegralInRange<int>(0, 4);
  for (int h = 0; h < 2 * headers; ++h) header_text.push_back(SmallString(in, 24));
  std::vector<sluice::http::HeaderField> fields;
  for (int h = 0; h < headers; ++h) fields.push_back({header_text[2 * h], header_text[2 * h + 1]});
  sluice::IpAddress ip;
  ip.is_v4 = in.ConsumeBool();
  for (uint8_t& b : ip.bytes) b = in.ConsumeIntegral<uint8_t>();

  FuzzRedirect(in);

  auto table = sluice::routing::RuleTable::Compile(listener);
  if (!table.ok()) return 0;  // e.g. a regex RE2 rejects
  sluice::routing::RequestFacts facts;
  facts.method = method;
  facts.host = host;
  facts.path = path;
  facts.query = query;
  facts.headers = fields;
  facts.source_ip = ip;
  static sluice::routing::MatchScratch scratch;
  sluice::routing::MatchResult m = table.value()->Match(facts, scratch);
  Check(m.actions != nullptr);
  bool known = m.priority == 0;
  for (const auto& rule : listener.rules) known = known || rule.priority == m.priority;
  Check(known);
  // Matching is deterministic.
  Check(table.value()->Match(facts, scratch).priority == m.priority);
  return 0;
}
