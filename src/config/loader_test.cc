// Valid configs: values, defaults, sorting and locations.
#include "config/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "config/test_util.h"

namespace sluice::config {
namespace {

using ::testing::ElementsAre;
using testing::Errors;
using ::testing::IsEmpty;
using testing::MustLoad;

constexpr char kFull[] = R"(
LoadBalancers:
  - Name: demo
    Attributes:
      idle_timeout.timeout_seconds: 120
      client_keep_alive.seconds: "600"
      routing.http.desync_mitigation_mode: strictest
      routing.http.drop_invalid_header_fields.enabled: true
      routing.http.preserve_host_header.enabled: "true"
      routing.http.xff_client_port.enabled: TRUE
      routing.http.xff_header_processing.mode: preserve
      deletion_protection.enabled: false
      routing.http2.enabled: false
    Listeners:
      - Protocol: HTTP
        Port: 8080
        BindAddress: 127.0.0.1
        DefaultActions:
          - Type: fixed-response
            FixedResponseConfig: {StatusCode: "404", ContentType: text/plain, MessageBody: "no route"}
        Rules:
          - Priority: 30
            Conditions:
              - Field: path-pattern
                PathPatternConfig: {Values: ["/auth/*"]}
              - Field: http-header
                HttpHeaderConfig: {HttpHeaderName: X-Env, Values: ["blue"], RegexValues: ["^b.*"]}
              - Field: query-string
                QueryStringConfig: {Values: [{Key: version, Value: v1}]}
            Actions:
              - Type: forward
                TargetGroupName: auth
          - Priority: 10
            Conditions:
              - Field: source-ip
                SourceIpConfig: {Values: ["10.0.0.0/8", "::1/128"]}
              - Field: http-request-method
                HttpRequestMethodConfig: {Values: [GET, HEAD]}
              - Field: host-header
                HostHeaderConfig: {Values: ["*.example.com"], RegexValues: []}
            Actions:
              - Type: forward
                Order: 7
                ForwardConfig:
                  TargetGroups: [{TargetGroupName: blue, Weight: 90}, {TargetGroupName: green, Weight: 0}]
                  TargetGroupStickinessConfig: {Enabled: true, DurationSeconds: 3600}
          - Priority: 20
            Conditions:
              - Field: host-header
                Values: [old.example.com]
            Actions:
              - Type: redirect
                RedirectConfig: {Protocol: HTTPS, Port: 443, Host: "new.example.com", Path: "/x/#{path}", Query: "a=1&#{query}", StatusCode: HTTP_302}
TargetGroups:
  - Name: auth
    Protocol: HTTP
    ProtocolVersion: HTTP1
    Port: 3001
    TargetType: ip
    HealthCheckEnabled: true
    HealthCheckProtocol: HTTP
    HealthCheckPort: 8081
    HealthCheckPath: /health
    HealthCheckIntervalSeconds: 10
    HealthCheckTimeoutSeconds: 9
    HealthyThresholdCount: 3
    UnhealthyThresholdCount: 4
    Matcher: {HttpCode: "200-299,301"}
    Attributes:
      deregistration_delay.timeout_seconds: 30
      load_balancing.algorithm.type: weighted_random
      load_balancing.algorithm.anomaly_mitigation: "on"
      stickiness.enabled: true
      stickiness.type: app_cookie
      stickiness.app_cookie.cookie_name: SESSION
      stickiness.app_cookie.duration_seconds: 60
      stickiness.lb_cookie.duration_seconds: 120
    Targets:
      - {Id: 127.0.0.1, Port: 3001}
      - {Id: "::1"}
  - {Name: blue, Port: 4000, Attributes: {slow_start.duration_seconds: 30}}
  - {Name: green, Port: 4001, HealthCheckProtocol: TCP}
Admin:
  Address: 127.0.0.1
  Port: 9901
)";

TEST(LoaderTest, LoadsEveryField) {
  Config c = MustLoad(kFull);
  EXPECT_EQ(c.source_file, "t.yaml");
  ASSERT_EQ(c.load_balancers.size(), 1u);
  const LoadBalancer& lb = c.load_balancers[0];
  EXPECT_EQ(lb.name, "demo");
  EXPECT_EQ(lb.location.line, 2);
  EXPECT_EQ(lb.location.column, 5);
  const LoadBalancerAttributes& a = lb.attributes;
  EXPECT_EQ(a.idle_timeout_seconds, 120);
  EXPECT_EQ(a.client_keep_alive_seconds, 600);
  EXPECT_EQ(a.desync_mitigation_mode, DesyncMitigationMode::kStrictest);
  EXPECT_TRUE(a.drop_invalid_header_fields);
  EXPECT_TRUE(a.preserve_host_header);
  EXPECT_TRUE(a.xff_client_port);
  EXPECT_EQ(a.xff_header_processing_mode, XffProcessingMode::kPreserve);
  EXPECT_FALSE(a.deletion_protection);
  EXPECT_FALSE(a.http2_enabled);

  ASSERT_EQ(lb.listeners.size(), 1u);
  const Listener& l = lb.listeners[0];
  EXPECT_EQ(l.protocol, "HTTP");
  EXPECT_EQ(l.port, 8080);
  EXPECT_EQ(l.bind_address, "127.0.0.1");
  ASSERT_EQ(l.default_actions.size(), 1u);
  EXPECT_EQ(l.default_actions[0].type, ActionType::kFixedResponse);
  EXPECT_EQ(l.default_actions[0].fixed_response.status_code, 404);
  EXPECT_EQ(l.default_actions[0].fixed_response.content_type, "text/plain");
  EXPECT_EQ(l.default_actions[0].fixed_response.message_body, "no route");

  // Rules come back sorted by priority.
  ASSERT_EQ(l.rules.size(), 3u);
  EXPECT_EQ(l.rules[0].priority, 10);
  EXPECT_EQ(l.rules[1].priority, 20);
  EXPECT_EQ(l.rules[2].priority, 30);
  EXPECT_EQ(l.rules[0].location.line, 32);
  EXPECT_EQ(l.rules[0].location.column, 13);

  const Rule& r10 = l.rules[0];
  ASSERT_EQ(r10.conditions.size(), 3u);
  EXPECT_EQ(r10.conditions[0].field, ConditionField::kSourceIp);
  EXPECT_THAT(r10.conditions[0].values, ElementsAre("10.0.0.0/8", "::1/128"));
  EXPECT_EQ(r10.conditions[0].location.line, 34);
  EXPECT_EQ(r10.conditions[1].field, ConditionField::kHttpRequestMethod);
  EXPECT_THAT(r10.conditions[1].values, ElementsAre("GET", "HEAD"));
  EXPECT_EQ(r10.conditions[2].field, ConditionField::kHostHeader);
  EXPECT_THAT(r10.conditions[2].values, ElementsAre("*.example.com"));
  EXPECT_THAT(r10.conditions[2].regex_values, IsEmpty());
  ASSERT_EQ(r10.actions.size(), 1u);
  const Action& fwd = r10.actions[0];
  EXPECT_EQ(fwd.type, ActionType::kForward);
  EXPECT_EQ(fwd.order, 7);
  ASSERT_EQ(fwd.forward.target_groups.size(), 2u);
  EXPECT_EQ(fwd.forward.target_groups[0].target_group, "blue");
  EXPECT_EQ(fwd.forward.target_groups[0].weight, 90);
  EXPECT_EQ(fwd.forward.target_groups[1].target_group, "green");
  EXPECT_EQ(fwd.forward.target_groups[1].weight, 0);
  EXPECT_TRUE(fwd.forward.stickiness_enabled);
  EXPECT_EQ(fwd.forward.stickiness_duration_seconds, 3600);

  const Rule& r20 = l.rules[1];
  ASSERT_EQ(r20.conditions.size(), 1u);
  EXPECT_THAT(r20.conditions[0].values, ElementsAre("old.example.com"));  // legacy Values
  const RedirectConfig& rd = r20.actions[0].redirect;
  EXPECT_EQ(r20.actions[0].type, ActionType::kRedirect);
  EXPECT_EQ(rd.protocol, "HTTPS");
  EXPECT_EQ(rd.port, "443");
  EXPECT_EQ(rd.host, "new.example.com");
  EXPECT_EQ(rd.path, "/x/#{path}");
  EXPECT_EQ(rd.query, "a=1&#{query}");
  EXPECT_EQ(rd.status_code, 302);

  const Rule& r30 = l.rules[2];
  ASSERT_EQ(r30.conditions.size(), 3u);
  EXPECT_EQ(r30.conditions[1].http_header_name, "X-Env");
  EXPECT_THAT(r30.conditions[1].values, ElementsAre("blue"));
  EXPECT_THAT(r30.conditions[1].regex_values, ElementsAre("^b.*"));
  ASSERT_EQ(r30.conditions[2].query_values.size(), 1u);
  EXPECT_EQ(r30.conditions[2].query_values[0].key, "version");
  EXPECT_EQ(r30.conditions[2].query_values[0].value, "v1");
  ASSERT_EQ(r30.actions.size(), 1u);
  ASSERT_EQ(r30.actions[0].forward.target_groups.size(), 1u);
  EXPECT_EQ(r30.actions[0].forward.target_groups[0].target_group, "auth");
  EXPECT_EQ(r30.actions[0].forward.target_groups[0].weight, 1);
  EXPECT_FALSE(r30.actions[0].forward.stickiness_enabled);

  ASSERT_EQ(c.target_groups.size(), 3u);
  const TargetGroup& tg = c.target_groups[0];
  EXPECT_EQ(tg.name, "auth");
  EXPECT_EQ(tg.port, 3001);
  EXPECT_EQ(tg.protocol, "HTTP");
  EXPECT_EQ(tg.protocol_version, "HTTP1");
  EXPECT_EQ(tg.target_type, "ip");
  EXPECT_TRUE(tg.health_check.enabled);
  EXPECT_EQ(tg.health_check.protocol, "HTTP");
  EXPECT_EQ(tg.health_check.port, "8081");
  EXPECT_EQ(tg.health_check.path, "/health");
  EXPECT_EQ(tg.health_check.interval_seconds, 10);
  EXPECT_EQ(tg.health_check.timeout_seconds, 9);
  EXPECT_EQ(tg.health_check.healthy_threshold, 3);
  EXPECT_EQ(tg.health_check.unhealthy_threshold, 4);
  EXPECT_EQ(tg.health_check.matcher, "200-299,301");
  EXPECT_EQ(tg.attributes.deregistration_delay_seconds, 30);
  EXPECT_EQ(tg.attributes.algorithm, LoadBalancingAlgorithm::kWeightedRandom);
  EXPECT_TRUE(tg.attributes.anomaly_mitigation);
  EXPECT_TRUE(tg.attributes.stickiness_enabled);
  EXPECT_EQ(tg.attributes.stickiness_type, "app_cookie");
  EXPECT_EQ(tg.attributes.stickiness_app_cookie_name, "SESSION");
  EXPECT_EQ(tg.attributes.stickiness_app_cookie_duration_seconds, 60);
  EXPECT_EQ(tg.attributes.stickiness_lb_cookie_duration_seconds, 120);
  ASSERT_EQ(tg.targets.size(), 2u);
  EXPECT_EQ(tg.targets[0].id, "127.0.0.1");
  EXPECT_EQ(tg.targets[0].port, 3001);
  EXPECT_EQ(tg.targets[1].id, "::1");
  EXPECT_EQ(tg.targets[1].port, 3001);  // defaults to the group's Port
  EXPECT_EQ(tg.targets[1].location.line, 79);
  EXPECT_EQ(tg.targets[1].location.column, 9);
  EXPECT_EQ(c.target_groups[1].attributes.slow_start_seconds, 30);
  EXPECT_EQ(c.target_groups[2].health_check.protocol, "TCP");

  EXPECT_EQ(c.admin.address, "127.0.0.1");
  EXPECT_EQ(c.admin.port, 9901);
}

TEST(LoaderTest, AppliesDefaults) {
  Config c = MustLoad(R"(
LoadBalancers:
  - Name: a
    Listeners:
      - Port: 80
        DefaultActions: [{Type: forward, TargetGroupName: tg}]
TargetGroups:
  - Name: tg
    Port: 3000
)");
  ASSERT_EQ(c.load_balancers.size(), 1u);
  const LoadBalancer& lb = c.load_balancers[0];
  const LoadBalancerAttributes defaults;
  EXPECT_EQ(lb.attributes.idle_timeout_seconds, 60);
  EXPECT_EQ(lb.attributes.client_keep_alive_seconds, 3600);
  EXPECT_EQ(lb.attributes.desync_mitigation_mode, DesyncMitigationMode::kDefensive);
  EXPECT_EQ(lb.attributes.xff_header_processing_mode, XffProcessingMode::kAppend);
  EXPECT_TRUE(lb.attributes.http2_enabled);
  const Listener& l = lb.listeners[0];
  EXPECT_EQ(l.protocol, "HTTP");
  EXPECT_EQ(l.bind_address, "0.0.0.0");
  EXPECT_THAT(l.rules, IsEmpty());
  EXPECT_EQ(l.default_actions[0].order, 0);
  EXPECT_EQ(l.default_actions[0].location.line, 5);
  EXPECT_EQ(l.default_actions[0].location.column, 26);

  const TargetGroup& tg = c.target_groups[0];
  EXPECT_EQ(tg.protocol, "HTTP");
  EXPECT_EQ(tg.protocol_version, "HTTP1");
  EXPECT_EQ(tg.target_type, "ip");
  EXPECT_TRUE(tg.health_check.enabled);
  EXPECT_EQ(tg.health_check.protocol, "HTTP");
  EXPECT_EQ(tg.health_check.port, "traffic-port");
  EXPECT_EQ(tg.health_check.path, "/");
  EXPECT_EQ(tg.health_check.interval_seconds, 30);
  EXPECT_EQ(tg.health_check.timeout_seconds, 5);
  EXPECT_EQ(tg.health_check.healthy_threshold, 5);
  EXPECT_EQ(tg.health_check.unhealthy_threshold, 2);
  EXPECT_EQ(tg.health_check.matcher, "200");
  EXPECT_EQ(tg.attributes.deregistration_delay_seconds, 300);
  EXPECT_EQ(tg.attributes.algorithm, LoadBalancingAlgorithm::kRoundRobin);
  EXPECT_FALSE(tg.attributes.anomaly_mitigation);
  EXPECT_EQ(tg.attributes.slow_start_seconds, 0);
  EXPECT_FALSE(tg.attributes.stickiness_enabled);
  EXPECT_EQ(tg.attributes.stickiness_type, "lb_cookie");
  EXPECT_EQ(tg.attributes.stickiness_lb_cookie_duration_seconds, 86400);
  EXPECT_THAT(tg.targets, IsEmpty());

  EXPECT_EQ(c.admin.address, "127.0.0.1");
  EXPECT_EQ(c.admin.port, 0);
}

TEST(LoaderTest, EmptyDocumentIsAnEmptyConfig) {
  Config c = MustLoad("# nothing yet\n");
  EXPECT_THAT(c.load_balancers, IsEmpty());
  EXPECT_THAT(c.target_groups, IsEmpty());
  Config d = MustLoad("");
  EXPECT_THAT(d.load_balancers, IsEmpty());
}

TEST(LoaderTest, SortsActionsByOrderAndAcceptsSeveralListeners) {
  Config c = MustLoad(R"(
LoadBalancers:
  - Name: a
    Listeners:
      - Port: 80
        DefaultActions: [{Type: fixed-response, Order: 5, FixedResponseConfig: {StatusCode: "503"}}]
      - Port: 80
        BindAddress: "::1"
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
  - Name: b
    Listeners:
      - Port: 81
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
Admin: {Port: 9901}
)");
  ASSERT_EQ(c.load_balancers.size(), 2u);
  EXPECT_EQ(c.load_balancers[0].listeners[0].default_actions[0].order, 5);
  EXPECT_EQ(c.load_balancers[0].listeners[1].bind_address, "::1");
  EXPECT_EQ(c.load_balancers[1].listeners[0].port, 81);
}

TEST(LoaderTest, LoadsFromFile) {
  std::string path = ::testing::TempDir() + "/sluice_loader_test.yaml";
  {
    std::ofstream out(path);
    out << "LoadBalancers: []\nTargetGroups: [{Name: x, Port: 1}]\n";
  }
  LoadResult r = LoadConfigFromFile(path);
  ASSERT_TRUE(std::holds_alternative<Config>(r));
  EXPECT_EQ(std::get<Config>(r).source_file, path);
  EXPECT_EQ(std::get<Config>(r).target_groups[0].name, "x");
  std::remove(path.c_str());
}

TEST(LoaderTest, MissingFileIsOneErrorWithoutPosition) {
  LoadResult r = LoadConfigFromFile("/nonexistent/sluice.yaml");
  ASSERT_TRUE(std::holds_alternative<ConfigErrors>(r));
  const ConfigErrors& e = std::get<ConfigErrors>(r);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].line, 0);
  EXPECT_EQ(e[0].ToString(), "/nonexistent/sluice.yaml: cannot open: No such file or directory");
}

TEST(LoaderTest, ErrorToString) {
  ConfigError e{"f.yaml", 3, 7, "A.B", "bad"};
  EXPECT_EQ(e.ToString(), "f.yaml:3:7: A.B: bad");
  e.field.clear();
  EXPECT_EQ(e.ToString(), "f.yaml:3:7: bad");
  e.line = 0;
  EXPECT_EQ(e.ToString(), "f.yaml: bad");
}

TEST(LoaderTest, LoadsTheShippedExampleWhenPresent) {
  const std::string path = std::string(SLUICE_SOURCE_DIR) + "/examples/demo.yaml";
  if (std::FILE* f = std::fopen(path.c_str(), "r")) {
    std::fclose(f);
  } else {
    GTEST_SKIP() << "no " << path;
  }
  LoadResult r = LoadConfigFromFile(path);
  std::vector<std::string> errors;
  if (auto* e = std::get_if<ConfigErrors>(&r)) {
    for (const ConfigError& x : *e) errors.push_back(x.ToString());
  }
  EXPECT_THAT(errors, IsEmpty());
}

}  // namespace
}  // namespace sluice::config

#include "config/arn.h"

namespace sluice::config {
namespace {

TEST(ArnTest, ListenerAndRuleArnsParseBack) {
  AccountSettings account{"123456789012", "eu-west-3"};
  Listener l;
  l.port = 8080;
  std::string lid = ListenerId("web", l);
  EXPECT_EQ(lid.size(), 16u);
  std::string arn = ListenerArn(account, "web", lid);
  auto parts = ParseArn(arn);
  ASSERT_TRUE(parts.has_value()) << arn;
  EXPECT_EQ(parts->kind, "listener");
  EXPECT_EQ(parts->name, "web");
  EXPECT_EQ(parts->region, "eu-west-3");
  ASSERT_EQ(parts->ids.size(), 2u);
  EXPECT_EQ(parts->ids[1], lid);
  Rule r;
  r.priority = 7;
  auto rule = ParseArn(RuleArn(account, "web", lid, RuleId(lid, r)));
  ASSERT_TRUE(rule.has_value());
  EXPECT_EQ(rule->kind, "listener-rule");
  EXPECT_EQ(rule->ids.size(), 3u);
  // An explicit id wins over the derived one, so ARNs survive a change of port or priority.
  l.id = "00000000000000aa";
  EXPECT_EQ(ListenerId("web", l), "00000000000000aa");
  EXPECT_NE(DefaultRuleId(lid), RuleId(lid, r));
  auto tg = ParseArn(TargetGroupArn(account, "blue"));
  ASSERT_TRUE(tg.has_value());
  EXPECT_EQ(tg->kind, "targetgroup");
  EXPECT_EQ(tg->name, "blue");
  for (const char* bad :
       {"", "arn:aws:s3:::bucket", "arn:aws:elasticloadbalancing:r:1:listener/app/x/1",
        "arn:aws:elasticloadbalancing:r:1:loadbalancer/gwy/x/0123456789abcdef",
        "arn:aws:elasticloadbalancing:r:1:targetgroup/x/0123456789abcdef/extra"}) {
    EXPECT_FALSE(ParseArn(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace sluice::config

namespace sluice::config {
namespace {

TEST(LoaderTest, LoadBalancerBindAddressIsTheListenersDefault) {
  auto r = LoadConfigFromString(R"(
LoadBalancers:
  - Name: lb
    BindAddress: 127.0.0.9
    Listeners:
      - {Protocol: HTTP, Port: 8080, DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]}
      - {Protocol: HTTP, Port: 8081, BindAddress: 127.0.0.1, DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]}
  - Name: other
    Listeners:
      - {Protocol: HTTP, Port: 8082, DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]}
)",
                                "t.yaml");
  ASSERT_TRUE(std::holds_alternative<Config>(r));
  const Config& c = std::get<Config>(r);
  EXPECT_EQ(c.load_balancers[0].bind_address, "127.0.0.9");
  EXPECT_EQ(c.load_balancers[0].listeners[0].bind_address, "127.0.0.9");
  EXPECT_EQ(c.load_balancers[0].listeners[1].bind_address, "127.0.0.1");
  EXPECT_EQ(c.load_balancers[1].listeners[0].bind_address, "0.0.0.0");
}

}  // namespace
}  // namespace sluice::config

namespace sluice::config {
namespace {

TEST(LoaderTest, MetricsResolutionDividesAMinute) {
  EXPECT_EQ(testing::MustLoad("").admin.metrics_resolution_seconds, 10);
  EXPECT_EQ(
      testing::MustLoad("Admin: {MetricsResolutionSeconds: 1}\n").admin.metrics_resolution_seconds,
      1);
  EXPECT_THAT(testing::Errors("Admin: {MetricsResolutionSeconds: 7}\n"),
              ::testing::ElementsAre(::testing::HasSubstr(
                  "Admin.MetricsResolutionSeconds: metrics resolution 7 s must divide a minute")));
  EXPECT_THAT(testing::Errors("Admin: {MetricsResolutionSeconds: 120}\n"),
              ::testing::ElementsAre(::testing::HasSubstr("Admin.MetricsResolutionSeconds")));
}

// An admin endpoint other hosts can reach needs a token; loopback does not.
TEST(LoaderTest, AdminBeyondLoopbackNeedsATokenFile) {
  EXPECT_TRUE(testing::MustLoad("Admin: {Port: 9000}\n").admin.token_file.empty());
  EXPECT_TRUE(
      testing::MustLoad("Admin: {Address: \"::1\", Port: 9000}\n").admin.token_file.empty());
  EXPECT_THAT(testing::Errors("Admin:\n  Address: 0.0.0.0\n  Port: 9000\n"),
              ::testing::ElementsAre(
                  "t.yaml:2:12: Admin.Address: the admin endpoint on 0.0.0.0 is reachable beyond "
                  "this host: set Admin.TokenFile (a file holding the token its clients must send) "
                  "or bind 127.0.0.1"));
  // Off (port 0) on any address needs nothing.
  EXPECT_TRUE(testing::MustLoad("Admin: {Address: 0.0.0.0}\n").admin.token_file.empty());
  Config c = testing::MustLoad("Admin: {Address: 0.0.0.0, Port: 9000, TokenFile: /etc/tok}\n");
  EXPECT_EQ(c.admin.token_file, "/etc/tok");
  EXPECT_EQ(c.admin.token_file_location.line, 1);
  EXPECT_THAT(testing::Errors("Admin: {Port: 9000, TokenFile: \"\"}\n"),
              ::testing::ElementsAre(::testing::HasSubstr("Admin.TokenFile: file path is empty")));
}

}  // namespace
}  // namespace sluice::config
