// A worker thread: one event loop that accepts on its own SO_REUSEPORT sockets, serves its
// downstream connections for life, and owns its upstream pools. Nothing is shared with other
// workers except the immutable snapshot and the targets' atomic counters.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "balancer/picker.h"
#include "base/result.h"
#include "http/h1_parser.h"
#include "net/buffer.h"
#include "net/event_loop.h"
#include "net/splice_pipe.h"
#include "net/tcp_transport.h"
#include "net/tls_transport.h"
#include "net/transport.h"
#include "nlb/flow_hash.h"
#include "observe/log_ring.h"
#include "observe/metrics.h"
#include "proxy/deadline_wheel.h"
#include "proxy/h2_client_session.h"
#include "proxy/listen_handler.h"
#include "proxy/listener_sockets.h"
#include "proxy/outcome.h"
#include "proxy/upstream_connection.h"
#include "routing/rule_table.h"
#include "routing/transform.h"
#include "tls/client_context.h"

namespace sluice::proxy {

class DownstreamConnection;

class Worker {
 public:
  explicit Worker(int index, net::EventLoop::Clock monotonic = MonotonicMillis,
                  net::EventLoop::Clock realtime = RealtimeMillis);
  ~Worker();

  // ---- Control thread ----
  // Hands a new snapshot to the worker; it adopts it at its next loop iteration.
  // `sockets` are the listening sockets of `snapshot` (ListenerSockets::Open).
  void Publish(std::shared_ptr<const Snapshot> snapshot,
               std::shared_ptr<const ListenerSocketTable> sockets);
  // Stops accepting, lets in-flight requests finish, exits when no connection is left or
  // at `deadline_ms` (monotonic), whichever comes first.
  void BeginShutdown(int64_t deadline_ms);
  // Adopts the published snapshot on the calling thread (the worker thread does not exist
  // yet) and starts the thread. Fails, naming the resource and errno's text, when the event
  // loop could not be created, a listening socket could not be watched, or the thread could
  // not start; nothing then runs and the worker can be destroyed at once.
  Result<bool> Start();
  // For tests and fuzz targets: adopts the published snapshot like Start() but runs no
  // thread; the caller's thread becomes the loop thread and drives it with RunPending().
  Result<bool> StartInline();
  // Runs the loop until nothing is pending (EventLoop::RunPending), ticks included when the
  // clock has reached them. Inline workers only.
  int RunPending();
  void Join();
  // Snapshot generation the worker serves now (for reload acknowledgement).
  uint64_t adopted_generation() const { return adopted_generation_.load(); }

  // ---- Loop thread ----
  net::EventLoop& loop() { return loop_; }
  const std::shared_ptr<const Snapshot>& snapshot() const { return current_; }
  UpstreamPools& pools() { return pools_; }
  H2ClientPool& h2_clients() { return h2_clients_; }
  balancer::Rng& rng() { return rng_; }
  // The key of this worker's NLB flow hash (nlb/flow_hash.h), drawn at start.
  const nlb::FlowHashKey& flow_key() const { return flow_key_; }
  // This worker's CloudWatch counters: written on the loop thread, read by any thread.
  observe::WorkerMetrics& metrics() { return *metrics_; }
  const observe::WorkerMetrics& metrics() const { return *metrics_; }
  routing::MatchScratch& match_scratch() { return match_scratch_; }
  http::RequestHead& head_scratch() { return *head_scratch_; }
  http::ResponseHead& response_scratch() { return *response_scratch_; }
  balancer::Picker* picker(size_t target_group_index) {
    return target_group_index < pickers_.size() ? pickers_[target_group_index].get() : nullptr;
  }
  std::string_view http_date() const { return {date_, date_len_}; }
  // Per-worker scratch for target selection (capacity reused; never shrinks).
  std::vector<balancer::TargetStats*>& candidate_scratch() { return candidate_scratch_; }
  std::vector<uint32_t>& candidate_index_scratch() { return candidate_index_scratch_; }
  int64_t now_ms() const { return loop_.now_ms(); }
  // Wall-clock seconds, from the loop's once-per-iteration clock.
  int64_t unix_seconds() const { return loop_.unix_ms() / 1000; }
  // Opens upstream streams: TCP unless a test set another. Set before Start(); the
  // connector must outlive the worker.
  void set_connector(net::Connector* connector) { connector_ = connector; }
  net::Connector& connector() { return *connector_; }
  // Starts a TLS connection to a target of an HTTPS or TLS group: a session from `tls` with
  // this worker's resumption cache, over the connector. `alpn`: the one protocol this
  // connection offers by ALPN (a TLS listener's negotiated one), else the context's.
  // `source`: see net::Connector::Connect.
  Result<std::unique_ptr<net::Transport>> ConnectTls(
      const SocketAddress& address, const std::shared_ptr<const tls::ClientContext>& tls,
      std::string_view alpn = {}, const SocketAddress* source = nullptr);
  // A TLS handshake with a target failed or timed out: counted, and logged to stderr with
  // the target, its group, `why` and what the client got (`outcome`; at most one line per
  // second per worker; the lines left out are counted in the next one).
  void ReportTargetTlsFailure(const SocketAddress& target, const std::string& group,
                              const char* why, const char* outcome = "answered 502");
  // Where finished exchanges are reported (none by default: then no record is built). Set
  // before Start(); the sink must outlive the worker's thread.
  // `every_listener`: records for every listener (tests); else only for the listeners whose
  // load balancer has access logs on (ListenerRuntime::access_log_key).
  void set_exchange_sink(ExchangeSink* sink, bool every_listener = true) {
    exchange_sink_ = sink;
    sink_every_listener_ = every_listener;
  }
  ExchangeSink* exchange_sink() const { return exchange_sink_; }
  // The ring connection-log entries go to (none: no connection logs). Set before Start();
  // it must outlive the worker's thread. `log_line()` is a scratch string to format them in.
  void set_log_ring(observe::LogRing* ring) { log_ring_ = ring; }
  observe::LogRing* log_ring() const { return log_ring_; }
  std::string& log_line() { return log_line_; }
  // The sink that wants the exchanges of `listener`, or null.
  ExchangeSink* ExchangeSinkFor(const ListenerRuntime* listener) const {
    if (exchange_sink_ == nullptr) return nullptr;
    if (sink_every_listener_) return exchange_sink_;
    return listener != nullptr && listener->access_log_key != 0 ? exchange_sink_ : nullptr;
  }
  bool shutting_down() const { return shutting_down_; }
  int index() const { return index_; }

  // Per-worker pools so that idle connections hold no buffers and busy ones do not allocate:
  // TakeBuffer gives `b` a kDownstreamBufferSize buffer if it has none; GiveBuffer takes an
  // empty buffer's memory back (odd sizes are freed). TakeString/GiveString do the same for
  // the strings a request builds heads in. Loop thread only.
  void TakeBuffer(net::Buffer& b);
  void GiveBuffer(net::Buffer& b);
  void TakeString(std::string& s);
  void GiveString(std::string& s) {
    s.clear();
    if (s.capacity() > 15) PoolString(s);  // else small-string storage: nothing to give
  }

  // Rule-transform results, pooled like the strings: `t` gets one if it has none; Give
  // resets it (keeping its strings' capacity) and keeps it for reuse.
  void TakeTransform(std::unique_ptr<routing::TransformResult>& t);
  // Kernel pipes for tunnels that relay by splice (net/splice_pipe.h). Loop thread only.
  net::PipePool& pipes() { return pipes_; }
  void GiveTransform(std::unique_ptr<routing::TransformResult>& t);

  void Register(DownstreamConnection* conn);
  void Unregister(DownstreamConnection* conn);
  // A connection whose next check time moved closer (DownstreamConnection::NextCheckMs).
  void CheckSooner(DownstreamConnection* conn, int64_t at_ms);
  size_t connection_count() const { return timers_.size(); }
  // Accepts up to 64 connections; `open` is the socket set's count of open connections,
  // checked against the listener's cap (sluice.max_connections).
  void Accept(int listen_fd, const ListenerRuntime* listener,
              const std::shared_ptr<std::atomic<int>>& open);
  // The stream of an accepted socket: TLS (a session of the listener's context) for HTTPS
  // listeners, plain TCP otherwise.
  std::unique_ptr<net::Transport> DownstreamTransport(int fd, const ListenerRuntime& listener);
  // Serves a new downstream stream on `listener` (accepted here, or made by a test); `open`
  // (may be null) counts it while it is open.
  void ServeDownstream(std::unique_ptr<net::Transport> transport, const SocketAddress& peer,
                       const ListenerRuntime* listener,
                       std::shared_ptr<std::atomic<int>> open = nullptr);

 private:
  void PoolString(std::string& s);
  void CloseAllConnections();
  void Run();
  void OnWake();
  void Adopt(std::shared_ptr<const Snapshot> next,
             std::shared_ptr<const ListenerSocketTable> sockets);
  void Tick();
  void UpdateDate();
  void PauseAccepting();
  void ResumeAccepting();
  // Watches `fd` (a listening socket) for accepts; false, with errno set, on failure.
  bool WatchListener(int fd, ListenHandler* acceptor);

  int index_;
  net::EventLoop loop_;
  UpstreamPools pools_;
  H2ClientPool h2_clients_{this};  // HTTP/2 connections to targets, shared by exchanges
  balancer::FastRng rng_;
  nlb::FlowHashKey flow_key_;
  std::unique_ptr<observe::WorkerMetrics> metrics_ = std::make_unique<observe::WorkerMetrics>();
  routing::MatchScratch match_scratch_;
  std::unique_ptr<http::RequestHead> head_scratch_;
  std::unique_ptr<http::ResponseHead> response_scratch_;
  std::vector<net::Buffer> spare_buffers_;
  net::PipePool pipes_;  // splice pipes of bulk tunnels (downstream_tunnel.cc)
  std::vector<std::string> spare_strings_;
  std::vector<std::unique_ptr<routing::TransformResult>> spare_transforms_;
  std::vector<balancer::TargetStats*> candidate_scratch_;
  std::vector<uint32_t> candidate_index_scratch_;
  std::shared_ptr<const Snapshot> current_;
  std::shared_ptr<const ListenerSocketTable> current_sockets_;
  std::vector<std::unique_ptr<balancer::Picker>> pickers_;
  // By listening fd: accepts for TCP-based listeners, datagram relays for UDP ones.
  std::map<int, std::unique_ptr<ListenHandler>> acceptors_;
  // Every downstream connection, in the slot of its next check time (intrusive).
  DeadlineWheel<DownstreamConnection> timers_{loop_.now_ms()};
  char date_[40] = {};
  size_t date_len_ = 0;
  int64_t date_second_ = -1;
  std::string plain_http_answer_;  // the 400 page for HTTP on a TLS port, with today's Date
  bool shutting_down_ = false;
  ExchangeSink* exchange_sink_ = nullptr;
  bool sink_every_listener_ = true;
  observe::LogRing* log_ring_ = nullptr;
  std::string log_line_;
  net::TcpConnector tcp_connector_;
  net::Connector* connector_ = &tcp_connector_;
  int64_t shutdown_deadline_ms_ = 0;
  int64_t tls_failure_logged_ms_ = -1000000;  // last target TLS failure line
  uint64_t tls_failures_unlogged_ = 0;
  uint64_t unhealthy_transitions_seen_ = 0;  // balancer::UnhealthyTransitions() last looked at
  int64_t accept_paused_until_ms_ = 0;       // out of file descriptors: accepting resumes then
  std::string adopt_error_;                  // the first listening socket Adopt() could not watch

  std::mutex mailbox_mu_;  // guards the three fields below; taken only on reload/shutdown
  std::shared_ptr<const Snapshot> mailbox_;
  std::shared_ptr<const ListenerSocketTable> mailbox_sockets_;
  int64_t mailbox_shutdown_deadline_ = -1;
  std::atomic<uint64_t> adopted_generation_{0};
  std::thread thread_;
};

}  // namespace sluice::proxy
