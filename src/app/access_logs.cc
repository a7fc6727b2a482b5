#include "app/access_logs.h"

#include <algorithm>
#include <filesystem>

#include "balancer/sticky_cookie.h"
#include "config/arn.h"
#include "config/forwards.h"
#include "config/s3.h"
#include "config/webhook_url.h"
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
      out[key] = observe::LogDestination{s.directory,
                                         s.prefix,
                                         cfg.account.id,
                                         cfg.account.region,
                                         lb.name,
                                         config::ResourceId("loadbalancer", lb.name),
                                         NodeAddress(lb),
                                         file_prefix,
                                         lb.type == "network",
                                         cfg.s3.endpoint.empty() ? std::string() : s.bucket};
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

std::optional<S3Target> S3TargetOf(const config::Config& cfg, std::string* error) {
  const config::S3Settings& s = cfg.s3;
  if (s.endpoint.empty()) return std::nullopt;
  S3Target t;
  config::HttpUrl url;
  if (!config::ParseHttpUrl(s.endpoint, &url, error)) return std::nullopt;
  t.tls = url.tls;
  t.host = url.host;
  t.port = url.port;
  t.region = s.region.empty() ? cfg.account.region : s.region;
  t.keep_local_files = s.keep_local_files;
  std::optional<config::AwsCredentials> creds = config::ReadS3Credentials(s, error);
  if (!creds) return std::nullopt;
  t.credentials = std::move(*creds);
  return t;
}

void QueueLeftoverLogFiles(const std::map<uint64_t, observe::LogDestination>& destinations,
                           S3Uploader* uploader) {
  namespace fs = std::filesystem;
  for (const auto& [key, d] : destinations) {
    if (d.bucket.empty()) continue;
    const std::string start = observe::AccessLogFileNameStart(d);
    const fs::path root = observe::AccessLogRoot(d);
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!it->is_regular_file(ec) || !name.starts_with(start) || !name.ends_with(".log.gz")) {
        continue;
      }
      const std::string path = it->path().string();
      uploader->Enqueue(path, d.bucket, path.substr(d.directory.size() + 1));
    }
  }
}

AccessLogs::AccessLogs(size_t workers, S3Uploader::LogFn log) : log_(std::move(log)) {
  std::vector<observe::LogRing*> rings;
  for (size_t i = 0; i < workers; ++i) {
    rings_.push_back(std::make_unique<observe::LogRing>());
    sinks_.push_back(std::make_unique<proxy::AccessLogSink>(rings_.back().get()));
    rings.push_back(rings_.back().get());
  }
  health_ring_ = std::make_unique<observe::LogRing>(size_t{1} << 20);
  rings.push_back(health_ring_.get());
  writer_ = std::make_unique<observe::AccessLogWriter>(std::move(rings));
  uploader_ = std::make_unique<S3Uploader>(log_);
  writer_->set_on_completed(
      [up = uploader_.get()](const observe::LogDestination& d, const std::string& path) {
        if (d.bucket.empty() || path.size() <= d.directory.size() + 1) return;
        up->Enqueue(path, d.bucket, path.substr(d.directory.size() + 1));
      });
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
  std::string error;
  std::optional<S3Target> target = S3TargetOf(snap.config, &error);
  if (!error.empty()) {
    log_("S3 upload of log files paused: " + error);
  }
  const bool upload = target.has_value();
  const bool keep_local = upload && target->keep_local_files;
  uploader_->Configure(std::move(target));
  // Once, at the first snapshot that uploads: what an earlier run completed but could not
  // upload is still in the directories (not with KeepLocalFiles: those were uploaded).
  if (upload && !leftovers_queued_) {
    leftovers_queued_ = true;
    if (!keep_local) QueueLeftoverLogFiles(destinations, uploader_.get());
  }
  writer_->SetDestinations(std::move(destinations));
  if (upload) uploader_->Start();
  if (wanted && !started_) {
    writer_->Start();
    started_ = true;
  }
}

void AccessLogs::Stop() {
  if (started_) writer_->Stop();
  started_ = false;
  // The files the writer just completed get their chance too.
  uploader_->Stop(kUploadBudgetOnStopMs);
}

}  // namespace sluice::app
