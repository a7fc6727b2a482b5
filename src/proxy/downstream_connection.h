// One client connection and the HTTP/1.1 exchanges on it: reads a request head, classifies
// and routes it, answers locally or forwards it to a target, and streams both bodies with
// bounded buffers. Pipelined requests are answered in order, one at a time.
// Loop thread only; the connection deletes itself (deferred) when it closes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "balancer/picker.h"
#include "base/ip_address.h"
#include "config/model.h"
#include "http/desync.h"
#include "http/h1_framing.h"
#include "net/buffer.h"
#include "net/event_loop.h"
#include "net/splice_pipe.h"
#include "net/transport.h"
#include "proxy/deadline_wheel.h"
#include "proxy/flow_keepalive.h"
#include "proxy/listener_sockets.h"
#include "proxy/outcome.h"
#include "proxy/upstream_connection.h"
#include "routing/rule_table.h"
#include "routing/transform.h"

namespace sluice::proxy {

class Worker;
class UpstreamConnection;
struct RequestTarget;

inline constexpr size_t kDownstreamBufferSize = 16 * 1024;
inline constexpr int64_t kHeaderTimeoutMs = 10000;   // whole head must arrive within this
inline constexpr int64_t kConnectTimeoutMs = 10000;  // ALB's connect budget to a target
// A TLS listener's own TCP keep-alives once a peer sent some (reference §8.5: every 20 s).
inline constexpr int kTlsKeepAliveSeconds = 20;
inline constexpr int64_t kLingerMs = 2000;             // draining a client's input after our close
inline constexpr int64_t kHandshakeTimeoutMs = 10000;  // a TLS handshake must finish within this

class H2Session;

class DownstreamConnection final : public net::EventHandler {
 public:
  // kConnection: an accepted client connection. kH2Stream: one HTTP/2 stream's exchange,
  // over an H2StreamTransport (h2_session.h); it is not a connection of its own (no
  // connection metrics or connection log) and serves exactly one request.
  enum class Kind : uint8_t { kConnection, kH2Stream };
  // `transport` is the accepted stream, not yet watched (the worker watches it).
  DownstreamConnection(Worker* worker, std::unique_ptr<net::Transport> transport,
                       const SocketAddress& peer, const ListenerRuntime* listener,
                       Kind kind = Kind::kConnection);
  ~DownstreamConnection() override;
  // Before Start: counts this connection in its listener's open connections (null: none)
  // until it closes.
  void CountOn(std::shared_ptr<std::atomic<int>> open) {
    if (open != nullptr) open->fetch_add(1, std::memory_order_relaxed);
    listener_open_ = std::move(open);
  }
  // Watches the transport; false (and the connection is closed) when it cannot.
  bool Start();

  void OnEvents(uint32_t events) override;
  void OnUpstreamEvents(uint32_t events);
  // Called by the worker's tick when the connection's check time (NextCheckMs) has come:
  // enforces the timeouts that have passed.
  void CheckTimers(int64_t now_ms);
  // When the timeouts must next be checked: the earliest deadline of the current phase, and
  // never later than the last activity plus min(idle timeout, header timeout), so that a head
  // or a connect that starts later needs no re-arming (its deadline is later still). The
  // request path thus never touches the worker's timer wheel.
  int64_t NextCheckMs() const;
  bool closed() const { return closed_; }
  // Graceful shutdown: close now if idle, else after the current response.
  void BeginShutdown();
  // Immediate close (shutdown deadline passed).
  void ForceClose() { Close(); }
  // An HTTP/2 stream's exchange takes what its connection knows from the TLS handshake: the
  // TLS header lines, the handshake time and the connection's trace id (access log).
  void AdoptConnectionFacts(DownstreamConnection& connection);

  DownstreamConnection* next = nullptr;  // the worker's timer wheel (deadline_wheel.h)
  DownstreamConnection* prev = nullptr;
  uint32_t wheel_slot = kNotArmed;

 private:
  enum class Phase {
    kIdle,        // between requests, nothing buffered
    kHead,        // part of a request head received
    kLocal,       // writing a response we generate ourselves
    kForwarding,  // exchanging with a target
    kClosing,     // flushing the last bytes, then close
    kLingering,   // our side shut down; discarding input until the client closes (or 2 s)
    kTunnel,      // a WebSocket after the target's 101: bytes both ways (downstream_tunnel.cc)
    kH2,          // ALPN chose h2: the bytes go to h2_ (h2_session.h), each stream an exchange
  };
  enum class ResponseState { kHead, kBody, kDone };

  void Pump();
  bool ReadDownstream();
  [[gnu::noinline, gnu::cold]] bool DiscardDownstream();
  // Clears handshaking_ once the transport's handshake is done (cold: TLS only); true when
  // it finished in this call.
  [[gnu::noinline]] bool HandshakeProgressed();
  [[gnu::noinline]] void HandshakeDone();
  bool FlushDownstream();
  // HTTP/2 (downstream_h2.cc): after a handshake that chose h2, the connection becomes an
  // HTTP/2 session; PumpH2 runs it, CheckH2Timers closes it when idle.
  [[gnu::noinline, gnu::cold]] void StartH2();
  void PumpH2();
  void CheckH2Timers(int64_t now_ms);
  bool TryStartRequest();
  void HandleRequest(http::RequestHead& head);
  // `target` is head.target already split (SplitRequestTarget).
  void ForwardRequest(http::RequestHead& head, const RequestTarget& target,
                      const config::Action& action, int priority);
  // Target group of a forward action: group stickiness (AWSALBTG), else the weights. -1: none.
  int ChooseTargetGroup(const http::RequestHead& head, const config::Action& action, int priority);
  // Target inside the group: stickiness cookie, else the picker over healthy targets
  // (fail-open to all when none is healthy), with slow start.
  const TargetRuntime* ChooseTarget(const http::RequestHead& head, size_t tg_index);
  // Stages of ChooseTarget (downstream_target.cc).
  const TargetRuntime* FindStickyTarget(const http::RequestHead& head, const TargetGroupRuntime& tg,
                                        const config::TargetGroupAttributes& attrs,
                                        const std::vector<uint32_t>& index, bool lb_cookie,
                                        int64_t now);
  void StickToTarget(const TargetGroupRuntime& tg, const config::TargetGroupAttributes& attrs,
                     const TargetRuntime& chosen, bool lb_cookie, bool app_cookie, int64_t now);
  void AppendStickyCookie(std::string_view name, const balancer::StickyValue& value, bool cors);
  void StartLocalResponse(bool close_after);
  // Connection (keep_alive_), Expect (expect_continue_) and the Host fields.
  void ReadConnectionFields(const http::RequestHead& head, const http::HeaderField** host,
                            int* host_count);
  // Body framing, request target, Host and method checks: false when the request was
  // answered with an error. `host`: the first Host field (null if none).
  bool CheckRequest(const http::RequestHead& head, const http::HeaderField* host, int host_count,
                    RequestTarget* target, bool* host_valid);
  // Classifies the request (verdict_) and applies the listener's desync mitigation mode:
  // false when the request was refused (400 and close).
  bool ApplyDesyncMode(const http::RequestHead& head, config::DesyncMitigationMode mode);
  // The matched rule's terminal action: forward (after its transforms), fixed response or
  // redirect. `host` is the Host routing saw.
  void RunAction(http::RequestHead& head, const routing::MatchResult& match,
                 const RequestTarget& target, std::string_view host);
  // Rule actions answered by the load balancer itself; the head is already consumed.
  void AnswerFixedResponse(const config::Action& action);
  void AnswerRedirect(const config::Action& action, const RequestTarget& target,
                      std::string_view host);
  // Answers the request with the load balancer's error page for `cause` (outcome.h).
  void RespondError(Cause cause, bool close_after);
  bool DrainLocalRequestBody();
  bool ScanRequestBody();
  // WebSocket (downstream_tunnel.cc). An upgrade request: HTTP/1.1 GET without a body whose
  // Connection names "upgrade" and whose Upgrade names "websocket" (then upgrade_requested_).
  [[gnu::noinline, gnu::cold]] void ReadUpgradeRequest(const http::RequestHead& head);
  // The target answered the upgrade with 101: relay its head, then relay bytes both ways.
  [[gnu::noinline, gnu::cold]] void StartTunnel(const http::ResponseHead& rh, size_t head_len);
  // One round of the tunnel: client bytes to the target, target bytes to the client, each
  // direction's end of stream passed on as a half-close; closes when both have ended.
  bool PumpTunnel();
  // A connection of a TCP listener (network load balancer), or of a TLS listener once its
  // handshake is done: no HTTP; a target of the default forward's group chosen by the flow
  // hash, connected (TLS to a TLS group, offering the client's ALPN protocol), and the tunnel
  // from the first byte. Closes the connection when there is no target or the connect fails
  // at once.
  void StartRawTunnel();
  const TargetRuntime& ChooseFlowTarget(size_t tg_index);
  // The PROXY protocol v2 header for the target (proxy_protocol_v2.enabled) in upstream_out_.
  void AppendProxyHeader();
  // The tunnel's target connection completed (or failed: false, the connection closed).
  bool UpstreamConnected();
  // A TLS group's handshake (false while it runs, or failed: the connection closed).
  bool UpstreamHandshake();
  void ReportUpstreamTlsFailure(const char* why);
  bool TunnelToUpstream();
  bool TunnelToDownstream();
  // Zero-copy directions (downstream_splice.cc). A direction whose buffer filled is bulk:
  // once that buffer is empty it moves to a pipe, when both ends are plain sockets and the
  // worker has one. Then the same contract as TunnelToUpstream/TunnelToDownstream.
  void MaybeSpliceUpstream();
  void MaybeSpliceDownstream();
  bool SpliceToUpstream();
  bool SpliceToDownstream();
  void CheckTunnelTimers(int64_t now_ms);
  // A network load balancer's flow that must end now: its target's deregistration or
  // unhealthy state says so (reference §8.6). UnhealthyFlowDeadlineMs: when it will.
  bool FlowMustEnd(int64_t now_ms) const;
  int64_t UnhealthyFlowDeadlineMs() const;
  // Ends the tunnel with a reset both ways (NLB's way of ending a flow).
  void ResetTunnel();
  // A network load balancer flow's counters (no-ops for an ALB connection's tunnel): bytes
  // that moved, and a failed read or write with `error` (an errno value) on the client's
  // side (downstream) or the target's — a reset when ECONNRESET or EPIPE.
  void CountFlowBytes(uint64_t n) {
    if (flow_bytes_metric_ != observe::LbMetric::kCount) [[unlikely]]
      observe::WorkerMetrics::Add(*lb_metrics_, flow_bytes_metric_, n);
  }
  void CountFlowReset(int error, bool downstream);
  // The segments both sockets of a network flow have received so far (TCP_INFO).
  uint64_t FlowSegmentsIn() const;
  // A network flow's ProcessedPackets at its end: FlowSegmentsIn().
  void CountFlowPackets();
  // A network flow at its idle check (flow_keepalive.h): false when it idled out and was reset.
  bool CheckFlowIdle(int64_t now_ms);
  // A network flow whose target connect could not get a source port (PortAllocationErrorCount).
  void CountPortAllocationError(const Error& e);
  bool SendToUpstream();
  bool ReadUpstream();
  bool ProcessResponseHead();
  // Stages of ProcessResponseHead (downstream_forward.cc).
  void RelayInterimResponse(const http::ResponseHead& rh, size_t head_len);
  bool ApplyResponseHead(const http::ResponseHead& rh, http::ParseError* err);
  void AppendAppCookie(const http::ResponseHead& rh);
  void BuildDownstreamResponseHead(const http::ResponseHead& rh);
  bool ScanResponseBody();
  bool FinishExchangeIfDone();
  bool FlushResponse();
  bool ResponseBodyScanned() const;
  // True when the response head at the front of the upstream buffer can go to the client
  // unchanged (see the definition for the conditions).
  bool CanRelayHeadUnchanged(const http::ResponseHead& rh, size_t head_len) const;
  // True for a response field the client must not get: hop-by-hop fields, Transfer-Encoding
  // when dechunking for an HTTP/1.0 client, Content-Length beside chunked.
  bool DropsResponseField(std::string_view name) const;
  uint32_t DroppedNameLengths() const;  // http::NameLengthBit of every name it drops now
  // The whole head must arrive within this: min(idle timeout, kHeaderTimeoutMs).
  int64_t HeaderTimeoutMs() const {
    return idle_timeout_ms_ < kHeaderTimeoutMs ? idle_timeout_ms_ : kHeaderTimeoutMs;
  }
  // The exchange with the target failed for `cause`: an error response if none has started,
  // else the client connection ends after what was sent.
  void FailUpstream(Cause cause);
  // A read or write on the target connection failed: a TLS handshake that did not complete
  // (logged with its reason, counted: 502) or else `otherwise`.
  void FailUpstreamIo(Cause otherwise);
  // Exchange record (downstream_record.cc): opened when a request head parses, ended once,
  // when its response is complete or the connection closes; the worker's sink, if any, then
  // gets the ExchangeRecord.
  void BeginExchange(const http::RequestHead& head);
  // Resets the record for a new exchange; true when a sink will read its text (record_text_
  // is then borrowed and empty).
  bool OpenExchange(uint64_t received_bytes);
  void SetOutcome(Cause cause, int elb_status);
  void EndExchange();
  // One connection-log entry (reference §5.5) when the listener's load balancer has
  // connection logs on: at accept (plain), or when the TLS handshake finished or failed.
  [[gnu::noinline, gnu::cold]] void LogConnection(bool handshake_done);
  // A network load balancer's access-log entry for a TLS listener's connection (reference
  // §5.7), when it ends and the load balancer has access logs on.
  [[gnu::noinline, gnu::cold]] void LogTlsFlow();
  void DrawConnTraceId();
  // The CloudWatch counters of the exchange that ends (downstream_record.cc).
  void CountExchange();
  // Answers that did not come from a target: ELB status classes, rule answers, connect errors.
  [[gnu::noinline]] void CountLoadBalancerAnswer(int tg_slot);
  // With a sink: keeps the X-Amzn-Trace-Id value just written into the upstream head.
  void RecordTraceId();
  // With a sink: keeps a redirect's Location.
  void RecordRedirect(std::string_view location);
  ExchangeRecord BuildRecord() const;
  bool ConnectUpstream();
  // A new connection to upstream_key_'s target (TLS when the key has a TLS profile), watched,
  // owned as upstream_; false (nothing opened) when the connect or the watch failed. `alpn`:
  // the one protocol a TLS connection offers (a TLS listener's), else the group's.
  // `source`: the client's address for a transparent connect (preserve_client_ip), or null.
  bool OpenUpstream(std::string_view alpn = {}, const SocketAddress* source = nullptr);
  // HTTP2 and GRPC target groups (h2_client_session.h): a stream on a shared connection.
  [[gnu::noinline, gnu::cold]] bool OpenH2Stream();
  // The request protocol × target-group protocol version table (reference §2.2): false
  // answers 464. Sets grpc_request_.
  [[gnu::noinline, gnu::cold]] bool ProtocolFits(const http::RequestHead& head,
                                                 snapshot::ProtocolVersion version);
  void ReleaseUpstream(bool reusable);
  void FinishRequest();
  void ResolveListener();
  // Borrow the worker's pooled strings for a request / give everything back when idle, so an
  // idle keep-alive connection holds no buffer at all.
  void TakeScratch();
  void GiveBackIdleMemory();
  void Close();
  // Flushed and done: half-close and drain the client's unread input before closing, so
  // that closing with unread bytes does not reset the connection and destroy the response.
  void LingeringClose();

  Worker* worker_;
  std::unique_ptr<net::Transport> transport_;
  SocketAddress peer_;
  std::shared_ptr<const Snapshot> snapshot_;  // the snapshot the current request runs on
  const ListenerRuntime* listener_;
  SocketAddress listener_address_;
  net::Buffer in_;
  std::string out_;  // bytes we generate (local responses, response heads)
  size_t out_sent_ = 0;
  bool readable_ = true;
  bool writable_ = true;
  bool peer_eof_ = false;
  // The client's end of stream was reported (EPOLLRDHUP/HUP): a short read no longer means
  // "nothing more to read" — the end itself is still to be read (tunnel only).
  bool read_hup_ = false;
  bool closed_ = false;
  Phase phase_ = Phase::kIdle;
  size_t head_scan_pos_ = 0;
  int64_t created_ms_ = 0;
  int64_t head_started_ms_ = 0;
  int64_t last_activity_ms_ = 0;
  int64_t linger_started_ms_ = 0;
  bool shutting_down_ = false;
  // A TLS handshake is in progress: the connection closes (silently) at kHandshakeTimeoutMs.
  bool handshaking_ = false;
  int32_t handshake_ms_ = -1;     // how long the TLS handshake took (accept to done); -1: none
  std::string tls_header_lines_;  // HTTPS: ForwardContext::tls_header_lines, made at handshake

  // Current request.
  // What the method decides later: a HEAD response has no body; only idempotent requests are
  // resent on a fresh connection. (The method itself is not kept: 32 bytes per connection.)
  bool head_request_ = false;
  bool idempotent_ = false;
  int version_minor_ = 1;
  bool keep_alive_ = true;  // after this exchange
  bool expect_continue_ = false;
  uint8_t interim_relayed_ = 0;  // 1xx heads sent to the client in this exchange
  http::Framing req_framing_;
  uint64_t req_remaining_ = 0;  // body bytes not yet scanned (Content-Length)
  http::ChunkedDecoder req_chunks_;
  size_t req_ready_ = 0;  // scanned body bytes at the front of in_, not yet sent
  bool req_body_done_ = true;
  http::DesyncVerdict verdict_;
  bool close_after_ambiguous_ = false;
  bool upgrade_requested_ = false;  // a WebSocket upgrade request (ReadUpgradeRequest)
  bool upstream_shut_ = false;      // tunnel: the target was told the client's stream ended
  bool downstream_shut_ = false;    // tunnel: the client was told the target's stream ended
  // Tunnel directions relaying by splice (client to target, target to client); closed pipes
  // otherwise. Taken from the worker's pool, given back at Close().
  net::SplicePipe splice_up_;
  net::SplicePipe splice_down_;
  bool bulk_up_ = false;    // a read filled the client's buffer: splice once it is empty
  bool bulk_down_ = false;  // the same for the target's buffer
  // What the matched rule's transforms did (access-log fields transformed_host,
  // transformed_uri, request_transform_status); kNone unless the request was forwarded by a
  // rule with transforms. Reset per request; memory released when idle.
  // Borrowed from the worker (Worker::TakeTransform) for the first request whose rule has
  // transforms, given back when the connection goes idle: null on every other path.
  std::unique_ptr<routing::TransformResult> transform_;

  // Upstream side of the current request.
  UpstreamConnection* upstream_ = nullptr;
  balancer::TargetStats* counted_target_ = nullptr;
  // The listener's count of open connections (sluice.max_connections), lowered at Close.
  std::shared_ptr<std::atomic<int>> listener_open_;
  UpstreamKey upstream_key_;  // the chosen target and how its connections are reused
  int64_t connect_started_ms_ = 0;
  std::string upstream_out_;  // rewritten request head
  size_t upstream_out_sent_ = 0;
  bool retryable_ = false;  // no body: may be resent on a fresh connection once
  bool retried_ = false;
  ResponseState resp_state_ = ResponseState::kHead;
  size_t resp_scan_pos_ = 0;
  http::Framing resp_framing_;
  uint64_t resp_remaining_ = 0;
  http::ChunkedDecoder resp_chunks_;
  size_t resp_ready_ = 0;  // scanned response bytes at the front of upstream in
  bool dechunk_ = false;   // HTTP/1.0 client: strip chunked framing
  bool resp_eof_ = false;  // the target closed its side
  bool upstream_reusable_ = true;
  bool response_started_ = false;  // some response byte was sent downstream
  int64_t idle_timeout_ms_ = 60000;
  // Set-Cookie lines to add to the response (stickiness); capacity reused.
  std::string set_cookie_headers_;
  // app_cookie stickiness: the AWSALBAPP-0 value to set if the target sets its cookie
  // (or the request was already stuck by one).
  std::string app_cookie_value_;
  const std::string* app_cookie_name_ = nullptr;
  bool app_cookie_refresh_ = false;

  // The exchange in progress, compact (an idle connection must stay under 1 KiB); the
  // ExchangeRecord is built from it only when the worker has a sink. Times are monotonic ms
  // of the worker's clock; 0: not reached.
  bool exchange_open_ = false;
  Cause cause_ = Cause::kNone;
  uint16_t elb_status_ = 0;
  uint16_t target_status_ = 0;
  int32_t rule_priority_ = -2;
  int32_t target_group_ = -1;
  int64_t routed_ms_ = 0;
  int64_t sent_ms_ = 0;
  int64_t first_byte_ms_ = 0;
  uint64_t received_bytes_ = 0;
  uint64_t sent_bytes_ = 0;
  // With a sink only: request line, user agent and trace id, one after the other, in a
  // string borrowed from the worker while the exchange runs.
  // Then the Host (without its port), then the trace id, or the Location of a redirect.
  std::string record_text_;
  uint32_t request_line_len_ = 0;
  uint32_t user_agent_len_ = 0;
  uint32_t host_len_ = 0;
  bool record_redirect_ = false;  // the text's tail is a redirect's Location
  // HTTP/2: the session of this connection (Phase::kH2), or, for a stream's exchange,
  // h2_stream_ (its record says h2 and HTTP/2.0).
  std::unique_ptr<H2Session> h2_;
  bool h2_stream_ = false;
  bool grpc_request_ = false;    // an HTTP/2 request with content-type application/grpc
  bool served_request_ = false;  // an HTTP/1 request was read (no HTTP/2 preface after it)
  // The connection's conn_trace_id (access log), drawn at its first recorded exchange.
  uint64_t conn_trace_[2] = {0, 0};
  // Its load balancer's counters (the slot of the accepting listener's load balancer).
  observe::WorkerMetrics::LbRow* lb_metrics_ = nullptr;
  int16_t tg_metrics_slot_ = -1;  // the exchange's target group's metric slot (-1: none)
  // A network load balancer's flow (TCP, TCP_UDP and TLS listeners) is counted as one
  // (AWS/NetworkELB, reference §6.2): the gauge it is active on and the counter its bytes go
  // to as they move; an ALB connection's are ActiveConnectionCount and none (its exchanges
  // count their bytes when they end).
  observe::LbMetric active_metric_ = observe::LbMetric::kActiveConnectionCount;
  observe::LbMetric flow_bytes_metric_ = observe::LbMetric::kCount;
  // A network flow's idle timer as its peers' TCP keep-alives reset it (reference §8.5).
  FlowKeepAlive keepalive_;
};

}  // namespace sluice::proxy
