// The worker's exchange sink when access logs are on: turns each finished exchange of a
// load balancer with `access_logs.s3.enabled` into one ALB access-log entry (reference §5.2)
// and pushes it into the worker's log ring; the log writer thread (observe/) does the rest.
// A full ring drops the entry and counts it: the worker never waits.
// Loop thread of its worker; one sink per worker; the ring outlives it.
#pragma once

#include <string>

#include "observe/access_log_format.h"
#include "observe/log_ring.h"
#include "proxy/outcome.h"

namespace sluice::proxy {

class AccessLogSink final : public ExchangeSink {
 public:
  explicit AccessLogSink(observe::LogRing* ring) : ring_(ring) {}
  void OnExchangeDone(const ExchangeRecord& record) override;

 private:
  observe::LogRing* ring_;
  // The line is written here, then copied into the ring; kept up to kKeptLineBytes.
  static constexpr size_t kKeptLineBytes = size_t{64} << 10;
  std::string line_;
};

// The access-log entry of an exchange (pure; views into `record`). Exposed for tests.
observe::AccessLogEntry ToAccessLogEntry(const ExchangeRecord& record);

}  // namespace sluice::proxy
