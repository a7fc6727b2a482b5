// RegisterTargets / DeregisterTargets take the fast path (ChangeScope: only one group's
// targets changed, so the whole model is not loaded again): what they hand to apply must be
// exactly what the loader would have accepted and produced, and every target list the loader
// refuses must be refused by config::internal::CheckTargets too.
#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "api/service.h"
#include "api/service_test_util.h"
#include "config/arn.h"
#include "config/export.h"
#include "config/loader.h"
#include "config/validate.h"

namespace sluice::api {
namespace {

constexpr const char* kYaml = R"(
Account: {Id: "123456789012", Region: eu-west-3}
TargetGroups:
  - Name: blue
    Protocol: HTTP
    Port: 8001
    Targets: [{Id: 127.0.0.1}, {Id: "::1", Port: 8002}]
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

class TargetsFastPathTest : public ::testing::Test {
 protected:
  TargetsFastPathTest() : service_(service_test::LoadModel(kYaml), recorder_.Hooks()) {}

  Service::Answer Call(const std::string& form) { return service_test::CallForm(service_, form); }
  std::string Arn(const char* group) {
    return config::TargetGroupArn(service_.CurrentConfig().account, group);
  }

  service_test::ApplyRecorder recorder_;  // before service_, which holds its hooks
  Service service_;
};

TEST_F(TargetsFastPathTest, RegisterAndDeregisterNameOnlyTheirGroup) {
  auto a = Call("Action=RegisterTargets&TargetGroupArn=" + Arn("green") +
                "&Targets.member.1.Id=10.0.0.1&Targets.member.2.Id=fe80::1&"
                "Targets.member.2.Port=9100");
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(recorder_.scopes.size(), 1u);
  EXPECT_EQ(recorder_.scopes[0].targets_of_group, 1);
  service_test::ExpectLoaderAgrees(recorder_.applied[0]);
  auto d = Call("Action=DeregisterTargets&TargetGroupArn=" + Arn("blue") +
                "&Targets.member.1.Id=127.0.0.1");
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(recorder_.scopes.back().targets_of_group, 0);
  ASSERT_EQ(recorder_.applied.back().target_groups[0].targets.size(), 1u);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
}

TEST_F(TargetsFastPathTest, OtherMutationsDoNotClaimTargets) {
  auto a =
      Call("Action=ModifyTargetGroup&TargetGroupArn=" + Arn("green") + "&HealthCheckPath=/ready");
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(recorder_.scopes.size(), 1u);
  EXPECT_EQ(recorder_.scopes[0].targets_of_group, -1);
  EXPECT_EQ(recorder_.scopes[0].settings_of_group, 1);  // its settings: ops_groups_test.cc
}

// "::1" and "0:0::1" are one address: registering the other spelling adds nothing (the loader
// would refuse the pair as listed twice), and deregistering by it removes the target.
TEST_F(TargetsFastPathTest, AddressesCompareCanonical) {
  auto a = Call("Action=RegisterTargets&TargetGroupArn=" + Arn("blue") +
                "&Targets.member.1.Id=0:0::1&Targets.member.1.Port=8002");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(recorder_.applied.back().target_groups[0].targets.size(), 2u);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
  auto d = Call("Action=DeregisterTargets&TargetGroupArn=" + Arn("blue") +
                "&Targets.member.1.Id=0:0:0::1&Targets.member.1.Port=8002");
  ASSERT_EQ(d.status, 200) << d.body;
  ASSERT_EQ(recorder_.applied.back().target_groups[0].targets.size(), 1u);
  EXPECT_EQ(recorder_.applied.back().target_groups[0].targets[0].id, "127.0.0.1");
}

TEST_F(TargetsFastPathTest, OverTheLimitIsTooManyTargetsAndChangesNothing) {
  std::string form = "Action=RegisterTargets&TargetGroupArn=" + Arn("green");
  for (int i = 0; i < 1000; ++i) {
    form += "&Targets.member." + std::to_string(i + 1) + ".Id=10.0." + std::to_string(i / 250) +
            "." + std::to_string(i % 250 + 1);
  }
  ASSERT_EQ(Call(form).status, 200);
  auto over = Call("Action=RegisterTargets&TargetGroupArn=" + Arn("green") +
                   "&Targets.member.1.Id=10.9.9.9");
  EXPECT_EQ(over.error_code, "TooManyTargets");
  EXPECT_EQ(service_.CurrentConfig().target_groups[1].targets.size(), 1000u);
  // Registering one already there is no change, so no limit either.
  auto again = Call("Action=RegisterTargets&TargetGroupArn=" + Arn("green") +
                    "&Targets.member.1.Id=10.0.0.1");
  EXPECT_EQ(again.status, 200) << again.body;
}

// CheckTargets refuses exactly the target lists the loader refuses.
TEST(CheckTargets, AgreesWithTheLoader) {
  struct Case {
    std::vector<std::pair<std::string, int>> targets;
    bool ok;
  };
  std::vector<Case> cases = {
      {{{"10.0.0.1", 80}, {"10.0.0.1", 81}}, true},
      {{{"10.0.0.1", 80}, {"10.0.0.1", 80}}, false},
      {{{"::1", 80}, {"0::1", 80}}, false},
      {{{"2001:db8::1", 65535}}, true},
      {{{"i-0abc", 80}}, false},
      {{{"10.0.0.1", 0}}, false},
      {{{"10.0.0.1", 65536}}, false},
  };
  std::vector<std::pair<std::string, int>> many;
  for (int i = 0; i < 1001; ++i)
    many.push_back({"10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1), 80});
  cases.push_back({many, false});
  many.pop_back();
  cases.push_back({many, true});
  for (const Case& c : cases) {
    std::string yaml =
        "TargetGroups:\n  - Name: g\n    Protocol: HTTP\n    Port: 80\n"
        "    Targets:\n";
    config::TargetGroup group;
    for (const auto& [id, port] : c.targets) {
      yaml += "      - {Id: \"" + id + "\", Port: " + std::to_string(port) + "}\n";
      group.targets.push_back({id, port, {}});
    }
    auto loaded = config::LoadConfigFromString(yaml, "t.yaml");
    const bool loader_ok = std::holds_alternative<config::Config>(loaded);
    std::string why = config::internal::CheckTargets(group);
    EXPECT_EQ(loader_ok, c.ok) << yaml;
    EXPECT_EQ(why.empty(), c.ok) << yaml << why;
  }
}

}  // namespace
}  // namespace sluice::api
