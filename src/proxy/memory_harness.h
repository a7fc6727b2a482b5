// Drives a whole Worker on the calling thread over in-memory streams, on a clock the caller
// moves: the data plane below the level of a process, for unit tests and fuzz targets.
// Clients are memory streams handed to Worker::ServeDownstream; every upstream connect gets
// a memory stream whose target side the caller plays. Nothing touches a socket or sleeps.
//
// Thread: one harness per thread at a time (the fake clock is a thread-local, since the
// event loop takes a plain function pointer). Lifetime: streams returned stay valid until
// the harness is destroyed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "net/memory_transport.h"
#include "proxy/outcome.h"
#include "proxy/worker.h"
#include "snapshot/snapshot.h"

namespace sluice::proxy {

class MemoryHarness {
 public:
  struct Upstream {
    SocketAddress address;
    std::unique_ptr<net::MemoryTransport> target;  // the target's side of the stream
  };

  // Compiles `yaml` (a Sluice config; listeners get no sockets) and starts an inline worker
  // whose monotonic clock starts at 1,000,000 ms. Every finished exchange is kept (records()).
  static Result<std::unique_ptr<MemoryHarness>> Create(std::string_view yaml);
  ~MemoryHarness();

  // A new client connection to listener `listener` from 192.0.2.10:`port`; returns the
  // client's side (write requests into it, read responses from it).
  net::MemoryTransport* Connect(size_t listener = 0, uint16_t port = 40000);
  // Runs the worker until nothing is pending.
  void Run() { worker_->RunPending(); }
  // Moves the clock forward by `ms` (in steps of at most 250 ms, so every tick runs), running
  // the worker after each step.
  void Advance(int64_t ms);

  // Streams the worker opened to targets, oldest first.
  std::vector<Upstream>& upstreams() { return upstreams_; }
  // Connects to `address` fail from now on with `err` (ECONNREFUSED: nothing listens).
  void Refuse(const SocketAddress& address, int err);
  // Connects to `address` never complete from now on (packets dropped).
  void Hold(const SocketAddress& address) { held_.push_back(address); }

  struct Kept {
    ExchangeRecord record;
    std::string request_line;
    std::string tls_server_name;
  };
  const std::vector<Kept>& records() const { return sink_.kept; }
  Worker& worker() { return *worker_; }
  const observe::MetricSlots& metric_slots() const { return metric_slots_; }
  const Snapshot& snapshot() const { return *snapshot_; }

 private:
  class Connector;
  struct Sink : ExchangeSink {
    void OnExchangeDone(const ExchangeRecord& r) override {
      kept.push_back({r, std::string(r.request_line), std::string(r.tls_server_name)});
      kept.back().record.tls_server_name = {};
      kept.back().record.request_line = {};  // the view dies with the call
      kept.back().record.user_agent = kept.back().record.trace_id = {};
      kept.back().record.transformed_host = kept.back().record.transformed_uri = {};
      kept.back().record.request_transform_status = {};
    }
    std::vector<Kept> kept;
  };
  MemoryHarness();

  observe::MetricSlots metric_slots_;  // before the compiler that points to it
  SnapshotCompiler compiler_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::unique_ptr<Connector> connector_;
  Sink sink_;
  std::unique_ptr<Worker> worker_;
  std::vector<std::unique_ptr<net::MemoryTransport>> clients_;
  std::vector<Upstream> upstreams_;
  std::vector<std::pair<SocketAddress, int>> refused_;
  std::vector<SocketAddress> held_;
};

}  // namespace sluice::proxy
