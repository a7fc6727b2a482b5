// A client connection that negotiated h2: the session runs in its place (h2_session.h), and
// each stream's exchange borrows what the connection learned at its TLS handshake.
#include <sys/epoll.h>

#include "proxy/downstream_connection.h"
#include "proxy/h2_session.h"
#include "proxy/worker.h"

namespace sluice::proxy {

void DownstreamConnection::StartH2() {
  phase_ = Phase::kH2;
  DrawConnTraceId();  // every stream's record carries the connection's id
  h2_ = std::make_unique<H2Session>(this, worker_, transport_.get(), listener_, peer_);
  // The handshake's read may have brought the client's preface and first frames.
  const bool started = h2_->Start(in_.readable());
  in_.Clear();
  worker_->GiveBuffer(in_);
  if (!started) {
    Close();
    return;
  }
  worker_->loop().Post(this, EPOLLOUT);  // send the server's SETTINGS
}

void DownstreamConnection::PumpH2() {
  H2Session::Step step = h2_->Pump(&readable_, &writable_);
  if (step == H2Session::Step::kClose) {
    Close();
    return;
  }
  // PING and SETTINGS do not count as activity (reference §4.1): streams do.
  last_activity_ms_ = h2_->last_stream_activity_ms();
  if (step == H2Session::Step::kMore) worker_->loop().Yield(this);
}

void DownstreamConnection::CheckH2Timers(int64_t now_ms) {
  // Streams whose exchange runs are timed by it; others (a response waiting for a window
  // the client keeps shut) are not activity.
  if (h2_->live_exchanges() != 0 || now_ms - h2_->last_stream_activity_ms() < idle_timeout_ms_) {
    return;
  }
  h2_->BeginShutdown();  // GOAWAY, sent if the socket takes it now
  PumpH2();
  if (!closed_) Close();
}

void DownstreamConnection::AdoptConnectionFacts(DownstreamConnection& connection) {
  tls_header_lines_ = connection.tls_header_lines_;
  handshake_ms_ = connection.handshake_ms_;
  conn_trace_[0] = connection.conn_trace_[0];
  conn_trace_[1] = connection.conn_trace_[1];
}

}  // namespace sluice::proxy
