// Error messages for listener rules and their conditions (reference §1.1-§1.3, §10).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config/test_util.h"

namespace sluice::config {
namespace {

using ::testing::ElementsAre;
using testing::Errors;
using ::testing::IsEmpty;
using testing::WithRules;

// Field path of rule N of the test listener.
std::string R(int n) { return "LoadBalancers[0].Listeners[0].Rules[" + std::to_string(n) + "]"; }

// "t.yaml:line:column: field: message"
std::string E(int line, int column, const std::string& field, const std::string& message) {
  return "t.yaml:" + std::to_string(line) + ":" + std::to_string(column) + ": " + field + ": " +
         message;
}

TEST(RuleErrorsTest, PriorityOutOfRange) {
  EXPECT_THAT(Errors(WithRules(R"(
          - Priority: 70000
            Conditions: [{Field: path-pattern, Values: ["/a"]}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)")),
              ElementsAre(E(9, 23, R(0) + ".Priority", "priority 70000 is out of range 1..50000")));
}

TEST(RuleErrorsTest, PriorityWrongType) {
  EXPECT_THAT(Errors(WithRules(R"(
          - Priority: "ten"
            Conditions: [{Field: path-pattern, Values: ["/a"]}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)")),
              ElementsAre(E(9, 23, R(0) + ".Priority", "expected an integer, got 'ten'")));
}

TEST(RuleErrorsTest, DuplicatePriority) {
  EXPECT_THAT(Errors(WithRules(R"(
          - Priority: 5
            Conditions: [{Field: path-pattern, Values: ["/a"]}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
          - Priority: 5
            Conditions: [{Field: path-pattern, Values: ["/b"]}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)")),
              ElementsAre(E(12, 23, R(1) + ".Priority",
                            "priority 5 is already used by " + R(0) + " (line 9)")));
}

TEST(RuleErrorsTest, ConditionsAndActionsAreRequired) {
  EXPECT_THAT(Errors(WithRules(R"(
          - Priority: 1
          - Priority: 2
            Conditions: []
            Actions: []
)")),
              ElementsAre(E(9, 13, R(0) + ".Conditions", "missing required field 'Conditions'"),
                          E(9, 13, R(0) + ".Actions", "missing required field 'Actions'"),
                          E(11, 25, R(1) + ".Conditions",
                            "at least one condition is required (a rule without conditions "
                            "belongs in the listener's DefaultActions)"),
                          E(12, 22, R(1) + ".Actions", "at least one action is required")));
}

TEST(RuleErrorsTest, ConditionFieldAndConfigBlocks) {
  const std::string c = R(0) + ".Conditions";
  EXPECT_THAT(
      Errors(WithRules(R"(
          - Priority: 1
            Conditions:
              - Field: path
                Values: ["/a"]
              - Field: path-pattern
                HostHeaderConfig: {Values: [a.example.com]}
              - Field: http-header
                Values: [x]
              - Field: host-header
                Values: [a.example.com]
                HostHeaderConfig: {Values: [b.example.com]}
              - Field: query-string
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)")),
      ElementsAre(
          E(11, 24, c + "[0].Field",
            "condition field 'path' is invalid; allowed: host-header, http-header, "
            "http-request-method, path-pattern, query-string, source-ip"),
          E(13, 17, c + "[1].PathPatternConfig",
            "missing required field 'PathPatternConfig' (or the legacy Values)"),
          E(14, 35, c + "[1].HostHeaderConfig",
            "HostHeaderConfig does not belong to a path-pattern condition; use PathPatternConfig"),
          E(16, 25, c + "[2].Values",
            "Values directly under a condition is only allowed for host-header and path-pattern; "
            "use HttpHeaderConfig"),
          E(18, 25, c + "[3].Values", "use either Values or HostHeaderConfig, not both"),
          E(20, 17, c + "[4].QueryStringConfig", "missing required field 'QueryStringConfig'")));
}

TEST(RuleErrorsTest, OnlyOneConditionOfSomeFields) {
  EXPECT_THAT(Errors(WithRules(R"(
          - Priority: 1
            Conditions:
              - {Field: path-pattern, Values: ["/a"]}
              - {Field: http-header, HttpHeaderConfig: {HttpHeaderName: A, Values: [x]}}
              - {Field: http-header, HttpHeaderConfig: {HttpHeaderName: B, Values: [y]}}
              - {Field: path-pattern, Values: ["/b"]}
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)")),
              ElementsAre(E(14, 17, R(0) + ".Conditions[3].Field",
                            "a rule can have only one path-pattern condition (first at line "
                            "11)")));
}

TEST(RuleErrorsTest, TooManyConditionValuesPerRule) {
  EXPECT_THAT(Errors(WithRules(R"(
          - Priority: 1
            Conditions:
              - {Field: path-pattern, PathPatternConfig: {Values: ["/a", "/b"], RegexValues: ["^/c"]}}
              - {Field: http-request-method, HttpRequestMethodConfig: {Values: [GET]}}
              - {Field: query-string, QueryStringConfig: {Values: [{Key: k, Value: v}, {Value: w}]}}
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)")),
              ElementsAre(E(11, 15, R(0) + ".Conditions",
                            "a rule can have at most 5 condition values (each value, regex, query "
                            "key/value pair and CIDR counts); found 6")));
}

TEST(RuleErrorsTest, TooManyValuesPerCondition) {
  const std::string c = R(0) + ".Conditions";
  EXPECT_THAT(Errors(WithRules(R"(
          - Priority: 1
            Conditions:
              - {Field: path-pattern, PathPatternConfig: {Values: ["/a", "/b"], RegexValues: ["^/c", "^/d"]}}
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
          - Priority: 2
            Conditions:
              - {Field: http-request-method, HttpRequestMethodConfig: {Values: [GET, HEAD, PUT, POST]}}
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)")),
              ElementsAre(E(11, 58, c + "[0].PathPatternConfig",
                            "a condition can have at most 3 values and regexes together; found 4"),
                          E(15, 80, R(1) + ".Conditions[0].HttpRequestMethodConfig.Values",
                            "a condition can have at most 3 values; found 4")));
}

TEST(RuleErrorsTest, TooManyWildcards) {
  EXPECT_THAT(Errors(WithRules(R"(
          - Priority: 1
            Conditions:
              - {Field: path-pattern, Values: ["/*/*/*"]}
              - {Field: host-header, Values: ["*.*.example.com"]}
              - {Field: query-string, QueryStringConfig: {Values: [{Value: "a\\*b?"}]}}
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)")),
              ElementsAre(E(11, 15, R(0) + ".Conditions",
                            "a rule can have at most 5 wildcards ('*' or '?') in its condition "
                            "values; found 6")));
}

TEST(RuleErrorsTest, HostAndPathPatterns) {
  const std::string c = R(0) + ".Conditions";
  EXPECT_THAT(
      Errors(WithRules(R"(
          - Priority: 1
            Conditions:
              - {Field: host-header, HostHeaderConfig: {Values: [localhost, "a_b.example.com", "*"]}}
              - {Field: path-pattern, Values: ["/a b", ""]}
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)")),
      ElementsAre(E(11, 66, c + "[0].HostHeaderConfig.Values[0]",
                    "host pattern 'localhost' must contain a '.' followed by an alphabetic "
                    "top-level domain, e.g. example.com"),
                  E(11, 77, c + "[0].HostHeaderConfig.Values[1]",
                    "host pattern 'a_b.example.com' contains '_'; allowed characters: A-Z a-z 0-9 "
                    "- . * ?"),
                  E(12, 48, c + "[1].Values[0]",
                    "path pattern '/a b' contains a space; allowed characters: A-Z a-z 0-9 _ - . "
                    "$ / ~ \" ' @ : + & * ?"),
                  E(12, 56, c + "[1].Values[1]", "path pattern must not be empty")));
}

TEST(RuleErrorsTest, HeaderAndMethod) {
  const std::string c = R(0) + ".Conditions";
  EXPECT_THAT(
      Errors(WithRules(R"(
          - Priority: 1
            Conditions:
              - {Field: http-header, HttpHeaderConfig: {HttpHeaderName: host, Values: [x]}}
              - {Field: http-header, HttpHeaderConfig: {HttpHeaderName: "X-*", Values: [x]}}
              - {Field: http-header, HttpHeaderConfig: {Values: [x]}}
              - {Field: http-request-method, HttpRequestMethodConfig: {Values: [get]}}
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)")),
      ElementsAre(
          E(11, 73, c + "[0].HttpHeaderConfig.HttpHeaderName",
            "header name 'host' is not allowed; use a host-header condition"),
          E(12, 73, c + "[1].HttpHeaderConfig.HttpHeaderName",
            "header name 'X-*' contains '*'; allowed characters: A-Z a-z 0-9 ! # $ % & ' + - . ^ "
            "_ ` | ~ (no wildcards)"),
          E(13, 56, c + "[2].HttpHeaderConfig.HttpHeaderName",
            "missing required field 'HttpHeaderName'"),
          E(14, 81, c + "[3].HttpRequestMethodConfig.Values[0]",
            "method 'get' contains 'g'; allowed characters: A-Z - _")));
}

TEST(RuleErrorsTest, QueryString) {
  const std::string c = R(0) + ".Conditions[0].QueryStringConfig.Values";
  EXPECT_THAT(
      Errors(WithRules(R"(
          - Priority: 1
            Conditions:
              - Field: query-string
                QueryStringConfig:
                  Values:
                    - {Key: k}
                    - {Key: "", Value: v}
                    - {Value: v, Other: 1}
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)")),
      ElementsAre(E(14, 23, c + "[0].Value", "missing required field 'Value'"),
                  E(15, 29, c + "[1].Key", "query key must not be empty"),
                  E(16, 34, c + "[2].Other", "unknown field 'Other'; allowed: Key, Value")));
}

TEST(RuleErrorsTest, SourceIp) {
  const std::string v = R(0) + ".Conditions[0].SourceIpConfig.Values";
  EXPECT_THAT(
      Errors(WithRules(R"(
          - Priority: 1
            Conditions:
              - Field: source-ip
                SourceIpConfig:
                  Values: [10.0.0.0/33, 10.0.0.1/8, 255.255.255.255/32, "2001:db8::1/32", 1.2.3.4, 1.0.0.0/8]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)")),
      ElementsAre(
          E(11, 15, R(0) + ".Conditions",
            "a rule can have at most 5 condition values (each value, regex, query "
            "key/value pair and CIDR counts); found 6"),
          E(13, 27, v, "a condition can have at most 5 CIDRs; found 6"),
          E(13, 28, v + "[0]",
            "'10.0.0.0/33' is not a CIDR block; expected e.g. 10.0.0.0/8 or 2001:db8::/32"),
          E(13, 41, v + "[1]", "CIDR '10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?"),
          E(13, 53, v + "[2]", "CIDR 255.255.255.255/32 is not allowed"),
          E(13, 73, v + "[3]",
            "CIDR '2001:db8::1/32' has host bits set; did you mean 2001:db8::/32?"),
          E(13, 91, v + "[4]",
            "'1.2.3.4' is not a CIDR block; expected e.g. 10.0.0.0/8 or 2001:db8::/32")));
}

TEST(RuleErrorsTest, Regex) {
  const std::string v = R(0) + ".Conditions[0].PathPatternConfig.RegexValues";
  EXPECT_THAT(
      Errors(WithRules(R"Y(
          - Priority: 1
            Conditions:
              - Field: path-pattern
                PathPatternConfig:
                  RegexValues: ["^/(?=admin)", "(a)\\1", "[unclosed"]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)Y")),
      ElementsAre(
          E(13, 33, v + "[0]",
            "regex '^/(?=admin)' does not compile: invalid perl operator: (?= "
            "(lookaround and backreferences are not supported)"),
          E(13, 48, v + "[1]",
            "regex '(a)\\1' does not compile: invalid escape sequence: \\1 (lookaround "
            "and backreferences are not supported)"),
          E(13, 58, v + "[2]", "regex '[unclosed' does not compile: missing ]: [unclosed")));
}

TEST(RuleErrorsTest, RegexTooLong) {
  std::string yaml = WithRules(R"(
          - Priority: 1
            Conditions: [{Field: host-header, HostHeaderConfig: {RegexValues: [REGEX]}}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)");
  yaml.replace(yaml.find("REGEX"), 5, std::string(129, 'a'));
  EXPECT_THAT(Errors(yaml),
              ElementsAre(E(10, 80, R(0) + ".Conditions[0].HostHeaderConfig.RegexValues[0]",
                            "regex is 129 characters long; the limit is 128")));
}

TEST(RuleErrorsTest, RulesAreValidWithAllConditionKinds) {
  EXPECT_THAT(Errors(WithRules(R"(
          - Priority: 50000
            Conditions:
              - {Field: host-header, HostHeaderConfig: {Values: ["*"], RegexValues: ["^api\\."]}}
              - {Field: source-ip, SourceIpConfig: {Values: ["0.0.0.0/0", "::/0"]}}
              - {Field: http-header, HttpHeaderConfig: {HttpHeaderName: User-Agent, RegexValues: [".*bot"]}}
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)")),
              IsEmpty());
}

}  // namespace
}  // namespace sluice::config
