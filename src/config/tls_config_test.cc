// The certificate store, HTTPS listener fields and the security-policy catalogue.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/ssl_policies.h"
#include "config/test_util.h"

namespace sluice::config {
namespace {

using ::testing::ElementsAre;
using testing::Errors;
using ::testing::HasSubstr;
using testing::MustLoad;

constexpr char kStore[] = R"(
Certificates:
  - Name: site
    CertificateFile: certs/site.pem
    PrivateKeyFile: /etc/keys/site.key
  - Name: other.example
    CertificateFile: o.pem
    PrivateKeyFile: o.key
LoadBalancers:
  - Name: lb
    Listeners:
)";

std::string WithListener(const std::string& listener) { return kStore + listener; }

TEST(TlsConfigTest, HttpsListenerWithPolicyAndCertificates) {
  Config c = MustLoad(WithListener(R"(      - Protocol: HTTPS
        Port: 443
        SslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-06
        Certificates:
          - CertificateArn: arn:aws:acm:us-east-1:123456789012:certificate/site
          - other.example
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)"));
  ASSERT_EQ(c.certificates.size(), 2u);
  // Relative paths are resolved against the config file's directory ("t.yaml": none).
  EXPECT_EQ(c.certificates[0].certificate_file, "certs/site.pem");
  EXPECT_EQ(c.certificates[0].private_key_file, "/etc/keys/site.key");
  EXPECT_EQ(c.certificates[0].certificate_file_location.line, 3);
  const Listener& l = c.load_balancers[0].listeners[0];
  EXPECT_EQ(l.protocol, "HTTPS");
  EXPECT_EQ(l.ssl_policy, "ELBSecurityPolicy-TLS13-1-2-2021-06");
  ASSERT_EQ(l.certificates.size(), 2u);
  EXPECT_EQ(l.certificates[0].name, "site");
  EXPECT_EQ(l.certificates[1].name, "other.example");
  EXPECT_EQ(l.certificates[1].path, "LoadBalancers[0].Listeners[0].Certificates[1]");
}

TEST(TlsConfigTest, RelativePathsFollowTheConfigFile) {
  LoadResult r = LoadConfigFromString(
      testing::Yaml(WithListener("      - Port: 80\n        DefaultActions: [{Type: "
                                 "fixed-response, FixedResponseConfig: {StatusCode: \"200\"}}]\n")),
      "/srv/lb/sluice.yaml");
  ASSERT_TRUE(std::holds_alternative<Config>(r));
  EXPECT_EQ(std::get<Config>(r).certificates[0].certificate_file, "/srv/lb/certs/site.pem");
  EXPECT_EQ(std::get<Config>(r).certificates[1].private_key_file, "/srv/lb/o.key");
}

TEST(TlsConfigTest, DefaultPolicyIsTheApisDefault) {
  Config c = MustLoad(WithListener(R"(      - Protocol: HTTPS
        Port: 443
        Certificates: [site]
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)"));
  EXPECT_EQ(c.load_balancers[0].listeners[0].ssl_policy, "ELBSecurityPolicy-2016-08");
}

TEST(TlsConfigTest, ListenerErrorsNameTheField) {
  std::vector<std::string> errors = Errors(WithListener(R"(      - Protocol: HTTPS
        Port: 443
        SslPolicy: ELBSecurityPolicy-Custom
        Certificates: [missing]
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
      - Port: 80
        SslPolicy: ELBSecurityPolicy-2016-08
        Certificates: [site]
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)"));
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_THAT(errors[0], HasSubstr("t.yaml:13:20: LoadBalancers[0].Listeners[0].SslPolicy: "
                                   "SslPolicy 'ELBSecurityPolicy-Custom' is not a known policy; "
                                   "valid: ELBSecurityPolicy-TLS13-1-3-2021-06, "));
  EXPECT_EQ(errors[1],
            "t.yaml:14:24: LoadBalancers[0].Listeners[0].Certificates[0]: certificate "
            "'missing' is not defined; defined: site, other.example");
  EXPECT_EQ(errors[2],
            "t.yaml:17:20: LoadBalancers[0].Listeners[1].SslPolicy: SslPolicy is only for "
            "HTTPS and TLS listeners");
  EXPECT_EQ(errors[3],
            "t.yaml:18:23: LoadBalancers[0].Listeners[1].Certificates: Certificates are only "
            "for HTTPS and TLS listeners");
}

TEST(TlsConfigTest, StoreErrors) {
  EXPECT_THAT(Errors(R"(
Certificates:
  - Name: a b
    CertificateFile: x.pem
    PrivateKeyFile: ""
  - Name: c
    CertificateFile: c.pem
    PrivateKeyFile: c.key
  - Name: c
    PrivateKeyFile: c.key
)"),
              ElementsAre("t.yaml:2:11: Certificates[0].Name: certificate name 'a b' may "
                          "contain only letters, digits, '.', '_' and '-'",
                          "t.yaml:4:21: Certificates[0].PrivateKeyFile: file path is empty",
                          "t.yaml:8:5: Certificates[2].CertificateFile: missing required field "
                          "'CertificateFile'",
                          "t.yaml:8:11: Certificates[2].Name: duplicate certificate name 'c'"));
}

TEST(TlsConfigTest, TooManyCertificates) {
  std::string list;
  for (int i = 0; i < 27; ++i) list += (i ? ", " : "") + std::string("site");
  std::vector<std::string> errors =
      Errors(WithListener("      - Protocol: HTTPS\n        Port: 443\n"
                          "        Certificates: [" +
                          list +
                          "]\n"
                          "        DefaultActions: [{Type: fixed-response, "
                          "FixedResponseConfig: {StatusCode: \"200\"}}]\n"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("at most 26 certificates"));
}

TEST(SslPoliciesTest, DefaultPolicyContents) {
  const SslPolicy* p = FindSslPolicy(kDefaultSslPolicy);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(DescribeVersions(p->versions), "TLSv1, TLSv1.1, TLSv1.2");
  EXPECT_THAT(
      p->ciphers,
      ElementsAre("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
                  "ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256", "ECDHE-ECDSA-AES128-SHA",
                  "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-GCM-SHA384",
                  "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-SHA384",
                  "ECDHE-RSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA", "ECDHE-ECDSA-AES256-SHA",
                  "AES128-GCM-SHA256", "AES128-SHA256", "AES128-SHA", "AES256-GCM-SHA384",
                  "AES256-SHA256", "AES256-SHA"));
}

TEST(SslPoliciesTest, Tls13Policies) {
  const SslPolicy* only13 = FindSslPolicy("ELBSecurityPolicy-TLS13-1-3-2021-06");
  ASSERT_NE(only13, nullptr);
  EXPECT_EQ(DescribeVersions(only13->versions), "TLSv1.3");
  EXPECT_THAT(only13->ciphers, ElementsAre("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                           "TLS_CHACHA20_POLY1305_SHA256"));
  const SslPolicy* res = FindSslPolicy("ELBSecurityPolicy-TLS13-1-2-Res-2021-06");
  ASSERT_NE(res, nullptr);
  EXPECT_EQ(DescribeVersions(res->versions), "TLSv1.2, TLSv1.3");
  EXPECT_THAT(res->ciphers,
              ElementsAre("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                          "TLS_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256",
                          "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                          "ECDHE-RSA-AES256-GCM-SHA384"));
}

TEST(SslPoliciesTest, EveryPolicyIsConsistent) {
  // Every policy has a version and a cipher; TLS 1.3 suites exactly when TLS 1.3 is on; no
  // SHA-1 suite in Ext1 or Res; 3DES only in TLS-1-0-2015-04; PQ names flagged.
  for (const SslPolicy& p : SslPolicies()) {
    SCOPED_TRACE(std::string(p.name));
    EXPECT_NE(p.versions, 0);
    ASSERT_FALSE(p.ciphers.empty());
    bool has13 = false;
    for (std::string_view c : p.ciphers) has13 |= c.rfind("TLS_", 0) == 0;
    EXPECT_EQ(has13, (p.versions & kTls13) != 0);
    bool sha1 = false, des = false;
    for (std::string_view c : p.ciphers) {
      sha1 |= c.size() > 4 && c.substr(c.size() - 4) == "-SHA";
      des |= c == "DES-CBC3-SHA";
    }
    if (p.name.find("Ext1") != std::string_view::npos ||
        p.name.find("Res") != std::string_view::npos) {
      EXPECT_FALSE(sha1);
    }
    EXPECT_EQ(des, p.name == "ELBSecurityPolicy-TLS-1-0-2015-04");
    EXPECT_EQ(p.post_quantum, p.name.find("-PQ-") != std::string_view::npos);
  }
  EXPECT_EQ(SslPolicies().size(), 24u);
  EXPECT_EQ(FindSslPolicy("elbsecuritypolicy-2016-08"), nullptr);  // names are exact
}

}  // namespace
}  // namespace sluice::config
