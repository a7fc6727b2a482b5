// Test helpers for routing tests: build config conditions/rules and requests tersely.
// Test-only; not part of the sluice_routing library.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/model.h"
#include "http/header.h"
#include "routing/rule_table.h"

namespace sluice::routing::testing {

inline config::Condition HostCond(std::vector<std::string> values,
                                  std::vector<std::string> regex = {}) {
  config::Condition c;
  c.field = config::ConditionField::kHostHeader;
  c.values = std::move(values);
  c.regex_values = std::move(regex);
  return c;
}

inline config::Condition PathCond(std::vector<std::string> values,
                                  std::vector<std::string> regex = {}) {
  config::Condition c;
  c.field = config::ConditionField::kPathPattern;
  c.values = std::move(values);
  c.regex_values = std::move(regex);
  return c;
}

inline config::Condition HeaderCond(std::string name, std::vector<std::string> values,
                                    std::vector<std::string> regex = {}) {
  config::Condition c;
  c.field = config::ConditionField::kHttpHeader;
  c.http_header_name = std::move(name);
  c.values = std::move(values);
  c.regex_values = std::move(regex);
  return c;
}

inline config::Condition MethodCond(std::vector<std::string> values) {
  config::Condition c;
  c.field = config::ConditionField::kHttpRequestMethod;
  c.values = std::move(values);
  return c;
}

inline config::Condition QueryCond(
    std::vector<std::pair<std::optional<std::string>, std::string>> pairs) {
  config::Condition c;
  c.field = config::ConditionField::kQueryString;
  for (auto& [k, v] : pairs) c.query_values.push_back(config::QueryStringKeyValue{k, v});
  return c;
}

inline config::Condition SourceIpCond(std::vector<std::string> values) {
  config::Condition c;
  c.field = config::ConditionField::kSourceIp;
  c.values = std::move(values);
  return c;
}

// A forward action to target group "tg<tag>".
inline config::Action Forward(int tag, int order = 0) {
  config::Action a;
  a.type = config::ActionType::kForward;
  a.order = order;
  a.forward.target_groups.push_back({"tg" + std::to_string(tag), 1});
  return a;
}

inline config::Rule MakeRule(int priority, std::vector<config::Condition> conditions) {
  config::Rule r;
  r.priority = priority;
  r.conditions = std::move(conditions);
  r.actions.push_back(Forward(priority));
  return r;
}

inline config::Listener MakeListener(std::vector<config::Rule> rules) {
  config::Listener l;
  l.port = 80;
  l.default_actions.push_back(Forward(0));
  l.rules = std::move(rules);
  return l;
}

// An HTTP request as the conditions see it. Owns its strings.
struct Request {
  std::string method = "GET";
  std::string host = "example.com";
  std::string path = "/";
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string source_ip = "192.0.2.10";

  // Views into *this; valid while *this is unchanged.
  RequestFacts Facts(std::vector<http::HeaderField>* storage) const {
    storage->clear();
    for (const auto& [n, v] : headers) storage->push_back(http::HeaderField{n, v});
    RequestFacts f;
    f.method = method;
    f.host = host;
    f.path = path;
    f.query = query;
    f.headers = *storage;
    f.source_ip = *IpAddress::Parse(source_ip);
    return f;
  }
};

// The priority of the rule `table` picks for `req` (0 = default).
inline int MatchPriority(const RuleTable& table, const Request& req) {
  static thread_local MatchScratch scratch;
  std::vector<http::HeaderField> storage;
  return table.Match(req.Facts(&storage), scratch).priority;
}

}  // namespace sluice::routing::testing
