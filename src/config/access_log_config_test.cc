// Access-log attributes of a load balancer, the Account section and the names derived from
// them (config/arn.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/arn.h"
#include "config/test_util.h"

namespace sluice::config {
namespace {

using ::testing::ElementsAre;
using testing::Errors;
using testing::MustLoad;

constexpr std::string_view kTail = R"(
    Listeners:
      - Protocol: HTTP
        Port: 8080
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)";

std::string Lb(std::string_view attributes) {
  return "LoadBalancers:\n  - Name: web\n    Attributes:\n" + std::string(attributes) +
         std::string(kTail);
}

TEST(AccessLogConfig, EnabledWithALocalDirectoryResolvedAgainstTheConfigFile) {
  LoadResult r = LoadConfigFromString(Lb(R"(      access_logs.s3.enabled: true
      access_logs.s3.bucket: my-bucket
      access_logs.s3.prefix: a/b
      sluice.access_logs.directory: logs
)"),
                                      "/etc/sluice/sluice.yaml");
  ASSERT_TRUE(std::holds_alternative<Config>(r));
  const LoadBalancerAttributes& a = std::get<Config>(r).load_balancers[0].attributes;
  EXPECT_TRUE(a.access_logs.enabled);
  EXPECT_EQ(a.access_logs.bucket, "my-bucket");
  EXPECT_EQ(a.access_logs.prefix, "a/b");
  EXPECT_EQ(a.access_logs.directory, "/etc/sluice/logs");
}

TEST(AccessLogConfig, OffByDefault) {
  Config c = MustLoad(Lb("      idle_timeout.timeout_seconds: 60\n"));
  EXPECT_FALSE(c.load_balancers[0].attributes.access_logs.enabled);
}

TEST(AccessLogConfig, EnabledNeedsADirectory) {
  EXPECT_THAT(
      Errors(Lb("      access_logs.s3.enabled: true\n      access_logs.s3.bucket: my-logs\n")),
      ElementsAre("t.yaml:4:7: LoadBalancers[0].Attributes: access_logs.s3.enabled is "
                  "true but sluice.access_logs.directory is not set: Sluice writes access "
                  "log files to a local directory (and uploads them from there)"));
}

TEST(AccessLogConfig, PrefixRules) {
  EXPECT_THAT(Errors(Lb("      access_logs.s3.prefix: x/AWSLogs/y\n")),
              ElementsAre("t.yaml:4:30: LoadBalancers[0].Attributes.access_logs.s3.prefix: "
                          "access_logs.s3.prefix 'x/AWSLogs/y' must not contain \"AWSLogs\""));
  EXPECT_THAT(Errors(Lb("      access_logs.s3.prefix: /x\n")),
              ElementsAre("t.yaml:4:30: LoadBalancers[0].Attributes.access_logs.s3.prefix: "
                          "access_logs.s3.prefix '/x' must not start or end with \"/\" (the key "
                          "adds its own)"));
  EXPECT_THAT(Errors(Lb("      access_logs.s3.enabled: sometimes\n")),
              ElementsAre("t.yaml:4:31: LoadBalancers[0].Attributes.access_logs.s3.enabled: "
                          "expected true or false, got 'sometimes'"));
}

TEST(AccessLogConfig, ConnectionLogsTheSameWay) {
  LoadResult r = LoadConfigFromString(Lb(R"(      connection_logs.s3.enabled: true
      connection_logs.s3.prefix: conn
      sluice.connection_logs.directory: /var/log/sluice
)"),
                                      "t.yaml");
  ASSERT_TRUE(std::holds_alternative<Config>(r));
  const LoadBalancerAttributes& a = std::get<Config>(r).load_balancers[0].attributes;
  EXPECT_TRUE(a.connection_logs.enabled);
  EXPECT_FALSE(a.access_logs.enabled);
  EXPECT_EQ(a.connection_logs.prefix, "conn");
  EXPECT_EQ(a.connection_logs.directory, "/var/log/sluice");
  EXPECT_THAT(
      Errors(Lb("      connection_logs.s3.enabled: true\n")),
      ElementsAre("t.yaml:4:7: LoadBalancers[0].Attributes: connection_logs.s3.enabled is "
                  "true but sluice.connection_logs.directory is not set: Sluice writes "
                  "connection log files to a local directory (and uploads them from there)"));
  EXPECT_THAT(Errors(Lb("      connection_logs.s3.prefix: AWSLogs\n")),
              ElementsAre(::testing::HasSubstr("connection_logs.s3.prefix 'AWSLogs' must not")));
}

TEST(AccessLogConfig, HealthCheckLogsTheSameWay) {
  LoadResult r = LoadConfigFromString(Lb(R"(      health_check_logs.s3.enabled: true
      health_check_logs.s3.bucket: my-bucket
      health_check_logs.s3.prefix: hc
      sluice.health_check_logs.directory: /var/log/sluice
)"),
                                      "t.yaml");
  ASSERT_TRUE(std::holds_alternative<Config>(r));
  const LoadBalancerAttributes& a = std::get<Config>(r).load_balancers[0].attributes;
  EXPECT_TRUE(a.health_check_logs.enabled);
  EXPECT_FALSE(a.access_logs.enabled);
  EXPECT_FALSE(a.connection_logs.enabled);
  EXPECT_EQ(a.health_check_logs.bucket, "my-bucket");
  EXPECT_EQ(a.health_check_logs.prefix, "hc");
  EXPECT_EQ(a.health_check_logs.directory, "/var/log/sluice");
  EXPECT_THAT(
      Errors(Lb("      health_check_logs.s3.enabled: true\n")),
      ElementsAre("t.yaml:4:7: LoadBalancers[0].Attributes: health_check_logs.s3.enabled "
                  "is true but sluice.health_check_logs.directory is not set: Sluice "
                  "writes health check log files to a local directory (and uploads them from "
                  "there)"));
  EXPECT_THAT(
      Errors(Lb("      health_check_logs.s3.prefix: x/AWSLogs\n")),
      ElementsAre(::testing::HasSubstr("health_check_logs.s3.prefix 'x/AWSLogs' must not")));
  EXPECT_THAT(Errors(Lb("      health_check_logs.s3.prefix: hc/\n")),
              ElementsAre(::testing::HasSubstr("must not start or end with")));
  EXPECT_THAT(Errors(Lb("      health_check_logs.s3.enabled: often\n")),
              ElementsAre(::testing::HasSubstr("expected true or false, got 'often'")));
}

TEST(AccountConfig, DefaultsAndValues) {
  Config c = MustLoad(Lb("      idle_timeout.timeout_seconds: 60\n"));
  EXPECT_EQ(c.account.id, "000000000000");
  EXPECT_EQ(c.account.region, "us-east-1");
  c = MustLoad("Account: {Id: \"123456789012\", Region: us-gov-west-1}\n" +
               Lb("      idle_timeout.timeout_seconds: 60\n"));
  EXPECT_EQ(c.account.id, "123456789012");
  EXPECT_EQ(c.account.region, "us-gov-west-1");
}

TEST(AccountConfig, Errors) {
  EXPECT_THAT(Errors("Account: {Id: \"12345\", Region: Mars}\n"),
              ElementsAre("t.yaml:1:15: Account.Id: account id '12345' must be 12 digits",
                          "t.yaml:1:32: Account.Region: region 'Mars' is not a region name "
                          "(lower-case words and a number joined by '-', like us-east-1)"));
  EXPECT_THAT(Errors("Account: {Region: -east-1}\n"), ElementsAre(::testing::HasSubstr("region")));
  EXPECT_THAT(Errors("Account: {Region: us--east-1}\n"),
              ElementsAre(::testing::HasSubstr("region")));
  EXPECT_THAT(Errors("Account: {Region: us-east-}\n"), ElementsAre(::testing::HasSubstr("region")));
  EXPECT_THAT(Errors("Account: {Colour: blue}\n"),
              ElementsAre(::testing::HasSubstr("unknown field 'Colour'; allowed: Id, Region")));
}

TEST(Arn, ShapesAndStability) {
  AccountSettings acct{"123456789012", "eu-west-3"};
  const std::string id = ResourceId("loadbalancer", "web");
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(id, ResourceId("loadbalancer", "web"));
  EXPECT_NE(id, ResourceId("targetgroup", "web"));
  EXPECT_NE(id, ResourceId("loadbalancer", "web2"));
  EXPECT_EQ(LoadBalancerLogName("web"), "app/web/" + id);
  EXPECT_EQ(LoadBalancerLogName("web", "network"), "net/web/" + id);  // CloudWatch's NLB form
  EXPECT_EQ(LoadBalancerArn(acct, "web"),
            "arn:aws:elasticloadbalancing:eu-west-3:123456789012:loadbalancer/app/web/" + id);
  EXPECT_EQ(TargetGroupArn(acct, "api"),
            "arn:aws:elasticloadbalancing:eu-west-3:123456789012:targetgroup/api/" +
                ResourceId("targetgroup", "api"));
  EXPECT_EQ(CertificateArn(acct, "site"), "arn:aws:acm:eu-west-3:123456789012:certificate/site");
}

}  // namespace
}  // namespace sluice::config
