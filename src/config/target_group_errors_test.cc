// Error messages for target groups: settings, health checks, attributes, targets
// (reference §2.3, §2.5).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/export.h"
#include "config/loader.h"
#include "config/test_util.h"

namespace sluice::config {
namespace {

using ::testing::ElementsAre;
using testing::Errors;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using testing::WithTargetGroups;

std::string E(int line, int column, const std::string& field, const std::string& message) {
  return "t.yaml:" + std::to_string(line) + ":" + std::to_string(column) + ": " + field + ": " +
         message;
}

constexpr char kSupported[] =
    "deregistration_delay.timeout_seconds, stickiness.enabled, stickiness.type, "
    "stickiness.lb_cookie.duration_seconds, stickiness.app_cookie.cookie_name, "
    "stickiness.app_cookie.duration_seconds, load_balancing.algorithm.type, "
    "load_balancing.algorithm.anomaly_mitigation, slow_start.duration_seconds, "
    "proxy_protocol_v2.enabled, deregistration_delay.connection_termination.enabled, "
    "target_health_state.unhealthy.connection_termination.enabled, "
    "target_health_state.unhealthy.draining_interval_seconds, preserve_client_ip.enabled, "
    "sluice.tls.server_name, sluice.tls.verify.enabled, sluice.tls.verify.ca_file";

TEST(TargetGroupErrorsTest, NotYetSupportedSettings) {
  EXPECT_THAT(Errors(WithTargetGroups(R"(
  - Name: tg
    Protocol: HTTPS
    ProtocolVersion: HTTP3
    Port: 443
    TargetType: instance
    HealthCheckProtocol: HTTPS
    Targets: [{Id: i-0123456789abcdef0}]
)")),
              ElementsAre(E(4, 22, "TargetGroups[0].ProtocolVersion",
                            "protocol version 'HTTP3' is invalid; allowed: HTTP1, HTTP2, GRPC"),
                          E(6, 17, "TargetGroups[0].TargetType",
                            "target type 'instance' is not supported yet; use ip")));
}

TEST(TargetGroupErrorsTest, HttpsGroupsAndTheirTlsAttributes) {
  const std::string at = "TargetGroups[0].Attributes";
  EXPECT_THAT(
      Errors(WithTargetGroups(R"(
  - Name: tg
    Protocol: QUIC
    Port: 443
    Attributes:
      sluice.tls.server_name: "bad name"
      sluice.tls.verify.enabled: maybe
      sluice.tls.verify.ca_file: ""
)")),
      ElementsAre(
          E(3, 15, "TargetGroups[0].Protocol",
            "protocol 'QUIC' is invalid; allowed: HTTP, HTTPS, TCP, TLS, UDP, TCP_UDP"),
          E(6, 31, at + ".sluice.tls.server_name",
            "sluice.tls.server_name 'bad name' is not a host name (letters, "
            "digits, '-' and '.', 1..253 bytes)"),
          E(7, 34, at + ".sluice.tls.verify.enabled", "expected true or false, got 'maybe'"),
          E(8, 34, at + ".sluice.tls.verify.ca_file", "file path is empty")));
  // TLS settings on a group that makes no TLS connection are a mistake, not a no-op.
  EXPECT_THAT(
      Errors(WithTargetGroups(R"(
  - Name: tg
    Port: 80
    Attributes:
      sluice.tls.verify.enabled: true
)")),
      ElementsAre(E(5, 7, at,
                    "sluice.tls.* attributes need Protocol HTTPS or TLS, or HealthCheckProtocol "
                    "HTTPS")));
  // An HTTPS group is checked over HTTPS unless told otherwise; HTTP checks of it stay HTTP.
  const Config cfg = testing::MustLoad(WithTargetGroups(R"(
  - Name: a
    Protocol: HTTPS
    Port: 443
  - Name: b
    Protocol: HTTPS
    Port: 443
    HealthCheckProtocol: HTTP
  - Name: c
    Port: 80
    HealthCheckProtocol: HTTPS
    Attributes: {sluice.tls.server_name: api.internal}
)"));
  EXPECT_EQ(cfg.target_groups[0].health_check.protocol, "HTTPS");
  EXPECT_EQ(cfg.target_groups[1].health_check.protocol, "HTTP");
  EXPECT_EQ(cfg.target_groups[2].protocol, "HTTP");
  EXPECT_EQ(cfg.target_groups[2].attributes.tls_server_name, "api.internal");
}

TEST(TargetGroupErrorsTest, HealthCheckRanges) {
  EXPECT_THAT(Errors(WithTargetGroups(R"(
  - Name: tg
    Port: 80
    HealthCheckPort: 0
    HealthCheckPath: health
    HealthCheckIntervalSeconds: 301
    HealthCheckTimeoutSeconds: 1
    HealthyThresholdCount: 11
    UnhealthyThresholdCount: 1
)")),
              ElementsAre(E(4, 22, "TargetGroups[0].HealthCheckPort",
                            "health check port '0' is invalid; allowed: traffic-port or 1..65535"),
                          E(5, 22, "TargetGroups[0].HealthCheckPath",
                            "health check path 'health' must start with '/'"),
                          E(6, 33, "TargetGroups[0].HealthCheckIntervalSeconds",
                            "health check interval 301 is out of range 5..300"),
                          E(7, 32, "TargetGroups[0].HealthCheckTimeoutSeconds",
                            "health check timeout 1 is out of range 2..120"),
                          E(8, 28, "TargetGroups[0].HealthyThresholdCount",
                            "healthy threshold 11 is out of range 2..10"),
                          E(9, 30, "TargetGroups[0].UnhealthyThresholdCount",
                            "unhealthy threshold 1 is out of range 2..10")));
}

TEST(TargetGroupErrorsTest, TimeoutMustBeBelowInterval) {
  EXPECT_THAT(Errors(WithTargetGroups(R"(
  - {Name: a, Port: 80, HealthCheckIntervalSeconds: 10, HealthCheckTimeoutSeconds: 10}
  - {Name: b, Port: 80, HealthCheckIntervalSeconds: 5}
  - {Name: c, Protocol: TCP, Port: 80, HealthCheckIntervalSeconds: 10}
)")),
              ElementsAre(E(2, 84, "TargetGroups[0].HealthCheckTimeoutSeconds",
                            "health check timeout 10 must be smaller than the interval 10 "
                            "(HealthCheckIntervalSeconds)"),
                          E(3, 53, "TargetGroups[1].HealthCheckIntervalSeconds",
                            "health check interval 5 must be greater than the timeout 5 "
                            "(HealthCheckTimeoutSeconds not set: the default for this group's "
                            "protocol)"),
                          // A TCP group's checks time out after 10 s unless told (§8.7).
                          E(4, 68, "TargetGroups[2].HealthCheckIntervalSeconds",
                            "health check interval 10 must be greater than the timeout 10 "
                            "(HealthCheckTimeoutSeconds not set: the default for this group's "
                            "protocol)")));
}

TEST(TargetGroupErrorsTest, Matcher) {
  EXPECT_THAT(
      Errors(WithTargetGroups(R"(
  - {Name: a, Port: 80, Matcher: {HttpCode: "200-"}}
  - {Name: b, Port: 80, Matcher: {HttpCode: 500}}
  - {Name: c, Port: 80, Matcher: {HttpCode: "299-200"}}
  - {Name: d, Port: 80, Matcher: {HttpCode: "200, 202"}}
  - {Name: e, Port: 80, Matcher: {GrpcCode: "12"}}
  - {Name: f, Port: 80, Matcher: {HttpCode: "200,202,301-399"}}
)")),
      ElementsAre(E(2, 45, "TargetGroups[0].Matcher.HttpCode",
                    "matcher '200-' is invalid: '200-' is not a code or range; expected codes "
                    "like 200, 200-299 or 200,202,301"),
                  E(3, 45, "TargetGroups[1].Matcher.HttpCode",
                    "matcher '500' is invalid: code 500 is out of range 200..499"),
                  E(4, 45, "TargetGroups[2].Matcher.HttpCode",
                    "matcher '299-200' is invalid: range 299-200 ends before it starts"),
                  E(5, 45, "TargetGroups[3].Matcher.HttpCode",
                    "matcher '200, 202' is invalid: ' 202' is not a code or range; expected "
                    "codes like 200, 200-299 or 200,202,301"),
                  E(6, 45, "TargetGroups[4].Matcher.GrpcCode",
                    "GrpcCode is only for target groups of ProtocolVersion GRPC; use HttpCode")));
}

// Matcher.GrpcCode (reference §2.3): GRPC groups only, codes 0..99; HttpCode is refused there.
TEST(TargetGroupErrorsTest, GrpcMatcher) {
  EXPECT_THAT(
      Errors(WithTargetGroups(R"(
  - {Name: a, Port: 80, ProtocolVersion: GRPC, Matcher: {GrpcCode: "100"}}
  - {Name: b, Port: 80, ProtocolVersion: GRPC, Matcher: {GrpcCode: "0-"}}
  - {Name: c, Port: 80, ProtocolVersion: GRPC, Matcher: {HttpCode: "200"}}
  - {Name: d, Port: 80, ProtocolVersion: HTTP2, Matcher: {GrpcCode: "0"}}
  - {Name: e, Port: 80, ProtocolVersion: GRPC, Matcher: {GrpcCode: "5-1"}}
  - {Name: f, Port: 80, ProtocolVersion: GRPC, Matcher: {}}
  - {Name: g, Port: 80, ProtocolVersion: GRPC, Matcher: {GrpcCode: "012"}}
)")),
      ElementsAre(
          E(2, 68, "TargetGroups[0].Matcher.GrpcCode",
            "matcher '100' is invalid: code 100 is out of range 0..99"),
          E(3, 68, "TargetGroups[1].Matcher.GrpcCode",
            "matcher '0-' is invalid: '0-' is not a code or range; expected codes like 0, 0-5 "
            "or 0,1,12"),
          E(4, 68, "TargetGroups[2].Matcher.HttpCode",
            "HttpCode is not used by GRPC target groups (their health checks are judged by the "
            "grpc-status); use GrpcCode"),
          E(5, 69, "TargetGroups[3].Matcher.GrpcCode",
            "GrpcCode is only for target groups of ProtocolVersion GRPC; use HttpCode"),
          E(6, 68, "TargetGroups[4].Matcher.GrpcCode",
            "matcher '5-1' is invalid: range 5-1 ends before it starts"),
          E(7, 57, "TargetGroups[5].Matcher.GrpcCode", "missing required field 'GrpcCode'"),
          E(8, 68, "TargetGroups[6].Matcher.GrpcCode",
            "matcher '012' is invalid: '012' is not a code or range; expected codes like 0, "
            "0-5 or 0,1,12")));
}

// A GRPC group's checks default to path /AWS.ALB/healthcheck and GrpcCode 12; an HTTP2
// group's are HTTP ones (HttpCode); the export writes each group's own matcher back.
TEST(TargetGroupErrorsTest, GrpcAndHttp2GroupDefaults) {
  Config c = testing::MustLoad(WithTargetGroups(R"(
  - {Name: a, Port: 50051, ProtocolVersion: GRPC}
  - Name: b
    Port: 50051
    ProtocolVersion: GRPC
    HealthCheckPath: /grpc.health.v1.Health/Check
    Matcher: {GrpcCode: "0,1,5-12"}
  - {Name: c, Port: 8080, ProtocolVersion: HTTP2, Matcher: {HttpCode: "200-299"}}
)"));
  ASSERT_THAT(c.target_groups, SizeIs(3));
  const HealthCheck& a = c.target_groups[0].health_check;
  EXPECT_EQ(a.path, "/AWS.ALB/healthcheck");
  EXPECT_EQ(a.grpc_matcher, "12");
  const HealthCheck& b = c.target_groups[1].health_check;
  EXPECT_EQ(b.path, "/grpc.health.v1.Health/Check");
  EXPECT_EQ(b.grpc_matcher, "0,1,5-12");
  const HealthCheck& h2 = c.target_groups[2].health_check;
  EXPECT_EQ(h2.path, "/");
  EXPECT_EQ(h2.matcher, "200-299");
  const std::string yaml = ExportYaml(c);
  EXPECT_THAT(yaml, HasSubstr("Matcher: {GrpcCode: \"12\"}"));
  EXPECT_THAT(yaml, HasSubstr("Matcher: {GrpcCode: \"0,1,5-12\"}"));
  EXPECT_THAT(yaml, HasSubstr("Matcher: {HttpCode: \"200-299\"}"));
  EXPECT_THAT(yaml, Not(HasSubstr("HttpCode: \"200\"}")));
}

TEST(TargetGroupErrorsTest, TcpHealthChecksTakeNoPathOrMatcher) {
  EXPECT_THAT(Errors(WithTargetGroups(R"(
  - Name: a
    Port: 80
    HealthCheckProtocol: TCP
    HealthCheckPath: /health
    Matcher: {HttpCode: "200"}
  - {Name: b, Port: 80, HealthCheckProtocol: UDP}
)")),
              ElementsAre(E(5, 22, "TargetGroups[0].HealthCheckPath",
                            "HealthCheckPath is not used by TCP health checks; remove it"),
                          E(6, 14, "TargetGroups[0].Matcher",
                            "Matcher is not used by TCP health checks; remove it"),
                          E(7, 46, "TargetGroups[1].HealthCheckProtocol",
                            "health check protocol 'UDP' is invalid; allowed: HTTP, HTTPS, TCP")));
}

TEST(TargetGroupErrorsTest, AttributeKeysAndValues) {
  const std::string at = "TargetGroups[0].Attributes.";
  EXPECT_THAT(
      Errors(WithTargetGroups(R"(
  - Name: tg
    Port: 80
    Attributes:
      deregistration_delay.timeout_seconds: 3601
      stickiness.type: source_ip
      stickiness.lb_cookie.duration_seconds: 0
      slow_start.duration_seconds: 10
      target_failover.on_deregistration: rebalance
      deregistration_delay: 5
)")),
      ElementsAre(
          E(5, 45, at + "deregistration_delay.timeout_seconds",
            "deregistration_delay.timeout_seconds 3601 is out of range 0..3600"),
          E(6, 24, at + "stickiness.type",
            "stickiness.type 'source_ip' is for network load balancer target groups (TCP, UDP, "
            "TCP_UDP); this group's protocol is HTTP"),
          E(7, 46, at + "stickiness.lb_cookie.duration_seconds",
            "stickiness.lb_cookie.duration_seconds 0 is out of range 1..604800"),
          E(8, 36, at + "slow_start.duration_seconds",
            "slow_start.duration_seconds 10 is invalid; allowed: 0 (off) or 30..900"),
          E(9, 7, at + "target_failover.on_deregistration",
            std::string("target group attribute 'target_failover.on_deregistration' is not "
                        "supported by "
                        "Sluice; supported: ") +
                kSupported),
          E(10, 7, at + "deregistration_delay",
            std::string("unknown target group attribute 'deregistration_delay'; supported: ") +
                kSupported)));
}

TEST(TargetGroupErrorsTest, FlowTerminationAttributesAreForNetworkGroups) {
  const std::string at = "TargetGroups[0].Attributes.";
  EXPECT_THAT(
      Errors(WithTargetGroups(R"(
  - Name: tg
    Port: 80
    Attributes:
      deregistration_delay.connection_termination.enabled: true
      target_health_state.unhealthy.draining_interval_seconds: 360001
      preserve_client_ip.enabled: true
)")),
      ElementsAre(E(5, 7, at + "deregistration_delay.connection_termination.enabled",
                    "'deregistration_delay.connection_termination.enabled' is for network load "
                    "balancer target groups (TCP, TLS, UDP, TCP_UDP); this group's protocol is "
                    "HTTP"),
                  E(6, 7, at + "target_health_state.unhealthy.draining_interval_seconds",
                    "'target_health_state.unhealthy.draining_interval_seconds' is for network "
                    "load balancer target groups (TCP, TLS, UDP, TCP_UDP); this group's "
                    "protocol is HTTP"),
                  E(6, 64, at + "target_health_state.unhealthy.draining_interval_seconds",
                    "target_health_state.unhealthy.draining_interval_seconds 360001 is out of "
                    "range 0..360000"),
                  E(7, 7, at + "preserve_client_ip.enabled",
                    "'preserve_client_ip.enabled' is for network load balancer target groups "
                    "(TCP, TLS, UDP, TCP_UDP); this group's protocol is HTTP")));
  EXPECT_THAT(Errors(WithTargetGroups(R"(
  - Name: tg
    Protocol: TCP
    Port: 80
    Attributes:
      target_health_state.unhealthy.draining_interval_seconds: 60
)")),
              ElementsAre(E(6, 64, at + "target_health_state.unhealthy.draining_interval_seconds",
                            "target_health_state.unhealthy.draining_interval_seconds needs "
                            "target_health_state.unhealthy.connection_termination.enabled "
                            "false")));
}

TEST(TargetGroupErrorsTest, AttributeCombinations) {
  EXPECT_THAT(
      Errors(WithTargetGroups(R"(
  - Name: a
    Port: 80
    Attributes:
      slow_start.duration_seconds: 30
      load_balancing.algorithm.type: least_outstanding_requests
      load_balancing.algorithm.anomaly_mitigation: "on"
  - Name: b
    Port: 80
    Attributes:
      stickiness.enabled: true
      stickiness.type: app_cookie
      stickiness.app_cookie.cookie_name: AWSALBAPP-0
)")),
      ElementsAre(E(5, 36, "TargetGroups[0].Attributes.slow_start.duration_seconds",
                    "slow start cannot be combined with load_balancing.algorithm.type "
                    "least_outstanding_requests"),
                  E(7, 52, "TargetGroups[0].Attributes.load_balancing.algorithm.anomaly_mitigation",
                    "anomaly mitigation requires load_balancing.algorithm.type weighted_random"),
                  E(12, 24, "TargetGroups[1].Attributes.stickiness.type",
                    "app_cookie stickiness needs stickiness.app_cookie.cookie_name"),
                  E(13, 42, "TargetGroups[1].Attributes.stickiness.app_cookie.cookie_name",
                    "cookie name 'AWSALBAPP-0' is reserved; names starting with AWSALB belong to "
                    "the load balancer")));
}

TEST(TargetGroupErrorsTest, Targets) {
  EXPECT_THAT(Errors(WithTargetGroups(R"(
  - Name: tg
    Port: 80
    Targets:
      - {Id: 10.0.0.1}
      - {Id: 10.0.0.1, Port: 80}
      - {Id: web-1, Port: 80}
      - {Id: "::1", Port: 65536}
      - {Port: 81}
      - {Id: 10.0.0.1, Port: 81, AvailabilityZone: all}
)")),
              ElementsAre(E(6, 9, "TargetGroups[0].Targets[1]",
                            "target 10.0.0.1 port 80 is listed twice (first at line 5)"),
                          E(7, 14, "TargetGroups[0].Targets[2].Id",
                            "target Id 'web-1' is not an IP address (TargetType ip)"),
                          E(8, 27, "TargetGroups[0].Targets[3].Port",
                            "port 65536 is out of range 1..65535"),
                          E(9, 9, "TargetGroups[0].Targets[4].Id", "missing required field 'Id'"),
                          E(10, 34, "TargetGroups[0].Targets[5].AvailabilityZone",
                            "unknown field 'AvailabilityZone'; allowed: Id, Port")));
}

TEST(TargetGroupErrorsTest, TooManyTargets) {
  std::string yaml = "TargetGroups:\n  - Name: tg\n    Port: 80\n    Targets:\n";
  for (int i = 0; i < 1001; ++i) {
    yaml += "      - {Id: 10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + "}\n";
  }
  EXPECT_THAT(Errors(yaml), ElementsAre(E(5, 7, "TargetGroups[0].Targets",
                                          "a target group can have at most 1000 targets; found "
                                          "1001")));
}

TEST(TargetGroupErrorsTest, HealthChecksMayBeDisabled) {
  EXPECT_THAT(Errors(WithTargetGroups(R"(
  - {Name: tg, Port: 80, HealthCheckEnabled: false, HealthCheckPort: "8080"}
)")),
              IsEmpty());
}

}  // namespace
}  // namespace sluice::config
