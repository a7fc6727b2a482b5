// The process's access logs: a log ring and an exchange sink per worker, and one writer
// thread that turns the rings into ALB-named gzip files (observe/access_log_writer.h). The
// writer starts when a snapshot first enables access logs and runs until Stop.
// Control (main) thread; the sinks run on their workers' threads.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "observe/access_log_writer.h"
#include "proxy/access_log_sink.h"
#include "proxy/worker.h"

namespace sluice::app {

// The destinations `snap` asks for, by access-log key: one per load balancer with
// access_logs.s3.enabled.
std::map<uint64_t, observe::LogDestination> AccessLogDestinations(const proxy::Snapshot& snap);

class AccessLogs {
 public:
  explicit AccessLogs(size_t workers);
  ~AccessLogs() { Stop(); }
  // Before the worker starts.
  void Attach(proxy::Worker& worker);
  // Every published snapshot (start and reloads).
  void Apply(const proxy::Snapshot& snap);
  // After the workers have stopped: drains and completes every file.
  void Stop();
  observe::AccessLogStats stats() const { return writer_->stats(); }

 private:
  std::vector<std::unique_ptr<observe::LogRing>> rings_;
  std::vector<std::unique_ptr<proxy::AccessLogSink>> sinks_;
  std::unique_ptr<observe::AccessLogWriter> writer_;
  bool started_ = false;
};

}  // namespace sluice::app
