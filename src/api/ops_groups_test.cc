// Target group settings and tags take scoped paths (ChangeScope): a group's settings are
// checked on a document with only the rules that forward to it (settings_of_group), tags by
// the handler as the loader checks them (checked_by_handler). What they hand to apply must
// be what the loader would have accepted and produced, and every tag list the loader refuses
// must be refused by config::internal::CheckTags too.
#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "api/service.h"
#include "api/service_test_util.h"
#include "config/arn.h"
#include "config/export.h"
#include "config/loader.h"
#include "config/model.h"
#include "config/validate.h"

namespace sluice::api {
namespace {

constexpr const char* kYaml = R"(
Account: {Id: "123456789012", Region: eu-west-3}
TargetGroups:
  - Name: blue
    Protocol: HTTP
    Port: 8001
    Targets: [{Id: 127.0.0.1}]
  - Name: green
    Protocol: HTTP
    Port: 9001
LoadBalancers:
  - Name: web
    Listeners:
      - Protocol: HTTP
        Port: 8080
        DefaultActions: [{Type: forward, TargetGroupName: blue}]
)";

class GroupAndTagScopesTest : public ::testing::Test {
 protected:
  GroupAndTagScopesTest() : service_(service_test::LoadModel(kYaml), recorder_.Hooks()) {}

  Service::Answer Call(const std::string& form) { return service_test::CallForm(service_, form); }
  std::string Arn(const char* group) {
    return config::TargetGroupArn(service_.CurrentConfig().account, group);
  }
  const ChangeScope& LastScope() { return recorder_.scopes.back(); }

  service_test::ApplyRecorder recorder_;
  Service service_;
};

TEST_F(GroupAndTagScopesTest, GroupSettingsNameTheirGroup) {
  auto m =
      Call("Action=ModifyTargetGroup&TargetGroupArn=" + Arn("green") + "&HealthCheckPath=/ready");
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(LastScope().settings_of_group, 1);
  EXPECT_EQ(LastScope().targets_of_group, -1);
  EXPECT_FALSE(LastScope().checked_by_handler);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());

  auto a = Call("Action=ModifyTargetGroupAttributes&TargetGroupArn=" + Arn("blue") +
                "&Attributes.member.1.Key=deregistration_delay.timeout_seconds"
                "&Attributes.member.1.Value=5");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(LastScope().settings_of_group, 0);
  EXPECT_EQ(recorder_.applied.back().target_groups[0].attributes.deregistration_delay_seconds, 5);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());

  auto c = Call(
      "Action=CreateTargetGroup&Name=red&Protocol=HTTP&Port=7000"
      "&Tags.member.1.Key=team&Tags.member.1.Value=a");
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(LastScope().settings_of_group, 2);
  ASSERT_EQ(recorder_.applied.back().target_groups.size(), 3u);
  EXPECT_EQ(recorder_.applied.back().target_groups[2].name, "red");
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
}

TEST_F(GroupAndTagScopesTest, DeletingAnUnusedGroupNeedsNoCheck) {
  auto d = Call("Action=DeleteTargetGroup&TargetGroupArn=" + Arn("green"));
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_TRUE(LastScope().checked_by_handler);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
  auto used = Call("Action=DeleteTargetGroup&TargetGroupArn=" + Arn("blue"));
  EXPECT_EQ(used.error_code, "ResourceInUse");
  EXPECT_EQ(recorder_.applied.size(), 1u);
}

TEST_F(GroupAndTagScopesTest, TagsAreCheckedByTheHandler) {
  auto a = Call("Action=AddTags&ResourceArns.member.1=" + Arn("blue") +
                "&Tags.member.1.Key=team&Tags.member.1.Value=core");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(LastScope().checked_by_handler);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
  auto r =
      Call("Action=RemoveTags&ResourceArns.member.1=" + Arn("blue") + "&TagKeys.member.1=team");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(LastScope().checked_by_handler);
  EXPECT_TRUE(recorder_.applied.back().target_groups[0].tags.empty());

  const size_t before = recorder_.applied.size();
  for (const std::string& refused :
       {std::string("&Tags.member.1.Key=aws:team"),
        std::string("&Tags.member.1.Key=") + std::string(129, 'k'),
        std::string("&Tags.member.1.Key=k&Tags.member.1.Value=") + std::string(257, 'v'),
        std::string("&Tags.member.1.Key=k&Tags.member.1.Value=a%00b"),
        std::string("&Tags.member.1.Key=k%00")}) {
    auto bad = Call("Action=AddTags&ResourceArns.member.1=" + Arn("green") + refused);
    EXPECT_EQ(bad.error_code, "ValidationError") << refused;
  }
  EXPECT_EQ(recorder_.applied.size(), before);
  EXPECT_TRUE(service_.CurrentConfig().target_groups[1].tags.empty());
}

// Attributes no rule check reads are checked without rules; HTTP/2 cleartext, which decides
// what HTTP listeners may forward to, with the whole document.
TEST_F(GroupAndTagScopesTest, AttributesOutsideRules) {
  const config::Config& now = service_.CurrentConfig();
  const std::string lb = config::LoadBalancerArn(now.account, "web");
  auto idle = Call("Action=ModifyLoadBalancerAttributes&LoadBalancerArn=" + lb +
                   "&Attributes.member.1.Key=idle_timeout.timeout_seconds"
                   "&Attributes.member.1.Value=120");
  ASSERT_EQ(idle.status, 200) << idle.body;
  EXPECT_TRUE(LastScope().outside_rules);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
  auto h2c = Call("Action=ModifyLoadBalancerAttributes&LoadBalancerArn=" + lb +
                  "&Attributes.member.1.Key=sluice.routing.http2.cleartext.enabled"
                  "&Attributes.member.1.Value=true");
  ASSERT_EQ(h2c.status, 200) << h2c.body;
  EXPECT_FALSE(LastScope().outside_rules);
  EXPECT_FALSE(LastScope().checked_by_handler);
  EXPECT_EQ(LastScope().settings_of_group, -1);
  EXPECT_FALSE(LastScope().rules_of_listener.has_value());

  const std::string listener = config::ListenerArn(
      now.account, "web", config::ListenerId("web", now.load_balancers[0].listeners[0]));
  auto la = Call("Action=ModifyListenerAttributes&ListenerArn=" + listener +
                 "&Attributes.member.1.Key=sluice.max_connections&Attributes.member.1.Value=100");
  ASSERT_EQ(la.status, 200) << la.body;
  EXPECT_TRUE(LastScope().outside_rules);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
}

TEST_F(GroupAndTagScopesTest, AnAddedListenerNamesItself) {
  auto c = Call("Action=CreateListener&LoadBalancerArn=" +
                config::LoadBalancerArn(service_.CurrentConfig().account, "web") +
                "&Protocol=HTTP&Port=8090&DefaultActions.member.1.Type=forward"
                "&DefaultActions.member.1.TargetGroupArn=" +
                Arn("green"));
  ASSERT_EQ(c.status, 200) << c.body;
  ASSERT_TRUE(LastScope().added_listener.has_value());
  EXPECT_EQ(LastScope().added_listener->first, 0u);
  EXPECT_EQ(LastScope().added_listener->second, 1u);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
}

// A new load balancer has no listener: nothing a rule reads changes.
TEST_F(GroupAndTagScopesTest, ANewLoadBalancerIsCheckedWithoutRules) {
  auto c = Call(
      "Action=CreateLoadBalancer&Name=second&Type=network"
      "&SubnetMappings.member.1.PrivateIPv4Address=127.0.0.2");
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_TRUE(LastScope().outside_rules);
  ASSERT_EQ(recorder_.applied.back().load_balancers.size(), 2u);
  EXPECT_EQ(recorder_.applied.back().load_balancers[1].bind_address, "127.0.0.2");
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
}

TEST_F(GroupAndTagScopesTest, DeletionsAreCheckedWithoutRules) {
  const config::Config& now = service_.CurrentConfig();
  const std::string listener = config::ListenerArn(
      now.account, "web", config::ListenerId("web", now.load_balancers[0].listeners[0]));
  auto d = Call("Action=DeleteListener&ListenerArn=" + listener);
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_TRUE(LastScope().outside_rules);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
  auto lb = Call("Action=DeleteLoadBalancer&LoadBalancerArn=" +
                 config::LoadBalancerArn(service_.CurrentConfig().account, "web"));
  ASSERT_EQ(lb.status, 200) << lb.body;
  EXPECT_TRUE(LastScope().outside_rules);
  EXPECT_TRUE(recorder_.applied.back().load_balancers.empty());
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
}

// The export leaves a network group's ProtocolVersion out, so the model must never hold one.
TEST_F(GroupAndTagScopesTest, ANetworkGroupTakesNoProtocolVersion) {
  auto c = Call("Action=CreateTargetGroup&Name=n&Protocol=TCP&Port=80&ProtocolVersion=HTTP2");
  EXPECT_EQ(c.error_code, "ValidationError") << c.body;
  EXPECT_TRUE(recorder_.applied.empty());
  auto ok = Call("Action=CreateTargetGroup&Name=n&Protocol=TCP&Port=80");
  ASSERT_EQ(ok.status, 200) << ok.body;
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
}

// CheckTags refuses exactly the tag lists the loader refuses.
TEST(CheckTags, AgreesWithTheLoader) {
  struct Case {
    std::vector<config::Tag> tags;
    bool ok;
  };
  std::vector<Case> cases = {
      {{{"a", "1"}, {"b", ""}}, true},
      {{{"a", "1"}, {"a", "2"}}, false},
      {{{"", "1"}}, false},
      {{{std::string(128, 'k'), std::string(256, 'v')}}, true},
      {{{std::string(129, 'k'), "v"}}, false},
      {{{"k", std::string(257, 'v')}}, false},
      {{{"aws:x", "v"}}, false},
      {{{"x:aws:", "v"}}, true},
      {{{std::string("a\0b", 3), "v"}}, false},
      {{{"k", std::string("a\0b", 3)}}, false},
  };
  std::vector<config::Tag> many;
  for (int i = 0; i < 51; ++i) many.push_back({"k" + std::to_string(i), "v"});
  cases.push_back({many, false});
  many.pop_back();
  cases.push_back({many, true});
  for (const Case& c : cases) {
    std::string yaml = "TargetGroups:\n  - Name: g\n    Protocol: HTTP\n    Port: 80\n    Tags:\n";
    for (const config::Tag& t : c.tags) {
      auto quoted = [](std::string v) {  // a NUL written as YAML's escape
        for (size_t at = v.find('\0'); at != std::string::npos; at = v.find('\0', at)) {
          v.replace(at, 1, "\\0");
        }
        return v;
      };
      yaml += "      - {Key: \"" + quoted(t.key) + "\", Value: \"" + quoted(t.value) + "\"}\n";
    }
    auto loaded = config::LoadConfigFromString(yaml, "t.yaml");
    const bool loader_ok = std::holds_alternative<config::Config>(loaded);
    std::string why = config::internal::CheckTags(c.tags);
    EXPECT_EQ(loader_ok, c.ok) << yaml;
    EXPECT_EQ(why.empty(), c.ok) << yaml << why;
  }
}

}  // namespace
}  // namespace sluice::api
