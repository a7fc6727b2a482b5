// ExportYaml round trips: the shipped examples, configs covering every section, every YAML
// raw string of the config tests that loads, and strings that YAML would misread if they were
// not quoted.
#include "config/export.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/export_test_util.h"
#include "config/loader.h"
#include "config/quote.h"
#include "config/test_util.h"

namespace sluice::config {
namespace {

using testing::ExpectRoundTrip;
using ::testing::HasSubstr;
using testing::LoadOrFail;

// HTTPS with certificates, mutual TLS and trust stores; every attribute; Account and Admin.
constexpr char kEverySection[] = R"(
Account: {Id: "123456789012", Region: eu-west-3}
Admin: {Address: "::1", Port: 9901}
Certificates:
  - Name: site
    CertificateFile: certs/site.pem
    PrivateKeyFile: /etc/keys/site.key
  - {Name: other.example, CertificateFile: o.pem, PrivateKeyFile: o.key}
TrustStores:
  - Name: clients
    CaCertificatesBundleFile: ca.pem
    RevocationFiles: [crl.pem, /var/crl.der]
  - {Name: partners, CaCertificatesBundleFile: /pki/partners.pem}
  - Name: from-api
    Tags: [{Key: team, Value: "edge \"one\""}]
    Revocations:
      - {RevocationId: 3, Crl: "-----BEGIN X509 CRL-----\nMIHf\n-----END X509 CRL-----\n"}
      - RevocationId: 9
        Crl: |
          -----BEGIN X509 CRL-----
          MIHf
          -----END X509 CRL-----
    CaCertificatesBundle: |
      -----BEGIN CERTIFICATE-----
      MIIBuzCCAWGgAwIBAgIUblFEkIaKm7Pt1Kfp3ufuWmGyXqIwCgYIKoZIzj0EAwIw
      -----END CERTIFICATE-----
LoadBalancers:
  - Name: edge
    Attributes:
      idle_timeout.timeout_seconds: 120
      client_keep_alive.seconds: 600
      routing.http.desync_mitigation_mode: monitor
      routing.http.drop_invalid_header_fields.enabled: true
      routing.http.preserve_host_header.enabled: true
      routing.http.xff_client_port.enabled: true
      routing.http.xff_header_processing.mode: remove
      deletion_protection.enabled: true
      routing.http2.enabled: false
      routing.http.x_amzn_tls_version_and_cipher_suite.enabled: true
      access_logs.s3.enabled: true
      access_logs.s3.bucket: my-bucket
      access_logs.s3.prefix: a/b
      sluice.access_logs.directory: logs
      connection_logs.s3.prefix: conn
      sluice.connection_logs.directory: /var/log/conn
    Listeners:
      - Protocol: HTTPS
        Port: 443
        SslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-06
        Certificates:
          - CertificateArn: arn:aws:acm:us-east-1:123456789012:certificate/site
          - other.example
        MutualAuthentication:
          Mode: verify
          TrustStoreArn: arn:aws:elasticloadbalancing:eu-west-3:123456789012:truststore/clients/0123456789abcdef
          IgnoreClientCertificateExpiry: true
          AdvertiseTrustStoreCaNames: "on"
        Attributes:
          routing.http.request.x_amzn_mtls_clientcert.header_name: X-Client-Cert
          routing.http.request.x_amzn_mtls_clientcert_serial_number.header_name: X-Serial
          routing.http.request.x_amzn_mtls_clientcert_issuer.header_name: X-Issuer
          routing.http.request.x_amzn_mtls_clientcert_subject.header_name: X-Subject
          routing.http.request.x_amzn_mtls_clientcert_validity.header_name: X-Validity
          routing.http.request.x_amzn_mtls_clientcert_leaf.header_name: X-Leaf
          routing.http.request.x_amzn_tls_version.header_name: X-Tls
          routing.http.request.x_amzn_tls_cipher_suite.header_name: X-Cipher
        DefaultActions: [{Type: forward, TargetGroupName: web}]
      - Protocol: HTTPS
        Port: 8443
        BindAddress: 127.0.0.1
        Certificates: [other.example]
        MutualAuthentication: {Mode: passthrough}
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "503"}}]
      - Protocol: HTTPS
        Port: 9443
        Certificates: [site]
        MutualAuthentication: {Mode: verify, TrustStoreArn: partners}
        DefaultActions:
          - {Type: redirect, RedirectConfig: {Protocol: HTTP, Port: "80", StatusCode: HTTP_301}}
      - Port: 80
        BindAddress: "::"
        Attributes: {routing.http.request.x_amzn_tls_version.header_name: X-TLS}
        DefaultActions:
          - Type: redirect
            Order: 3
            RedirectConfig: {Protocol: HTTPS, Port: 443, StatusCode: HTTP_301}
TargetGroups:
  - Name: web
    Protocol: HTTPS
    Port: 8443
    Attributes:
      sluice.tls.server_name: backend.internal
      sluice.tls.verify.enabled: true
      sluice.tls.verify.ca_file: backend-ca.pem
      stickiness.enabled: true
      stickiness.type: lb_cookie
      stickiness.lb_cookie.duration_seconds: 600
      deregistration_delay.timeout_seconds: 0
      slow_start.duration_seconds: 900
    Targets:
      - {Id: 10.0.0.1}
      - {Id: 10.0.0.1, Port: 9443}
      - {Id: "2001:db8::1", Port: 8443}
  - Name: checked-over-https
    Port: 80
    HealthCheckProtocol: HTTPS
    HealthCheckPort: "8443"
    HealthCheckEnabled: false
    Attributes: {sluice.tls.server_name: "", load_balancing.algorithm.type: least_outstanding_requests}
  - Name: tcp
    Protocol: HTTPS
    Port: 443
    HealthCheckProtocol: TCP
    HealthCheckIntervalSeconds: 300
    HealthCheckTimeoutSeconds: 120
    HealthyThresholdCount: 10
    UnhealthyThresholdCount: 10
    Attributes:
      load_balancing.algorithm.type: weighted_random
      load_balancing.algorithm.anomaly_mitigation: "on"
      stickiness.enabled: true
      stickiness.type: app_cookie
      stickiness.app_cookie.cookie_name: "#sess~"
      stickiness.app_cookie.duration_seconds: 604800
)";

// Every condition type (regex values, query strings with and without a key), every action
// type, weighted forwarding with stickiness, both transforms, rules out of priority order.
constexpr char kEveryRule[] = R"(
LoadBalancers:
  - Name: router
    Listeners:
      - Port: 8080
        DefaultActions:
          - Type: fixed-response
            Order: 50000
            FixedResponseConfig:
              StatusCode: "404"
              ContentType: application/json
              MessageBody: "{\"error\": \"no route\", \"#\": 1}\n\ttab: yes\n- item\n  # not a comment\n"
        Rules:
          - Priority: 30
            Conditions:
              - Field: path-pattern
                PathPatternConfig: {Values: ["/a/*", "/b?c", "/'x'\"y\"@:+&$~"]}
            Actions:
              - Type: fixed-response
                FixedResponseConfig: {StatusCode: "200", ContentType: text/html, MessageBody: "<p>\"é\" ✓ 😀</p>\r\n"}
            Transforms:
              - Type: host-header-rewrite
                HostHeaderRewriteConfig: {Rewrites: [{Regex: "^www\\.(.+)$", Replace: "internal.$1"}]}
              - Type: url-rewrite
                UrlRewriteConfig: {Rewrites: [{Regex: "^/a/(.*)$", Replace: "/b/$1?x=\"q\"&$$"}]}
          - Priority: 1
            Conditions:
              - Field: host-header
                HostHeaderConfig: {Values: ["*.example.com"], RegexValues: ["^api\\.example\\.org$"]}
              - Field: path-pattern
                PathPatternConfig: {RegexValues: ["^/v[0-9]+/\"q\"#x: y$"]}
              - Field: http-header
                HttpHeaderConfig: {HttpHeaderName: X-Env, Values: ["blue: #1"]}
              - Field: source-ip
                SourceIpConfig: {Values: ["::1/128"]}
            Actions:
              - Type: forward
                Order: 1
                ForwardConfig:
                  TargetGroups: [{TargetGroupName: a, Weight: 90}, {TargetGroupName: b, Weight: 0}, {TargetGroupName: c}]
                  TargetGroupStickinessConfig: {Enabled: true, DurationSeconds: 604800}
          - Priority: 20
            Conditions:
              - Field: query-string
                QueryStringConfig: {Values: [{Key: version, Value: "v\\*"}, {Value: "on"}]}
              - Field: http-request-method
                HttpRequestMethodConfig: {Values: [GET, POST]}
            Actions:
              - Type: redirect
                RedirectConfig: {Host: "#{host}.example.com", Path: "/new/#{path}", Query: "", StatusCode: HTTP_302}
          - Priority: 10
            Conditions:
              - Field: source-ip
                SourceIpConfig: {Values: ["10.0.0.0/8", "2001:db8::/32", "192.168.1.1/32"]}
              - Field: http-header
                HttpHeaderConfig: {HttpHeaderName: User-Agent, RegexValues: ["(?i)curl/[0-9.]+"]}
            Actions:
              - Type: forward
                ForwardConfig:
                  TargetGroups: [{TargetGroupName: b}]
                  TargetGroupStickinessConfig: {Enabled: false, DurationSeconds: 60}
          - Priority: 40
            Conditions: [{Field: path-pattern, Values: ["/legacy"]}]
            Actions:
              - {Type: forward, TargetGroupName: a, ForwardConfig: {TargetGroups: [{TargetGroupName: a}]}}
TargetGroups:
  - {Name: a, Port: 1}
  - {Name: b, Port: 65535, HealthCheckPath: "/health?x=1", Matcher: {HttpCode: "200-299,301"}}
  - {Name: c, Port: 80, HealthCheckPort: traffic-port}
)";

// Flow style, empty sections.
constexpr char kCompact[] = R"(
{LoadBalancers: [], TargetGroups: [{Name: x, Port: 1, Targets: []}], Certificates: [], TrustStores: []}
)";

void RoundTripText(std::string_view yaml, std::string_view file) {
  Config model = LoadOrFail(yaml, file);
  ExpectRoundTrip(model, file);
}

TEST(ExportRoundTrip, EverySection) {
  RoundTripText(testing::Yaml(kEverySection), "/srv/lb/sluice.yaml");
}

TEST(ExportRoundTrip, EveryRule) { RoundTripText(testing::Yaml(kEveryRule), "t.yaml"); }

TEST(ExportRoundTrip, CompactAndEmpty) {
  RoundTripText(testing::Yaml(kCompact), "t.yaml");
  RoundTripText("", "t.yaml");
  RoundTripText("# nothing\n", "t.yaml");
}

TEST(ExportRoundTrip, ResolvedPathsDoNotDependOnWhereTheExportIsLoaded) {
  Config model = LoadOrFail(testing::Yaml(kEverySection), "/srv/lb/sluice.yaml");
  ASSERT_EQ(model.certificates[0].certificate_file, "/srv/lb/certs/site.pem");
  ASSERT_EQ(model.load_balancers[0].attributes.access_logs.directory, "/srv/lb/logs");
  ExpectRoundTrip(model, "/somewhere/else/entirely.yaml");
  ExpectRoundTrip(model, "relative.yaml");
}

TEST(ExportRoundTrip, ShippedExamples) {
  for (const char* name : {"demo.yaml", "transforms.yaml"}) {
    SCOPED_TRACE(name);
    const std::string path = std::string(SLUICE_SOURCE_DIR) + "/examples/" + name;
    LoadResult r = LoadConfigFromFile(path);
    ASSERT_TRUE(std::holds_alternative<Config>(r)) << testing::ErrorText(r);
    ExpectRoundTrip(std::get<Config>(r));
  }
}

// The contents of every R"( ... )" literal in `source`.
std::vector<std::string> RawStrings(const std::string& source) {
  std::vector<std::string> out;
  size_t at = 0;
  while ((at = source.find("R\"(", at)) != std::string::npos) {
    const size_t end = source.find(")\"", at + 3);
    if (end == std::string::npos) break;
    out.push_back(source.substr(at + 3, end - at - 3));
    at = end + 2;
  }
  return out;
}

// Every raw string of the other config tests that loads, alone or after one of test_util.h's
// prefixes (most are fragments written for WithRules and friends).
TEST(ExportRoundTrip, EveryLoadableYamlOfTheConfigTests) {
  const char* files[] = {"loader_test.cc",           "loader_errors_test.cc",
                         "rule_errors_test.cc",      "action_errors_test.cc",
                         "transform_errors_test.cc", "target_group_errors_test.cc",
                         "tls_config_test.cc",       "access_log_config_test.cc",
                         "limits_test.cc",           "validate_test.cc"};
  const std::string prefixes[] = {"", testing::kRulesPrefix, testing::kDefaultActionsPrefix,
                                  testing::kTargetGroupsPrefix};
  int loaded = 0;
  for (const char* file : files) {
    std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/src/config/" + file);
    ASSERT_TRUE(in) << file;
    std::stringstream source;
    source << in.rdbuf();
    for (const std::string& raw : RawStrings(source.str())) {
      for (const std::string& prefix : prefixes) {
        const std::string text = prefix + testing::Yaml(raw);
        LoadResult r = LoadConfigFromString(text, "t.yaml");
        if (!std::holds_alternative<Config>(r)) continue;
        SCOPED_TRACE(std::string(file) + ":\n" + text);
        ExpectRoundTrip(std::get<Config>(r), "t.yaml");
        ++loaded;
      }
    }
  }
  std::printf("round-tripped %d YAML texts of the config tests\n", loaded);
  EXPECT_GE(loaded, 15);  // 15 when this was written
}

// ---- Strings that YAML reads as something else unless quoted ---------------------------------

// Any bytes but NUL: for fields that take free text (message bodies, file paths).
const std::vector<std::string>& FreeTextHostiles() {
  static const std::vector<std::string> v = {"\"quoted\"",
                                             "back\\slash",
                                             "line\nbreak",
                                             "tab\there",
                                             "# not a comment",
                                             "key: value",
                                             "- item",
                                             " leading space",
                                             "trailing space ",
                                             "  ",
                                             "[flow]",
                                             "{map}",
                                             "&anchor",
                                             "*alias",
                                             "!tag",
                                             "%directive",
                                             "@at",
                                             "`tick",
                                             "|",
                                             ">",
                                             "'single'",
                                             "on",
                                             "yes",
                                             "no",
                                             "off",
                                             "y",
                                             "null",
                                             "Null",
                                             "~",
                                             "true",
                                             "False",
                                             "123",
                                             "-1",
                                             "0x1f",
                                             "0o17",
                                             "1e3",
                                             "1_000",
                                             ".inf",
                                             "-.inf",
                                             ".nan",
                                             "2026-01-01",
                                             "2026-01-01T00:00:00Z",
                                             "12:30:00",
                                             "---",
                                             "...",
                                             "a\n---\nb",
                                             "\"unterminated",
                                             "\\",
                                             "\\n",
                                             "é unicode ✓ 😀",
                                             "\r\ncrlf\r",
                                             "\x01\x1f\x7f controls \x1b[31m",
                                             "\xff\xfe not UTF-8 \xc3",
                                             "\xc2\x85 NEL",
                                             "\xe2\x80\xa8 LS \xe2\x80\xa9 PS",
                                             "\xef\xbb\xbf BOM",
                                             "<<",
                                             "? x",
                                             ": x",
                                             "a #b",
                                             "a:b",
                                             "=",
                                             "!!str",
                                             "\x7f"};
  return v;
}

// Visible ASCII and spaces: header values and query-string keys and values.
const std::vector<std::string>& AsciiHostiles() {
  static const std::vector<std::string> v = {
      "\"q\"", "\\",   "# c", "a: b", "- x",        " lead", "trail ", "on",
      "~",     "null", "123", "0x1f", "2026-01-01", "[x]",   "{y}",    "&a *b !c %d @e",
      "'s'",   "|",    ">",   "---",  "? k",        ": v",   "=",      "x\\*y"};
  return v;
}

// A model to change: one listener whose default action is a fixed response, one rule with a
// header and a query-string condition, a certificate and a trust store.
Config HostileBase() {
  return LoadOrFail(testing::Yaml(R"(
Certificates: [{Name: c, CertificateFile: /c.pem, PrivateKeyFile: /c.key}]
TrustStores: [{Name: s, CaCertificatesBundleFile: /ca.pem, RevocationFiles: [/crl.pem]}]
LoadBalancers:
  - Name: lb
    Attributes: {access_logs.s3.enabled: true, sluice.access_logs.directory: /logs}
    Listeners:
      - Port: 80
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
        Rules:
          - Priority: 1
            Conditions:
              - {Field: http-header, HttpHeaderConfig: {HttpHeaderName: X-A, Values: [v]}}
              - {Field: query-string, QueryStringConfig: {Values: [{Key: k, Value: v}]}}
              - {Field: path-pattern, PathPatternConfig: {Values: [/p]}}
            Actions: [{Type: forward, TargetGroupName: g}]
TargetGroups:
  - Name: g
    Protocol: HTTPS
    Port: 443
    Attributes: {sluice.tls.verify.ca_file: /tls-ca.pem, stickiness.app_cookie.cookie_name: c}
)"),
                    "/base.yaml");
}

TEST(ExportHostile, FreeTextComesBackByteForByte) {
  for (const std::string& s : FreeTextHostiles()) {
    SCOPED_TRACE(EscapeText(s));
    Config c = HostileBase();
    LoadBalancer& lb = c.load_balancers[0];
    lb.listeners[0].default_actions[0].fixed_response.message_body = s;
    lb.attributes.access_logs.directory = "/" + s;
    lb.attributes.connection_logs.directory = "/" + s;
    c.certificates[0].certificate_file = "/" + s;
    c.certificates[0].private_key_file = "/x/" + s;
    c.trust_stores[0].ca_bundle_file = "/" + s;
    c.trust_stores[0].revocation_files = {"/" + s, "/y/" + s};
    c.target_groups[0].attributes.tls_verify_ca_file = "/" + s;
    ExpectRoundTrip(c);
  }
}

TEST(ExportHostile, AsciiValuesOfConditions) {
  for (const std::string& s : AsciiHostiles()) {
    SCOPED_TRACE(s);
    Config c = HostileBase();
    Rule& rule = c.load_balancers[0].listeners[0].rules[0];
    rule.conditions[0].values = {s, "x" + s};
    rule.conditions[1].query_values = {{s, s}, {std::nullopt, s}};
    ExpectRoundTrip(c);
  }
}

TEST(ExportHostile, PathPatternsRegexesAndRewrites) {
  const std::vector<std::string> patterns = {"/*",  "/a?b", "/\"q\"", "/'s'", "*",
                                             "?",   "~",    "/a:b",   "/@x",  "/a+b&c",
                                             "/$1", "on",   "null",   "123",  "-"};
  const std::vector<std::string> regexes = {"^/a\\d+\"#: x$", "[[:alpha:]]+", "é+ ✓", "\\n",
                                            "a{2,3}|b*",      "- x",          "^$",   "'q'"};
  for (size_t i = 0; i < patterns.size(); ++i) {
    SCOPED_TRACE(patterns[i]);
    Config c = HostileBase();
    Rule& rule = c.load_balancers[0].listeners[0].rules[0];
    rule.conditions[2].values = {patterns[i]};
    rule.conditions[2].regex_values = {regexes[i % regexes.size()]};
    rule.transforms = {Transform{TransformType::kUrlRewrite,
                                 RewriteConfig{regexes[i % regexes.size()], "/x?a=\"$0\"&b=$$"},
                                 {}}};
    ExpectRoundTrip(c);
  }
}

TEST(ExportHostile, NamesThatLookLikeOtherYamlTypes) {
  for (const char* name : {"true", "False", "null", "Null", "on", "off", "yes", "No", "y", "123",
                           "0x1f", "0o17", "1e3", "2026-01-01", "0", "1-1"}) {
    const std::string s = name;
    SCOPED_TRACE(s);
    Config c = HostileBase();
    c.load_balancers[0].name = s;
    c.target_groups[0].name = s;
    c.load_balancers[0].listeners[0].rules[0].actions[0].forward.target_groups[0].target_group = s;
    c.trust_stores[0].name = s;
    c.load_balancers[0].listeners[0].attributes.tls_version = s;
    c.target_groups[0].attributes.stickiness_app_cookie_name = s;
    c.target_groups[0].attributes.tls_server_name = s;
    c.load_balancers[0].listeners[0].rules[0].conditions[0].http_header_name = s;
    ExpectRoundTrip(c);
  }
  for (const char* name : {"1.5", ".inf", "-.inf", ".nan", "1_000", "0x1F", "true", "-", "_"}) {
    const std::string s = name;
    SCOPED_TRACE(s);
    Config c = HostileBase();
    c.certificates[0].name = s;
    ExpectRoundTrip(c);
  }
}

// ---- The format -------------------------------------------------------------------------------

// A model the loader would not produce is written as it is, so that loading it says what is
// wrong instead of the export quietly dropping the field.
TEST(ExportFormat, InvalidModelsAreWrittenAsTheyAre) {
  Config c = HostileBase();
  c.load_balancers[0].listeners[0].mutual_authentication.mode = MutualTlsMode::kVerify;
  c.load_balancers[0].listeners[0].mutual_authentication.trust_store = "s";
  EXPECT_THAT(testing::ErrorText(LoadConfigFromString(ExportYaml(c), "x.yaml")),
              HasSubstr("MutualAuthentication is only for HTTPS and TLS listeners"));
  c = HostileBase();
  c.target_groups[0].health_check.protocol = "TCP";
  c.target_groups[0].health_check.matcher = "200-299";
  EXPECT_THAT(testing::ErrorText(LoadConfigFromString(ExportYaml(c), "x.yaml")),
              HasSubstr("Matcher is not used by TCP health checks"));
  c = HostileBase();
  c.load_balancers[0].listeners[0].default_actions[0].fixed_response.message_body =
      std::string("a\0b", 3);
  EXPECT_THAT(testing::ErrorText(LoadConfigFromString(ExportYaml(c), "x.yaml")),
              HasSubstr("contains a NUL character"));
}

}  // namespace
}  // namespace sluice::config
