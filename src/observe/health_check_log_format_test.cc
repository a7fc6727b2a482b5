#include "observe/health_check_log_format.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace sluice::observe {
namespace {

constexpr std::string_view kGroup =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/fedcba9876543210";

TEST(HealthCheckLogFormat, FailedHttpCheck) {
  HealthCheckLogEntry e;
  e.unix_us = 1763719205123456;  // 2025-11-21T10:00:05.123456Z
  e.elb = "app/web/0123456789abcdef";
  e.group_id = kGroup;
  e.target = *SocketAddress::Parse("10.0.0.5", 8080);
  e.latency_ms = 2;
  e.healthy = false;
  e.status_code = 503;
  e.reason = "Target.ResponseCodeMismatch";
  std::string line;
  AppendHealthCheckLogLine(e, &line);
  EXPECT_EQ(line,
            "request 2025-11-21T10:00:05.123456Z app/web/0123456789abcdef "
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/"
            "fedcba9876543210 10.0.0.5:8080 0.002 unhealthy 503 Target.ResponseCodeMismatch\n");
}

TEST(HealthCheckLogFormat, HealthyTcpCheckHasDashes) {
  HealthCheckLogEntry e;
  e.connection = true;
  e.unix_us = 1763719205000000;
  e.elb = "app/web/0123456789abcdef";
  e.group_id = kGroup;
  e.target = *SocketAddress::Parse("192.0.2.7", 443);
  e.latency_ms = 1250;
  e.healthy = true;
  std::string line;
  AppendHealthCheckLogLine(e, &line);
  EXPECT_EQ(line,
            "connection 2025-11-21T10:00:05.000000Z app/web/0123456789abcdef "
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/"
            "fedcba9876543210 192.0.2.7:443 1.250 healthy - -\n");
}

TEST(HealthCheckLogFormat, TimeoutWithoutLatencyOrIds) {
  HealthCheckLogEntry e;
  e.unix_us = 0;
  e.target = *SocketAddress::Parse("::1", 9000);
  e.reason = "Target.Timeout";
  std::string line;
  AppendHealthCheckLogLine(e, &line);
  EXPECT_EQ(line,
            "request 1970-01-01T00:00:00.000000Z - - ::1:9000 - unhealthy - Target.Timeout\n");
}

TEST(HealthCheckLogFormat, TokensAreEscaped) {
  HealthCheckLogEntry e;
  e.elb = "app/a b/1";
  e.group_id = "x\"y";
  e.target = *SocketAddress::Parse("10.0.0.1", 80);
  e.reason = "Target.FailedHealthChecks";
  std::string line;
  AppendHealthCheckLogLine(e, &line);
  EXPECT_NE(line.find(" app/a\\x20b/1 x\\x22y "), std::string::npos) << line;
  EXPECT_EQ(std::count(line.begin(), line.end(), ' '), 8) << line;
}

}  // namespace
}  // namespace sluice::observe
