// The timeouts of a client connection (header, idle, connect, drain, linger, TLS handshake):
// when they must next be checked, and what happens when one has passed. The worker's timer
// wheel calls CheckTimers at NextCheckMs (deadline_wheel.h).
#include <algorithm>

#include "proxy/downstream_connection.h"
#include "proxy/h2_session.h"
#include "proxy/request_rewrite.h"
#include "proxy/upstream_connection.h"
#include "proxy/worker.h"
#include "tls/mutual_tls.h"
#include "tls/server_context.h"

namespace sluice::proxy {

void DownstreamConnection::CheckTimers(int64_t now_ms) {
  if (closed_) return;
  int64_t idle_for = now_ms - last_activity_ms_;
  switch (phase_) {
    case Phase::kIdle:
      if (handshaking_ && now_ms - created_ms_ >= kHandshakeTimeoutMs) {
        tls::HandshakeCounters::CountTimedOut();
        if (listener_->connection_log_key != 0) LogConnection(false);
        Close();
      } else if (idle_for >= idle_timeout_ms_) {
        Close();
      }
      break;
    case Phase::kHead: {
      if (idle_for >= idle_timeout_ms_ || now_ms - head_started_ms_ >= HeaderTimeoutMs()) {
        in_.Clear();
        keep_alive_ = false;
        RespondError(Cause::kClientHeadTimeout, true);
        Pump();
      }
      break;
    }
    case Phase::kForwarding:
      if (counted_target_ != nullptr && worker_->snapshot() &&
          worker_->snapshot()->DrainExpired(counted_target_, now_ms)) {
        // Deregistration delay over with the request still open: ALB answers 502 (or cuts
        // the response if it had started).
        FailUpstream(Cause::kDrainDeadline);
        Pump();
      } else if (upstream_ != nullptr && (!upstream_->connected || upstream_->handshaking) &&
                 now_ms - connect_started_ms_ >= kConnectTimeoutMs) {
        // No connection within 10 s: 504; connected, but no TLS session within 10 more: 502
        // (reference §2.2).
        if (upstream_->connected) {
          worker_->ReportTargetTlsFailure(
              upstream_key_.address,
              snapshot_->target_groups[static_cast<size_t>(target_group_)].config->name,
              "the target did not complete the handshake within 10 s");
        }
        FailUpstream(upstream_->connected ? Cause::kTargetTlsTimeout
                                          : Cause::kTargetConnectTimeout);
        Pump();
      } else if (idle_for >= idle_timeout_ms_) {
        // Waiting for the rest of the client's body (everything received so far has gone to
        // the target): the client is late, 408 as ALB; otherwise the target is, 504. Either
        // way the target connection is closed (FailUpstream releases it unreusable).
        const bool waiting_for_client =
            !req_body_done_ && req_ready_ == 0 && upstream_out_sent_ == upstream_out_.size();
        FailUpstream(waiting_for_client ? Cause::kClientBodyTimeout : Cause::kTargetTimeout);
        Pump();
      }
      break;
    case Phase::kLocal:
    case Phase::kClosing:
      if (idle_for >= idle_timeout_ms_) Close();
      break;
    case Phase::kLingering:
      if (now_ms - linger_started_ms_ >= kLingerMs) Close();
      break;
    case Phase::kTunnel:
      CheckTunnelTimers(now_ms);
      break;
    case Phase::kH2:
      CheckH2Timers(now_ms);
      break;
  }
}

int64_t DownstreamConnection::NextCheckMs() const {
  const int64_t header_timeout = HeaderTimeoutMs();
  int64_t at = last_activity_ms_ + header_timeout;  // covers idle, head and connect
  if (handshaking_) at = std::min(at, created_ms_ + kHandshakeTimeoutMs);
  switch (phase_) {
    case Phase::kHead:
      return std::min(at, head_started_ms_ + header_timeout);
    case Phase::kTunnel:
      // A tunnel has no head to wait for: its idle deadline (a network flow's as its
      // keep-alives move it), not the header timeout's polling.
      at = listener_->protocol == snapshot::ListenerProtocol::kHttp ||
                   listener_->protocol == snapshot::ListenerProtocol::kHttps
               ? last_activity_ms_ + idle_timeout_ms_
               : keepalive_.NextCheckMs(last_activity_ms_, idle_timeout_ms_);
      [[fallthrough]];
    case Phase::kForwarding:
      if (upstream_ != nullptr && (!upstream_->connected || upstream_->handshaking)) {
        at = std::min(at, connect_started_ms_ + kConnectTimeoutMs);
      }
      if (counted_target_ != nullptr && worker_->snapshot()) {
        at = std::min(at, worker_->snapshot()->DrainDeadline(counted_target_));
      }
      if (phase_ == Phase::kTunnel) at = std::min(at, UnhealthyFlowDeadlineMs());
      return at;
    case Phase::kLingering:
      return linger_started_ms_ + kLingerMs;
    case Phase::kH2:
      // Idle only without a running exchange (those keep their own timers).
      return (h2_->live_exchanges() != 0 ? worker_->now_ms() : h2_->last_stream_activity_ms()) +
             idle_timeout_ms_;
    case Phase::kIdle:
    case Phase::kLocal:
    case Phase::kClosing:
      return at;
  }
  return at;
}

bool DownstreamConnection::HandshakeProgressed() {
  // The handshake may have finished without application data yet (an idle TLS client is
  // then under the idle timeout, not the handshake timeout).
  if (transport_->Handshake() != net::HandshakeStatus::kDone) return false;
  HandshakeDone();
  return true;
}

void DownstreamConnection::HandshakeDone() {
  handshaking_ = false;
  const int64_t took = worker_->now_ms() - created_ms_;
  handshake_ms_ = took > INT32_MAX ? INT32_MAX : static_cast<int32_t>(took);
  // The TLS headers every request of this connection carries, made once: the protocol and
  // cipher, and with mutual TLS the client-certificate headers (the certificate cannot
  // change: no renegotiation, no resumption).
  if (listener_->protocol == snapshot::ListenerProtocol::kTls) [[unlikely]] {
    StartRawTunnel();  // NLB: the decrypted bytes go to a target as they are
    return;
  }
  const config::Listener& l = *listener_->listener;
  tls_header_lines_.clear();
  if (listener_->load_balancer->attributes.tls_version_and_cipher_headers) {
    AppendTlsFactLines(l.attributes, transport_->TlsVersion(), transport_->TlsCipher(),
                       &tls_header_lines_);
  }
  if (l.mutual_authentication.mode != config::MutualTlsMode::kOff) {
    tls::AppendClientCertHeaders(transport_->TlsSession(), l.mutual_authentication.mode,
                                 l.attributes, &tls_header_lines_);
  }
  if (listener_->connection_log_key != 0) LogConnection(true);
  if (transport_->ApplicationProtocol() == "h2") StartH2();
}

}  // namespace sluice::proxy
