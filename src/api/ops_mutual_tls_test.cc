// A listener's MutualAuthentication through the API (reference §7.4): CreateListener and
// ModifyListener set it, DescribeListeners shows it, and what the loader refuses (a trust store
// outside verify mode, verify without one, passthrough on TLS, mutual TLS on HTTP) is refused
// with AWS's codes before anything is applied.
#include <gtest/gtest.h>

#include "api/service.h"
#include "api/service_test_util.h"
#include "config/arn.h"
#include "config/loader.h"

namespace sluice::api {
namespace {

constexpr const char* kYaml = R"(
Account: {Id: "123456789012", Region: eu-west-3}
Certificates:
  - {Name: site, CertificateFile: /c/site.pem, PrivateKeyFile: /c/site.key}
  - {Name: shop, CertificateFile: /c/shop.pem, PrivateKeyFile: /c/shop.key}
TrustStores:
  - {Name: clients, CaCertificatesBundleFile: /nonexistent/ca.pem}
LoadBalancers:
  - Name: web
    BindAddress: 127.0.0.1
    Listeners:
      - {Protocol: HTTPS, Port: 8443, Certificates: [site],
         DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]}
      - {Protocol: HTTP, Port: 8080,
         DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]}
)";

class MutualTlsOpsTest : public ::testing::Test {
 protected:
  MutualTlsOpsTest() : service_(service_test::LoadModel(kYaml), recorder_.Hooks()) {}

  Service::Answer Call(const std::string& form) { return service_test::CallForm(service_, form); }
  std::string ListenerArn(size_t i) {
    const config::Config c = service_.CurrentConfig();
    const config::LoadBalancer& lb = c.load_balancers[0];
    return config::ListenerArn(c.account, lb.name, config::ListenerId(lb.name, lb.listeners[i]),
                               lb.type);
  }
  std::string StoreArn() {
    return config::TrustStoreArn(service_.CurrentConfig().account, "clients");
  }
  config::MutualAuthentication Mutual(size_t i) {
    return service_.CurrentConfig().load_balancers[0].listeners[i].mutual_authentication;
  }
  static bool Has(const Service::Answer& a, const std::string& s) {
    return a.body.find(s) != std::string::npos;
  }

  size_t applied() const { return recorder_.applied.size(); }

  service_test::ApplyRecorder recorder_;  // before service_, which holds its hooks
  Service service_;
};

TEST_F(MutualTlsOpsTest, DescribeShowsTheModeOfTlsListenersOnly) {
  auto a = Call("Action=DescribeListeners&ListenerArns.member.1=" + ListenerArn(0) +
                "&ListenerArns.member.2=" + ListenerArn(1));
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(Has(a, "<MutualAuthentication><Mode>off</Mode></MutualAuthentication>")) << a.body;
  size_t shown = 0;
  for (size_t at = a.body.find("<MutualAuthentication>"); at != std::string::npos;
       at = a.body.find("<MutualAuthentication>", at + 1)) {
    ++shown;
  }
  EXPECT_EQ(shown, 1u) << "the HTTPS listener shows it, the HTTP one not: " << a.body;
}

TEST_F(MutualTlsOpsTest, ModifyListenerSetsVerifyWithItsOptions) {
  auto a =
      Call("Action=ModifyListener&ListenerArn=" + ListenerArn(0) +
           "&MutualAuthentication.Mode=verify&MutualAuthentication.TrustStoreArn=" + StoreArn() +
           "&MutualAuthentication.IgnoreClientCertificateExpiry=true"
           "&MutualAuthentication.AdvertiseTrustStoreCaNames=on");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(Has(a, "<MutualAuthentication><Mode>verify</Mode><TrustStoreArn>" + StoreArn() +
                         "</TrustStoreArn><IgnoreClientCertificateExpiry>true</"
                         "IgnoreClientCertificateExpiry><TrustStoreAssociationStatus>active</"
                         "TrustStoreAssociationStatus><AdvertiseTrustStoreCaNames>on</"
                         "AdvertiseTrustStoreCaNames></MutualAuthentication>"))
      << a.body;
  EXPECT_EQ(applied(), 1u);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
  const config::MutualAuthentication m = Mutual(0);
  EXPECT_EQ(m.mode, config::MutualTlsMode::kVerify);
  EXPECT_EQ(m.trust_store, "clients");
  EXPECT_TRUE(m.ignore_client_certificate_expiry);
  EXPECT_TRUE(m.advertise_trust_store_ca_names);
  // A ModifyListener without the structure leaves it; Mode=off takes it away.
  ASSERT_EQ(Call("Action=ModifyListener&ListenerArn=" + ListenerArn(0) + "&Port=8444").status, 200);
  EXPECT_EQ(Mutual(0).mode, config::MutualTlsMode::kVerify);
  ASSERT_EQ(
      Call("Action=ModifyListener&ListenerArn=" + ListenerArn(0) + "&MutualAuthentication.Mode=off")
          .status,
      200);
  EXPECT_EQ(Mutual(0).mode, config::MutualTlsMode::kOff);
  EXPECT_TRUE(Mutual(0).trust_store.empty());
}

TEST_F(MutualTlsOpsTest, WhatTheListenerCannotTakeIsRefusedBeforeAnythingIsApplied) {
  const std::string https = "Action=ModifyListener&ListenerArn=" + ListenerArn(0);
  struct Case {
    std::string form;
    const char* code;
  };
  const Case cases[] = {
      {https + "&MutualAuthentication.Mode=strict", "ValidationError"},
      {https + "&MutualAuthentication.Mode=verify", "InvalidConfigurationRequest"},
      {https + "&MutualAuthentication.Mode=verify&MutualAuthentication.TrustStoreArn=" +
           StoreArn() + "x",
       "TrustStoreNotFound"},
      {https + "&MutualAuthentication.Mode=passthrough&MutualAuthentication.TrustStoreArn=" +
           StoreArn(),
       "InvalidConfigurationRequest"},
      {https + "&MutualAuthentication.Mode=off&MutualAuthentication.AdvertiseTrustStoreCaNames=on",
       "InvalidConfigurationRequest"},
      {https + "&MutualAuthentication.Mode=verify&MutualAuthentication.TrustStoreArn=" +
           StoreArn() + "&MutualAuthentication.AdvertiseTrustStoreCaNames=yes",
       "ValidationError"},
      {"Action=ModifyListener&ListenerArn=" + ListenerArn(1) +
           "&MutualAuthentication.Mode=passthrough",
       "InvalidConfigurationRequest"},
      // A misspelt key is no Mode: not taken for "off".
      {https + "&MutualAuthentication.mode=verify", "ValidationError"},
      // A TLS listener is for network load balancers.
      {https + "&Protocol=TLS", "UnsupportedProtocol"},
  };
  for (const Case& c : cases) {
    auto a = Call(c.form);
    EXPECT_EQ(a.status, 400) << c.form << ": " << a.body;
    EXPECT_EQ(a.error_code, c.code) << c.form << ": " << a.body;
  }
  EXPECT_EQ(applied(), 0u);
  EXPECT_EQ(Mutual(0).mode, config::MutualTlsMode::kOff);
}

TEST_F(MutualTlsOpsTest, CreateListenerTakesItAndARepeatMustAskTheSame) {
  const std::string create = "Action=CreateListener&LoadBalancerArn=" +
                             config::LoadBalancerArn(service_.CurrentConfig().account, "web") +
                             "&Protocol=HTTPS&Port=9443&Certificates.member.1.CertificateArn=" +
                             config::CertificateArn(service_.CurrentConfig().account, "site") +
                             "&DefaultActions.member.1.Type=fixed-response"
                             "&DefaultActions.member.1.FixedResponseConfig.StatusCode=200";
  auto a = Call(create + "&MutualAuthentication.Mode=passthrough");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(Has(a, "<MutualAuthentication><Mode>passthrough</Mode></MutualAuthentication>"))
      << a.body;
  ASSERT_EQ(service_.CurrentConfig().load_balancers[0].listeners.size(), 3u);
  EXPECT_EQ(Mutual(2).mode, config::MutualTlsMode::kPassthrough);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
  EXPECT_EQ(applied(), 1u);
  // The same call again: the listener, nothing applied. Another mode, or another answer, on
  // the same port: DuplicateListener.
  auto again = Call(create + "&MutualAuthentication.Mode=passthrough");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(applied(), 1u);
  EXPECT_EQ(Call(create).error_code, "DuplicateListener");
  // Certificates added to its list since do not make the same call another listener.
  auto added = Call("Action=AddListenerCertificates&ListenerArn=" + ListenerArn(2) +
                    "&Certificates.member.1.CertificateArn=" +
                    config::CertificateArn(service_.CurrentConfig().account, "shop"));
  ASSERT_EQ(added.status, 200) << added.body;
  EXPECT_EQ(Call(create + "&MutualAuthentication.Mode=passthrough").status, 200);
  EXPECT_EQ(applied(), 2u);
  std::string other_status = create + "&MutualAuthentication.Mode=passthrough";
  other_status.replace(other_status.find("StatusCode=200"), 14, "StatusCode=503");
  EXPECT_EQ(Call(other_status).error_code, "DuplicateListener");
  EXPECT_EQ(applied(), 2u);
}

// The trust store by name, as the config file and CertificateArn take names too.
TEST_F(MutualTlsOpsTest, TheTrustStoreMayBeNamed) {
  auto a = Call("Action=ModifyListener&ListenerArn=" + ListenerArn(0) +
                "&MutualAuthentication.Mode=verify&MutualAuthentication.TrustStoreArn=clients");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(Has(a, "<TrustStoreArn>" + StoreArn() + "</TrustStoreArn>")) << a.body;
  EXPECT_EQ(Mutual(0).trust_store, "clients");
}

// HTTPS made HTTP drops the certificates, the policy and mutual TLS (as AWS), and back to HTTPS
// the default policy returns with the certificate the call gives.
TEST_F(MutualTlsOpsTest, AListenerMadeHttpDropsItsTlsSettings) {
  ASSERT_EQ(Call("Action=ModifyListener&ListenerArn=" + ListenerArn(0) +
                 "&MutualAuthentication.Mode=passthrough")
                .status,
            200);
  auto a = Call("Action=ModifyListener&ListenerArn=" + ListenerArn(0) + "&Protocol=HTTP");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_FALSE(Has(a, "MutualAuthentication")) << a.body;
  const config::Listener http = service_.CurrentConfig().load_balancers[0].listeners[0];
  EXPECT_TRUE(http.certificates.empty());
  EXPECT_TRUE(http.ssl_policy.empty());
  EXPECT_EQ(http.mutual_authentication.mode, config::MutualTlsMode::kOff);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
  auto back = Call("Action=ModifyListener&ListenerArn=" + ListenerArn(0) +
                   "&Protocol=HTTPS&Certificates.member.1.CertificateArn=" +
                   config::CertificateArn(service_.CurrentConfig().account, "site"));
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_TRUE(Has(back, "<SslPolicy>ELBSecurityPolicy-2016-08</SslPolicy>")) << back.body;
  EXPECT_TRUE(Has(back, "<MutualAuthentication><Mode>off</Mode></MutualAuthentication>"));
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
}

}  // namespace
}  // namespace sluice::api
