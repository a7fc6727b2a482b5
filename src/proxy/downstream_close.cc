// How a downstream connection ends: a graceful shutdown's last request, a lingering close
// that lets the client read its response, and Close(), which gives back what the connection
// holds (its target, pipes, buffers) and frees it after the loop turn. Loop thread only.
#include <sys/socket.h>

#include "proxy/downstream_connection.h"
#include "proxy/h2_session.h"
#include "proxy/upstream_connection.h"
#include "proxy/worker.h"

namespace sluice::proxy {

void DownstreamConnection::BeginShutdown() {
  shutting_down_ = true;
  keep_alive_ = false;  // the response in progress says "Connection: close"
  if (phase_ == Phase::kIdle) Close();
  if (phase_ == Phase::kH2) [[unlikely]]
    h2_->BeginShutdown();  // GOAWAY: the open streams finish, then the connection closes
}

void DownstreamConnection::LingeringClose() {
  if (closed_) return;
  EndExchange();
  if (upstream_ != nullptr) ReleaseUpstream(false);
  if (peer_eof_) {
    Close();
    return;
  }
  transport_->ShutdownWrite();
  phase_ = Phase::kLingering;
  linger_started_ms_ = worker_->now_ms();
  worker_->CheckSooner(this, NextCheckMs());
  in_.Clear();
  worker_->GiveBuffer(in_);
  readable_ = true;  // drain whatever is already queued
  ReadDownstream();
  while (!closed_ && readable_) ReadDownstream();
}

void DownstreamConnection::Close() {
  if (closed_) return;
  EndExchange();
  if (listener_->protocol == snapshot::ListenerProtocol::kTls && listener_->access_log_key != 0)
      [[unlikely]]
    LogTlsFlow();
  closed_ = true;
  // The gauge goes down by one on the slot it went up on (a reload may rename the LB).
  if (!h2_stream_) observe::WorkerMetrics::Add(*lb_metrics_, active_metric_, ~uint64_t{0});
  if (h2_ != nullptr) h2_->Detach();  // the streams' exchanges see a reset
  if (flow_bytes_metric_ != observe::LbMetric::kCount) [[unlikely]]
    CountFlowPackets();
  if (upstream_ != nullptr) ReleaseUpstream(false);
  if (counted_target_ != nullptr) {
    counted_target_->outstanding.fetch_sub(1, std::memory_order_relaxed);
    counted_target_ = nullptr;
  }
  if (listener_open_ != nullptr) {
    listener_open_->fetch_sub(1, std::memory_order_relaxed);
    listener_open_.reset();
  }
  worker_->pipes().Release(&splice_up_);
  worker_->pipes().Release(&splice_down_);
  transport_->Close();
  in_.Clear();
  out_.clear();
  out_sent_ = 0;
  GiveBackIdleMemory();
  worker_->Unregister(this);
  worker_->loop().DeferDelete(this);
}

}  // namespace sluice::proxy
