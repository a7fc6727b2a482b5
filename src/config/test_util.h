// Helpers for the config loader tests. Test-only; not part of the library.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/loader.h"

namespace sluice::config::testing {

// Drops one leading newline so that raw string literals can start on their own line while
// their first YAML line stays line 1.
inline std::string Yaml(std::string_view text) {
  if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
  return std::string(text);
}

// Yaml(base) with its first `from` replaced by `to` (a failed expectation when absent).
inline std::string Replaced(std::string_view base, std::string_view from, std::string_view to) {
  std::string text = Yaml(base);
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// Loads `text` as file "t.yaml".
inline LoadResult Load(std::string_view text) { return LoadConfigFromString(Yaml(text), "t.yaml"); }

// The errors of loading `text`, as "file:line:column: field: message" strings; empty when it
// loaded.
inline std::vector<std::string> Errors(std::string_view text) {
  std::vector<std::string> out;
  LoadResult result = Load(text);
  if (const auto* errors = std::get_if<ConfigErrors>(&result)) {
    for (const ConfigError& e : *errors) out.push_back(e.ToString());
  }
  return out;
}

// The Config of `text`; records a test failure listing the errors when it does not load.
inline Config MustLoad(std::string_view text) {
  LoadResult result = Load(text);
  if (const auto* errors = std::get_if<ConfigErrors>(&result)) {
    std::string all;
    for (const ConfigError& e : *errors) all += e.ToString() + "\n";
    ADD_FAILURE() << "config did not load:\n" << all;
    return Config{};
  }
  return std::get<Config>(std::move(result));
}

// A load balancer whose listener (port 80) has a default action and an open `Rules:` list;
// rule items appended after it start on line 9, with "- " at column 11.
inline constexpr char kRulesPrefix[] = R"(LoadBalancers:
  - Name: lb
    Listeners:
      - Port: 80
        DefaultActions:
          - Type: fixed-response
            FixedResponseConfig: {StatusCode: "404"}
        Rules:
)";

// A listener prefix whose default action list is open: action items appended start on line
// 6, with "- " at column 11.
inline constexpr char kDefaultActionsPrefix[] = R"(LoadBalancers:
  - Name: lb
    Listeners:
      - Port: 80
        DefaultActions:
)";

// An open target group list: group items appended start on line 2, "- " at column 3.
inline constexpr char kTargetGroupsPrefix[] = "TargetGroups:\n";

// kRulesPrefix followed by `rules` (one leading newline dropped): the first rule is line 9.
inline std::string WithRules(std::string_view rules) { return kRulesPrefix + Yaml(rules); }

// kDefaultActionsPrefix followed by `actions`: the first action is line 6.
inline std::string WithDefaultActions(std::string_view actions) {
  return kDefaultActionsPrefix + Yaml(actions);
}

// kTargetGroupsPrefix followed by `groups`: the first group is line 2.
inline std::string WithTargetGroups(std::string_view groups) {
  return kTargetGroupsPrefix + Yaml(groups);
}

}  // namespace sluice::config::testing
