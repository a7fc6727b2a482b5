#include "proxy/downstream_connection.h"

#include <sys/epoll.h>
#include <sys/uio.h>

#include <algorithm>
#include <ctime>

#include "http/desync.h"
#include "http/host.h"
#include "proxy/h2_session.h"
#include "proxy/local_response.h"
#include "proxy/request_rewrite.h"
#include "proxy/rule_transform.h"
#include "proxy/upstream_connection.h"
#include "proxy/worker.h"
#include "routing/redirect.h"
#include "tls/server_context.h"

namespace sluice::proxy {

namespace {

// Methods that may be resent on a fresh connection when a pooled one turned out stale.
bool IsIdempotent(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "PUT" || m == "DELETE";
}

}  // namespace

using http::EqualsIgnoreCase;

DownstreamConnection::DownstreamConnection(Worker* worker,
                                           std::unique_ptr<net::Transport> transport,
                                           const SocketAddress& peer,
                                           const ListenerRuntime* listener, Kind kind)
    : worker_(worker),
      transport_(std::move(transport)),
      peer_(peer),
      snapshot_(worker->snapshot()),
      listener_(listener),
      listener_address_(listener->address) {
  created_ms_ = last_activity_ms_ = worker->now_ms();
  h2_stream_ = kind == Kind::kH2Stream;
  handshaking_ = listener->tls != nullptr && !h2_stream_;
  idle_timeout_ms_ =
      static_cast<int64_t>(listener_->load_balancer->attributes.idle_timeout_seconds) * 1000;
  lb_metrics_ = &worker_->metrics().Lb(listener->lb_metrics_slot);
  if (!h2_stream_) {
    using observe::LbMetric;
    LbMetric new_metric = LbMetric::kNewConnectionCount;
    if (listener->protocol == snapshot::ListenerProtocol::kTcp ||
        listener->protocol == snapshot::ListenerProtocol::kTcpUdp) [[unlikely]] {
      new_metric = LbMetric::kNewFlowCountTcp;
      active_metric_ = LbMetric::kActiveFlowCountTcp;
      flow_bytes_metric_ = LbMetric::kProcessedBytesTcp;
    } else if (listener->protocol == snapshot::ListenerProtocol::kTls) [[unlikely]] {
      new_metric = LbMetric::kNewFlowCountTls;
      active_metric_ = LbMetric::kActiveFlowCountTls;
      flow_bytes_metric_ = LbMetric::kProcessedBytesTls;
    }
    observe::WorkerMetrics::Add(*lb_metrics_, new_metric);
    observe::WorkerMetrics::Add(*lb_metrics_, active_metric_);
  }
  worker_->Register(this);
}

DownstreamConnection::~DownstreamConnection() {
  // Closed connections gave their pipes back; one destroyed with its worker closes them.
  net::PipePool::Discard(&splice_up_);
  net::PipePool::Discard(&splice_down_);
}

bool DownstreamConnection::Start() {
  if (listener_->connection_log_key != 0 && !handshaking_ && !h2_stream_) LogConnection(false);
  if (!transport_->Watch(worker_->loop(), this)) {
    Close();
    return false;
  }
  if (listener_->protocol == snapshot::ListenerProtocol::kTcp ||
      listener_->protocol == snapshot::ListenerProtocol::kTcpUdp) [[unlikely]]
    StartRawTunnel();
  return !closed_;
}

void DownstreamConnection::OnEvents(uint32_t events) {
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable_ = true;
  if (events & (EPOLLRDHUP | EPOLLHUP)) [[unlikely]]
    read_hup_ = true;
  if (events & EPOLLOUT) writable_ = true;
  Pump();
}

void DownstreamConnection::OnUpstreamEvents(uint32_t) { Pump(); }

void DownstreamConnection::Pump() {
  for (int rounds = 0; !closed_; ++rounds) {
    if (rounds == 64) {  // a long transfer: let other connections run, then continue
      worker_->loop().Yield(this);
      return;
    }
    if (phase_ == Phase::kH2) [[unlikely]] {
      PumpH2();
      return;
    }
    bool progress = ReadDownstream();
    if (closed_) return;
    switch (phase_) {
      case Phase::kIdle:
      case Phase::kHead:
        progress |= TryStartRequest();
        break;
      case Phase::kLocal:
        progress |= DrainLocalRequestBody();
        if (closed_) return;
        progress |= FlushDownstream();
        if (closed_) return;
        if (out_sent_ == out_.size() && req_body_done_) {
          FinishRequest();
          progress = true;
        }
        break;
      case Phase::kForwarding:
        progress |= ScanRequestBody();
        if (closed_ || phase_ != Phase::kForwarding) break;
        progress |= SendToUpstream();
        if (closed_ || phase_ != Phase::kForwarding) break;
        progress |= ReadUpstream();
        if (closed_ || phase_ != Phase::kForwarding) break;
        if (resp_state_ == ResponseState::kHead) progress |= ProcessResponseHead();
        if (closed_ || phase_ != Phase::kForwarding) break;
        if (resp_state_ == ResponseState::kBody) progress |= ScanResponseBody();
        if (closed_ || phase_ != Phase::kForwarding) break;
        progress |= FlushResponse();
        if (closed_ || phase_ != Phase::kForwarding) break;
        progress |= FinishExchangeIfDone();
        break;
      case Phase::kTunnel:
        progress |= PumpTunnel();
        break;
      case Phase::kH2:  // the handshake just chose h2
        PumpH2();
        return;
      case Phase::kClosing:
        FlushDownstream();
        if (!closed_ && out_sent_ == out_.size()) LingeringClose();
        return;
      case Phase::kLingering:
        return;
    }
    if (!progress) break;
  }
}

// Lingering or closing: what the client still sends is read and discarded (so that a close
// does not reset the response it has not read yet). True when bytes were read.
bool DownstreamConnection::DiscardDownstream() {
  char sink[16 * 1024];
  net::IoResult r = transport_->Read(sink, sizeof(sink));
  if (r.ok()) return true;
  net::IoStatus status = r.status();
  if (status == net::IoStatus::kInterrupted) return true;
  if (status == net::IoStatus::kWouldBlock) {
    readable_ = false;
    return false;
  }
  peer_eof_ = true;
  readable_ = false;
  if (phase_ == Phase::kLingering) Close();
  return false;
}

bool DownstreamConnection::ReadDownstream() {
  // A spliced tunnel reads the client in SpliceToUpstream.
  if (!readable_ || peer_eof_ || splice_up_.open()) return false;
  if (phase_ == Phase::kLingering || phase_ == Phase::kClosing) [[unlikely]]
    return DiscardDownstream();
  // Read while a head is pending, or to collect body bytes / pipelined requests, but only
  // into the bounded buffer.
  if (in_.capacity() == 0) worker_->TakeBuffer(in_);
  size_t space = in_.write_space();
  if (space == 0) return false;
  net::IoResult r = transport_->Read(in_.write_ptr(), space);
  if (r.ok()) {
    in_.Commit(r.bytes());
    last_activity_ms_ = worker_->now_ms();
    if (handshaking_) [[unlikely]]
      HandshakeDone();
    // Edge-triggered: a short read drained the socket, unless its end was reported with the
    // same edge (a tunnel must then still read the end; HTTP phases see it at the next edge
    // or not at all, as before).
    if (r.bytes() < space && !(read_hup_ && phase_ == Phase::kTunnel)) readable_ = false;
    return true;
  }
  net::IoStatus status = r.status();
  if (status == net::IoStatus::kInterrupted) return true;
  if (status == net::IoStatus::kWouldBlock) {
    readable_ = false;
    if (handshaking_ && HandshakeProgressed() && transport_->HasBufferedInput()) {
      // The client's Finished arrived after the read above gave up, and this call finished
      // the handshake. With read-ahead OpenSSL took the request's records from the socket
      // with it: the socket is drained, so no readiness event will come for them
      // (edge-triggered). Read again instead of waiting for one.
      readable_ = true;
      return true;
    }
    return false;
  }
  // EOF or a reset.
  peer_eof_ = true;
  readable_ = false;
  // A TLS protocol failure (not a reset or a close before any TLS byte).
  if (handshaking_ && r.error() == EPROTO) {
    tls::HandshakeCounters::CountFailed();
    observe::WorkerMetrics::Add(*lb_metrics_, observe::LbMetric::kClientTlsNegotiationErrorCount);
    if (listener_->connection_log_key != 0) LogConnection(false);
  }
  switch (phase_) {
    case Phase::kIdle:
    case Phase::kHead:
    case Phase::kClosing:
    case Phase::kLingering:
    case Phase::kH2:  // not read here (PumpH2 reads an h2 session); an end ends it all the same
      Close();
      break;
    case Phase::kLocal:
      if (status == net::IoStatus::kError || !req_body_done_) Close();
      break;
    case Phase::kForwarding:
      // The client left before the response was complete (ALB logs 460) or before it sent
      // its whole body (ALB logs 400). Either way nothing more can be delivered.
      if (upstream_ != nullptr) ReleaseUpstream(false);
      Close();
      break;
    case Phase::kTunnel:
      // The client's end of a WebSocket stream: passed on to the target as a half-close
      // (PumpTunnel); a reset ends the tunnel at once.
      if (status == net::IoStatus::kError) {
        CountFlowReset(r.error(), true);
        Close();
      }
      break;
  }
  return false;
}

bool DownstreamConnection::FlushDownstream() {
  if (out_sent_ == out_.size()) {
    if (!out_.empty()) {
      out_.clear();
      out_sent_ = 0;
    }
    return false;
  }
  if (!writable_) return false;
  net::IoResult r = transport_->Write(out_.data() + out_sent_, out_.size() - out_sent_);
  if (r.ok()) {
    out_sent_ += r.bytes();
    sent_bytes_ += r.bytes();
    last_activity_ms_ = worker_->now_ms();
    if (out_sent_ == out_.size()) {
      out_.clear();
      out_sent_ = 0;
    }
    return true;
  }
  net::IoStatus status = r.status();
  if (status == net::IoStatus::kInterrupted) return true;
  if (status == net::IoStatus::kWouldBlock) {
    writable_ = false;
    return false;
  }
  if (upstream_ != nullptr) ReleaseUpstream(false);
  Close();
  return false;
}

void DownstreamConnection::ResolveListener() {
  const auto& current = worker_->snapshot();
  if (current == snapshot_) return;
  snapshot_ = current;
  listener_ = nullptr;
  if (!snapshot_) return;
  for (const ListenerRuntime& l : snapshot_->listeners) {
    if (l.address == listener_address_) {
      listener_ = &l;
      break;
    }
  }
  if (listener_ != nullptr) {
    int64_t idle_ms =
        static_cast<int64_t>(listener_->load_balancer->attributes.idle_timeout_seconds) * 1000;
    if (idle_ms != idle_timeout_ms_) {  // a reload changed it: the check may come sooner
      idle_timeout_ms_ = idle_ms;
      worker_->CheckSooner(this, NextCheckMs());
    }
  }
}

bool DownstreamConnection::TryStartRequest() {
  // Ignore empty lines before a request line (RFC 9112 §2.2).
  while (phase_ == Phase::kIdle && !in_.empty() &&
         (in_.readable()[0] == '\r' || in_.readable()[0] == '\n')) {
    in_.Consume(1);
  }
  if (in_.empty()) {
    if (phase_ == Phase::kIdle) GiveBackIdleMemory();
    return false;
  }
  if (phase_ == Phase::kIdle) {
    phase_ = Phase::kHead;
    head_started_ms_ = worker_->now_ms();
    head_scan_pos_ = 0;
  }
  std::string_view buf = in_.readable();
  if (!served_request_ && buf.starts_with("PRI * HTTP/2.0") && listener_->tls == nullptr &&
      listener_->load_balancer->attributes.http2_cleartext) [[unlikely]] {
    StartH2();  // HTTP/2 by prior knowledge (h2_session.h): the preface goes to the session
    return true;
  }
  size_t head_len = http::FindHeadEnd(buf, &head_scan_pos_);
  if (head_len == 0) {
    http::ParseError err;
    if (!http::CheckPartialRequestHead(buf, &err)) {
      RespondError(CauseOfRequestError(err), true);
      return true;
    }
    if (in_.write_space() == 0) {
      if (in_.capacity() < http::kMaxRequestHead) {
        in_.Reserve(http::kMaxRequestHead);  // a large head: grow once, up to ALB's limits
        return true;
      }
      RespondError(Cause::kRequestHeadTooLarge, true);
      return true;
    }
    return false;
  }
  ResolveListener();
  if (listener_ == nullptr) {  // the listener was removed by a reload
    Close();
    return false;
  }
  http::RequestHead& head = worker_->head_scratch();
  http::ParseError err;
  if (http::ParseRequestHead(buf, head_len, &head, &err) != http::ParseStatus::kComplete) {
    RespondError(CauseOfRequestError(err), true);
    return true;
  }
  served_request_ = true;
  HandleRequest(head);
  return true;
}

// The stages of HandleRequest. Each runs once per request on the hot path: forced inline
// so that splitting HandleRequest for reading costs no instructions (out of line, the three
// calls cost 75 per request by callgrind).
[[gnu::always_inline]] inline bool DownstreamConnection::ApplyDesyncMode(
    const http::RequestHead& head, config::DesyncMitigationMode mode) {
  verdict_ = http::Worse(
      head.wire_verdict,
      http::ClassifyRequest(head.method, head.target, head.version, head.header_span()));
  using http::DesyncTier;
  bool refuse = false;
  switch (mode) {
    case config::DesyncMitigationMode::kMonitor:
      break;
    case config::DesyncMitigationMode::kDefensive:
      // Whitespace between a field name and its colon: RFC 9112 §5.1 requires 400 (stricter
      // than ALB, which forwards it; docs/alb-compatibility.md).
      refuse = verdict_.tier == DesyncTier::kSevere || head.whitespace_before_colon;
      if (verdict_.tier == DesyncTier::kAmbiguous) close_after_ambiguous_ = true;
      break;
    case config::DesyncMitigationMode::kStrictest:
      refuse = verdict_.tier != DesyncTier::kCompliant || head.whitespace_before_colon;
      break;
  }
  if (refuse) {
    in_.Consume(head.head_length);
    RespondError(Cause::kDesyncRefused, true);
    return false;
  }
  if (close_after_ambiguous_) keep_alive_ = false;
  return true;
}

[[gnu::always_inline]] inline void DownstreamConnection::ReadConnectionFields(
    const http::RequestHead& head, const http::HeaderField** host, int* host_count) {
  // Keep-alive: HTTP/1.1 unless "close"; HTTP/1.0 only with "keep-alive".
  bool conn_close = false, conn_keep_alive = false, conn_upgrade = false;
  for (const http::HeaderField& h : head.header_span()) {
    if (EqualsIgnoreCase(h.name, "connection")) {
      if (http::HeaderHasToken(h.value, "close")) conn_close = true;
      if (http::HeaderHasToken(h.value, "keep-alive")) conn_keep_alive = true;
      if (http::HeaderHasToken(h.value, "upgrade")) conn_upgrade = true;
    } else if (EqualsIgnoreCase(h.name, "host")) {
      if (*host == nullptr) *host = &h;
      ++*host_count;
    } else if (EqualsIgnoreCase(h.name, "expect")) {
      expect_continue_ = EqualsIgnoreCase(h.value, "100-continue");
    }
  }
  keep_alive_ = head.version_minor >= 1 ? !conn_close : (conn_keep_alive && !conn_close);
  upgrade_requested_ = false;
  if (conn_upgrade) [[unlikely]]
    ReadUpgradeRequest(head);
}

[[gnu::always_inline]] inline bool DownstreamConnection::CheckRequest(const http::RequestHead& head,
                                                                      const http::HeaderField* host,
                                                                      int host_count,
                                                                      RequestTarget* target,
                                                                      bool* host_valid) {
  const config::LoadBalancerAttributes& attrs = listener_->load_balancer->attributes;
  // Framing of the request body.
  http::ParseError err;
  if (!http::DetermineRequestFraming(head, &req_framing_, &err)) {
    in_.Consume(head.head_length);
    RespondError(CauseOfRequestError(err), true);
    return false;
  }
  req_remaining_ = req_framing_.kind == http::BodyKind::kContentLength ? req_framing_.length : 0;
  req_body_done_ = req_framing_.kind == http::BodyKind::kNone;

  const bool target_ok = SplitRequestTarget(head.target, target);
  if (!target_ok || (head.version_minor >= 1 && host == nullptr) ||
      (host_count > 1 && !attrs.preserve_host_header)) {
    in_.Consume(head.head_length);
    RespondError(target_ok ? Cause::kInvalidHost : Cause::kMalformedRequest, true);
    return false;
  }
  // RFC 9112 §3.2: 400 for an invalid Host (userinfo, spaces, a second port...), in the
  // absolute-form authority too. Monitor mode forwards it as ALB does, but no host-header
  // rule ever sees it.
  *host_valid = http::RequestHostsValid(target->authority, head.header_span(), host, host_count);
  if (!*host_valid && attrs.desync_mitigation_mode != config::DesyncMitigationMode::kMonitor) {
    in_.Consume(head.head_length);
    RespondError(Cause::kInvalidHost, true);
    return false;
  }
  if (head.method == "TRACE") {
    bool body = !req_body_done_;
    in_.Consume(head.head_length);
    RespondError(Cause::kMethodNotAllowed, body);
    return false;
  }
  if (head.method == "CONNECT") {
    in_.Consume(head.head_length);
    RespondError(Cause::kMethodNotAllowed, true);
    return false;
  }
  return true;
}

[[gnu::always_inline]] inline void DownstreamConnection::RunAction(
    http::RequestHead& head, const routing::MatchResult& match, const RequestTarget& target,
    std::string_view host) {
  const config::Action* terminal = nullptr;
  for (const config::Action& a : *match.actions) terminal = &a;  // the last action terminates
  if (terminal == nullptr) {
    in_.Consume(head.head_length);
    RespondError(Cause::kInternalError, !req_body_done_);
    return;
  }
  switch (terminal->type) {
    case config::ActionType::kForward: {
      // Transforms rewrite what is forwarded, after routing (reference §1.4).
      RequestTarget routed = target;
      if (match.transforms != nullptr && transform_ == nullptr) worker_->TakeTransform(transform_);
      if (match.transforms != nullptr &&
          !ApplyRuleTransforms(match.transforms, host, &routed, transform_.get())) {
        in_.Consume(head.head_length);
        RespondError(Cause::kTransformFailed, !req_body_done_);
        return;
      }
      ForwardRequest(head, routed, *terminal, match.priority);
      return;
    }
    case config::ActionType::kFixedResponse:
      in_.Consume(head.head_length);
      AnswerFixedResponse(*terminal);
      return;
    case config::ActionType::kRedirect:
      in_.Consume(head.head_length);
      AnswerRedirect(*terminal, target, host);
      return;
  }
}

void DownstreamConnection::HandleRequest(http::RequestHead& head) {
  const config::LoadBalancerAttributes& attrs = listener_->load_balancer->attributes;
  TakeScratch();
  BeginExchange(head);
  head_request_ = head.method == "HEAD";
  idempotent_ = IsIdempotent(head.method);
  version_minor_ = head.version_minor;
  expect_continue_ = false;
  interim_relayed_ = 0;
  close_after_ambiguous_ = false;
  if (transform_ != nullptr) transform_->Reset();
  req_chunks_.Reset();
  req_ready_ = 0;

  const http::HeaderField* host = nullptr;
  int host_count = 0;
  ReadConnectionFields(head, &host, &host_count);
  if (shutting_down_ || worker_->now_ms() - created_ms_ >=
                            static_cast<int64_t>(attrs.client_keep_alive_seconds) * 1000) {
    keep_alive_ = false;  // client_keep_alive.seconds reached: close after this response
  }

  if (!ApplyDesyncMode(head, attrs.desync_mitigation_mode)) return;

  RequestTarget target;
  bool host_valid = false;
  if (!CheckRequest(head, host, host_count, &target, &host_valid)) return;

  routing::RequestFacts facts;
  facts.method = head.method;
  facts.host = !host_valid                 ? std::string_view()
               : !target.authority.empty() ? target.authority
               : host != nullptr           ? host->value
                                           : std::string_view();
  facts.path = target.path;
  facts.query = target.query;
  facts.headers = head.header_span();
  facts.source_ip = peer_.ip;
  routing::MatchResult match = listener_->rules->Match(facts, worker_->match_scratch());
  rule_priority_ = match.priority;
  RunAction(head, match, target, facts.host);
}

void DownstreamConnection::FinishRequest() {
  EndExchange();
  if (counted_target_ != nullptr) {
    counted_target_->outstanding.fetch_sub(1, std::memory_order_relaxed);
    counted_target_ = nullptr;
  }
  // An HTTP/2 stream's exchange serves one request, whatever its head said (a WebSocket
  // upgrade's "Connection: Upgrade" leaves keep_alive_ set): bytes after it are not requests.
  if (!keep_alive_ || shutting_down_ || h2_stream_) {
    phase_ = Phase::kClosing;
    if (out_sent_ == out_.size()) LingeringClose();
    return;
  }
  phase_ = Phase::kIdle;
  head_request_ = idempotent_ = false;
  last_activity_ms_ = worker_->now_ms();
  if (in_.empty()) GiveBackIdleMemory();
}

void DownstreamConnection::TakeScratch() {
  // Only the upstream head is written for every request; out_ and set_cookie_headers_ are
  // taken where they are first written (a canonical response head is relayed from the
  // upstream buffer and never touches them).
  worker_->TakeString(upstream_out_);
}

void DownstreamConnection::GiveBackIdleMemory() {
  worker_->GiveBuffer(in_);
  if (out_sent_ == out_.size()) {
    out_sent_ = 0;
    worker_->GiveString(out_);
  }
  worker_->GiveString(upstream_out_);
  worker_->GiveString(record_text_);
  worker_->GiveString(set_cookie_headers_);
  worker_->GiveString(app_cookie_value_);
  if (transform_ != nullptr) worker_->GiveTransform(transform_);
}

}  // namespace sluice::proxy
