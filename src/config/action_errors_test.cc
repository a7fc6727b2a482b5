// Error messages for actions: forward, redirect, fixed-response, Order (reference §1.5).
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
using testing::WithDefaultActions;
using testing::WithRules;

// Field path of default action N of the test listener.
std::string A(int n) {
  return "LoadBalancers[0].Listeners[0].DefaultActions[" + std::to_string(n) + "]";
}

std::string E(int line, int column, const std::string& field, const std::string& message) {
  return "t.yaml:" + std::to_string(line) + ":" + std::to_string(column) + ": " + field + ": " +
         message;
}

// Target groups the forward tests may reference.
constexpr char kGroups[] = R"(TargetGroups:
  - {Name: a, Port: 1}
  - {Name: b, Port: 2}
  - {Name: c, Port: 3}
  - {Name: d, Port: 4}
  - {Name: e, Port: 5}
  - {Name: f, Port: 6}
)";

TEST(ActionErrorsTest, FixedResponse) {
  std::string body(1025, 'x');
  std::string yaml = WithDefaultActions(R"(
          - Type: fixed-response
            FixedResponseConfig: {StatusCode: "302", ContentType: text/xml, MessageBody: BODY}
)");
  yaml.replace(yaml.find("BODY"), 4, body);
  EXPECT_THAT(
      Errors(yaml),
      ElementsAre(E(7, 47, A(0) + ".FixedResponseConfig.StatusCode",
                    "status code '302' is invalid; allowed: 2XX, 4XX or 5XX (three digits)"),
                  E(7, 67, A(0) + ".FixedResponseConfig.ContentType",
                    "content type 'text/xml' is invalid; allowed: text/plain, text/css, text/html, "
                    "application/javascript, application/json"),
                  E(7, 90, A(0) + ".FixedResponseConfig.MessageBody",
                    "message body is 1025 characters long; the limit is 1024")));
}

TEST(ActionErrorsTest, FixedResponseNeedsItsConfigAndStatus) {
  EXPECT_THAT(Errors(WithDefaultActions(R"(
          - Type: fixed-response
          - Type: fixed-response
            FixedResponseConfig: {ContentType: text/plain}
)")),
              ElementsAre(E(6, 11, "LoadBalancers[0].Listeners[0].DefaultActions",
                            "exactly one forward, redirect or fixed-response action is allowed; "
                            "found 2"),
                          E(6, 13, A(0) + ".FixedResponseConfig",
                            "missing required field 'FixedResponseConfig'"),
                          E(8, 34, A(1) + ".FixedResponseConfig.StatusCode",
                            "missing required field 'StatusCode'")));
}

TEST(ActionErrorsTest, RedirectLoop) {
  EXPECT_THAT(Errors(WithDefaultActions(R"(
          - Type: redirect
            RedirectConfig: {Query: "x=1", StatusCode: HTTP_301}
)")),
              ElementsAre(E(7, 29, A(0) + ".RedirectConfig",
                            "redirect keeps the original protocol, host, port and path, so it "
                            "would loop; change at least one of Protocol, Host, Port or Path")));
}

TEST(ActionErrorsTest, RedirectFields) {
  const std::string rc = A(0) + ".RedirectConfig";
  EXPECT_THAT(
      Errors(WithDefaultActions(R"(
          - Type: redirect
            RedirectConfig:
              Protocol: ftp
              Port: 0
              Host: "#{path}.example.com"
              Path: "x/#{path}"
              Query: "?#{bogus}"
              StatusCode: HTTP_307
)")),
      ElementsAre(
          E(8, 25, rc + ".Protocol",
            "redirect Protocol 'ftp' is invalid; allowed: HTTP, HTTPS, #{protocol}"),
          E(9, 21, rc + ".Port", "redirect Port '0' is invalid; allowed: 1..65535 or #{port}"),
          E(10, 21, rc + ".Host",
            "keyword #{path} is not allowed in redirect Host; allowed: #{host}"),
          E(11, 21, rc + ".Path", "redirect Path 'x/#{path}' must start with '/'"),
          E(12, 22, rc + ".Query",
            "redirect Query must not start with '?'; it is added automatically"),
          E(13, 27, rc + ".StatusCode",
            "redirect status code 'HTTP_307' is invalid; allowed: HTTP_301, HTTP_302")));
}

TEST(ActionErrorsTest, RedirectKeywords) {
  const std::string rc = A(0) + ".RedirectConfig";
  EXPECT_THAT(
      Errors(WithDefaultActions(R"(
          - Type: redirect
            RedirectConfig:
              Path: "/#{query}"
              Query: "a=#{nope}"
              Host: "#{host"
              StatusCode: HTTP_302
)")),
      ElementsAre(
          E(8, 21, rc + ".Path",
            "keyword #{query} is not allowed in redirect Path; allowed: #{path}, #{host}, #{port}"),
          E(9, 22, rc + ".Query",
            "redirect Query has unknown keyword '#{nope}'; keywords: #{protocol}, #{host}, "
            "#{port}, #{path}, #{query}"),
          E(10, 21, rc + ".Host",
            "redirect Host '#{host' has an unterminated keyword; keywords: #{protocol}, #{host}, "
            "#{port}, #{path}, #{query}")));
}

TEST(ActionErrorsTest, ValidRedirectsAndPortAsInteger) {
  EXPECT_THAT(Errors(WithDefaultActions(R"(
          - Type: redirect
            RedirectConfig: {Protocol: HTTPS, Port: 443, StatusCode: HTTP_301}
)")),
              IsEmpty());
}

TEST(ActionErrorsTest, ForwardLimits) {
  const std::string fc = A(0) + ".ForwardConfig";
  EXPECT_THAT(
      Errors(std::string(kGroups) + WithDefaultActions(R"(
          - Type: forward
            ForwardConfig:
              TargetGroups:
                - {TargetGroupName: a, Weight: 1000}
                - {TargetGroupName: b}
                - {TargetGroupName: a}
                - {TargetGroupName: c}
                - {TargetGroupName: d}
                - {TargetGroupName: e}
              TargetGroupStickinessConfig: {Enabled: true}
)")),
      ElementsAre(E(16, 17, fc + ".TargetGroups",
                    "a forward action can have at most 5 target groups; found 6"),
                  E(16, 48, fc + ".TargetGroups[0].Weight", "weight 1000 is out of range 0..999"),
                  E(18, 37, fc + ".TargetGroups[2].TargetGroupName",
                    "target group 'a' is listed twice in this forward action (first at line 16)"),
                  E(22, 44, fc + ".TargetGroupStickinessConfig.DurationSeconds",
                    "missing required field 'DurationSeconds' (required when Enabled is true)")));
}

TEST(ActionErrorsTest, ForwardWeightsAndStickinessRange) {
  const std::string fc = A(0) + ".ForwardConfig";
  EXPECT_THAT(
      Errors(std::string(kGroups) + WithDefaultActions(R"(
          - Type: forward
            ForwardConfig:
              TargetGroups: [{TargetGroupName: a, Weight: 0}, {TargetGroupName: b, Weight: 0}]
              TargetGroupStickinessConfig: {Enabled: false, DurationSeconds: 604801}
)")),
      ElementsAre(E(15, 29, fc + ".TargetGroups",
                    "every target group has weight 0, so nothing would be forwarded; give at "
                    "least one a weight of 1..999"),
                  E(16, 78, fc + ".TargetGroupStickinessConfig.DurationSeconds",
                    "duration 604801 is out of range 1..604800")));
}

TEST(ActionErrorsTest, ForwardForms) {
  EXPECT_THAT(Errors(std::string(kGroups) + WithDefaultActions(R"(
          - Type: forward
)")),
              ElementsAre(E(13, 13, A(0) + ".TargetGroupName",
                            "a forward action needs TargetGroupName or ForwardConfig")));
  EXPECT_THAT(
      Errors(std::string(kGroups) + WithDefaultActions(R"(
          - Type: forward
            TargetGroupName: a
            ForwardConfig: {TargetGroups: [{TargetGroupName: b}]}
)")),
      ElementsAre(E(14, 30, A(0) + ".TargetGroupName",
                    "with both TargetGroupName and ForwardConfig, ForwardConfig must list only "
                    "target group 'a'")));
  EXPECT_THAT(Errors(std::string(kGroups) + WithDefaultActions(R"(
          - Type: forward
            TargetGroupName: a
            ForwardConfig: {TargetGroups: [{TargetGroupName: a, Weight: 5}]}
)")),
              IsEmpty());
}

TEST(ActionErrorsTest, TypeAndBlocks) {
  EXPECT_THAT(
      Errors(std::string(kGroups) + WithRules(R"(
          - Priority: 1
            Conditions: [{Field: path-pattern, Values: ["/a"]}]
            Actions:
              - Type: authenticate-oidc
          - Priority: 2
            Conditions: [{Field: path-pattern, Values: ["/b"]}]
            Actions:
              - Type: forward
                TargetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a/1"
                TargetGroupName: a
                RedirectConfig: {StatusCode: HTTP_301}
          - Priority: 3
            Conditions: [{Field: path-pattern, Values: ["/c"]}]
            Actions: [{Type: Forward}]
)")),
      ElementsAre(
          E(19, 23, "LoadBalancers[0].Listeners[0].Rules[0].Actions[0].Type",
            "action type 'authenticate-oidc' is not supported yet (it needs HTTPS listeners); "
            "allowed: forward, redirect, fixed-response"),
          E(24, 33, "LoadBalancers[0].Listeners[0].Rules[1].Actions[0].TargetGroupArn",
            "TargetGroupArn is not supported; name the target group with TargetGroupName"),
          E(26, 33, "LoadBalancers[0].Listeners[0].Rules[1].Actions[0].RedirectConfig",
            "RedirectConfig is not allowed in a forward action"),
          E(29, 30, "LoadBalancers[0].Listeners[0].Rules[2].Actions[0].Type",
            "action type 'Forward' is invalid; allowed: forward, redirect, fixed-response")));
}

TEST(ActionErrorsTest, OrderRangeAndUniqueness) {
  // Two terminal actions are one error; Order is checked for range and duplicates as well.
  EXPECT_THAT(
      Errors(WithDefaultActions(R"(
          - {Type: fixed-response, Order: 2, FixedResponseConfig: {StatusCode: "200"}}
          - {Type: fixed-response, Order: 2, FixedResponseConfig: {StatusCode: "201"}}
          - {Type: fixed-response, Order: 50001, FixedResponseConfig: {StatusCode: "202"}}
)")),
      ElementsAre(
          E(6, 11, "LoadBalancers[0].Listeners[0].DefaultActions",
            "exactly one forward, redirect or fixed-response action is allowed; found 3"),
          E(7, 43, A(1) + ".Order", "order 2 is already used by " + A(0) + ".Order (line 6)"),
          E(8, 43, A(2) + ".Order", "order 50001 is out of range 1..50000")));
}

}  // namespace
}  // namespace sluice::config
