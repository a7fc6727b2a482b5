// SameModel and ExportYaml field by field: every field of the model, changed alone, is told
// apart by SameModel and survives an export and a load. And the API's scale case.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "config/export.h"
#include "config/export_test_util.h"
#include "config/test_util.h"

namespace sluice::config {
namespace {

using testing::ExpectRoundTrip;
using ::testing::HasSubstr;
using testing::LoadOrFail;

constexpr char kBase[] = R"(
Account: {Id: "123456789012", Region: eu-west-3}
Admin: {Address: 127.0.0.1, Port: 9901}
S3: {Endpoint: "http://10.0.0.5:9000", CredentialsFile: /c/s3-credentials}
Certificates:
  - {Name: site, CertificateFile: /c/site.pem, PrivateKeyFile: /c/site.key}
  - {Name: other, CertificateFile: /c/other.pem, PrivateKeyFile: /c/other.key}
TrustStores:
  - {Name: clients, CaCertificatesBundleFile: /c/ca.pem, RevocationFiles: [/c/crl.pem]}
  - {Name: partners, CaCertificatesBundleFile: /c/p.pem}
LoadBalancers:
  - Name: edge
    Attributes:
      access_logs.s3.enabled: true
      sluice.access_logs.directory: /logs
      connection_logs.s3.enabled: true
      sluice.connection_logs.directory: /clogs
      health_check_logs.s3.enabled: true
      sluice.health_check_logs.directory: /hlogs
    Listeners:
      - Protocol: HTTPS
        Port: 443
        Certificates: [site]
        MutualAuthentication: {Mode: verify, TrustStoreArn: clients}
        DefaultActions:
          - Type: fixed-response
            Order: 2
            FixedResponseConfig: {StatusCode: "404", ContentType: text/plain, MessageBody: none}
        Rules:
          - Priority: 10
            Conditions:
              - {Field: http-header, HttpHeaderConfig: {HttpHeaderName: X-A, Values: [a], RegexValues: ["^b"]}}
              - {Field: query-string, QueryStringConfig: {Values: [{Key: k, Value: v}]}}
            Actions:
              - Type: forward
                ForwardConfig:
                  TargetGroups: [{TargetGroupName: g, Weight: 2}, {TargetGroupName: h, Weight: 3}]
                  TargetGroupStickinessConfig: {Enabled: true, DurationSeconds: 100}
            Transforms:
              - {Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: "^/(.*)$", Replace: "/x/$1"}]}}
          - Priority: 20
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/r"]}}]
            Actions:
              - Type: redirect
                RedirectConfig: {Protocol: HTTPS, Port: "443", Host: a.example.com, Path: "/p", Query: "q=1", StatusCode: HTTP_302}
TargetGroups:
  - Name: g
    Protocol: HTTPS
    Port: 443
    Attributes: {sluice.tls.server_name: g.internal, sluice.tls.verify.ca_file: /c/tls.pem}
    Targets: [{Id: 10.0.0.1}, {Id: 10.0.0.2, Port: 8443}]
  - {Name: h, Port: 80}
  - {Name: u, Port: 81}
Alarms:
  - AlarmName: a
    MetricName: RequestCount
    Dimensions: [{Name: LoadBalancer, Value: edge}]
    Statistic: Sum
    Period: 60
    EvaluationPeriods: 2
    Threshold: 1
    ComparisonOperator: GreaterThanThreshold
    AlarmActions: ["http://127.0.0.1:9/a"]
)";

Config Base() { return LoadOrFail(testing::Yaml(kBase), "/base.yaml"); }

LoadBalancerAttributes& A(Config& c) { return c.load_balancers[0].attributes; }
Listener& L(Config& c) { return c.load_balancers[0].listeners[0]; }
Rule& R(Config& c, int i) { return L(c).rules[i]; }
Condition& C(Config& c, int i) { return R(c, 0).conditions[i]; }
ForwardConfig& F(Config& c) { return R(c, 0).actions[0].forward; }
RedirectConfig& Re(Config& c) { return R(c, 1).actions[0].redirect; }
FixedResponseConfig& Fx(Config& c) { return L(c).default_actions[0].fixed_response; }
TargetGroup& G(Config& c, int i) { return c.target_groups[i]; }
TargetGroupAttributes& Ga(Config& c, int i) { return c.target_groups[i].attributes; }
HealthCheck& H(Config& c) { return c.target_groups[2].health_check; }

struct Mutation {
  const char* where;  // what SameModel's message starts with
  std::function<void(Config&)> apply;
};

#define M(where, ...)                     \
  Mutation {                              \
    where, [](Config& c) { __VA_ARGS__; } \
  }

// Account, Admin, the certificate and trust stores, the load balancer.
std::vector<Mutation> StoreMutations() {
  return {
    M("account.id", c.account.id = "999999999999"),
        M("account.region", c.account.region = "us-west-2"),
        M("admin.address", c.admin.address = "::1"), M("admin.port", c.admin.port = 9902),
        M("admin.metrics_resolution_seconds", c.admin.metrics_resolution_seconds = 5),
        M("alarms[0].name", c.alarms[0].name = "b"),
        M("alarms[0].description", c.alarms[0].description = "d"),
        M("alarms[0].metric", c.alarms[0].metric = "HTTPCode_ELB_5XX_Count"),
        M("alarms[0].dimensions[0].name", c.alarms[0].dimensions[0].name = "TargetGroup"),
        M("alarms[0].dimensions[0].value", c.alarms[0].dimensions[0].value = "e"),
        M("alarms[0].dimensions: 1 vs 2", c.alarms[0].dimensions.push_back({"TargetGroup", "g"})),
        M("alarms[0].statistic", c.alarms[0].statistic = "Average"),
        M("alarms[0].statistic", c.alarms[0].statistic = "";
          c.alarms[0].extended_statistic = "p99"),
        M("alarms[0].period", c.alarms[0].period = 120),
        M("alarms[0].evaluation_periods", c.alarms[0].evaluation_periods = 3),
        M("alarms[0].datapoints_to_alarm", c.alarms[0].datapoints_to_alarm = 1),
        M("alarms[0].threshold", c.alarms[0].threshold = "2.5"),
        M("alarms[0].comparison", c.alarms[0].comparison = "LessThanThreshold"),
        M("alarms[0].treat_missing_data", c.alarms[0].treat_missing_data = "ignore"),
        M("alarms[0].actions_enabled", c.alarms[0].actions_enabled = false),
        M("alarms[0].alarm_actions", c.alarms[0].alarm_actions.clear()),
        M("alarms[0].ok_actions", c.alarms[0].ok_actions = {"http://h/ok"}),
        M("alarms[0].insufficient_data_actions",
          c.alarms[0].insufficient_data_actions = {"http://h/i"}),
        M("alarms: 1 vs 2", c.alarms.push_back(c.alarms[0]); c.alarms.back().name = "z"),
        M("api.address", c.api.address = "::1"), M("api.port", c.api.port = 9903),
        M("api.certificate", c.api.certificate = "other"),
        M("s3.endpoint", c.s3.endpoint = "http://[::1]:9000"),
        M("s3.region", c.s3.region = "eu-north-1"),
        M("s3.credentials_file", c.s3.credentials_file = "/other"),
        M("s3.profile", c.s3.profile = "logs"),
        M("s3.keep_local_files", c.s3.keep_local_files = true),
        M("certificates[1].name", c.certificates[1].name = "other2"),
        M("certificates[0].certificate_file", c.certificates[0].certificate_file = "/x.pem"),
        M("certificates[0].private_key_file", c.certificates[0].private_key_file = "/x.key"),
        M("certificates: 2 vs 3", c.certificates.push_back(c.certificates[1]);
          c.certificates.back().name = "new"),
        M("trust_stores[1].name", c.trust_stores[1].name = "p2"),
        M("trust_stores[0].ca_bundle_file", c.trust_stores[0].ca_bundle_file = "/c/ca2.pem"),
        M("trust_stores[0].revocation_files: 1 vs 2",
          c.trust_stores[0].revocation_files.push_back("/c/crl2.der")),
        M("trust_stores[0].revocation_files[0]", c.trust_stores[0].revocation_files[0] = "/r"),
        M("load_balancers[0].name", c.load_balancers[0].name = "edge2"),
        M("load_balancers[0].bind_address", c.load_balancers[0].bind_address = "127.0.0.2"),
        M("load_balancers[0].tags", c.load_balancers[0].tags.push_back({"env", "prod: \"x\""})),
        M("load_balancers: 1 vs 0", c.load_balancers.clear()),
        M("attributes.idle_timeout_seconds", A(c).idle_timeout_seconds = 4000),
        M("attributes.client_keep_alive_seconds", A(c).client_keep_alive_seconds = 60),
        M("attributes.desync_mitigation_mode",
          A(c).desync_mitigation_mode = DesyncMitigationMode::kStrictest),
        M("attributes.drop_invalid_header_fields", A(c).drop_invalid_header_fields = true),
        M("attributes.preserve_host_header", A(c).preserve_host_header = true),
        M("attributes.xff_client_port", A(c).xff_client_port = true),
        M("attributes.xff_header_processing_mode",
          A(c).xff_header_processing_mode = XffProcessingMode::kPreserve),
        M("attributes.deletion_protection", A(c).deletion_protection = true),
        M("attributes.http2_enabled", A(c).http2_enabled = false),
        M("attributes.tls_version_and_cipher_headers", A(c).tls_version_and_cipher_headers = true),
        M("access_logs.enabled", A(c).access_logs.enabled = false),
        M("access_logs.bucket", A(c).access_logs.bucket = "my-logs"),
        M("access_logs.prefix", A(c).access_logs.prefix = "p/q"),
        M("access_logs.directory", A(c).access_logs.directory = "/d"),
        M("connection_logs.enabled", A(c).connection_logs.enabled = false),
        M("connection_logs.bucket", A(c).connection_logs.bucket = "my-logs"),
        M("connection_logs.prefix", A(c).connection_logs.prefix = "p"),
        M("connection_logs.directory", A(c).connection_logs.directory = "/d"),
        M("health_check_logs.enabled", A(c).health_check_logs.enabled = false),
        M("health_check_logs.bucket", A(c).health_check_logs.bucket = "my-logs"),
        M("health_check_logs.prefix", A(c).health_check_logs.prefix = "p"),
        M("health_check_logs.directory", A(c).health_check_logs.directory = "/d"),
  };
}

// The listener, its TLS fields, attributes and default action.
std::vector<Mutation> ListenerMutations() {
  return {
    M("listeners[0].protocol", L(c).protocol = "HTTP"; L(c).ssl_policy.clear();
      L(c).certificates.clear(); L(c).mutual_authentication = {}),
        M("listeners[0].bind_address", L(c).bind_address = "127.0.0.1"),
        M("listeners[0].id", L(c).id = "0123456789abcdef"),
        M("listeners[0].tags", L(c).tags.push_back({"team", ""})),
        M("listeners[0].port", L(c).port = 444),
        M("listeners[0].ssl_policy", L(c).ssl_policy = "ELBSecurityPolicy-TLS13-1-2-2021-06"),
        M("listeners[0].certificates: 1 vs 2", L(c).certificates.push_back({"other", {}, ""})),
        M("listeners[0].certificates[0].name", L(c).certificates[0].name = "other"),
        M("mutual_authentication.mode", L(c).mutual_authentication.mode = MutualTlsMode::kOff;
          L(c).mutual_authentication.trust_store.clear()),
        M("mutual_authentication.mode",
          L(c).mutual_authentication.mode = MutualTlsMode::kPassthrough;
          L(c).mutual_authentication.trust_store.clear()),
        M("mutual_authentication.trust_store", L(c).mutual_authentication.trust_store = "partners"),
        M("mutual_authentication.ignore_client_certificate_expiry",
          L(c).mutual_authentication.ignore_client_certificate_expiry = true),
        M("mutual_authentication.advertise_trust_store_ca_names",
          L(c).mutual_authentication.advertise_trust_store_ca_names = true),
        M("attributes.mtls_clientcert", L(c).attributes.mtls_clientcert = "X-1"),
        M("attributes.mtls_serial_number", L(c).attributes.mtls_serial_number = "X-2"),
        M("attributes.mtls_issuer", L(c).attributes.mtls_issuer = "X-3"),
        M("attributes.mtls_subject", L(c).attributes.mtls_subject = "X-4"),
        M("attributes.mtls_validity", L(c).attributes.mtls_validity = "X-5"),
        M("attributes.mtls_leaf", L(c).attributes.mtls_leaf = "X-6"),
        M("attributes.tls_version", L(c).attributes.tls_version = "X-7"),
        M("attributes.tls_cipher_suite", L(c).attributes.tls_cipher_suite = "X-8"),
        M("default_actions[0].order", L(c).default_actions[0].order = 0),
        M("default_actions[0].type", L(c).default_actions[0].type = ActionType::kRedirect;
          L(c).default_actions[0].redirect.protocol = "HTTPS"),
        M("fixed_response.status_code", Fx(c).status_code = 503),
        M("fixed_response.content_type", Fx(c).content_type = "application/json"),
        M("fixed_response.content_type", Fx(c).content_type.clear()),
        M("fixed_response.message_body", Fx(c).message_body = "other"),
        M("fixed_response.message_body", Fx(c).message_body.clear()),
  };
}

// Rules: conditions, actions, transforms.
std::vector<Mutation> RuleMutations() {
  return {
    M("rules[0].id", R(c, 0).id = "fedcba9876543210"),
        M("rules[0].tags", R(c, 0).tags.push_back({"k", "v"})),
        M("rules[0].priority", R(c, 0).priority = 11), M("rules: 2 vs 1", L(c).rules.pop_back()),
        M("conditions[0].field", C(c, 0).field = ConditionField::kHostHeader;
          C(c, 0).http_header_name.clear(); C(c, 0).values = {"a.example.com"}),
        M("conditions[0].http_header_name", C(c, 0).http_header_name = "X-B"),
        M("conditions[0].values: 1 vs 2", C(c, 0).values.push_back("c")),
        M("conditions[0].values: 1 vs 0", C(c, 0).values.clear()),
        M("conditions[0].regex_values[0]", C(c, 0).regex_values[0] = "^c"),
        M("conditions[0].regex_values: 1 vs 0", C(c, 0).regex_values.clear()),
        M("conditions[1].query_values[0].key", C(c, 1).query_values[0].key.reset()),
        M("conditions[1].query_values[0].value", C(c, 1).query_values[0].value = "w"),
        M("conditions[1].query_values: 1 vs 2", C(c, 1).query_values.push_back({"k2", "v2"})),
        M("forward.target_groups[0].target_group", F(c).target_groups[0].target_group = "h";
          F(c).target_groups[1].target_group = "g"),
        M("forward.target_groups[0].weight", F(c).target_groups[0].weight = 0),
        M("forward.target_groups: 2 vs 1", F(c).target_groups.pop_back()),
        M("forward.stickiness_enabled", F(c).stickiness_enabled = false),
        M("forward.stickiness_enabled", F(c).stickiness_enabled = false;
          F(c).stickiness_duration_seconds = 0),
        M("forward.stickiness_duration_seconds", F(c).stickiness_duration_seconds = 604800),
        M("rules[0].actions[0].order", R(c, 0).actions[0].order = 1),
        M("redirect.protocol", Re(c).protocol = "#{protocol}"),
        M("redirect.port", Re(c).port = "#{port}"), M("redirect.host", Re(c).host = "#{host}"),
        M("redirect.path", Re(c).path = "/#{path}"), M("redirect.query", Re(c).query = ""),
        M("redirect.status_code", Re(c).status_code = 301),
        M("transforms[0].type", R(c, 0).transforms[0].type = TransformType::kHostHeaderRewrite;
          R(c, 0).transforms[0].rewrite.replace = "x.example.com"),
        M("transforms[0].rewrite.regex", R(c, 0).transforms[0].rewrite.regex = "^/a(.*)$"),
        M("transforms[0].rewrite.replace", R(c, 0).transforms[0].rewrite.replace = ""),
        M("rules[0].transforms: 1 vs 2",
          R(c, 0).transforms.push_back(
              {TransformType::kHostHeaderRewrite, {"^(.*)\\.example$", "$1.internal"}, {}})),
        M("rules[1].transforms: 0 vs 1",
          R(c, 1).transforms.push_back({TransformType::kUrlRewrite, {"x", "y"}, {}})),
  };
}

// Target groups, health checks, attributes, targets.
std::vector<Mutation> TargetGroupMutations() {
  return {
    M("target_groups[2].name", G(c, 2).name = "u2"),
        M("target_groups[1].tags", G(c, 1).tags.push_back({"a:b/c=d+e-f@g", "\xff\n"})),
        M("target_groups[2].protocol", G(c, 2).protocol = "HTTPS"),
        M("target_groups[0].port", G(c, 0).port = 444),
        M("target_groups: 3 vs 4", c.target_groups.push_back(TargetGroup());
          c.target_groups.back().name = "v"; c.target_groups.back().port = 1),
        M("health_check.enabled", H(c).enabled = false),
        M("health_check.protocol", H(c).protocol = "HTTPS"),
        M("health_check.protocol", H(c).protocol = "TCP"),
        M("health_check.port", H(c).port = "8080"), M("health_check.path", H(c).path = "/h?x"),
        M("health_check.interval_seconds", H(c).interval_seconds = 6),
        M("health_check.timeout_seconds", H(c).timeout_seconds = 29),
        M("health_check.healthy_threshold", H(c).healthy_threshold = 10),
        M("health_check.unhealthy_threshold", H(c).unhealthy_threshold = 10),
        M("health_check.matcher", H(c).matcher = "200-499"),
        M("attributes.deregistration_delay_seconds", Ga(c, 2).deregistration_delay_seconds = 0),
        M("attributes.algorithm",
          Ga(c, 2).algorithm = LoadBalancingAlgorithm::kLeastOutstandingRequests),
        M("attributes.algorithm", Ga(c, 2).algorithm = LoadBalancingAlgorithm::kWeightedRandom;
          Ga(c, 2).anomaly_mitigation = true),
        M("attributes.slow_start_seconds", Ga(c, 2).slow_start_seconds = 30),
        M("attributes.stickiness_enabled", Ga(c, 2).stickiness_enabled = true),
        M("attributes.stickiness_type", Ga(c, 2).stickiness_type = "app_cookie"),
        M("attributes.stickiness_lb_cookie_duration_seconds",
          Ga(c, 2).stickiness_lb_cookie_duration_seconds = 1),
        M("attributes.stickiness_app_cookie_name", Ga(c, 2).stickiness_app_cookie_name = "S"),
        M("attributes.stickiness_app_cookie_duration_seconds",
          Ga(c, 2).stickiness_app_cookie_duration_seconds = 604800),
        M("attributes.tls_server_name", Ga(c, 0).tls_server_name.clear()),
        M("attributes.tls_verify", Ga(c, 0).tls_verify = true),
        M("attributes.tls_verify_ca_file", Ga(c, 0).tls_verify_ca_file.clear()),
        M("attributes.tls_verify_ca_file", Ga(c, 0).tls_verify_ca_file = "/c/other-ca.pem"),
        M("targets[0].id", G(c, 0).targets[0].id = "::ffff:10.0.0.1"),
        M("targets[0].port", G(c, 0).targets[0].port = 8443),
        M("targets[1].port", G(c, 0).targets[1].port = 443),
        M("targets: 2 vs 3", G(c, 0).targets.push_back({"10.0.0.3", 1, {}})),
        M("target_groups[2].targets: 0 vs 1", G(c, 2).targets.push_back({"10.0.0.3", 1, {}})),
  };
}

std::vector<Mutation> Mutations() {
  std::vector<Mutation> all;
  for (auto part : {StoreMutations, ListenerMutations, RuleMutations, TargetGroupMutations}) {
    for (Mutation& m : part()) all.push_back(std::move(m));
  }
  return all;
}

#undef M

TEST(ExportModel, BaseRoundTrips) { ExpectRoundTrip(Base()); }

// Each change is seen by SameModel (at the right place) and survives ExportYaml and a load:
// together they cover every field of model.h (TargetGroup's protocol_version and target_type
// below).
TEST(ExportModel, EveryFieldIsComparedAndWritten) {
  const Config base = Base();
  for (const Mutation& m : Mutations()) {
    SCOPED_TRACE(m.where);
    Config changed = base;
    m.apply(changed);
    std::string difference;
    EXPECT_FALSE(SameModel(base, changed, &difference));
    EXPECT_THAT(difference, HasSubstr(m.where));
    ExpectRoundTrip(changed);
  }
}

// Values the loader refuses are compared, written, and refused.
TEST(ExportModel, ValuesTheLoaderRefusesAreComparedAndWritten) {
  const Config base = Base();
  Config changed = base;
  changed.target_groups[1].protocol_version = "HTTP3";
  changed.target_groups[2].target_type = "instance";
  std::string difference;
  EXPECT_FALSE(SameModel(base, changed, &difference));
  EXPECT_THAT(difference, HasSubstr("target_groups[1].protocol_version: 'HTTP1' vs 'HTTP3'"));
  const std::string errors = testing::ErrorText(LoadConfigFromString(ExportYaml(changed), "x"));
  EXPECT_THAT(errors,
              HasSubstr("protocol version 'HTTP3' is invalid; allowed: HTTP1, HTTP2, GRPC"));
  EXPECT_THAT(errors, HasSubstr("target type 'instance' is not supported"));
}

TEST(ExportModel, WhatSameModelIgnores) {
  const Config base = Base();
  Config other = base;
  other.source_file = "elsewhere.yaml";
  other.load_balancers[0].location = {99, 1};
  other.load_balancers[0].listeners[0].certificates[0].path = "x";
  other.load_balancers[0].listeners[0].rules[0].actions[0].forward.target_groups[0].index = 7;
  other.certificates[0].certificate_file_location = {5, 5};
  other.trust_stores[0].revocation_file_locations.clear();
  other.target_groups[0].attributes.tls_verify_ca_file_path = "";
  other.target_groups[0].targets[0].location = {};
  // Members that do not belong to the condition's field or the action's type.
  Rule& rule = other.load_balancers[0].listeners[0].rules[0];
  rule.conditions[0].query_values.push_back({"k", "v"});
  rule.conditions[1].http_header_name = "X-Stale";
  rule.conditions[1].values = {"stale"};
  rule.actions[0].redirect.host = "stale.example.com";
  rule.actions[0].fixed_response.status_code = 500;
  other.load_balancers[0].listeners[0].default_actions[0].forward.stickiness_enabled = true;
  std::string difference = "untouched";
  EXPECT_TRUE(SameModel(base, other, &difference));
  EXPECT_EQ(difference, "untouched");
  EXPECT_TRUE(SameModel(base, base, nullptr));
}

TEST(ExportModel, DeterministicAndIndependentOfLocations) {
  Config a = Base();
  Config b = LoadOrFail("\n\n# moved down\n" + testing::Yaml(kBase), "/other/place.yaml");
  EXPECT_EQ(ExportYaml(a), ExportYaml(a));
  EXPECT_EQ(ExportYaml(a), ExportYaml(b));
}

// ---- The format ------------------------------------------------------------------------------

// What ExportYaml writes for the config of the test below.
constexpr char kSmallExport[] = R"(Account:
  Id: "000000000000"
  Region: "us-east-1"
Admin:
  Address: "127.0.0.1"
  Port: 0
Certificates: []
TrustStores: []
LoadBalancers:
  - Name: "web"
    Attributes:
      idle_timeout.timeout_seconds: 60
      client_keep_alive.seconds: 3600
      routing.http.desync_mitigation_mode: "defensive"
      routing.http.drop_invalid_header_fields.enabled: false
      routing.http.preserve_host_header.enabled: false
      routing.http.xff_client_port.enabled: false
      routing.http.xff_header_processing.mode: "append"
      deletion_protection.enabled: false
      routing.http2.enabled: true
      routing.http.x_amzn_tls_version_and_cipher_suite.enabled: false
      access_logs.s3.enabled: false
      access_logs.s3.bucket: ""
      access_logs.s3.prefix: ""
      connection_logs.s3.enabled: false
      connection_logs.s3.bucket: ""
      connection_logs.s3.prefix: ""
      health_check_logs.s3.enabled: false
      health_check_logs.s3.bucket: ""
      health_check_logs.s3.prefix: ""
    Listeners:
      - Protocol: "HTTP"
        Port: 80
        BindAddress: "0.0.0.0"
        Attributes:
          routing.http.request.x_amzn_mtls_clientcert.header_name: "X-Amzn-Mtls-Clientcert"
          routing.http.request.x_amzn_mtls_clientcert_serial_number.header_name: "X-Amzn-Mtls-Clientcert-Serial-Number"
          routing.http.request.x_amzn_mtls_clientcert_issuer.header_name: "X-Amzn-Mtls-Clientcert-Issuer"
          routing.http.request.x_amzn_mtls_clientcert_subject.header_name: "X-Amzn-Mtls-Clientcert-Subject"
          routing.http.request.x_amzn_mtls_clientcert_validity.header_name: "X-Amzn-Mtls-Clientcert-Validity"
          routing.http.request.x_amzn_mtls_clientcert_leaf.header_name: "X-Amzn-Mtls-Clientcert-Leaf"
          routing.http.request.x_amzn_tls_version.header_name: "X-Amzn-Tls-Version"
          routing.http.request.x_amzn_tls_cipher_suite.header_name: "X-Amzn-Tls-Cipher-Suite"
        DefaultActions:
          - Type: "forward"
            ForwardConfig:
              TargetGroups:
                - {TargetGroupName: "app", Weight: 1}
              TargetGroupStickinessConfig: {Enabled: false}
        Rules:
          - Priority: 5
            Conditions:
              - Field: "path-pattern"
                PathPatternConfig:
                  Values: ["/api/*"]
            Actions:
              - Type: "fixed-response"
                FixedResponseConfig:
                  StatusCode: "503"
                  MessageBody: "down\n"
TargetGroups:
  - Name: "app"
    Protocol: "HTTP"
    ProtocolVersion: "HTTP1"
    Port: 3000
    TargetType: "ip"
    HealthCheckEnabled: true
    HealthCheckProtocol: "HTTP"
    HealthCheckPort: "traffic-port"
    HealthCheckPath: "/"
    HealthCheckIntervalSeconds: 30
    HealthCheckTimeoutSeconds: 5
    HealthyThresholdCount: 5
    UnhealthyThresholdCount: 2
    Matcher: {HttpCode: "200"}
    Attributes:
      deregistration_delay.timeout_seconds: 300
      stickiness.enabled: false
      stickiness.type: "lb_cookie"
      stickiness.lb_cookie.duration_seconds: 86400
      stickiness.app_cookie.cookie_name: ""
      stickiness.app_cookie.duration_seconds: 86400
      load_balancing.algorithm.type: "round_robin"
      load_balancing.algorithm.anomaly_mitigation: "off"
      slow_start.duration_seconds: 0
      sluice.tls.server_name: ""
      sluice.tls.verify.enabled: false
    Targets:
      - {Id: "10.0.0.1"}
      - {Id: "10.0.0.2", Port: 3001}
)";

TEST(ExportFormat, SmallConfigExactly) {
  Config c = LoadOrFail(testing::Yaml(R"(
LoadBalancers:
  - Name: web
    Listeners:
      - Port: 80
        DefaultActions: [{Type: forward, TargetGroupName: app}]
        Rules:
          - Priority: 5
            Conditions: [{Field: path-pattern, Values: ["/api/*"]}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "503", MessageBody: "down\n"}}]
TargetGroups:
  - Name: app
    Port: 3000
    Targets: [{Id: 10.0.0.1}, {Id: 10.0.0.2, Port: 3001}]
)"),
                        "t.yaml");
  EXPECT_EQ(ExportYaml(c), kSmallExport);
}

// ---- Scale: the API's case, a model built in code ---------------------------------------------

// `groups` target groups of `per_group` targets (every `own_port_every`th on a port of its own
// rather than the group's, which costs the loader two more YAML nodes), one listener
// with a rule per group for the first 100.
Config BigModel(int groups, int per_group, int own_port_every = 10) {
  Config c;
  LoadBalancer lb;
  lb.name = "big";
  Listener l;
  l.port = 80;
  Action forward;
  forward.forward.target_groups = {{"tg-0", 1, -1}};
  l.default_actions = {forward};
  for (int g = 0; g < groups && g < 100; ++g) {
    Rule r;
    r.priority = g + 1;
    r.conditions.resize(1);
    r.conditions[0].field = ConditionField::kPathPattern;
    r.conditions[0].values = {"/g" + std::to_string(g) + "/*"};
    Action a;
    a.forward.target_groups = {{"tg-" + std::to_string(g), 1, -1}};
    r.actions = {a};
    l.rules.push_back(std::move(r));
  }
  lb.listeners = {l};
  c.load_balancers = {lb};
  for (int g = 0; g < groups; ++g) {
    TargetGroup tg;
    tg.name = "tg-" + std::to_string(g);
    tg.port = 8000 + g % 1000;
    for (int t = 0; t < per_group; ++t) {
      const std::string id = "10." + std::to_string(g / 256) + "." + std::to_string(g % 256) + "." +
                             std::to_string(t + 1);
      tg.targets.push_back({id, t % own_port_every == own_port_every - 1 ? 9000 + t : tg.port, {}});
    }
    c.target_groups.push_back(std::move(tg));
  }
  return c;
}

TEST(ExportScale, ThousandGroupsOfAHundredTargets) { ExpectRoundTrip(BigModel(1000, 100)); }

// Prints how long exporting and loading take; asserts nothing about time.
TEST(ExportScale, Timing) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  const std::pair<int, int> cases[] = {{100, 10}, {1000, 10}, {1000, 1}};
  for (const auto& [groups, own_port_every] : cases) {
    const Config model = BigModel(groups, 100, own_port_every);
    const auto t0 = Clock::now();
    const std::string yaml = ExportYaml(model);
    const auto t1 = Clock::now();
    LoadResult r = LoadConfigFromString(yaml, "/big.yaml");
    const auto t2 = Clock::now();
    ASSERT_TRUE(std::holds_alternative<Config>(r)) << testing::ErrorText(r);
    const bool same = SameModel(model, std::get<Config>(r), nullptr);
    const auto t3 = Clock::now();
    EXPECT_TRUE(same);
    std::printf(
        "%d targets in %d groups, 1 in %d on its own port: %zu bytes; export %.1f ms, load "
        "%.1f ms, SameModel %.1f ms\n",
        groups * 100, groups, own_port_every, yaml.size(), ms(t1 - t0), ms(t2 - t1), ms(t3 - t2));
  }
}

}  // namespace
}  // namespace sluice::config
