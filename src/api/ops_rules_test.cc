// CreateRule, ModifyRule, DeleteRule and SetRulePriorities take the rules fast path
// (ChangeScope::rules_of_listener: only one listener's rules changed, so the whole model is
// not loaded again): the scope must name the listener and the rules that changed, and the
// model they hand over must be the one an export and load of it gives and one the scoped
// check accepts.
#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "api/service.h"
#include "api/service_test_util.h"
#include "config/arn.h"
#include "config/export.h"
#include "config/loader.h"
#include "config/scoped_check.h"

namespace sluice::api {
namespace {

constexpr const char* kYaml = R"(
Account: {Id: "123456789012", Region: eu-west-3}
TargetGroups:
  - Name: blue
    Protocol: HTTP
    Port: 8001
    Targets: [{Id: 127.0.0.1}]
LoadBalancers:
  - Name: web
    Listeners:
      - Protocol: HTTP
        Port: 8080
        DefaultActions: [{Type: forward, TargetGroupName: blue}]
        Rules:
          - Priority: 10
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/a/*"]}}]
            Actions: [{Type: forward, TargetGroupName: blue}]
          - Priority: 20
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/b/*"]}}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
      - Protocol: HTTP
        Port: 8081
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "404"}}]
        Rules:
          - Priority: 10
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/c/*"]}}]
            Actions: [{Type: forward, TargetGroupName: blue}]
)";

class RulesFastPathTest : public ::testing::Test {
 protected:
  RulesFastPathTest() : service_(service_test::LoadModel(kYaml), recorder_.Hooks()) {}

  Service::Answer Call(const std::string& form) { return service_test::CallForm(service_, form); }
  std::string ListenerArn(size_t listener) {
    const config::Config c = service_.CurrentConfig();
    return config::ListenerArn(c.account, "web",
                               config::ListenerId("web", c.load_balancers[0].listeners[listener]));
  }
  std::string RuleArn(size_t listener, size_t rule) {
    const config::Config c = service_.CurrentConfig();
    const config::Listener& l = c.load_balancers[0].listeners[listener];
    const std::string id = config::ListenerId("web", l);
    return config::RuleArn(c.account, "web", id, config::RuleId(id, l.rules[rule]));
  }

  // The last change named `listener` of "web" and the rules `changed`; its model is the one
  // the loader gives back, and the scoped check accepts it.
  void ExpectScope(size_t listener, std::vector<size_t> changed) {
    ASSERT_FALSE(recorder_.scopes.empty());
    const auto& scope = recorder_.scopes.back().rules_of_listener;
    ASSERT_TRUE(scope.has_value());
    EXPECT_EQ(scope->load_balancer, 0u);
    EXPECT_EQ(scope->listener, listener);
    EXPECT_EQ(scope->rules, changed);
    EXPECT_EQ(recorder_.scopes.back().targets_of_group, -1);
    config::Config model = recorder_.applied.back();
    service_test::ExpectLoaderAgrees(model);
    EXPECT_TRUE(config::CheckListenerRulesChange(model, *scope, "api").empty());
  }

  service_test::ApplyRecorder recorder_;  // before service_, which holds its hooks
  Service service_;
};

constexpr const char* kPathCondition =
    "&Conditions.member.1.Field=path-pattern"
    "&Conditions.member.1.PathPatternConfig.Values.member.1=/n/*";

TEST_F(RulesFastPathTest, CreateRuleNamesTheNewRuleWhereItSorts) {
  auto a =
      Call("Action=CreateRule&ListenerArn=" + ListenerArn(0) + "&Priority=15" + kPathCondition +
           "&Actions.member.1.Type=fixed-response"
           "&Actions.member.1.FixedResponseConfig.StatusCode=204");
  ASSERT_EQ(a.status, 200) << a.body;
  ExpectScope(0, {1});
  EXPECT_EQ(recorder_.applied.back().load_balancers[0].listeners[0].rules[1].priority, 15);
}

// AWS's pattern ^(2|4|5)\d\d$: a status that reads as a number but is not three digits is
// refused.
TEST_F(RulesFastPathTest, AFixedResponseStatusIsThreeDigits) {
  for (const char* code : {"0200", "20", "2000", "+200", "600", "2O0"}) {
    auto a =
        Call("Action=CreateRule&ListenerArn=" + ListenerArn(0) + "&Priority=16" + kPathCondition +
             "&Actions.member.1.Type=fixed-response"
             "&Actions.member.1.FixedResponseConfig.StatusCode=" +
             std::string(code));
    EXPECT_EQ(a.status, 400) << code << ": " << a.body;
    EXPECT_NE(a.body.find("regular expression pattern: ^(2|4|5)\\d\\d$"), std::string::npos)
        << a.body;
  }
  EXPECT_TRUE(recorder_.applied.empty());
}

TEST_F(RulesFastPathTest, ModifyRuleNamesTheRuleAndTheDefaultRuleNone) {
  auto a = Call("Action=ModifyRule&RuleArn=" + RuleArn(1, 0) + kPathCondition);
  ASSERT_EQ(a.status, 200) << a.body;
  ExpectScope(1, {0});
  const config::Config c = service_.CurrentConfig();
  const std::string id = config::ListenerId("web", c.load_balancers[0].listeners[0]);
  auto d = Call("Action=ModifyRule&RuleArn=" +
                config::RuleArn(c.account, "web", id, config::DefaultRuleId(id)) +
                "&Actions.member.1.Type=fixed-response"
                "&Actions.member.1.FixedResponseConfig.StatusCode=503");
  ASSERT_EQ(d.status, 200) << d.body;
  ExpectScope(0, {});
}

TEST_F(RulesFastPathTest, DeleteAndReprioritizeNameTheListener) {
  auto d = Call("Action=DeleteRule&RuleArn=" + RuleArn(0, 0));
  ASSERT_EQ(d.status, 200) << d.body;
  ExpectScope(0, {});
  auto p = Call("Action=SetRulePriorities&RulePriorities.member.1.RuleArn=" + RuleArn(0, 0) +
                "&RulePriorities.member.1.Priority=5");
  ASSERT_EQ(p.status, 200) << p.body;
  ExpectScope(0, {});
}

// Priorities of two listeners at once: checked whole, as any other change.
TEST_F(RulesFastPathTest, PrioritiesOfTwoListenersAreCheckedWhole) {
  auto p =
      Call("Action=SetRulePriorities&RulePriorities.member.1.RuleArn=" + RuleArn(0, 1) +
           "&RulePriorities.member.1.Priority=25&RulePriorities.member.2.RuleArn=" + RuleArn(1, 0) +
           "&RulePriorities.member.2.Priority=26");
  ASSERT_EQ(p.status, 200) << p.body;
  ASSERT_EQ(recorder_.scopes.size(), 1u);
  EXPECT_FALSE(recorder_.scopes[0].rules_of_listener.has_value());
}

// A listener's new default actions or port leave its rules' checks as they were; a new
// protocol checks all of them again (a network listener has no rules, an HTTP one forwards
// no HTTP/2).
TEST_F(RulesFastPathTest, ModifyListenerWithANewProtocolChecksAllItsRules) {
  auto a = Call("Action=ModifyListener&ListenerArn=" + ListenerArn(0) +
                "&Port=8090&DefaultActions.member.1.Type=fixed-response"
                "&DefaultActions.member.1.FixedResponseConfig.StatusCode=503");
  ASSERT_EQ(a.status, 200) << a.body;
  ExpectScope(0, {});
  auto p = Call("Action=ModifyListener&ListenerArn=" + ListenerArn(1) + "&Protocol=HTTPS");
  // Handed over to be checked with every rule, which refuses it as the loader does (an HTTPS
  // listener needs a certificate).
  ASSERT_EQ(recorder_.scopes.size(), 2u) << p.body;
  const auto& scope = recorder_.scopes.back().rules_of_listener;
  ASSERT_TRUE(scope.has_value());
  const size_t rules = recorder_.applied.back().load_balancers[0].listeners[1].rules.size();
  ASSERT_GT(rules, 0u);
  std::vector<size_t> all(rules);
  std::iota(all.begin(), all.end(), size_t{0});
  EXPECT_EQ(scope->listener, 1u);
  EXPECT_EQ(scope->rules, all);
  config::Config model = recorder_.applied.back();
  const config::ConfigErrors errors = config::CheckListenerRulesChange(model, *scope, "api");
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors.front().message.find("needs at least one certificate"), std::string::npos)
      << errors.front().message;
}

}  // namespace
}  // namespace sluice::api
