// The operations over a model loaded from YAML, with a fake apply hook that records the
// next model: what each call answers, and what a mutation changes.
#include "api/service.h"

#include <gtest/gtest.h>

#include "api/service_test_util.h"
#include "config/arn.h"
#include "config/loader.h"

namespace sluice::api {
namespace {

constexpr const char* kYaml = R"(
Account: {Id: "123456789012", Region: eu-west-3}
TargetGroups:
  - Name: blue
    Protocol: HTTP
    Port: 8001
    Targets: [{Id: 127.0.0.1}, {Id: 127.0.0.2, Port: 8002}]
  - Name: green
    Protocol: HTTP
    Port: 9001
LoadBalancers:
  - Name: web
    Listeners:
      - Protocol: HTTP
        Port: 8080
        DefaultActions: [{Type: forward, TargetGroupName: blue}]
        Rules:
          - Priority: 10
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/api/*"]}}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "503"}}]
)";

config::Config Load() { return service_test::LoadModel(kYaml); }

class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest() : service_(Load(), Hooks()) {}

  ServiceHooks Hooks() {
    ServiceHooks h;
    h.health = [] {
      health::TargetGroupHealth g{"blue", {}};
      g.targets.push_back(
          {"127.0.0.1", 8001, 8001, health::TargetState::kHealthy, health::Reason::kNone, 0});
      return std::vector<health::TargetGroupHealth>{g};
    };
    h.apply = [this](const config::Config& next, const std::string& reason,
                     const ChangeScope&) -> ApiResult<bool> {
      if (refuse_) return SenderError("ValidationError", "refused by the test");
      applied_.push_back(next);
      reasons_.push_back(reason);
      return true;
    };
    return h;
  }

  Service::Answer Call(const std::string& form) { return service_test::CallForm(service_, form); }

  std::string TgArn(const char* name) {
    return config::TargetGroupArn(service_.CurrentConfig().account, name);
  }
  std::string LbArn() { return config::LoadBalancerArn(service_.CurrentConfig().account, "web"); }

  Service service_;
  std::vector<config::Config> applied_;
  std::vector<std::string> reasons_;
  bool refuse_ = false;
};

TEST_F(ServiceTest, UnknownActionAndVersion) {
  auto a = Call("Action=DescribeNothing");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.error_code, "InvalidAction");
  auto p = QueryParams::Parse("Action=DescribeLoadBalancers&Version=2012-06-01");
  auto b = service_.Call(p.value(), "rid", "k");
  EXPECT_EQ(b.error_code, "InvalidAction");
  auto m = QueryParams::Parse("Version=2015-12-01");
  EXPECT_EQ(service_.Call(m.value(), "rid", "k").error_code, "MissingAction");
}

TEST_F(ServiceTest, DescribeLoadBalancersShapesAndNotFound) {
  auto a = Call("Action=DescribeLoadBalancers");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_NE(a.body.find("<LoadBalancerArn>arn:aws:elasticloadbalancing:eu-west-3:123456789012:"
                        "loadbalancer/app/web/"),
            std::string::npos)
      << a.body;
  EXPECT_NE(a.body.find("<State><Code>active</Code></State>"), std::string::npos);
  auto b = Call("Action=DescribeLoadBalancers&Names.member.1=nope");
  EXPECT_EQ(b.error_code, "LoadBalancerNotFound");
  auto c = Call("Action=DescribeLoadBalancers&LoadBalancerArns.member.1=" + LbArn() + "x");
  EXPECT_EQ(c.error_code, "LoadBalancerNotFound");
}

TEST_F(ServiceTest, DescribeRulesListsDefaultLast) {
  auto l = Call("Action=DescribeListeners&LoadBalancerArn=" + LbArn());
  ASSERT_EQ(l.status, 200) << l.body;
  size_t at = l.body.find("<ListenerArn>") + 13;
  std::string listener_arn = l.body.substr(at, l.body.find('<', at) - at);
  auto r = Call("Action=DescribeRules&ListenerArn=" + listener_arn);
  ASSERT_EQ(r.status, 200) << r.body;
  size_t p10 = r.body.find("<Priority>10</Priority>");
  size_t pd = r.body.find("<Priority>default</Priority>");
  ASSERT_NE(p10, std::string::npos);
  ASSERT_NE(pd, std::string::npos);
  EXPECT_LT(p10, pd);
  EXPECT_NE(r.body.find("<IsDefault>true</IsDefault>"), std::string::npos);
}

TEST_F(ServiceTest, DescribeTargetHealthNamedUnregisteredIsUnused) {
  auto a = Call("Action=DescribeTargetHealth&TargetGroupArn=" + TgArn("blue") +
                "&Targets.member.1.Id=10.9.9.9&Targets.member.1.Port=80");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_NE(a.body.find("<State>unused</State><Reason>Target.NotRegistered</Reason>"),
            std::string::npos)
      << a.body;
  auto b = Call("Action=DescribeTargetHealth&TargetGroupArn=" + TgArn("blue"));
  EXPECT_NE(b.body.find("<State>healthy</State>"), std::string::npos) << b.body;
  auto c = Call("Action=DescribeTargetHealth");
  EXPECT_EQ(c.error_code, "ValidationError");
  EXPECT_NE(c.body.find("Value null at &apos;targetGroupArn&apos;"), std::string::npos) << c.body;
}

TEST_F(ServiceTest, RegisterAndDeregisterChangeTheModel) {
  auto a = Call("Action=RegisterTargets&TargetGroupArn=" + TgArn("green") +
                "&Targets.member.1.Id=127.0.0.9&Targets.member.2.Id=127.0.0.9&"
                "Targets.member.2.Port=9100");
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(applied_.size(), 1u);
  const auto& green = applied_[0].target_groups[1];
  ASSERT_EQ(green.targets.size(), 2u);
  EXPECT_EQ(green.targets[0].port, 9001);  // the group's port by default
  EXPECT_EQ(green.targets[1].port, 9100);
  EXPECT_EQ(reasons_[0], "RegisterTargets by AKIATEST");
  // Registering again changes nothing but is still answered with success.
  Call("Action=RegisterTargets&TargetGroupArn=" + TgArn("green") +
       "&Targets.member.1.Id=127.0.0.9");
  EXPECT_EQ(applied_.back().target_groups[1].targets.size(), 2u);
  auto d = Call("Action=DeregisterTargets&TargetGroupArn=" + TgArn("green") +
                "&Targets.member.1.Id=127.0.0.9&Targets.member.2.Id=10.1.1.1");
  ASSERT_EQ(d.status, 200) << d.body;
  ASSERT_EQ(applied_.back().target_groups[1].targets.size(), 1u);
  EXPECT_EQ(applied_.back().target_groups[1].targets[0].port, 9100);
  auto bad = Call("Action=RegisterTargets&TargetGroupArn=" + TgArn("green") +
                  "&Targets.member.1.Id=i-0123456789");
  EXPECT_EQ(bad.error_code, "InvalidTarget");
}

TEST_F(ServiceTest, ARefusedApplyLeavesTheModelUnchanged) {
  refuse_ = true;
  auto a = Call("Action=RegisterTargets&TargetGroupArn=" + TgArn("green") +
                "&Targets.member.1.Id=127.0.0.9");
  EXPECT_EQ(a.error_code, "ValidationError");
  EXPECT_TRUE(service_.CurrentConfig().target_groups[1].targets.empty());
}

TEST_F(ServiceTest, ModifyListenerWeightsKeepsTheArn) {
  auto l = Call("Action=DescribeListeners&LoadBalancerArn=" + LbArn());
  size_t at = l.body.find("<ListenerArn>") + 13;
  std::string arn = l.body.substr(at, l.body.find('<', at) - at);
  std::string prefix = "&DefaultActions.member.1.ForwardConfig.TargetGroups.member.";
  auto m = Call("Action=ModifyListener&ListenerArn=" + arn + "&Port=8081" +
                "&DefaultActions.member.1.Type=forward" + prefix +
                "1.TargetGroupArn=" + TgArn("blue") + prefix + "1.Weight=90" + prefix +
                "2.TargetGroupArn=" + TgArn("green") + prefix + "2.Weight=10");
  ASSERT_EQ(m.status, 200) << m.body;
  const auto& listener = applied_.back().load_balancers[0].listeners[0];
  EXPECT_EQ(listener.port, 8081);
  ASSERT_EQ(listener.default_actions[0].forward.target_groups.size(), 2u);
  EXPECT_EQ(listener.default_actions[0].forward.target_groups[1].weight, 10);
  EXPECT_NE(m.body.find("<ListenerArn>" + arn + "</ListenerArn>"), std::string::npos);
  // The ARN still finds the listener after its port changed.
  auto again = Call("Action=DescribeListeners&ListenerArns.member.1=" + arn);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_NE(again.body.find("<Port>8081</Port>"), std::string::npos);
}

TEST_F(ServiceTest, RulesCreateModifyPrioritiesDelete) {
  auto l = Call("Action=DescribeListeners&LoadBalancerArn=" + LbArn());
  size_t at = l.body.find("<ListenerArn>") + 13;
  std::string listener = l.body.substr(at, l.body.find('<', at) - at);
  std::string cond =
      "&Conditions.member.1.Field=path-pattern"
      "&Conditions.member.1.PathPatternConfig.Values.member.1=/v2/*";
  std::string act =
      "&Actions.member.1.Type=forward&Actions.member.1.TargetGroupArn=" + TgArn("green");
  auto dup = Call("Action=CreateRule&ListenerArn=" + listener + "&Priority=10" + cond + act);
  EXPECT_EQ(dup.error_code, "PriorityInUse");
  auto c = Call("Action=CreateRule&ListenerArn=" + listener + "&Priority=5" + cond + act);
  ASSERT_EQ(c.status, 200) << c.body;
  at = c.body.find("<RuleArn>") + 9;
  std::string rule = c.body.substr(at, c.body.find('<', at) - at);
  EXPECT_EQ(applied_.back().load_balancers[0].listeners[0].rules[0].priority, 5);
  auto s = Call("Action=SetRulePriorities&RulePriorities.member.1.RuleArn=" + rule +
                "&RulePriorities.member.1.Priority=20");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_NE(s.body.find("<RuleArn>" + rule + "</RuleArn><Priority>20</Priority>"),
            std::string::npos)
      << s.body;
  EXPECT_EQ(applied_.back().load_balancers[0].listeners[0].rules[1].priority, 20);
  auto d = Call("Action=DeleteRule&RuleArn=" + rule);
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(applied_.back().load_balancers[0].listeners[0].rules.size(), 1u);
  EXPECT_EQ(Call("Action=DeleteRule&RuleArn=" + rule).error_code, "RuleNotFound");
}

TEST_F(ServiceTest, TargetGroupsCreateIdempotentDeleteInUse) {
  auto a = Call(
      "Action=CreateTargetGroup&Name=api&Protocol=HTTP&Port=7000&VpcId=vpc-1"
      "&HealthCheckPath=/health&Matcher.HttpCode=200-299");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_NE(a.body.find("<HealthCheckPath>/health</HealthCheckPath>"), std::string::npos);
  EXPECT_NE(a.body.find("<LoadBalancerArns></LoadBalancerArns>"), std::string::npos) << a.body;
  size_t n = applied_.size();
  auto b = Call(
      "Action=CreateTargetGroup&Name=api&Protocol=HTTP&Port=7000&VpcId=vpc-1"
      "&HealthCheckPath=/health&Matcher.HttpCode=200-299");
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(applied_.size(), n);  // the same settings: nothing to apply
  auto c = Call("Action=CreateTargetGroup&Name=api&Protocol=HTTP&Port=7001");
  EXPECT_EQ(c.error_code, "DuplicateTargetGroupName");
  EXPECT_EQ(Call("Action=DeleteTargetGroup&TargetGroupArn=" + TgArn("blue")).error_code,
            "ResourceInUse");
  EXPECT_EQ(Call("Action=DeleteTargetGroup&TargetGroupArn=" + TgArn("api")).status, 200);
  EXPECT_EQ(Call("Action=DeleteTargetGroup&TargetGroupArn=" + TgArn("api")).status, 200);
}

// Matcher.GrpcCode (reference §2.3): GRPC groups only, codes 0..99, default 12, with the
// default path /AWS.ALB/healthcheck; HttpCode is refused on them, GrpcCode on other groups.
TEST_F(ServiceTest, GrpcTargetGroupMatcher) {
  auto a = Call("Action=CreateTargetGroup&Name=rpc&Protocol=HTTP&ProtocolVersion=GRPC&Port=50051");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_NE(a.body.find("<Matcher><GrpcCode>12</GrpcCode></Matcher>"), std::string::npos) << a.body;
  EXPECT_NE(a.body.find("<HealthCheckPath>/AWS.ALB/healthcheck</HealthCheckPath>"),
            std::string::npos);
  EXPECT_EQ(applied_.back().target_groups.back().health_check.grpc_matcher, "12");

  auto m =
      Call("Action=ModifyTargetGroup&TargetGroupArn=" + TgArn("rpc") + "&Matcher.GrpcCode=0-2,12");
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_NE(m.body.find("<Matcher><GrpcCode>0-2,12</GrpcCode></Matcher>"), std::string::npos);
  EXPECT_EQ(applied_.back().target_groups.back().health_check.grpc_matcher, "0-2,12");

  auto bad =
      Call("Action=ModifyTargetGroup&TargetGroupArn=" + TgArn("rpc") + "&Matcher.GrpcCode=100");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.error_code, "ValidationError");
  EXPECT_EQ(bad.error_message,
            "Matcher.GrpcCode: matcher '100' is invalid: code 100 is out of range 0..99");
  auto http =
      Call("Action=ModifyTargetGroup&TargetGroupArn=" + TgArn("rpc") + "&Matcher.HttpCode=200");
  EXPECT_EQ(http.error_code, "ValidationError");
  EXPECT_EQ(http.error_message,
            "Matcher.HttpCode: HttpCode is not used by GRPC target groups (their health checks "
            "are judged by the grpc-status); use GrpcCode");
  auto other =
      Call("Action=ModifyTargetGroup&TargetGroupArn=" + TgArn("blue") + "&Matcher.GrpcCode=0");
  EXPECT_EQ(other.error_code, "ValidationError");
  EXPECT_EQ(other.error_message,
            "Matcher.GrpcCode: GrpcCode is only for target groups of ProtocolVersion GRPC; use "
            "HttpCode");
  EXPECT_EQ(Call("Action=CreateTargetGroup&Name=rpc2&Protocol=HTTP&ProtocolVersion=GRPC&Port=1"
                 "&Matcher.GrpcCode=5-1")
                .error_code,
            "ValidationError");

  // Idempotent creation compares GrpcCode too.
  EXPECT_EQ(Call("Action=CreateTargetGroup&Name=rpc&Protocol=HTTP&ProtocolVersion=GRPC"
                 "&Port=50051&Matcher.GrpcCode=0-2,12")
                .status,
            200);
  EXPECT_EQ(Call("Action=CreateTargetGroup&Name=rpc&Protocol=HTTP&ProtocolVersion=GRPC"
                 "&Port=50051&Matcher.GrpcCode=0")
                .error_code,
            "DuplicateTargetGroupName");

  auto d = Call("Action=DescribeTargetGroups&Names.member.1=rpc&Names.member.2=blue");
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_NE(d.body.find("<Matcher><GrpcCode>0-2,12</GrpcCode></Matcher>"), std::string::npos)
      << d.body;
  EXPECT_NE(d.body.find("<Matcher><HttpCode>200</HttpCode></Matcher>"), std::string::npos);
}

TEST_F(ServiceTest, FileManagedRefusesMutations) {
  ServiceHooks h = Hooks();
  h.file_managed = "/etc/sluice/sluice.yaml";
  Service s(Load(), h);
  auto p = QueryParams::Parse("Version=2015-12-01&Action=RegisterTargets&TargetGroupArn=" +
                              TgArn("blue") + "&Targets.member.1.Id=127.0.0.5");
  auto a = s.Call(p.value(), "rid", "k");
  EXPECT_EQ(a.error_code, "OperationNotPermitted");
  EXPECT_NE(a.body.find("/etc/sluice/sluice.yaml"), std::string::npos);
  auto q = QueryParams::Parse("Version=2015-12-01&Action=DescribeTargetGroups");
  EXPECT_EQ(s.Call(q.value(), "rid", "k").status, 200);
}

TEST_F(ServiceTest, PaginationWithMarker) {
  for (int i = 0; i < 5; ++i) {
    Call("Action=CreateTargetGroup&Name=g" + std::to_string(i) + "&Protocol=HTTP&Port=80");
  }
  auto a = Call("Action=DescribeTargetGroups&PageSize=3");
  ASSERT_EQ(a.status, 200);
  EXPECT_NE(a.body.find("<NextMarker>3</NextMarker>"), std::string::npos) << a.body;
  auto b = Call("Action=DescribeTargetGroups&PageSize=3&Marker=6");
  EXPECT_EQ(b.body.find("<NextMarker>"), std::string::npos);
  EXPECT_NE(b.body.find("<TargetGroupName>g4</TargetGroupName>"), std::string::npos);
  EXPECT_EQ(Call("Action=DescribeTargetGroups&PageSize=0").error_code, "ValidationError");
  EXPECT_EQ(Call("Action=DescribeTargetGroups&Marker=zz").error_code, "ValidationError");
}

}  // namespace
}  // namespace sluice::api

namespace sluice::api {
namespace {

TEST_F(ServiceTest, AttributesDescribeAndModifyAllOrNothing) {
  auto d = Call("Action=DescribeTargetGroupAttributes&TargetGroupArn=" + TgArn("blue"));
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_NE(d.body.find("<Key>deregistration_delay.timeout_seconds</Key><Value>300</Value>"),
            std::string::npos)
      << d.body;
  auto m = Call("Action=ModifyTargetGroupAttributes&TargetGroupArn=" + TgArn("blue") +
                "&Attributes.member.1.Key=deregistration_delay.timeout_seconds"
                "&Attributes.member.1.Value=5&Attributes.member.2.Key=stickiness.enabled"
                "&Attributes.member.2.Value=true");
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(applied_.back().target_groups[0].attributes.deregistration_delay_seconds, 5);
  EXPECT_TRUE(applied_.back().target_groups[0].attributes.stickiness_enabled);
  size_t n = applied_.size();
  auto bad = Call("Action=ModifyLoadBalancerAttributes&LoadBalancerArn=" + LbArn() +
                  "&Attributes.member.1.Key=idle_timeout.timeout_seconds"
                  "&Attributes.member.1.Value=30&Attributes.member.2.Key=no.such.key"
                  "&Attributes.member.2.Value=1");
  EXPECT_EQ(bad.error_code, "ValidationError");
  EXPECT_NE(bad.body.find("no.such.key"), std::string::npos) << bad.body;
  EXPECT_EQ(applied_.size(), n);  // nothing applied, not even the valid one
  auto range = Call("Action=ModifyLoadBalancerAttributes&LoadBalancerArn=" + LbArn() +
                    "&Attributes.member.1.Key=idle_timeout.timeout_seconds"
                    "&Attributes.member.1.Value=5000");
  EXPECT_EQ(range.error_code, "ValidationError");
  auto ok = Call("Action=ModifyLoadBalancerAttributes&LoadBalancerArn=" + LbArn() +
                 "&Attributes.member.1.Key=idle_timeout.timeout_seconds"
                 "&Attributes.member.1.Value=30");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(applied_.back().load_balancers[0].attributes.idle_timeout_seconds, 30);
  auto inj = Call("Action=ModifyLoadBalancerAttributes&LoadBalancerArn=" + LbArn() +
                  "&Attributes.member.1.Key=a%0Ab: c&Attributes.member.1.Value=1");
  EXPECT_EQ(inj.error_code, "ValidationError");
  auto quote = Call("Action=ModifyLoadBalancerAttributes&LoadBalancerArn=" + LbArn() +
                    "&Attributes.member.1.Key=access_logs.s3.prefix"
                    "&Attributes.member.1.Value=x%22%0Ay");
  ASSERT_EQ(quote.status, 200) << quote.body;
  EXPECT_EQ(applied_.back().load_balancers[0].attributes.access_logs.prefix, "x\"\ny");
}

TEST_F(ServiceTest, ListenerAttributes) {
  auto l = Call("Action=DescribeListeners&LoadBalancerArn=" + LbArn());
  size_t at = l.body.find("<ListenerArn>") + 13;
  std::string arn = l.body.substr(at, l.body.find('<', at) - at);
  auto d = Call("Action=DescribeListenerAttributes&ListenerArn=" + arn);
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_NE(d.body.find("<Attributes>"), std::string::npos);
}

}  // namespace
}  // namespace sluice::api

namespace sluice::api {
namespace {

TEST_F(ServiceTest, NetworkLoadBalancersHaveNetArnsAndNetworkListenerProtocols) {
  auto lb = Call("Action=CreateLoadBalancer&Name=db&Type=network");
  ASSERT_EQ(lb.status, 200) << lb.body;
  EXPECT_EQ(applied_.back().load_balancers.back().type, "network");
  size_t at = lb.body.find("<LoadBalancerArn>") + 17;
  std::string arn = lb.body.substr(at, lb.body.find('<', at) - at);
  EXPECT_NE(arn.find(":loadbalancer/net/db/"), std::string::npos) << arn;
  EXPECT_NE(lb.body.find("<Type>network</Type>"), std::string::npos) << lb.body;
  // The same name as another type is another load balancer's.
  EXPECT_EQ(Call("Action=CreateLoadBalancer&Name=db").error_code, "DuplicateLoadBalancerName");
  const std::string fixed =
      "&DefaultActions.member.1.Type=fixed-response"
      "&DefaultActions.member.1.FixedResponseConfig.StatusCode=204";
  EXPECT_EQ(Call("Action=CreateListener&LoadBalancerArn=" + arn + "&Protocol=HTTP&Port=80" + fixed)
                .error_code,
            "UnsupportedProtocol");
  EXPECT_EQ(Call("Action=CreateListener&LoadBalancerArn=" + arn +
                 "&Protocol=TCP&Port=80&AlpnPolicy.member.1=HTTP2Only" + fixed)
                .error_code,
            "ValidationError");  // ALPN is a TLS listener's
  // ModifyListener takes the ALPN policy of a TLS listener too (it was ignored).
  auto tls =
      Call("Action=CreateListener&LoadBalancerArn=" + arn + "&Protocol=TLS&Port=443" + fixed);
  ASSERT_EQ(tls.status, 200) << tls.body;
  at = tls.body.find("<ListenerArn>") + 13;
  const std::string listener = tls.body.substr(at, tls.body.find('<', at) - at);
  auto alpn =
      Call("Action=ModifyListener&ListenerArn=" + listener + "&AlpnPolicy.member.1=HTTP2Preferred");
  ASSERT_EQ(alpn.status, 200) << alpn.body;
  EXPECT_NE(alpn.body.find("<AlpnPolicy><member>HTTP2Preferred</member></AlpnPolicy>"),
            std::string::npos)
      << alpn.body;
  EXPECT_EQ(applied_.back().load_balancers.back().listeners.back().alpn_policy, "HTTP2Preferred");
  EXPECT_EQ(Call("Action=ModifyListener&ListenerArn=" + listener + "&AlpnPolicy.member.1=Nope")
                .error_code,
            "ALPNPolicyNotFound");
  auto tg = Call("Action=CreateTargetGroup&Name=u&Protocol=UDP&Port=53");
  ASSERT_EQ(tg.status, 200) << tg.body;
  const config::TargetGroup& group = applied_.back().target_groups.back();
  EXPECT_EQ(group.health_check.protocol, "TCP");  // NLB's defaults, as the config file's
  EXPECT_EQ(group.attributes.stickiness_type, "source_ip");
  EXPECT_TRUE(group.attributes.deregistration_termination);
}

TEST_F(ServiceTest, LoadBalancerAndListenerLifecycle) {
  auto lb = Call(
      "Action=CreateLoadBalancer&Name=edge&Type=application"
      "&SubnetMappings.member.1.SubnetId=s&SubnetMappings.member.1.PrivateIPv4Address="
      "127.0.0.5");
  ASSERT_EQ(lb.status, 200) << lb.body;
  EXPECT_EQ(applied_.back().load_balancers.back().bind_address, "127.0.0.5");
  size_t at = lb.body.find("<LoadBalancerArn>") + 17;
  std::string arn = lb.body.substr(at, lb.body.find('<', at) - at);
  size_t n = applied_.size();
  EXPECT_EQ(Call("Action=CreateLoadBalancer&Name=edge&SubnetMappings.member.1."
                 "PrivateIPv4Address=127.0.0.5")
                .status,
            200);
  EXPECT_EQ(applied_.size(), n);  // idempotent
  EXPECT_EQ(Call("Action=CreateLoadBalancer&Name=edge").error_code, "DuplicateLoadBalancerName");
  EXPECT_EQ(Call("Action=CreateLoadBalancer&Name=internal-x").error_code, "ValidationError");
  EXPECT_EQ(Call("Action=CreateLoadBalancer&Name=n&Type=gateway").error_code, "ValidationError");
  auto l = Call("Action=CreateListener&LoadBalancerArn=" + arn +
                "&Protocol=HTTP&Port=9090&DefaultActions.member.1.Type=fixed-response"
                "&DefaultActions.member.1.FixedResponseConfig.StatusCode=204");
  ASSERT_EQ(l.status, 200) << l.body;
  const config::Listener& made = applied_.back().load_balancers.back().listeners.at(0);
  EXPECT_EQ(made.bind_address, "127.0.0.5");
  EXPECT_EQ(made.id.size(), 16u);
  EXPECT_EQ(Call("Action=CreateListener&LoadBalancerArn=" + arn +
                 "&Protocol=TCP&Port=9091&DefaultActions.member.1.Type=fixed-response"
                 "&DefaultActions.member.1.FixedResponseConfig.StatusCode=204")
                .error_code,
            "UnsupportedProtocol");
  EXPECT_EQ(Call("Action=CreateListener&LoadBalancerArn=" + arn +
                 "&Protocol=HTTPS&Port=9090&DefaultActions.member.1.Type=fixed-response"
                 "&DefaultActions.member.1.FixedResponseConfig.StatusCode=204")
                .error_code,
            "DuplicateListener");
  at = l.body.find("<ListenerArn>") + 13;
  std::string larn = l.body.substr(at, l.body.find('<', at) - at);
  ASSERT_EQ(Call("Action=DeleteListener&ListenerArn=" + larn).status, 200);
  EXPECT_TRUE(applied_.back().load_balancers.back().listeners.empty());
  EXPECT_EQ(Call("Action=DeleteListener&ListenerArn=" + larn).error_code, "ListenerNotFound");
  ASSERT_EQ(Call("Action=ModifyLoadBalancerAttributes&LoadBalancerArn=" + arn +
                 "&Attributes.member.1.Key=deletion_protection.enabled"
                 "&Attributes.member.1.Value=true")
                .status,
            200);
  EXPECT_EQ(Call("Action=DeleteLoadBalancer&LoadBalancerArn=" + arn).error_code,
            "OperationNotPermitted");
  Call("Action=ModifyLoadBalancerAttributes&LoadBalancerArn=" + arn +
       "&Attributes.member.1.Key=deletion_protection.enabled&Attributes.member.1.Value=false");
  ASSERT_EQ(Call("Action=DeleteLoadBalancer&LoadBalancerArn=" + arn).status, 200);
  EXPECT_EQ(applied_.back().load_balancers.size(), 1u);
  EXPECT_EQ(Call("Action=DeleteLoadBalancer&LoadBalancerArn=" + arn).status, 200);  // gone: ok
  EXPECT_EQ(Call("Action=DescribeLoadBalancers&LoadBalancerArns.member.1=" + arn).error_code,
            "LoadBalancerNotFound");  // the LoadBalancersDeleted waiter's success
}

}  // namespace
}  // namespace sluice::api

namespace sluice::api {
namespace {

TEST(ServiceOperations, EveryListedOperationHasAHandler) {
  for (const std::string& op : ImplementedOperations()) {
    bool mutating = false;
    EXPECT_NE(FindHandler(op, &mutating), nullptr) << op;
    bool reads = op.rfind("Describe", 0) == 0 || op.rfind("Get", 0) == 0;
    EXPECT_EQ(mutating, !reads) << op;  // Describe* and Get* only read
  }
  bool mutating = false;
  EXPECT_EQ(FindHandler("GetTrustStoreWidgets", &mutating), nullptr);
}

}  // namespace
}  // namespace sluice::api

namespace sluice::api {
namespace {

TEST_F(ServiceTest, SetRulePrioritiesRefusesTheSameRuleTwice) {
  auto l = Call("Action=DescribeListeners&LoadBalancerArn=" + LbArn());
  size_t at = l.body.find("<ListenerArn>") + 13;
  auto r = Call("Action=DescribeRules&ListenerArn=" + l.body.substr(at, l.body.find('<', at) - at));
  at = r.body.find("<RuleArn>") + 9;
  std::string rule = r.body.substr(at, r.body.find('<', at) - at);
  auto s = Call("Action=SetRulePriorities&RulePriorities.member.1.RuleArn=" + rule +
                "&RulePriorities.member.1.Priority=20&RulePriorities.member.2.RuleArn=" + rule +
                "&RulePriorities.member.2.Priority=30");
  EXPECT_EQ(s.error_code, "ValidationError");
  EXPECT_NE(s.body.find("provided multiple times"), std::string::npos) << s.body;
}

}  // namespace
}  // namespace sluice::api

namespace sluice::api {
namespace {

TEST_F(ServiceTest, TagsAddDescribeRemove) {
  auto a = Call("Action=AddTags&ResourceArns.member.1=" + LbArn() +
                "&ResourceArns.member.2=" + TgArn("blue") +
                "&Tags.member.1.Key=env&Tags.member.1.Value=prod&Tags.member.2.Key=team");
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(applied_.back().load_balancers[0].tags.size(), 2u);
  EXPECT_EQ(applied_.back().target_groups[0].tags[0].value, "prod");
  auto d = Call("Action=DescribeTags&ResourceArns.member.1=" + TgArn("blue"));
  EXPECT_NE(d.body.find("<Tags><member><Key>env</Key><Value>prod</Value></member><member><Key>"
                        "team</Key><Value></Value></member></Tags>"),
            std::string::npos)
      << d.body;
  EXPECT_EQ(service_.ResourceTag(TgArn("blue"), "env"), "prod");
  EXPECT_EQ(service_.ResourceTag(TgArn("blue"), "nope"), std::nullopt);
  auto dup = Call("Action=AddTags&ResourceArns.member.1=" + LbArn() +
                  "&Tags.member.1.Key=k&Tags.member.2.Key=k");
  EXPECT_EQ(dup.error_code, "DuplicateTagKeys");
  auto r =
      Call("Action=RemoveTags&ResourceArns.member.1=" + TgArn("blue") + "&TagKeys.member.1=env");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(applied_.back().target_groups[0].tags.size(), 1u);
  EXPECT_EQ(Call("Action=DescribeTags&ResourceArns.member.1=" + TgArn("gone")).error_code,
            "TargetGroupNotFound");
  EXPECT_EQ(Call("Action=DescribeTags&ResourceArns.member.1=nonsense").error_code,
            "ValidationError");
  std::string many;
  for (int i = 1; i <= 51; ++i) {
    many += "&Tags.member." + std::to_string(i) + ".Key=k" + std::to_string(i);
  }
  EXPECT_EQ(Call("Action=AddTags&ResourceArns.member.1=" + LbArn() + many).error_code,
            "TooManyTags");
}

}  // namespace
}  // namespace sluice::api

#include <thread>

namespace sluice::api {
namespace {

// A reload's SetConfig (control thread) while a call holds the Service waiting for the
// control thread must not wait for that call (it would wait for itself): it is staged and
// the next call adopts it.
TEST(ServiceStaging, SetConfigDuringACallDoesNotWaitAndIsAdoptedNext) {
  Service* self = nullptr;
  ServiceHooks h;
  h.health = [] { return std::vector<health::TargetGroupHealth>{}; };
  h.apply = [&self](const config::Config&, const std::string&,
                    const ChangeScope&) -> ApiResult<bool> {
    config::Config reloaded;
    reloaded.account.region = "ap-south-1";
    std::thread control([&] { self->SetConfig(reloaded); });
    control.join();  // deadlocks if SetConfig waited for the call's lock
    return true;
  };
  auto loaded = config::LoadConfigFromString(
      "TargetGroups: [{Name: a, Protocol: HTTP, Port: 80}]\n", "t.yaml");
  Service s(std::get<config::Config>(loaded), h);
  self = &s;
  auto p = QueryParams::Parse(
      "Version=2015-12-01&Action=CreateTargetGroup&Name=b&Protocol=HTTP&Port=81");
  EXPECT_EQ(s.Call(p.value(), "rid", "k").status, 200);
  EXPECT_EQ(s.CurrentConfig().account.region, "ap-south-1");  // the staged reload won
}

}  // namespace
}  // namespace sluice::api
