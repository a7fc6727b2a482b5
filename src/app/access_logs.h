// The process's access logs: a log ring and an exchange sink per worker, and one writer
// thread that turns the rings into ALB-named gzip files (observe/access_log_writer.h). The
// writer starts when a snapshot first enables access logs and runs until Stop.
// Control (main) thread; the sinks run on their workers' threads.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/s3_upload.h"
#include "health/checker.h"
#include "observe/access_log_writer.h"
#include "proxy/access_log_sink.h"
#include "proxy/worker.h"

namespace sluice::app {

// The destinations `snap` asks for, by access-log key: one per load balancer with
// access_logs.s3.enabled, connection_logs.s3.enabled or health_check_logs.s3.enabled.
std::map<uint64_t, observe::LogDestination> AccessLogDestinations(const proxy::Snapshot& snap);

// The stream key of a load balancer's health-check log (as snapshot::AccessLogKey is of its
// access log).
uint64_t HealthCheckLogKey(const std::string& load_balancer_name);

// The health-check log streams of each target group of `snap` (by its index in
// snap.config.target_groups): the load balancers with health_check_logs.s3.enabled whose
// listeners forward to it.
std::vector<std::vector<health::CheckLogStream>> HealthCheckLogStreams(const proxy::Snapshot& snap);

// Formats a completed check and pushes it into `ring` once per stream (never blocks: a full
// ring drops and counts). The checker thread is the ring's only producer.
void PushHealthCheckLog(const health::CheckLogRecord& rec, observe::LogRing* ring,
                        std::string* scratch);

// The store the config's S3 section names, its credentials read now; nullopt when there is
// no S3 section, or with *error when the endpoint or the credentials cannot be used.
std::optional<S3Target> S3TargetOf(const config::Config& cfg, std::string* error);

// Queues for upload the completed files of each destination with a bucket that are in its
// directory now: what an earlier run completed but could not upload.
void QueueLeftoverLogFiles(const std::map<uint64_t, observe::LogDestination>& destinations,
                           S3Uploader* uploader);

class AccessLogs {
 public:
  // How long Stop keeps uploading the files completed at shutdown.
  static constexpr int kUploadBudgetOnStopMs = 10000;
  // `log`: one line to the process log (any thread: the uploader's calls it).
  AccessLogs(size_t workers, S3Uploader::LogFn log);
  ~AccessLogs() { Stop(); }
  // Before the worker starts.
  void Attach(proxy::Worker& worker);
  // Before the checker starts: its completed checks go to the health-check logs.
  void Attach(health::HealthChecker& checker);
  // Every published snapshot (start and reloads).
  void Apply(const proxy::Snapshot& snap);
  // After the workers have stopped: drains and completes every file, then uploads what it
  // can within kUploadBudgetOnStopMs.
  void Stop();
  observe::AccessLogStats stats() const { return writer_->stats(); }

 private:
  std::vector<std::unique_ptr<observe::LogRing>> rings_;
  std::unique_ptr<observe::LogRing> health_ring_;  // the health checker's (1 MiB)
  std::vector<std::unique_ptr<proxy::AccessLogSink>> sinks_;
  // Declared before writer_: the writer's completion callback enqueues into it, so it must
  // outlive the writer.
  S3Uploader::LogFn log_;
  std::unique_ptr<S3Uploader> uploader_;
  std::unique_ptr<observe::AccessLogWriter> writer_;
  bool started_ = false;
  bool leftovers_queued_ = false;
};

}  // namespace sluice::app
