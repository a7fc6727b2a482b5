// The read-only admin HTTP endpoint (loopback by default). Control plane: its own thread,
// one poll loop over non-blocking sockets (at most kMaxConnections at once, each with a
// deadline, so a silent client holds only its own slot), one request per connection; never
// touches the request path. With a token (Admin.TokenFile) every request must carry it.
//
//   GET /dashboard               the live dashboard (HTML; its files under /dashboard/)
//   GET /dashboard/model         load balancers, listeners, rules, target groups (JSON)
//   GET /targets                 every target group's target health
//   GET /targets/<group>         one group, shaped like DescribeTargetHealth's output
//   GET /ping                    "ok" (liveness of the process)
//   GET /cloudwatch?Action=...   GetMetricStatistics / ListMetrics as JSON (api/cloudwatch.h)
//   GET /alarms                  the alarms and their states, shaped like DescribeAlarms
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/ip_address.h"
#include "base/result.h"
#include "health/checker.h"
#include "http/h1_parser.h"
#include "observe/access_log_writer.h"

namespace sluice::config {
struct Config;
}

namespace sluice::control {

// JSON for one group, shaped like the DescribeTargetHealth response:
// {"TargetHealthDescriptions":[{"Target":{"Id":..,"Port":..},"HealthCheckPort":"..",
//   "TargetHealth":{"State":"unhealthy","Reason":"Target.Timeout","Description":".."}}]}
std::string TargetHealthJson(const health::TargetGroupHealth& group);
// {"TargetGroups":[{"TargetGroupName":"..", "TargetHealthDescriptions":[...]}]}
std::string AllTargetHealthJson(const std::vector<health::TargetGroupHealth>& groups);

// Renders /targets JSON (AllTargetHealthJson's shape) as a table:
// GROUP  TARGET  PORT  STATE  REASON  DESCRIPTION. Returns false if the JSON is not of that shape.
bool FormatTargetHealthTable(std::string_view json, std::string* out);

// GETs `path` from the admin endpoint at `address` (2 s timeout), with `token` as a Bearer
// Authorization when not empty; the body, or an error.
Result<std::string> FetchAdmin(const SocketAddress& address, std::string_view path,
                               std::string_view token = {});
// The body of a complete admin response (parsed by http/), or an error naming its status.
Result<std::string> AdminResponseBody(std::string_view response);

class AdminServer {
 public:
  using ReportFn = std::function<std::vector<health::TargetGroupHealth>()>;

  explicit AdminServer(ReportFn report) : report_(std::move(report)) {}
  // The Prometheus text GET /metrics serves (set before Start).
  void set_metrics(std::function<std::string()> fn) { metrics_ = std::move(fn); }
  // What GET /cloudwatch answers: status and JSON for the query string (set before Start).
  using QueryFn = std::function<std::pair<int, std::string>(std::string_view query)>;
  void set_cloudwatch(QueryFn fn) { cloudwatch_ = std::move(fn); }
  // What GET /alarms answers (set before Start).
  void set_alarms(std::function<std::string()> fn) { alarms_ = std::move(fn); }
  // What GET /access-logs reports (set before Start).
  void set_access_log_stats(std::function<observe::AccessLogStats()> fn) {
    access_log_stats_ = std::move(fn);
  }
  // The token every request must carry (set before Start); empty: none needed.
  void set_token(std::string token) { token_ = std::move(token); }
  // What GET /dashboard/model answers: the JSON of `config` (control/dashboard_model.h),
  // built when first asked for and kept until the next call, so that publishing a snapshot
  // costs nothing here (built on every publish, it was ~40 % of the CPU of an API mutation
  // at 10,000 rules, decision 0030). Any thread, any time; `config` is kept until replaced.
  void set_model(std::shared_ptr<const config::Config> config, int resolution_s);
  // A fixed answer (tests).
  void set_model(std::string json);
  ~AdminServer() { Stop(); }

  // Binds and starts serving; the error names the address.
  Result<bool> Start(const SocketAddress& address);
  void Stop();
  uint16_t port() const { return port_; }

  // Answers one request (method and path); exposed for tests.
  std::string Respond(std::string_view method, std::string_view path) const;
  // Answers the bytes a client sent (what arrived before its head ended, it closed, or the
  // 8 KiB request buffer filled), parsed by the data plane's HTTP/1 parser (http/): the
  // same grammar and limits as the listeners, no parser of its own. Exposed for tests.
  std::string Answer(std::string_view received) const;
  static constexpr size_t kMaxRequest = 8192;
  static constexpr size_t kMaxConnections = 32;
  static constexpr int64_t kReadTimeoutMs = 2000;    // from accept to a complete head
  static constexpr int64_t kWriteTimeoutMs = 10000;  // for the answer to leave
  static constexpr std::string_view kTokenCookie = "sluice_admin";

 private:
  enum class Auth { kOpen, kHeader, kQuery, kDenied };
  struct Connection;
  Auth Authorize(const http::RequestHead& head) const;
  bool TokenMatches(std::string_view presented) const;
  void Advance(Connection& c) const;
  void Serve();
  std::string token_;
  std::string ModelJson() const;
  mutable std::mutex model_mu_;
  mutable std::string model_ = "{}\n";  // the answer, once built
  // Set: the model to build the answer from at the next request (then cleared).
  mutable std::shared_ptr<const config::Config> model_config_;
  int model_resolution_s_ = 0;
  ReportFn report_;
  std::function<observe::AccessLogStats()> access_log_stats_;
  std::function<std::string()> metrics_;
  QueryFn cloudwatch_;
  std::function<std::string()> alarms_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sluice::control
