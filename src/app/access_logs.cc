#include "app/access_logs.h"

#include <algorithm>

#include "balancer/sticky_cookie.h"
#include "config/arn.h"
#include "config/forwards.h"
#include "observe/health_check_log_format.h"

namespace sluice::app {

namespace {

// The "node" address in file names (ALB: the node's IP): the first listener's bind
// address, or loopback for a wildcard one.
std::string NodeAddress(const config::LoadBalancer& lb) {
  for (const config::Listener& l : lb.listeners) {
    if (l.bind_address != "0.0.0.0" && l.bind_address != "::") return l.bind_address;
  }
  return "127.0.0.1";
}

}  // namespace

std::map<uint64_t, observe::LogDestination> AccessLogDestinations(const proxy::Snapshot& snap) {
  std::map<uint64_t, observe::LogDestination> out;
  const config::Config& cfg = snap.config;
  for (const config::LoadBalancer& lb : cfg.load_balancers) {
    const config::LoadBalancerAttributes& a = lb.attributes;
    auto add = [&](uint64_t key, const config::LoadBalancerAttributes::LogSettings& s,
                   const char* file_prefix) {
      if (!s.enabled) return;
      out[key] = observe::LogDestination{
          s.directory,        s.prefix,    cfg.account.id,
          cfg.account.region, lb.name,     config::ResourceId("loadbalancer", lb.name),
          NodeAddress(lb),    file_prefix, lb.type == "network"};
    };
    add(snapshot::AccessLogKey(lb.name), a.access_logs, "");
    add(snapshot::ConnectionLogKey(lb.name), a.connection_logs, "conn_log_");
    add(HealthCheckLogKey(lb.name), a.health_check_logs, "health_check_log_");
  }
  return out;
}

uint64_t HealthCheckLogKey(const std::string& load_balancer_name) {
  return balancer::StickyHash("health-check-log:" + load_balancer_name) | 1;
}

std::vector<std::vector<health::CheckLogStream>> HealthCheckLogStreams(
    const proxy::Snapshot& snap) {
  const config::Config& cfg = snap.config;
  std::vector<std::vector<health::CheckLogStream>> out(cfg.target_groups.size());
  config::ForEachForward(cfg, [&out](const config::LoadBalancer& lb, const config::Listener&,
                                     const config::TargetGroupTuple& t) {
    if (!lb.attributes.health_check_logs.enabled) return;
    if (t.index < 0 || static_cast<size_t>(t.index) >= out.size()) return;
    const health::CheckLogStream stream{HealthCheckLogKey(lb.name),
                                        config::LoadBalancerLogName(lb.name, lb.type)};
    std::vector<health::CheckLogStream>& v = out[static_cast<size_t>(t.index)];
    if (std::find(v.begin(), v.end(), stream) == v.end()) v.push_back(stream);
  });
  return out;
}

void PushHealthCheckLog(const health::CheckLogRecord& rec, observe::LogRing* ring,
                        std::string* scratch) {
  observe::HealthCheckLogEntry e;
  e.connection = rec.connection;
  e.unix_us = rec.unix_us;
  e.group_id = *rec.group_id;
  e.target = rec.target;
  e.latency_ms = rec.latency_ms;
  e.healthy = rec.result.outcome == health::CheckOutcome::kSuccess;
  switch (rec.result.outcome) {
    case health::CheckOutcome::kSuccess:
      break;
    case health::CheckOutcome::kTimeout:
      e.reason = health::ToString(health::Reason::kTargetTimeout);
      break;
    case health::CheckOutcome::kCodeMismatch:
      e.reason = health::ToString(health::Reason::kTargetResponseCodeMismatch);
      // An HTTP status; a gRPC check's grpc-status (kGrpcStatusBase + N) is not one.
      if (rec.result.status_code < health::kGrpcStatusBase) {
        e.status_code = rec.result.status_code;
      }
      break;
    case health::CheckOutcome::kFailed:
      e.reason = health::ToString(health::Reason::kTargetFailedHealthChecks);
      break;
  }
  for (const health::CheckLogStream& s : *rec.streams) {
    e.elb = s.elb;
    scratch->clear();
    observe::AppendHealthCheckLogLine(e, scratch);
    ring->Push(s.key, *scratch);
  }
}

AccessLogs::AccessLogs(size_t workers) {
  std::vector<observe::LogRing*> rings;
  for (size_t i = 0; i < workers; ++i) {
    rings_.push_back(std::make_unique<observe::LogRing>());
    sinks_.push_back(std::make_unique<proxy::AccessLogSink>(rings_.back().get()));
    rings.push_back(rings_.back().get());
  }
  health_ring_ = std::make_unique<observe::LogRing>(size_t{1} << 20);
  rings.push_back(health_ring_.get());
  writer_ = std::make_unique<observe::AccessLogWriter>(std::move(rings));
}

void AccessLogs::Attach(health::HealthChecker& checker) {
  checker.set_check_log_sink(
      [ring = health_ring_.get(), line = std::make_shared<std::string>()](
          const health::CheckLogRecord& rec) { PushHealthCheckLog(rec, ring, line.get()); });
}

void AccessLogs::Attach(proxy::Worker& worker) {
  // Only the listeners of load balancers with access logs on build records.
  worker.set_exchange_sink(sinks_[static_cast<size_t>(worker.index())].get(), false);
  worker.set_log_ring(rings_[static_cast<size_t>(worker.index())].get());
}

void AccessLogs::Apply(const proxy::Snapshot& snap) {
  std::map<uint64_t, observe::LogDestination> destinations = AccessLogDestinations(snap);
  const bool wanted = !destinations.empty();
  writer_->SetDestinations(std::move(destinations));
  if (wanted && !started_) {
    writer_->Start();
    started_ = true;
  }
}

void AccessLogs::Stop() {
  if (started_) writer_->Stop();
  started_ = false;
}

}  // namespace sluice::app
