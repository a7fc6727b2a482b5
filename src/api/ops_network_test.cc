// The operations a one-host load balancer answers as AWS does for a load balancer or account
// without the feature: IP address type, subnets, security groups, IPAM pools, capacity
// reservations, trust stores and resource policies. None of them changes the model.
#include <gtest/gtest.h>

#include "api/service.h"
#include "api/service_test_util.h"
#include "config/arn.h"
#include "config/loader.h"

namespace sluice::api {
namespace {

constexpr const char* kYaml = R"(
Account: {Id: "123456789012", Region: eu-west-3}
TargetGroups:
  - {Name: blue, Protocol: HTTP, Port: 8001, Targets: [{Id: 127.0.0.1}]}
  - {Name: green, Protocol: HTTP, Port: 8002, Targets: [{Id: 127.0.0.1}]}
TrustStores:
  - {Name: clients, CaCertificatesBundleFile: /nonexistent/ca.pem}
  - {Name: partners, CaCertificatesBundleFile: /nonexistent/partners.pem}
LoadBalancers:
  - Name: web
    BindAddress: 127.0.0.1
    Listeners:
      - {Protocol: HTTP, Port: 8080, DefaultActions: [{Type: forward, TargetGroupName: blue}]}
  - Name: six
    BindAddress: "::1"
    Listeners:
      - {Protocol: HTTP, Port: 8081, DefaultActions: [{Type: forward, TargetGroupName: green}]}
)";

class NetworkOpsTest : public ::testing::Test {
 protected:
  NetworkOpsTest() : service_(Load(), Hooks()) {}

  static config::Config Load() { return service_test::LoadModel(kYaml); }

  ServiceHooks Hooks() {
    ServiceHooks h;
    h.health = [] { return std::vector<health::TargetGroupHealth>{}; };
    h.apply = [this](const config::Config&, const std::string&,
                     const ChangeScope&) -> ApiResult<bool> {
      ++applied_;
      return true;
    };
    return h;
  }

  Service::Answer Call(const std::string& form) { return service_test::CallForm(service_, form); }
  std::string Arn(const char* lb) {
    return config::LoadBalancerArn(service_.CurrentConfig().account, lb);
  }
  static bool Has(const Service::Answer& a, const std::string& s) {
    return a.body.find(s) != std::string::npos;
  }

  Service service_;
  int applied_ = 0;
};

TEST_F(NetworkOpsTest, SetIpAddressTypeFollowsTheBindAddress) {
  auto a = Call("Action=SetIpAddressType&IpAddressType=ipv4&LoadBalancerArn=" + Arn("web"));
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(Has(a, "<SetIpAddressTypeResult><IpAddressType>ipv4</IpAddressType>")) << a.body;
  auto d = Call("Action=SetIpAddressType&IpAddressType=dualstack&LoadBalancerArn=" + Arn("web"));
  EXPECT_EQ(d.status, 400);
  EXPECT_EQ(d.error_code, "InvalidConfigurationRequest");
  EXPECT_NE(d.error_message.find("127.0.0.1"), std::string::npos) << d.error_message;
  // An IPv6 bind address: dualstack, in DescribeLoadBalancers too.
  auto six = Call("Action=SetIpAddressType&IpAddressType=dualstack&LoadBalancerArn=" + Arn("six"));
  ASSERT_EQ(six.status, 200) << six.body;
  EXPECT_TRUE(Has(six, "<IpAddressType>dualstack</IpAddressType>"));
  auto lbs = Call("Action=DescribeLoadBalancers&Names.member.1=six");
  EXPECT_TRUE(Has(lbs, "<IpAddressType>dualstack</IpAddressType>")) << lbs.body;
  EXPECT_EQ(Call("Action=SetIpAddressType&IpAddressType=dualstack-without-public-ipv4&"
                 "LoadBalancerArn=" +
                 Arn("six"))
                .error_code,
            "InvalidConfigurationRequest");
  EXPECT_EQ(applied_, 0);
}

TEST_F(NetworkOpsTest, SetIpAddressTypeValidation) {
  auto e = Call("Action=SetIpAddressType&IpAddressType=ipv6&LoadBalancerArn=" + Arn("web"));
  EXPECT_EQ(e.error_code, "ValidationError");
  EXPECT_NE(e.error_message.find("Value 'ipv6' at 'ipAddressType'"), std::string::npos);
  auto n = Call("Action=SetIpAddressType&LoadBalancerArn=" + Arn("web"));
  EXPECT_EQ(n.error_message,
            "1 validation error detected: Value null at 'ipAddressType' failed to satisfy "
            "constraint: Member must not be null");
  auto g = Call("Action=SetIpAddressType&IpAddressType=ipv4&LoadBalancerArn=" + Arn("gone"));
  EXPECT_EQ(g.error_code, "LoadBalancerNotFound");
}

TEST_F(NetworkOpsTest, SetSecurityGroupsAcceptsAndListsNone) {
  auto a = Call("Action=SetSecurityGroups&SecurityGroups.member.1=sg-5943793c&LoadBalancerArn=" +
                Arn("web"));
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(Has(a, "<SetSecurityGroupsResult><SecurityGroupIds/></SetSecurityGroupsResult>"))
      << a.body;
  EXPECT_EQ(Call("Action=SetSecurityGroups&SecurityGroups=&LoadBalancerArn=" + Arn("web")).status,
            200);  // botocore's empty list
  EXPECT_EQ(Call("Action=SetSecurityGroups&LoadBalancerArn=" + Arn("web")).error_code,
            "ValidationError");
  EXPECT_EQ(
      Call("Action=SetSecurityGroups&SecurityGroups=&LoadBalancerArn=" + Arn("gone")).error_code,
      "LoadBalancerNotFound");
  EXPECT_EQ(Call("Action=SetSecurityGroups&SecurityGroups=&"
                 "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic=maybe&LoadBalancerArn=" +
                 Arn("web"))
                .error_code,
            "ValidationError");
  EXPECT_EQ(applied_, 0);
}

TEST_F(NetworkOpsTest, SetSubnetsKeepsTheBindAddress) {
  auto a = Call(
      "Action=SetSubnets&Subnets.member.1=subnet-a&Subnets.member.2=subnet-b&"
      "LoadBalancerArn=" +
      Arn("web"));
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(Has(a, "<SetSubnetsResult><AvailabilityZones/><IpAddressType>ipv4</IpAddressType>"))
      << a.body;
  auto same = Call(
      "Action=SetSubnets&SubnetMappings.member.1.SubnetId=s&"
      "SubnetMappings.member.1.PrivateIPv4Address=127.0.0.1&LoadBalancerArn=" +
      Arn("web"));
  EXPECT_EQ(same.status, 200) << same.body;
  auto other = Call(
      "Action=SetSubnets&SubnetMappings.member.1.SubnetId=s&"
      "SubnetMappings.member.1.PrivateIPv4Address=10.0.0.9&LoadBalancerArn=" +
      Arn("web"));
  EXPECT_EQ(other.error_code, "InvalidConfigurationRequest");
  EXPECT_EQ(
      Call("Action=SetSubnets&IpAddressType=dualstack&LoadBalancerArn=" + Arn("web")).error_code,
      "InvalidConfigurationRequest");
  EXPECT_EQ(Call("Action=SetSubnets&Subnets.member.1=a&LoadBalancerArn=" + Arn("gone")).error_code,
            "LoadBalancerNotFound");
  EXPECT_EQ(applied_, 0);
}

TEST_F(NetworkOpsTest, CapacityReservationNoneAndNoneToReserve) {
  auto d = Call("Action=DescribeCapacityReservation&LoadBalancerArn=" + Arn("web"));
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_TRUE(Has(d,
                  "<DescribeCapacityReservationResult><CapacityReservationState/>"
                  "</DescribeCapacityReservationResult>"))
      << d.body;
  EXPECT_EQ(Call("Action=DescribeCapacityReservation&LoadBalancerArn=" + Arn("gone")).error_code,
            "LoadBalancerNotFound");
  auto r = Call("Action=ModifyCapacityReservation&ResetCapacityReservation=true&LoadBalancerArn=" +
                Arn("web"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Has(r, "<CapacityReservationState/>"));
  auto m = Call(
      "Action=ModifyCapacityReservation&MinimumLoadBalancerCapacity.CapacityUnits=100&"
      "LoadBalancerArn=" +
      Arn("web"));
  EXPECT_EQ(m.status, 400);
  EXPECT_EQ(m.error_code, "CapacityUnitsLimitExceeded");
  EXPECT_EQ(Call("Action=ModifyCapacityReservation&LoadBalancerArn=" + Arn("web")).error_code,
            "ValidationError");
  EXPECT_EQ(applied_, 0);
}

TEST_F(NetworkOpsTest, ModifyIpPoolsHasNoPools) {
  auto r = Call("Action=ModifyIpPools&RemoveIpamPools.member.1=ipv4&LoadBalancerArn=" + Arn("web"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Has(r, "<ModifyIpPoolsResult/>") || Has(r, "<ModifyIpPoolsResult></")) << r.body;
  EXPECT_EQ(Call("Action=ModifyIpPools&IpamPools.Ipv4IpamPoolId=ipam-pool-1&LoadBalancerArn=" +
                 Arn("web"))
                .error_code,
            "ValidationError");
  EXPECT_EQ(Call("Action=ModifyIpPools&LoadBalancerArn=" + Arn("gone")).error_code,
            "LoadBalancerNotFound");
}

TEST_F(NetworkOpsTest, DescribeTrustStoresListsTheConfigs) {
  auto all = Call("Action=DescribeTrustStores");
  ASSERT_EQ(all.status, 200) << all.body;
  std::string arn = config::TrustStoreArn(service_.CurrentConfig().account, "clients");
  EXPECT_EQ(arn.rfind("arn:aws:elasticloadbalancing:eu-west-3:123456789012:truststore/clients/", 0),
            0u);
  EXPECT_TRUE(Has(all, "<member><Name>clients</Name><TrustStoreArn>" + arn +
                           "</TrustStoreArn><Status>ACTIVE</Status><TotalRevokedEntries>0<"
                           "/TotalRevokedEntries></member>"))
      << all.body;
  EXPECT_TRUE(Has(all, "<Name>partners</Name>"));
  auto page = Call("Action=DescribeTrustStores&PageSize=1");
  EXPECT_TRUE(Has(page, "<NextMarker>1</NextMarker>")) << page.body;
  EXPECT_FALSE(Has(page, "partners"));
  auto by_arn = Call("Action=DescribeTrustStores&TrustStoreArns.member.1=" + arn);
  EXPECT_TRUE(Has(by_arn, "clients"));
  EXPECT_FALSE(Has(by_arn, "partners"));
  auto gone = Call("Action=DescribeTrustStores&Names.member.1=nope");
  EXPECT_EQ(gone.status, 400);
  EXPECT_EQ(gone.error_code, "TrustStoreNotFound");
  EXPECT_EQ(Call("Action=DescribeTrustStores&TrustStoreArns.member.1=" + arn + "0").error_code,
            "TrustStoreNotFound");
}

TEST_F(NetworkOpsTest, GetResourcePolicyFindsNone) {
  std::string arn = config::TrustStoreArn(service_.CurrentConfig().account, "clients");
  auto a = Call("Action=GetResourcePolicy&ResourceArn=" + arn);
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.error_code, "ResourceNotFound");
  EXPECT_TRUE(Has(a, "<Type>Sender</Type>"));
  EXPECT_EQ(Call("Action=GetResourcePolicy").error_code, "ValidationError");
}

// Nothing is shared through RAM: a trust store's associations are all the account's own.
TEST_F(NetworkOpsTest, DeleteSharedTrustStoreAssociationFindsOnlyTheAccountsOwn) {
  const config::Config c = service_.CurrentConfig();
  const std::string store = config::TrustStoreArn(c.account, "clients");
  const std::string lb = config::LoadBalancerArn(c.account, "web", c.load_balancers[0].type);
  const std::string call = "Action=DeleteSharedTrustStoreAssociation&TrustStoreArn=";
  EXPECT_EQ(Call(call + store + "&ResourceArn=" + lb).error_code, "DeleteAssociationSameAccount");
  EXPECT_EQ(Call(call + store + "&ResourceArn=" + lb + "0").error_code, "AssociationNotFound");
  EXPECT_EQ(Call(call + store + "0&ResourceArn=" + lb).error_code, "TrustStoreNotFound");
  EXPECT_EQ(Call(call + store).error_code, "ValidationError");
}

}  // namespace
}  // namespace sluice::api
