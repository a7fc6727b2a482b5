// A listener's certificate list through the API (reference §7.3): the default first with
// IsDefault, additions without duplicates, the quota, the default that cannot be removed,
// and ModifyListener replacing the default while the list stays.
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
  - {Name: blog, CertificateFile: /c/blog.pem, PrivateKeyFile: /c/blog.key}
LoadBalancers:
  - Name: web
    BindAddress: 127.0.0.1
    Listeners:
      - {Protocol: HTTPS, Port: 8443, Certificates: [site],
         DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]}
      - {Protocol: HTTP, Port: 8080,
         DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]}
)";

class CertificateOpsTest : public ::testing::Test {
 protected:
  CertificateOpsTest() : service_(Load(), Hooks()) {}

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
  std::string ListenerArn(size_t i) {
    const config::Config c = service_.CurrentConfig();
    const config::LoadBalancer& lb = c.load_balancers[0];
    return config::ListenerArn(c.account, lb.name, config::ListenerId(lb.name, lb.listeners[i]),
                               lb.type);
  }
  std::string CertArn(const char* name) {
    return config::CertificateArn(service_.CurrentConfig().account, name);
  }
  std::vector<std::string> Names() {
    std::vector<std::string> out;
    const config::Config current = service_.CurrentConfig();
    for (const auto& c : current.load_balancers[0].listeners[0].certificates) {
      out.push_back(c.name);
    }
    return out;
  }
  static bool Has(const Service::Answer& a, const std::string& s) {
    return a.body.find(s) != std::string::npos;
  }

  Service service_;
  int applied_ = 0;
};

TEST_F(CertificateOpsTest, DescribeShowsTheDefaultFirst) {
  auto a = Call("Action=DescribeListenerCertificates&ListenerArn=" + ListenerArn(0));
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(Has(a, "<CertificateArn>" + CertArn("site") + "</CertificateArn>"));
  EXPECT_TRUE(Has(a, "<IsDefault>true</IsDefault>"));
  EXPECT_FALSE(Has(a, "<IsDefault>false</IsDefault>"));
  auto http = Call("Action=DescribeListenerCertificates&ListenerArn=" + ListenerArn(1));
  ASSERT_EQ(http.status, 200);
  EXPECT_FALSE(Has(http, "<member>"));
  EXPECT_EQ(
      Call("Action=DescribeListenerCertificates&ListenerArn=" + ListenerArn(0) + "x").error_code,
      "ListenerNotFound");
}

TEST_F(CertificateOpsTest, AddAppendsOnceAndRemoveTakesOut) {
  const std::string add = "Action=AddListenerCertificates&ListenerArn=" + ListenerArn(0) +
                          "&Certificates.member.1.CertificateArn=" + CertArn("shop");
  auto a = Call(add);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(Has(a, "<IsDefault>false</IsDefault>"));
  EXPECT_EQ(Names(), (std::vector<std::string>{"site", "shop"}));
  ASSERT_EQ(Call(add).status, 200);  // already there: no duplicate
  ASSERT_EQ(Call("Action=AddListenerCertificates&ListenerArn=" + ListenerArn(0) +
                 "&Certificates.member.1.CertificateArn=" + CertArn("site"))
                .status,
            200);  // the default: not added to the list
  EXPECT_EQ(Names(), (std::vector<std::string>{"site", "shop"}));
  auto d = Call("Action=DescribeListenerCertificates&ListenerArn=" + ListenerArn(0));
  EXPECT_TRUE(Has(d, "<IsDefault>false</IsDefault>"));

  auto r = Call("Action=RemoveListenerCertificates&ListenerArn=" + ListenerArn(0) +
                "&Certificates.member.1.CertificateArn=" + CertArn("shop"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Names(), (std::vector<std::string>{"site"}));
  // Not in the list: no error.
  EXPECT_EQ(Call("Action=RemoveListenerCertificates&ListenerArn=" + ListenerArn(0) +
                 "&Certificates.member.1.CertificateArn=" + CertArn("blog"))
                .status,
            200);
}

TEST_F(CertificateOpsTest, Refusals) {
  auto removed_default = Call("Action=RemoveListenerCertificates&ListenerArn=" + ListenerArn(0) +
                              "&Certificates.member.1.CertificateArn=" + CertArn("site"));
  EXPECT_EQ(removed_default.error_code, "OperationNotPermitted");
  EXPECT_EQ(Names(), (std::vector<std::string>{"site"}));
  EXPECT_EQ(Call("Action=AddListenerCertificates&ListenerArn=" + ListenerArn(1) +
                 "&Certificates.member.1.CertificateArn=" + CertArn("shop"))
                .error_code,
            "InvalidConfigurationRequest");
  EXPECT_EQ(Call("Action=AddListenerCertificates&ListenerArn=" + ListenerArn(0) +
                 "&Certificates.member.1.CertificateArn=" + CertArn("nope"))
                .error_code,
            "CertificateNotFound");
  EXPECT_EQ(Call("Action=AddListenerCertificates&ListenerArn=" + ListenerArn(0)).error_code,
            "ValidationError");
}

TEST_F(CertificateOpsTest, ModifyListenerReplacesTheDefaultAndKeepsTheList) {
  ASSERT_EQ(Call("Action=AddListenerCertificates&ListenerArn=" + ListenerArn(0) +
                 "&Certificates.member.1.CertificateArn=" + CertArn("shop"))
                .status,
            200);
  auto m = Call("Action=ModifyListener&ListenerArn=" + ListenerArn(0) +
                "&Certificates.member.1.CertificateArn=" + CertArn("blog"));
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(Names(), (std::vector<std::string>{"blog", "shop"}));
  EXPECT_EQ(Call("Action=ModifyListener&ListenerArn=" + ListenerArn(0) +
                 "&Certificates.member.1.CertificateArn=" + CertArn("site") +
                 "&Certificates.member.2.CertificateArn=" + CertArn("shop"))
                .error_code,
            "ValidationError");
}

}  // namespace
}  // namespace sluice::api
