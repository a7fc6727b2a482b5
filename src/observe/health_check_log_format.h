// One ALB health-check log entry (reference §5.6): one line per completed health check.
// AWS names the fields (type, time, elb, target_group_id, target_addr, latency, status,
// status_code, reason_code) but the column order was not in the sources at hand; Sluice's
// order is the one below (docs/alb-compatibility.md):
//   type time elb target_group_id target:port latency status status_code reason_code
// e.g.
//   request 2025-11-21T10:00:05.123000Z app/web/0123456789abcdef
//     arn:aws:elasticloadbalancing:...:targetgroup/api/fedcba9876543210 10.0.0.5:8080 0.002
//     unhealthy 503 Target.ResponseCodeMismatch
// Pure; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/ip_address.h"

namespace sluice::observe {

struct HealthCheckLogEntry {
  bool connection = false;    // type: "connection" (TCP check) or "request" (HTTP, HTTPS, gRPC)
  int64_t unix_us = 0;        // when the check completed
  std::string_view elb;       // "app/<name>/<id>"
  std::string_view group_id;  // the target group's ARN
  SocketAddress target;       // address and health-check port
  int64_t latency_ms = -1;    // from the check's start to its result; -1: "-"
  bool healthy = false;       // this check's result: healthy or unhealthy
  int status_code = 0;        // the status the target answered; 0: "-"
  std::string_view reason;    // Target.Timeout, ...; empty: "-" (a healthy check)
};

// Appends the entry and a newline. The text fields are tokens (no space, quote or byte
// outside printable ASCII: those become \xHH).
void AppendHealthCheckLogLine(const HealthCheckLogEntry& e, std::string* out);

}  // namespace sluice::observe
