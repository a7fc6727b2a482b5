// WebSocket on a downstream connection: the upgrade request and, after the target's 101
// (StartTunnel, downstream_response.cc), the tunnel that relays bytes both ways until both
// directions have ended, the idle timeout passes, or the target's deregistration delay ends
// (reference §4.1, §2.6, §5.2).
// Loop thread only.
//
// Buffers: client bytes wait in the connection's 16 KiB receive buffer and target bytes in
// the upstream connection's 40 KiB one; a side is read only while its buffer has room, so a
// peer that stops reading stops the other peer by TCP flow control, never by our memory.
#include <sys/uio.h>

#include <cerrno>

#include "net/socket.h"
#include "nlb/proxy_protocol.h"
#include "proxy/client_address.h"
#include "proxy/downstream_connection.h"
#include "proxy/flow_termination.h"
#include "proxy/upstream_connection.h"
#include "proxy/worker.h"

namespace sluice::proxy {

using http::EqualsIgnoreCase;

namespace {

// Writes what is left of `head` (from *head_sent on) and then `body`'s bytes in one call,
// advances *head_sent and consumes from `body` what went out. Returns the call's result.
net::IoResult WriteHeadThenBuffer(net::Transport& transport, const std::string& head,
                                  size_t* head_sent, net::Buffer& body) {
  const size_t head_left = head.size() - *head_sent;
  iovec iov[2];
  int count = 0;
  if (head_left > 0) iov[count++] = {const_cast<char*>(head.data()) + *head_sent, head_left};
  if (!body.empty()) iov[count++] = {const_cast<char*>(body.readable().data()), body.size()};
  net::IoResult r = transport.Write(iov, count);
  if (r.ok()) {
    const size_t from_head = r.bytes() < head_left ? r.bytes() : head_left;
    *head_sent += from_head;
    body.Consume(r.bytes() - from_head);
  }
  return r;
}

}  // namespace

void DownstreamConnection::ReadUpgradeRequest(const http::RequestHead& head) {
  // RFC 6455 §4.1: a GET, HTTP/1.1 or later. Other upgrades (h2c, TLS) are not ALB's: their
  // Upgrade field is dropped and the request forwarded as a plain one.
  if (head.version_minor < 1 || head.method != "GET") return;
  for (const http::HeaderField& h : head.header_span()) {
    if (EqualsIgnoreCase(h.name, "upgrade") && http::HeaderHasToken(h.value, "websocket")) {
      upgrade_requested_ = true;
      return;
    }
  }
}

void DownstreamConnection::StartRawTunnel() {
  idle_timeout_ms_ =
      static_cast<int64_t>(listener_->listener->attributes.tcp_idle_timeout_seconds) * 1000;
  const auto& actions = listener_->listener->default_actions;
  const int tg_index =
      actions.empty() ? -1 : balancer::PickForwardGroup(actions.back(), worker_->rng());
  if (tg_index < 0 || snapshot_->target_groups[static_cast<size_t>(tg_index)].targets.empty()) {
    observe::WorkerMetrics::Add(*lb_metrics_, observe::LbMetric::kRejectedFlowCountTcp);
    Close();  // nothing to forward to: the client's connection ends at once
    return;
  }
  const TargetGroupRuntime& group = snapshot_->target_groups[static_cast<size_t>(tg_index)];
  const TargetRuntime& target = ChooseFlowTarget(static_cast<size_t>(tg_index));
  if (!target.stats->routable.load(std::memory_order_relaxed)) {
    observe::WorkerMetrics::Add(*lb_metrics_, observe::LbMetric::kUnhealthyRoutingFlowCount);
  }
  target_group_ = tg_index;
  counted_target_ = target.stats.get();
  counted_target_->outstanding.fetch_add(1, std::memory_order_relaxed);
  upstream_key_ = {target.address, group.protocol, group.protocol_version, group.tls_profile};
  // A TLS group's target is offered the protocol the client negotiated (reference §7.5).
  if (!OpenUpstream(transport_->ApplicationProtocol(),
                    PreservedClientSource(group, peer_, target.address))) {
    Close();
    return;
  }
  last_activity_ms_ = connect_started_ms_;
  upstream_out_.clear();
  upstream_out_sent_ = 0;
  if (group.config->attributes.proxy_protocol_v2) AppendProxyHeader();  // sent before any byte
  resp_eof_ = false;
  upstream_shut_ = downstream_shut_ = false;
  phase_ = Phase::kTunnel;
  worker_->CheckSooner(this, NextCheckMs());
}

void DownstreamConnection::AppendProxyHeader() {
  // The destination is the address the client reached: the listener's, or the local address
  // of a wildcard listener (reference §8.4: no AWS TLV, Sluice has no PrivateLink).
  SocketAddress local = transport_->LocalAddress();
  if (local.port == 0) local = listener_address_;
  uint8_t header[64];
  const size_t n = nlb::EncodeProxyV2Proxy(nlb::ProxyV2Transport::kStream, peer_, local, header);
  // A TLS group's target gets it in the clear, before its handshake (§8.4: prepended to the
  // TCP stream); a TCP target before the client's first byte.
  const std::string_view bytes(reinterpret_cast<const char*>(header), n);
  if (upstream_->transport().SetCleartextPrefix(bytes)) return;
  worker_->TakeString(upstream_out_);
  upstream_out_.assign(bytes);
}

bool DownstreamConnection::UpstreamConnected() {
  if (!upstream_->writable && !upstream_->readable) return false;  // still connecting
  if (upstream_->transport().ConnectError() != 0) {
    Close();  // refused or unreachable: the client's connection ends
    return false;
  }
  if (!upstream_->writable) return false;
  upstream_->connected = true;
  connect_started_ms_ = worker_->now_ms();  // a TLS handshake gets its own 10 s from here
  return true;
}

// A TLS group's target: the handshake runs before any byte is relayed, so that a target
// that speaks first is read as soon as its session is up. True once it is.
bool DownstreamConnection::UpstreamHandshake() {
  switch (upstream_->transport().Handshake()) {
    case net::HandshakeStatus::kDone:
      upstream_->handshaking = false;
      upstream_->readable = true;  // records behind the Finished may wait inside OpenSSL
      return true;
    case net::HandshakeStatus::kWantRead:
    case net::HandshakeStatus::kWantWrite:
      return false;
    case net::HandshakeStatus::kFailed:
      break;
  }
  const char* why = upstream_->transport().TlsFailure();
  ReportUpstreamTlsFailure(why != nullptr ? why : "the handshake failed");
  Close();  // as a refused connect: the client's connection ends
  return false;
}

void DownstreamConnection::ReportUpstreamTlsFailure(const char* why) {
  if (flow_bytes_metric_ != observe::LbMetric::kCount) {
    observe::WorkerMetrics::Add(*lb_metrics_, observe::LbMetric::kTargetTlsNegotiationErrorCount);
  }
  worker_->ReportTargetTlsFailure(
      upstream_key_.address,
      snapshot_->target_groups[static_cast<size_t>(target_group_)].config->name, why,
      "closed the client's connection");
}

bool DownstreamConnection::PumpTunnel() {
  if (upstream_ == nullptr) {
    Close();
    return false;
  }
  if (!upstream_->connected && !UpstreamConnected()) return false;
  if (upstream_->handshaking && !UpstreamHandshake()) return false;
  bool progress = TunnelToUpstream();
  if (closed_) return false;
  progress |= TunnelToDownstream();
  if (closed_) return false;
  if (upstream_shut_ && downstream_shut_) {
    Close();  // both directions ended and everything was delivered
    return false;
  }
  return progress;
}

// Client bytes (and whatever of the upgrade request's head is still unsent) to the target;
// the client's end of stream becomes a half-close towards the target once all is sent.
bool DownstreamConnection::TunnelToUpstream() {
  if (splice_up_.open()) return SpliceToUpstream();
  // A read filled the buffer: the direction is bulk from now on, and moves to a pipe the
  // first time its buffer is empty (a slower target may keep it from emptying for a while).
  if (in_.capacity() > 0 && in_.size() == in_.capacity()) bulk_up_ = true;
  bool progress = false;
  if ((upstream_out_sent_ < upstream_out_.size() || !in_.empty()) && upstream_->writable) {
    const size_t buffered = in_.size();
    net::IoResult r =
        WriteHeadThenBuffer(upstream_->transport(), upstream_out_, &upstream_out_sent_, in_);
    if (r.ok()) {
      received_bytes_ += buffered - in_.size();
      CountFlowBytes(buffered - in_.size());
      last_activity_ms_ = worker_->now_ms();
      progress = true;
    } else if (r.status() == net::IoStatus::kWouldBlock) {
      upstream_->writable = false;
    } else if (r.status() == net::IoStatus::kInterrupted) {
      progress = true;
    } else {
      CountFlowReset(r.error(), false);
      Close();  // the target reset the connection: the client's connection ends too
      return false;
    }
  }
  if (peer_eof_ && in_.empty() && upstream_out_sent_ == upstream_out_.size() && !upstream_shut_) {
    upstream_->transport().ShutdownWrite();
    upstream_shut_ = true;
    progress = true;
  }
  if (bulk_up_) MaybeSpliceUpstream();  // downstream_splice.cc
  return progress;
}

// Target bytes to the client, after the 101 head; the target's end of stream becomes a
// half-close towards the client once all is delivered.
bool DownstreamConnection::TunnelToDownstream() {
  if (splice_down_.open()) return SpliceToDownstream();
  net::Buffer& b = upstream_->in();
  bool progress = false;
  const size_t space = resp_eof_ || !upstream_->readable ? 0 : b.write_space();
  if (space > 0) {
    net::IoResult r = upstream_->transport().Read(b.write_ptr(), space);
    if (r.ok()) {
      b.Commit(r.bytes());
      last_activity_ms_ = worker_->now_ms();
      if (b.size() == b.capacity()) bulk_down_ = true;  // as bulk_up_
      if (r.bytes() < space && !upstream_->hup) upstream_->readable = false;
      progress = true;
    } else if (r.status() == net::IoStatus::kWouldBlock) {
      upstream_->readable = false;
    } else if (r.status() == net::IoStatus::kInterrupted) {
      progress = true;
    } else if (r.status() == net::IoStatus::kEof) {
      resp_eof_ = true;
      upstream_->readable = false;
      progress = true;
    } else {
      CountFlowReset(r.error(), false);
      Close();  // reset by the target
      return false;
    }
  }
  if ((out_sent_ < out_.size() || !b.empty()) && writable_) {
    net::IoResult r = WriteHeadThenBuffer(*transport_, out_, &out_sent_, b);
    if (r.ok()) {
      sent_bytes_ += r.bytes();
      CountFlowBytes(r.bytes());
      last_activity_ms_ = worker_->now_ms();
      progress = true;
    } else if (r.status() == net::IoStatus::kWouldBlock) {
      writable_ = false;
    } else if (r.status() == net::IoStatus::kInterrupted) {
      progress = true;
    } else {
      CountFlowReset(r.error(), true);
      Close();  // the client is gone
      return false;
    }
  }
  if (resp_eof_ && b.empty() && out_sent_ == out_.size() && !downstream_shut_) {
    transport_->ShutdownWrite();
    downstream_shut_ = true;
    progress = true;
  }
  if (bulk_down_) MaybeSpliceDownstream();  // downstream_splice.cc
  return progress;
}

void DownstreamConnection::CheckTunnelTimers(int64_t now_ms) {
  const bool raw = listener_->protocol != snapshot::ListenerProtocol::kHttp &&
                   listener_->protocol != snapshot::ListenerProtocol::kHttps;
  if (upstream_ != nullptr && (!upstream_->connected || upstream_->handshaking) &&
      now_ms - connect_started_ms_ >= kConnectTimeoutMs) {
    if (upstream_->connected) ReportUpstreamTlsFailure("no handshake within 10 s");
    Close();  // no connection (or TLS session) with the target within 10 s
    return;
  }
  if (raw) {
    // A network load balancer's flow ends with a reset: terminated as §8.6 says, or idle
    // past the timeout with no keep-alive from either side (§8.5).
    if (FlowMustEnd(now_ms)) {
      ResetTunnel();
      return;
    }
    CheckFlowIdle(now_ms);
    return;
  }
  // The target was deregistered and its delay is over: ALB closes its WebSockets then.
  if (counted_target_ != nullptr && worker_->snapshot() &&
      worker_->snapshot()->DrainExpired(counted_target_, now_ms)) {
    Close();
    return;
  }
  if (now_ms - last_activity_ms_ >= idle_timeout_ms_) Close();  // nothing either way
}

// Reference §8.6, as proxy/flow_termination.h says.
bool DownstreamConnection::FlowMustEnd(int64_t now_ms) const {
  if (counted_target_ == nullptr) return false;
  return proxy::FlowMustEnd(counted_target_,
                            snapshot_->target_groups[static_cast<size_t>(target_group_)],
                            worker_->snapshot().get(), now_ms);
}

// INT64_MAX also when not a network load balancer's flow: a WebSocket to an unhealthy target
// is not re-checked every tick for nothing. The drain deadline is NextCheckMs's own.
int64_t DownstreamConnection::UnhealthyFlowDeadlineMs() const {
  if (listener_->protocol == snapshot::ListenerProtocol::kHttp ||
      listener_->protocol == snapshot::ListenerProtocol::kHttps) {
    return INT64_MAX;
  }
  return proxy::UnhealthyFlowDeadlineMs(counted_target_);
}

void DownstreamConnection::ResetTunnel() {
  transport_->ResetOnClose();
  if (upstream_ != nullptr) upstream_->transport().ResetOnClose();
  // TCP_ELB_Reset_Count: one reset to each side Sluice ends the flow with.
  observe::WorkerMetrics::Add(*lb_metrics_, observe::LbMetric::kTcpElbResetCount,
                              upstream_ != nullptr ? 2 : 1);
  Close();
}

uint64_t DownstreamConnection::FlowSegmentsIn() const {
  uint64_t segments = transport_->Segments().in;
  if (upstream_ != nullptr) segments += upstream_->transport().Segments().in;
  return segments;
}

void DownstreamConnection::CountFlowPackets() {
  observe::WorkerMetrics::Add(*lb_metrics_, observe::LbMetric::kProcessedPackets, FlowSegmentsIn());
}

bool DownstreamConnection::CheckFlowIdle(int64_t now_ms) {
  if (!keepalive_.Due(now_ms, last_activity_ms_, idle_timeout_ms_)) return true;
  switch (keepalive_.Check(now_ms, last_activity_ms_, idle_timeout_ms_, FlowSegmentsIn())) {
    case FlowKeepAlive::Verdict::kWaiting:
      return true;
    case FlowKeepAlive::Verdict::kKeptAlive:
      // A TLS listener answers with keep-alives of its own on both connections (§8.5).
      if (listener_->protocol == snapshot::ListenerProtocol::kTls) {
        transport_->EnableKeepAlive(kTlsKeepAliveSeconds);
        if (upstream_ != nullptr) upstream_->transport().EnableKeepAlive(kTlsKeepAliveSeconds);
      }
      return true;
    case FlowKeepAlive::Verdict::kIdle:
      break;
  }
  ResetTunnel();  // NLB resets a flow that idled out (the next packet either way, §8.5)
  return false;
}

void DownstreamConnection::CountPortAllocationError(const Error& e) {
  if (!net::IsPortAllocationFailure(e)) return;
  observe::WorkerMetrics::Add(*lb_metrics_, observe::LbMetric::kPortAllocationErrorCount);
}

void DownstreamConnection::CountFlowReset(int error, bool downstream) {
  if (flow_bytes_metric_ == observe::LbMetric::kCount) return;  // not a network flow
  if (error != ECONNRESET && error != EPIPE) return;
  observe::WorkerMetrics::Add(*lb_metrics_, downstream ? observe::LbMetric::kTcpClientResetCount
                                                       : observe::LbMetric::kTcpTargetResetCount);
}

}  // namespace sluice::proxy
