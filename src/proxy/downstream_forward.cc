// The forwarding half of DownstreamConnection: the upstream connection,
// and streaming the request body up and the response down with bounded buffers.
#include <sys/uio.h>

#include <ctime>

#include "health/target_health.h"
#include "proxy/downstream_connection.h"
#include "proxy/local_response.h"
#include "proxy/request_rewrite.h"
#include "proxy/upstream_connection.h"
#include "proxy/worker.h"

namespace sluice::proxy {

using http::EqualsIgnoreCase;

void DownstreamConnection::ForwardRequest(http::RequestHead& head, const RequestTarget& split,
                                          const config::Action& action, int priority) {
  set_cookie_headers_.clear();
  app_cookie_name_ = nullptr;
  int tg_index = ChooseTargetGroup(head, action, priority);
  if (tg_index < 0 || snapshot_->target_groups[static_cast<size_t>(tg_index)].targets.empty()) {
    in_.Consume(head.head_length);
    RespondError(Cause::kNoTargets, !req_body_done_);
    return;
  }
  const snapshot::ProtocolVersion version =
      snapshot_->target_groups[static_cast<size_t>(tg_index)].protocol_version;
  if ((version != snapshot::ProtocolVersion::kHttp1 || h2_stream_) && !ProtocolFits(head, version))
      [[unlikely]] {
    in_.Consume(head.head_length);
    RespondError(Cause::kIncompatibleProtocol, !req_body_done_);
    return;
  }
  const TargetRuntime& target = *ChooseTarget(head, static_cast<size_t>(tg_index));
  routed_ms_ = worker_->now_ms();
  target_group_ = tg_index;
  tg_metrics_slot_ =
      static_cast<int16_t>(snapshot_->target_groups[static_cast<size_t>(tg_index)].metrics_slot);

  ForwardContext ctx;
  ctx.attributes = &listener_->load_balancer->attributes;
  ctx.listener_port = listener_->port_text;
  ctx.listener_https = listener_->protocol == snapshot::ListenerProtocol::kHttps;
  if (ctx.listener_https) [[unlikely]] {
    const config::Listener& l = *listener_->listener;
    if (ctx.attributes->tls_version_and_cipher_headers) ctx.tls_names = &l.attributes;
    if (l.mutual_authentication.mode != config::MutualTlsMode::kOff) ctx.mtls_names = &l.attributes;
    ctx.tls_header_lines = tls_header_lines_;
  }
  ctx.client_ip = peer_.ip;
  ctx.client_port = peer_.port;
  ctx.fallback_ip = &listener_address_.ip;
  if (transform_ != nullptr) ctx.transformed_host = transform_->transformed_host;
  if (upgrade_requested_) [[unlikely]] {
    // Only a bodiless request that will not be closed for being ambiguous may switch.
    upgrade_requested_ = req_framing_.kind == http::BodyKind::kNone && !close_after_ambiguous_;
    if (upgrade_requested_) ctx.upgrade = "websocket";
  }
  ApplyDesyncVerdict(verdict_, &ctx);
  ctx.unix_seconds = worker_->unix_seconds();
  ctx.rng = &worker_->rng();
  upstream_out_.clear();
  upstream_out_sent_ = 0;
  int status = AppendUpstreamRequestHead(head, split, req_framing_, ctx, &upstream_out_);
  if (worker_->ExchangeSinkFor(listener_) != nullptr) RecordTraceId();
  in_.Consume(head.head_length);
  if (status != 0) {
    RespondError(status == 463 ? Cause::kTooManyForwardedFor : Cause::kMalformedRequest,
                 !req_body_done_);
    return;
  }
  const TargetGroupRuntime& group = snapshot_->target_groups[static_cast<size_t>(tg_index)];
  counted_target_ = target.stats.get();
  counted_target_->outstanding.fetch_add(1, std::memory_order_relaxed);
  upstream_key_ = {target.address, group.protocol, group.protocol_version, group.tls_profile};
  retryable_ = req_body_done_ && idempotent_;
  retried_ = false;
  resp_state_ = ResponseState::kHead;
  resp_scan_pos_ = 0;
  resp_ready_ = 0;
  resp_eof_ = false;
  resp_chunks_.Reset();
  dechunk_ = false;
  response_started_ = false;
  upstream_reusable_ = true;
  phase_ = Phase::kForwarding;
  ConnectUpstream();
}

bool DownstreamConnection::ConnectUpstream() {
  if (upstream_key_.version != snapshot::ProtocolVersion::kHttp1) [[unlikely]] {
    return OpenH2Stream();
  }
  UpstreamPools& pools = worker_->pools();
  UpstreamConnection* c = retried_ ? nullptr : pools.TakeIdle(upstream_key_);
  if (c != nullptr) {
    c->owner = this;
    c->writable = true;
    upstream_ = c;
    return true;
  }
  if (!OpenUpstream()) {
    FailUpstream(Cause::kTargetConnectFailed);
    return false;
  }
  return true;
}

bool DownstreamConnection::ProtocolFits(const http::RequestHead& head,
                                        snapshot::ProtocolVersion version) {
  // Reference §2.2: gRPC is an HTTP/2 request whose content-type is application/grpc[+...].
  grpc_request_ = false;
  if (h2_stream_) {
    for (const http::HeaderField& h : head.header_span()) {
      if (EqualsIgnoreCase(h.name, "content-type") && h.value.size() >= 16 &&
          EqualsIgnoreCase(h.value.substr(0, 16), "application/grpc")) {
        grpc_request_ = true;
      }
    }
  }
  switch (version) {
    case snapshot::ProtocolVersion::kHttp1:
      return !grpc_request_;
    case snapshot::ProtocolVersion::kHttp2:
      return h2_stream_;
    case snapshot::ProtocolVersion::kGrpc:
      return grpc_request_ || (h2_stream_ && head.method == "POST");
  }
  return false;
}

bool DownstreamConnection::OpenH2Stream() {
  bool reused = false;
  UpstreamConnection* c = worker_->h2_clients().OpenStream(
      upstream_key_, snapshot_->target_groups[static_cast<size_t>(target_group_)].tls,
      idle_timeout_ms_, &worker_->pools(), &reused);
  if (c == nullptr) {
    FailUpstream(Cause::kTargetConnectFailed);
    return false;
  }
  c->owner = this;
  c->reused = reused;  // a stream a target refuses on a shared connection may be retried
  connect_started_ms_ = worker_->now_ms();
  upstream_ = c;
  return true;
}

bool DownstreamConnection::OpenUpstream(std::string_view alpn, const SocketAddress* source) {
  UpstreamPools& pools = worker_->pools();
  const bool tls = upstream_key_.tls_profile != 0;
  auto transport =
      tls ? worker_->ConnectTls(upstream_key_.address, snapshot_->target_groups[target_group_].tls,
                                alpn, source)
          : worker_->connector().Connect(upstream_key_.address, source);
  if (!transport.ok()) {
    if (flow_bytes_metric_ != observe::LbMetric::kCount)
      CountPortAllocationError(transport.error());
    return false;
  }
  auto* c = new UpstreamConnection(std::move(transport.value()), upstream_key_, &pools);
  pools.Arm(c);
  c->owner = this;
  c->readable = false;
  c->writable = false;
  c->handshaking = tls;
  c->idle_timeout_ms = idle_timeout_ms_;
  if (!c->transport().Watch(worker_->loop(), c)) {
    delete c;
    return false;
  }
  connect_started_ms_ = worker_->now_ms();
  upstream_ = c;
  return true;
}

bool DownstreamConnection::ScanRequestBody() {
  if (req_body_done_) return false;
  size_t avail = in_.size() - req_ready_;
  if (avail == 0) return false;
  if (req_framing_.kind == http::BodyKind::kContentLength) {
    size_t take = avail < req_remaining_ ? avail : static_cast<size_t>(req_remaining_);
    received_bytes_ += take;
    req_ready_ += take;
    req_remaining_ -= take;
    if (req_remaining_ == 0) req_body_done_ = true;
    return take > 0;
  }
  bool progress = false;
  while (!req_chunks_.done() && req_ready_ < in_.size()) {
    std::string_view data;
    size_t used = req_chunks_.Feed(in_.readable().substr(req_ready_), &data);
    if (req_chunks_.failed()) {
      keep_alive_ = false;
      FailUpstream(Cause::kMalformedRequestBody);
      return true;
    }
    received_bytes_ += used;
    if (req_chunks_.fed_trailer()) {
      in_.Erase(req_ready_, used);  // trailer fields never reach the target
    } else {
      req_ready_ += used;
    }
    progress = progress || used > 0;
    if (used == 0) break;
  }
  if (req_chunks_.done()) req_body_done_ = true;
  return progress;
}

bool DownstreamConnection::SendToUpstream() {
  if (upstream_ == nullptr) return false;
  if (!upstream_->connected) {
    if (!upstream_->writable && !upstream_->readable) return false;
    int err = upstream_->transport().ConnectError();
    if (err != 0) {
      FailUpstream(Cause::kTargetConnectFailed);  // refused, unreachable, reset
      return true;
    }
    if (!upstream_->writable) return false;
    upstream_->connected = true;
    connect_started_ms_ = worker_->now_ms();  // a TLS handshake gets its own 10 s from here
  }
  bool head_pending = upstream_out_sent_ < upstream_out_.size();
  if (!upstream_->writable || (!head_pending && req_ready_ == 0)) return false;
  iovec iov[2];
  int iovcnt = 0;
  if (head_pending) {
    iov[iovcnt++] = {upstream_out_.data() + upstream_out_sent_,
                     upstream_out_.size() - upstream_out_sent_};
  }
  if (req_ready_ > 0) {
    iov[iovcnt++] = {const_cast<char*>(in_.readable().data()), req_ready_};
  }
  net::IoResult r = upstream_->transport().Write(iov, iovcnt);
  if (!r.ok()) {
    net::IoStatus status = r.status();
    if (status == net::IoStatus::kInterrupted) return true;
    if (status == net::IoStatus::kWouldBlock) {
      upstream_->writable = false;
      return false;
    }
    if (upstream_->reused && retryable_ && !retried_ && !response_started_) {
      retried_ = true;
      ReleaseUpstream(false);
      upstream_out_sent_ = 0;
      ConnectUpstream();
      return true;
    }
    FailUpstreamIo(Cause::kTargetClosed);
    return true;
  }
  upstream_->handshaking = false;
  size_t written = r.bytes();
  last_activity_ms_ = worker_->now_ms();
  if (head_pending) {
    size_t h = upstream_out_.size() - upstream_out_sent_;
    size_t take = written < h ? written : h;
    upstream_out_sent_ += take;
    if (upstream_out_sent_ == upstream_out_.size()) sent_ms_ = worker_->now_ms();
    written -= take;
  }
  if (written > 0) {
    in_.Consume(written);
    req_ready_ -= written;
  }
  return true;
}

bool DownstreamConnection::ReadUpstream() {
  if (upstream_ == nullptr || !upstream_->connected || !upstream_->readable || resp_eof_) {
    return false;
  }
  net::Buffer& b = upstream_->in();
  size_t space = b.write_space();
  if (space == 0) return false;
  net::IoResult r = upstream_->transport().Read(b.write_ptr(), space);
  if (r.ok()) {
    b.Commit(r.bytes());
    upstream_->handshaking = false;
    last_activity_ms_ = worker_->now_ms();
    // Edge-triggered: a short read drained the socket, unless the target's end of stream
    // came with the same edge; it must then still be read (or an until-close body never ends).
    if (r.bytes() < space && !upstream_->hup) upstream_->readable = false;
    return true;
  }
  net::IoStatus status = r.status();
  if (status == net::IoStatus::kInterrupted) return true;
  if (status == net::IoStatus::kWouldBlock) {
    upstream_->readable = false;
    return false;
  }
  // The target closed or reset the connection.
  upstream_->readable = false;
  if (resp_state_ == ResponseState::kHead && b.empty()) {
    if (upstream_->reused && retryable_ && !retried_) {
      // A pooled connection the target had already closed: resend on a fresh one.
      retried_ = true;
      ReleaseUpstream(false);
      upstream_out_sent_ = 0;
      ConnectUpstream();
      return true;
    }
    FailUpstreamIo(Cause::kTargetClosed);
    return true;
  }
  resp_eof_ = true;
  upstream_reusable_ = false;
  if (resp_state_ == ResponseState::kHead) FailUpstream(Cause::kMalformedResponse);
  return true;
}

bool DownstreamConnection::ResponseBodyScanned() const {
  switch (resp_framing_.kind) {
    case http::BodyKind::kNone:
      return true;
    case http::BodyKind::kContentLength:
      return resp_remaining_ == 0;
    case http::BodyKind::kChunked:
      return resp_chunks_.done();
    case http::BodyKind::kUntilClose:
      return resp_eof_;
  }
  return true;
}

bool DownstreamConnection::ScanResponseBody() {
  if (upstream_ == nullptr) return false;
  net::Buffer& b = upstream_->in();
  size_t avail = b.size() - resp_ready_;
  if (avail == 0 || ResponseBodyScanned()) return false;
  switch (resp_framing_.kind) {
    case http::BodyKind::kNone:
      return false;
    case http::BodyKind::kContentLength: {
      size_t take = avail < resp_remaining_ ? avail : static_cast<size_t>(resp_remaining_);
      resp_ready_ += take;
      resp_remaining_ -= take;
      return take > 0;
    }
    case http::BodyKind::kUntilClose:
      resp_ready_ = b.size();
      return true;
    case http::BodyKind::kChunked:
      break;
  }
  bool progress = false;
  while (!resp_chunks_.done() && resp_ready_ < b.size()) {
    if (dechunk_ && out_.size() > 64 * 1024) break;  // let the client catch up first
    std::string_view data;
    size_t used = resp_chunks_.Feed(b.readable().substr(resp_ready_), &data);
    if (resp_chunks_.failed()) {
      // Malformed chunking from the target: deliver what was valid, then close.
      resp_eof_ = true;
      upstream_reusable_ = false;
      keep_alive_ = false;
      return true;
    }
    if (dechunk_) {
      out_.append(data);
      b.Consume(used);
    } else {
      resp_ready_ += used;
    }
    progress = progress || used > 0;
    if (used == 0) break;
  }
  return progress;
}

bool DownstreamConnection::FlushResponse() {
  size_t head_left = out_.size() - out_sent_;
  size_t body = upstream_ != nullptr ? resp_ready_ : 0;
  if (head_left == 0 && body == 0) {
    out_.clear();
    out_sent_ = 0;
    return false;
  }
  if (!writable_) return false;
  iovec iov[2];
  int iovcnt = 0;
  if (head_left > 0) iov[iovcnt++] = {out_.data() + out_sent_, head_left};
  if (body > 0) {
    iov[iovcnt++] = {const_cast<char*>(upstream_->in().readable().data()), body};
  }
  net::IoResult r = transport_->Write(iov, iovcnt);
  if (!r.ok()) {
    net::IoStatus status = r.status();
    if (status == net::IoStatus::kInterrupted) return true;
    if (status == net::IoStatus::kWouldBlock) {
      writable_ = false;
      return false;
    }
    Close();  // the client is gone
    return false;
  }
  size_t written = r.bytes();
  sent_bytes_ += written;
  last_activity_ms_ = worker_->now_ms();
  size_t take = written < head_left ? written : head_left;
  out_sent_ += take;
  written -= take;
  if (out_sent_ == out_.size()) {
    out_.clear();
    out_sent_ = 0;
  }
  if (written > 0) {
    upstream_->in().Consume(written);
    resp_ready_ -= written;
  }
  return true;
}

bool DownstreamConnection::FinishExchangeIfDone() {
  if (resp_state_ == ResponseState::kBody && ResponseBodyScanned() && resp_ready_ == 0 &&
      out_.empty()) {
    resp_state_ = ResponseState::kDone;
  }
  if (resp_state_ == ResponseState::kDone) {
    if (!req_body_done_) {
      // The target answered before the whole request body arrived: the rest of the body
      // cannot be told apart from a next request, so this connection ends here.
      keep_alive_ = false;
      ReleaseUpstream(false);
    } else {
      bool clean = upstream_ != nullptr && upstream_->in().empty() && !resp_eof_ &&
                   upstream_reusable_ && !close_after_ambiguous_ &&
                   upstream_out_sent_ == upstream_out_.size();
      ReleaseUpstream(clean);
    }
    FinishRequest();
    return true;
  }
  if (resp_eof_ && resp_state_ == ResponseState::kBody && resp_ready_ == 0 && out_.empty() &&
      !ResponseBodyScanned()) {
    // Truncated by the target: the client sees the connection close early.
    cause_ = Cause::kResponseTruncated;
    keep_alive_ = false;
    ReleaseUpstream(false);
    Close();
    return false;
  }
  if (resp_eof_ && resp_chunks_.failed() && resp_ready_ == 0 && out_.empty()) {
    cause_ = Cause::kMalformedResponse;
    ReleaseUpstream(false);
    Close();
    return false;
  }
  return false;
}

void DownstreamConnection::FailUpstream(Cause cause) {
  ReleaseUpstream(false);
  if (!response_started_) {
    RespondError(cause, !req_body_done_ || !keep_alive_);
  } else {
    cause_ = cause;  // the status line already sent stays the one logged
    keep_alive_ = false;
    phase_ = Phase::kClosing;
  }
}

void DownstreamConnection::FailUpstreamIo(Cause otherwise) {
  const char* tls_failure = upstream_ != nullptr ? upstream_->transport().TlsFailure() : nullptr;
  if (tls_failure == nullptr) return FailUpstream(otherwise);
  const TargetGroupRuntime& group = snapshot_->target_groups[static_cast<size_t>(target_group_)];
  worker_->ReportTargetTlsFailure(upstream_key_.address, group.config->name, tls_failure);
  FailUpstream(Cause::kTargetTlsFailed);
}

void DownstreamConnection::ReleaseUpstream(bool reusable) {
  if (upstream_ == nullptr) return;
  UpstreamConnection* c = upstream_;
  upstream_ = nullptr;
  resp_ready_ = 0;
  // An HTTP/2 target's stream ends with its exchange; its connection stays with its session.
  if (reusable && c->connected && c->in().empty() && !c->hup &&
      c->key().version == snapshot::ProtocolVersion::kHttp1) {
    c->reused = false;
    worker_->pools().PutIdle(c, worker_->now_ms());
  } else {
    worker_->pools().Destroy(c);
  }
}

}  // namespace sluice::proxy
