// Error reporting that is not specific to one resource: YAML syntax, document shape, unknown
// and duplicate keys, types, names, cross-references and listener addresses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config/test_util.h"

namespace sluice::config {
namespace {

using ::testing::ElementsAre;
using testing::Errors;
using ::testing::HasSubstr;
using ::testing::SizeIs;

TEST(LoaderErrorsTest, YamlSyntaxError) {
  EXPECT_THAT(Errors(R"(
LoadBalancers:
  - Name: [a, b
TargetGroups: []
)"),
              ElementsAre("t.yaml:3:13: YAML syntax error: end of sequence flow not found"));
}

TEST(LoaderErrorsTest, YamlSyntaxErrorBadIndentation) {
  EXPECT_THAT(Errors("Admin:\n  Port: 1\n Address: x\n"),
              ElementsAre("t.yaml:3:2: YAML syntax error: end of map not found"));
}

TEST(LoaderErrorsTest, OnlyOneDocument) {
  EXPECT_THAT(Errors("Admin: {Port: 1}\n---\nAdmin: {Port: 2}\n"),
              ElementsAre("t.yaml:2:1: only one YAML document is allowed per file"));
}

TEST(LoaderErrorsTest, StrayCommaIsASyntaxError) {
  // yaml-cpp 0.7 would loop forever in LoadAll (and return null from Load) on these.
  EXPECT_THAT(Errors(",a"), ElementsAre("t.yaml:1:1: YAML syntax error: unexpected ','"));
  EXPECT_THAT(Errors("{Admin: {Port: 1}}\n, x\n"),
              ElementsAre("t.yaml:2:1: YAML syntax error: unexpected ','"));
}

TEST(LoaderErrorsTest, TopLevelMustBeAMapping) {
  EXPECT_THAT(Errors("- a\n- b\n"), ElementsAre("t.yaml:1:1: expected a mapping, got a list"));
}

TEST(LoaderErrorsTest, DeepNestingIsRejectedBeforeParsing) {
  std::string deep = "Admin: " + std::string(100, '[') + std::string(100, ']') + "\n";
  EXPECT_THAT(Errors(deep), ElementsAre("t.yaml:1:1: YAML nesting is deeper than 64 levels"));
  // Block nesting is left to yaml-cpp's own guard.
  std::string block;
  for (int i = 0; i < 3000; ++i) block += "- ";
  EXPECT_THAT(Errors(block + "x\n"), ElementsAre("t.yaml:1:1000: YAML nesting is too deep"));
  // Brackets inside quotes and comments do not count.
  std::string quoted =
      "Admin: {Address: \"" + std::string(100, '[') + "\"} # " + std::string(100, '{') + "\n";
  EXPECT_THAT(Errors(quoted), ElementsAre(HasSubstr("admin address")));
}

TEST(LoaderErrorsTest, UnknownTopLevelKey) {
  EXPECT_THAT(
      Errors("LoadBalancer: []\n"),
      ElementsAre("t.yaml:1:1: LoadBalancer: unknown field 'LoadBalancer'; allowed: "
                  "LoadBalancers, TargetGroups, Certificates, TrustStores, Admin, Api, Account, "
                  "Alarms, S3"));
}

TEST(LoaderErrorsTest, UnknownRuleKeyListsTheAllowedOnes) {
  std::string yaml = testing::WithRules(R"(
          - Prioirty: 10
            Conditions: [{Field: path-pattern, Values: ["/a"]}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)");
  EXPECT_THAT(
      Errors(yaml),
      ElementsAre("t.yaml:9:13: LoadBalancers[0].Listeners[0].Rules[0].Prioirty: unknown field "
                  "'Prioirty'; allowed: Id, Tags, Priority, Conditions, Actions, Transforms",
                  "t.yaml:9:13: LoadBalancers[0].Listeners[0].Rules[0].Priority: missing "
                  "required field 'Priority'"));
}

TEST(LoaderErrorsTest, DuplicateKey) {
  EXPECT_THAT(
      Errors("Admin:\n  Port: 1\n  Port: 2\n"),
      ElementsAre("t.yaml:3:3: Admin.Port: duplicate field 'Port' (first given at line 2)"));
}

TEST(LoaderErrorsTest, WrongTypes) {
  EXPECT_THAT(Errors(R"(
Admin:
  Port: ninety
  Address: [1, 2]
LoadBalancers: {Name: x}
TargetGroups:
  - Name: tg
    Port: 80.5
    HealthCheckEnabled: yes
    Targets:
)"),
              ElementsAre("t.yaml:2:9: Admin.Port: expected an integer, got 'ninety'",
                          "t.yaml:3:12: Admin.Address: expected a string, got a list",
                          "t.yaml:4:16: LoadBalancers: expected a list, got a mapping",
                          "t.yaml:7:11: TargetGroups[0].Port: expected an integer, got '80.5'",
                          "t.yaml:8:25: TargetGroups[0].HealthCheckEnabled: expected true or "
                          "false, got 'yes'"));
}

TEST(LoaderErrorsTest, NullScalarIsATypeError) {
  EXPECT_THAT(Errors("Admin:\n  Port:\n"),
              ElementsAre("t.yaml:2:3: Admin.Port: expected an integer, got null"));
}

TEST(LoaderErrorsTest, MissingRequiredFields) {
  EXPECT_THAT(
      Errors(R"(
LoadBalancers:
  - Listeners:
      - Protocol: HTTP
TargetGroups:
  - Protocol: HTTP
)"),
      ElementsAre(
          "t.yaml:2:5: LoadBalancers[0].Name: missing required field 'Name'",
          "t.yaml:3:9: LoadBalancers[0].Listeners[0].Port: missing required field 'Port'",
          "t.yaml:3:9: LoadBalancers[0].Listeners[0].DefaultActions: missing required field "
          "'DefaultActions'",
          "t.yaml:5:5: TargetGroups[0].Name: missing required field 'Name'",
          "t.yaml:5:5: TargetGroups[0].Port: missing required field 'Port'"));
}

TEST(LoaderErrorsTest, CollectsAllErrorsInPositionOrder) {
  // Target groups are walked first but reported in file order.
  std::vector<std::string> errors = Errors(R"(
LoadBalancers:
  - Name: -bad
    Listeners:
      - Port: 0
        DefaultActions: [{Type: forward, TargetGroupName: nope}]
TargetGroups:
  - Name: tg
    Port: 70000
)");
  EXPECT_THAT(
      errors,
      ElementsAre("t.yaml:2:11: LoadBalancers[0].Name: name '-bad' is invalid; use 1..32 "
                  "letters, digits and hyphens, not starting or ending with a hyphen",
                  "t.yaml:4:15: LoadBalancers[0].Listeners[0].Port: port 0 is out of range "
                  "1..65535",
                  "t.yaml:5:59: LoadBalancers[0].Listeners[0].DefaultActions[0].TargetGroupName: "
                  "target group 'nope' is not defined; defined: tg",
                  "t.yaml:8:11: TargetGroups[0].Port: port 70000 is out of range 1..65535"));
}

TEST(LoaderErrorsTest, UnknownTargetGroupWhenNoneDefined) {
  std::string yaml = std::string(testing::kDefaultActionsPrefix) +
                     "          - {Type: forward, TargetGroupName: auth}\n";
  EXPECT_THAT(Errors(yaml),
              ElementsAre("t.yaml:6:46: LoadBalancers[0].Listeners[0].DefaultActions[0]."
                          "TargetGroupName: target group 'auth' is not defined; TargetGroups is "
                          "empty"));
}

TEST(LoaderErrorsTest, NamesMustBeValidAndUnique) {
  EXPECT_THAT(
      Errors(R"(
LoadBalancers:
  - Name: same
  - Name: same
  - Name: has_underscore
TargetGroups:
  - {Name: tg, Port: 1}
  - {Name: tg, Port: 2}
  - {Name: a-very-long-name-that-exceeds-32-chars, Port: 3}
)"),
      ElementsAre(
          "t.yaml:3:11: LoadBalancers[1].Name: duplicate load balancer name 'same'; first "
          "defined at LoadBalancers[0] (line 2)",
          "t.yaml:4:11: LoadBalancers[2].Name: name 'has_underscore' is invalid; use 1..32 "
          "letters, digits and hyphens, not starting or ending with a hyphen",
          "t.yaml:7:12: TargetGroups[1].Name: duplicate target group name 'tg'; first defined at "
          "TargetGroups[0] (line 6)",
          "t.yaml:8:12: TargetGroups[2].Name: name 'a-very-long-name-that-exceeds-32-chars' is "
          "invalid; use 1..32 letters, digits and hyphens, not starting or ending with a "
          "hyphen"));
}

TEST(LoaderErrorsTest, ListenerAddressesMustNotClash) {
  EXPECT_THAT(
      Errors(R"(
LoadBalancers:
  - Name: a
    Listeners:
      - Port: 8080
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
      - Port: 8080
        BindAddress: 127.0.0.1
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
  - Name: b
    Listeners:
      - Port: 9000
        BindAddress: "::1"
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
      - Port: 9000
        BindAddress: "0:0::1"
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
Admin: {Port: 8080}
)"),
      ElementsAre(
          "t.yaml:6:15: LoadBalancers[0].Listeners[1].Port: 127.0.0.1:8080 clashes with "
          "LoadBalancers[0].Listeners[0] on 0.0.0.0:8080 (line 4)",
          "t.yaml:14:15: LoadBalancers[1].Listeners[1].Port: [0:0::1]:9000 clashes with "
          "LoadBalancers[1].Listeners[0] on [::1]:9000 (line 11)",
          "t.yaml:17:15: Admin.Port: 127.0.0.1:8080 clashes with LoadBalancers[0].Listeners[0] "
          "on 0.0.0.0:8080 (line 4)"));
}

TEST(LoaderErrorsTest, ListenerProtocolAndAddress) {
  EXPECT_THAT(Errors(R"(
LoadBalancers:
  - Name: a
    Listeners:
      - Protocol: HTTPS
        Port: 443
        BindAddress: localhost
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
      - Protocol: TCP
        Port: 444
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)"),
              ElementsAre("t.yaml:4:19: LoadBalancers[0].Listeners[0].Protocol: an HTTPS listener "
                          "needs a certificate: add Certificates with the name of one from the "
                          "top-level Certificates",
                          "t.yaml:6:22: LoadBalancers[0].Listeners[0].BindAddress: bind address "
                          "'localhost' is not an IP address",
                          "t.yaml:8:19: LoadBalancers[0].Listeners[1].Protocol: listener protocol "
                          "TCP is for load balancers of Type network; this one is application "
                          "(allowed: HTTP, HTTPS)"));
}

TEST(LoaderErrorsTest, LoadBalancerAttributes) {
  EXPECT_THAT(
      Errors(R"(
LoadBalancers:
  - Name: a
    Attributes:
      idle_timeout.timeout_seconds: 5000
      routing.http.desync_mitigation_mode: paranoid
      routing.http2.enabled: "maybe"
      waf.fail_open.enabled: true
      idle_timeout.seconds: 10
)"),
      ElementsAre(
          "t.yaml:4:37: LoadBalancers[0].Attributes.idle_timeout.timeout_seconds: "
          "idle_timeout.timeout_seconds 5000 is out of range 1..4000",
          "t.yaml:5:44: LoadBalancers[0].Attributes.routing.http.desync_mitigation_mode: "
          "routing.http.desync_mitigation_mode 'paranoid' is invalid; allowed: monitor, "
          "defensive, strictest",
          "t.yaml:6:30: LoadBalancers[0].Attributes.routing.http2.enabled: expected true or "
          "false, got 'maybe'",
          "t.yaml:7:7: LoadBalancers[0].Attributes.waf.fail_open.enabled: load balancer "
          "attribute 'waf.fail_open.enabled' is not supported by Sluice; supported: "
          "idle_timeout.timeout_seconds, client_keep_alive.seconds, "
          "routing.http.desync_mitigation_mode, routing.http.drop_invalid_header_fields.enabled, "
          "routing.http.preserve_host_header.enabled, routing.http.xff_client_port.enabled, "
          "routing.http.xff_header_processing.mode, deletion_protection.enabled, "
          "routing.http2.enabled, routing.http.x_amzn_tls_version_and_cipher_suite.enabled, "
          "access_logs.s3.enabled, access_logs.s3.bucket, access_logs.s3.prefix, "
          "sluice.access_logs.directory, connection_logs.s3.enabled, connection_logs.s3.bucket, "
          "connection_logs.s3.prefix, sluice.connection_logs.directory, "
          "health_check_logs.s3.enabled, health_check_logs.s3.bucket, "
          "health_check_logs.s3.prefix, sluice.health_check_logs.directory, "
          "sluice.routing.http2.cleartext.enabled, sluice.routing.http2.websocket.enabled",
          "t.yaml:8:7: LoadBalancers[0].Attributes.idle_timeout.seconds: unknown load balancer "
          "attribute 'idle_timeout.seconds'; supported: idle_timeout.timeout_seconds, "
          "client_keep_alive.seconds, routing.http.desync_mitigation_mode, "
          "routing.http.drop_invalid_header_fields.enabled, "
          "routing.http.preserve_host_header.enabled, routing.http.xff_client_port.enabled, "
          "routing.http.xff_header_processing.mode, deletion_protection.enabled, "
          "routing.http2.enabled, routing.http.x_amzn_tls_version_and_cipher_suite.enabled, "
          "access_logs.s3.enabled, access_logs.s3.bucket, access_logs.s3.prefix, "
          "sluice.access_logs.directory, connection_logs.s3.enabled, connection_logs.s3.bucket, "
          "connection_logs.s3.prefix, sluice.connection_logs.directory, "
          "health_check_logs.s3.enabled, health_check_logs.s3.bucket, "
          "health_check_logs.s3.prefix, sluice.health_check_logs.directory, "
          "sluice.routing.http2.cleartext.enabled, sluice.routing.http2.websocket.enabled"));
}

TEST(LoaderErrorsTest, AdminSettings) {
  EXPECT_THAT(
      Errors("Admin: {Address: admin.local, Port: 65536, Extra: 1}\n"),
      ElementsAre("t.yaml:1:18: Admin.Address: admin address 'admin.local' is not an IP "
                  "address",
                  "t.yaml:1:37: Admin.Port: port 65536 is out of range 0..65535",
                  "t.yaml:1:44: Admin.Extra: unknown field 'Extra'; allowed: Address, Port, "
                  "MetricsResolutionSeconds, TokenFile"));
}

TEST(LoaderErrorsTest, HugeIntegerIsOutOfRangeNotOverflow) {
  EXPECT_THAT(Errors("Admin: {Port: 99999999999999999999999}\n"),
              ElementsAre("t.yaml:1:15: Admin.Port: port 99999999999999999999999 is out of range "
                          "0..65535"));
}

TEST(LoaderErrorsTest, ErrorCountIsCapped) {
  std::string yaml = "TargetGroups:\n";
  for (int i = 0; i < 1200; ++i) yaml += "  - {Name: g" + std::to_string(i) + ", Port: 0}\n";
  // The loader stops collecting after 1000 errors and returns the first 50 by position (the
  // whole-file ones first), then one error that counts the rest.
  std::vector<std::string> errors = Errors(yaml);
  ASSERT_THAT(errors, SizeIs(kMaxReportedErrors + 1));
  EXPECT_EQ(errors[0], "t.yaml: too many errors; stopping after 1000");
  EXPECT_EQ(errors.back(), "t.yaml: and 951 more error(s)");
  LoadResult result = testing::Load(yaml);
  auto* all = std::get_if<ConfigErrors>(&result);
  ASSERT_NE(all, nullptr);
  EXPECT_EQ(CountErrors(*all), 1001u);
}

TEST(LoaderErrorsTest, AliasExpansionIsBounded) {
  // Every list holds one anchored item and kN - 1 aliases of it, so the walk visits about
  // kN^5 values from a few hundred bytes of text. The loader must stop early.
  constexpr int kN = 30;
  auto list = [](const std::string& anchor, const std::string& item) {
    std::string out = "[&" + anchor + " " + item;
    for (int i = 1; i < kN; ++i) out += ", *" + anchor;
    return out + "]";
  };
  std::string values = list("v", "/a");
  std::string conditions =
      list("c", "{Field: path-pattern, PathPatternConfig: {Values: " + values + "}}");
  std::string rules = list("r", "{Priority: 1, Conditions: " + conditions +
                                    ", Actions: [{Type: fixed-response, FixedResponseConfig: "
                                    "{StatusCode: \"200\"}}]}");
  std::string listeners = list("l",
                               "{Port: 1, DefaultActions: [{Type: fixed-response, "
                               "FixedResponseConfig: {StatusCode: \"200\"}}], Rules: " +
                                   rules + "}");
  std::string yaml =
      "LoadBalancers: " + list("b", "{Name: a, Listeners: " + listeners + "}") + "\n";
  ASSERT_LT(yaml.size(), 4096u);
  std::vector<std::string> errors = Errors(yaml);
  ASSERT_FALSE(errors.empty());
  EXPECT_LE(errors.size(), 1001u);
  EXPECT_THAT(errors[0], ::testing::StartsWith("t.yaml: "));
}

}  // namespace
}  // namespace sluice::config

namespace sluice::config {
namespace {

TEST(LoaderErrorsTest, ListenerAndRuleIdsAre16HexDigits) {
  const char* yaml = R"(
TargetGroups: [{Name: a, Protocol: HTTP, Port: 80}]
LoadBalancers:
  - Name: lb
    Listeners:
      - Id: 0123456789ABCDEF
        Protocol: HTTP
        Port: 8080
        DefaultActions: [{Type: forward, TargetGroupName: a}]
        Rules:
          - Id: "12"
            Priority: 1
            Conditions: [{Field: path-pattern, Values: ["/a"]}]
            Actions: [{Type: forward, TargetGroupName: a}]
)";
  EXPECT_THAT(Errors(yaml),
              ElementsAre(::testing::HasSubstr("Listeners[0].Id: id '0123456789ABCDEF' must be 16 "
                                               "lower-case hex digits"),
                          ::testing::HasSubstr("Rules[0].Id: id '12' must be 16 lower-case hex "
                                               "digits")));
}

TEST(LoaderErrorsTest, ApiSettingsAreCheckedLikeAdmin) {
  EXPECT_THAT(Errors("Api: {Address: api.local, Port: 70000}\n"),
              ElementsAre("t.yaml:1:16: Api.Address: API address 'api.local' is not an IP address",
                          "t.yaml:1:33: Api.Port: port 70000 is out of range 0..65535"));
  EXPECT_THAT(Errors("Admin: {Port: 9901}\nApi: {Port: 9901}\n"),
              ElementsAre(::testing::HasSubstr("9901")));
}

}  // namespace
}  // namespace sluice::config

namespace sluice::config {
namespace {

TEST(LoaderErrorsTest, TagsAreChecked) {
  std::string yaml =
      "TargetGroups:\n  - Name: a\n    Protocol: HTTP\n    Port: 80\n    Tags:\n"
      "      - {Key: aws:x, Value: 1}\n      - {Key: k, Value: 1}\n"
      "      - {Key: k, Value: 2}\n      - {Key: \"\", Value: 2}\n"
      "      - {Key: long, Value: " +
      std::string(257, 'v') + "}\n";
  EXPECT_THAT(Errors(yaml), ElementsAre(::testing::HasSubstr("the aws: prefix is reserved"),
                                        ::testing::HasSubstr("'k' is given more than once"),
                                        ::testing::HasSubstr("must have 1..128 characters"),
                                        ::testing::HasSubstr("longer than 256 characters")));
}

}  // namespace
}  // namespace sluice::config

namespace sluice::config {
namespace {

// A target group serves one load balancer (AWS's TargetGroupAssociationLimit); several
// listeners and rules of that one may forward to it.
TEST(LoaderErrorsTest, TargetGroupServesOneLoadBalancer) {
  constexpr char kShared[] = R"(
LoadBalancers:
  - Name: a
    Listeners:
      - {Port: 80, DefaultActions: [{Type: forward, TargetGroupName: tg}]}
      - {Port: 81, DefaultActions: [{Type: forward, TargetGroupName: tg}]}
  - Name: b
    Listeners:
      - {Port: 82, DefaultActions: [{Type: forward, TargetGroupName: tg}]}
TargetGroups:
  - {Name: tg, Port: 8080}
)";
  EXPECT_THAT(Errors(kShared),
              ElementsAre("t.yaml:8:70: LoadBalancers[1].Listeners[0].DefaultActions[0]."
                          "TargetGroupName: TargetGroupAssociationLimit: target group 'tg' "
                          "already serves load balancer 'a' (line 4); a target group can be "
                          "associated with only one load balancer"));
}

}  // namespace
}  // namespace sluice::config

namespace sluice::config {
namespace {

TEST(ApiCertificateConfig, MustNameACertificate) {
  EXPECT_THAT(testing::Errors("Api: {Port: 9443, Certificate: nope}\n"),
              ::testing::ElementsAre(::testing::HasSubstr(
                  "Api.Certificate: certificate 'nope' is not one of the config's Certificates")));
  const Config c = testing::MustLoad(
      "Certificates: [{Name: api, CertificateFile: /c/a.pem, PrivateKeyFile: /c/a.key}]\n"
      "Api: {Port: 9443, Certificate: api}\n");
  EXPECT_EQ(c.api.certificate, "api");
}

// A trust store's CA bundle is a file or the PEM itself (what CreateTrustStore keeps), never
// both, never empty.
TEST(TrustStoreConfig, BundleIsAFileOrThePemItself) {
  const Config c = testing::MustLoad(
      "TrustStores:\n  - Name: api\n    CaCertificatesBundle: |\n      -----BEGIN X-----\n");
  ASSERT_EQ(c.trust_stores.size(), 1u);
  EXPECT_EQ(c.trust_stores[0].ca_bundle_pem, "-----BEGIN X-----\n");
  EXPECT_TRUE(c.trust_stores[0].ca_bundle_file.empty());
  EXPECT_THAT(testing::Errors("TrustStores: [{Name: a, CaCertificatesBundle: x, "
                              "CaCertificatesBundleFile: /ca.pem}]\n"),
              ::testing::ElementsAre("t.yaml:1:47: TrustStores[0].CaCertificatesBundle: give "
                                     "CaCertificatesBundleFile or CaCertificatesBundle, not both"));
  EXPECT_THAT(testing::Errors("TrustStores: [{Name: a, CaCertificatesBundle: \"\"}]\n"),
              ::testing::ElementsAre(::testing::HasSubstr(
                  "TrustStores[0].CaCertificatesBundle: the CA certificates bundle is empty")));
  EXPECT_THAT(testing::Errors("TrustStores: [{Name: a}]\n"),
              ::testing::ElementsAre(::testing::HasSubstr("CaCertificatesBundleFile")));
}

// Revocation lists held in the config (AddTrustStoreRevocations'): ids unique and positive,
// a list not empty.
TEST(TrustStoreConfig, HeldRevocationsAreChecked) {
  const Config c = testing::MustLoad(
      "TrustStores: [{Name: a, CaCertificatesBundle: x, Revocations: "
      "[{RevocationId: 2, Crl: y}, {RevocationId: 5, Crl: z}]}]\n");
  ASSERT_EQ(c.trust_stores[0].revocations.size(), 2u);
  EXPECT_EQ(c.trust_stores[0].revocations[1].id, 5);
  EXPECT_EQ(c.trust_stores[0].revocations[1].crl_pem, "z");
  EXPECT_THAT(testing::Errors("TrustStores: [{Name: a, CaCertificatesBundle: x, Revocations: "
                              "[{RevocationId: 2, Crl: y}, {RevocationId: 2, Crl: z}]}]\n"),
              ::testing::ElementsAre(::testing::HasSubstr("duplicate revocation id 2")));
  EXPECT_THAT(testing::Errors("TrustStores: [{Name: a, CaCertificatesBundle: x, Revocations: "
                              "[{RevocationId: 0, Crl: y}]}]\n"),
              ::testing::ElementsAre(::testing::HasSubstr("revocation id 0 is out of range")));
  EXPECT_THAT(testing::Errors("TrustStores: [{Name: a, CaCertificatesBundle: x, Revocations: "
                              "[{RevocationId: 1, Crl: \"\"}]}]\n"),
              ::testing::ElementsAre(::testing::HasSubstr("the revocation list is empty")));
}

}  // namespace
}  // namespace sluice::config
