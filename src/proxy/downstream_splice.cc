// The tunnel's zero-copy directions: a bulk direction's bytes go from one socket into a
// kernel pipe and from the pipe into the other socket (splice(2)), never through user space
// (issue 15; docs/decisions/0020-splice.md). Loop thread only.
//
// When: a direction starts with its buffer (downstream_tunnel.cc). A read that fills the
// buffer marks it bulk; once the buffer (and any head before it) is out, the direction takes
// a pipe from the worker's pool and keeps it until the connection closes. Small exchanges
// (keep-alive HTTP through a TCP listener) never fill a buffer and stay on read/write, which
// cost the same two calls per exchange without a pipe. Either end under TLS, or a memory
// stream in tests, cannot splice (Transport::SpliceFd is -1): its buffers stay.
//
// Bounds: a pipe holds at most its capacity (1 MiB, net/splice_pipe.cc) and is filled only while
// empty, so a peer that stops reading stops the other by TCP flow control, as with buffers.
#include "net/splice_pipe.h"
#include "proxy/downstream_connection.h"
#include "proxy/upstream_connection.h"
#include "proxy/worker.h"

namespace sluice::proxy {

namespace {

// What one splice into a pipe asks for: more than a pipe holds, so the pipe is the limit.
constexpr size_t kSpliceChunk = size_t{1} << 20;

// Both ends plain sockets.
bool CanSplice(const net::Transport& downstream, const net::Transport& upstream) {
  return downstream.SpliceFd() >= 0 && upstream.SpliceFd() >= 0;
}

}  // namespace

void DownstreamConnection::MaybeSpliceUpstream() {
  if (splice_up_.open() || !in_.empty() || upstream_out_sent_ < upstream_out_.size() || peer_eof_ ||
      !CanSplice(*transport_, upstream_->transport())) {
    return;
  }
  if (worker_->pipes().Acquire(&splice_up_)) worker_->GiveBuffer(in_);  // no longer read into
}

void DownstreamConnection::MaybeSpliceDownstream() {
  if (splice_down_.open() || !upstream_->in().empty() || out_sent_ < out_.size() || resp_eof_ ||
      !CanSplice(*transport_, upstream_->transport())) {
    return;
  }
  (void)worker_->pipes().Acquire(&splice_down_);  // none left: the buffer goes on
}

// Client bytes to the target through splice_up_; the client's end becomes a half-close.
bool DownstreamConnection::SpliceToUpstream() {
  bool progress = false;
  if (splice_up_.pending == 0 && readable_ && !peer_eof_) {
    net::IoResult r = net::SpliceIn(transport_->SpliceFd(), splice_up_, kSpliceChunk);
    switch (r.status()) {
      case net::IoStatus::kOk:
        last_activity_ms_ = worker_->now_ms();
        progress = true;
        break;
      case net::IoStatus::kWouldBlock:
        readable_ = false;
        break;
      case net::IoStatus::kInterrupted:
        progress = true;
        break;
      case net::IoStatus::kEof:
        peer_eof_ = true;
        readable_ = false;
        progress = true;
        break;
      case net::IoStatus::kError:
        CountFlowReset(r.error(), true);
        Close();  // reset by the client
        return false;
    }
  }
  if (splice_up_.pending > 0 && upstream_->writable) {
    net::IoResult r = net::SpliceOut(splice_up_, upstream_->transport().SpliceFd());
    if (r.ok()) {
      received_bytes_ += r.bytes();
      CountFlowBytes(r.bytes());
      net::PipePool::CountSpliced(r.bytes());
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
  if (peer_eof_ && splice_up_.pending == 0 && !upstream_shut_) {
    upstream_->transport().ShutdownWrite();
    upstream_shut_ = true;
    progress = true;
  }
  return progress;
}

// Target bytes to the client through splice_down_; the target's end becomes a half-close.
bool DownstreamConnection::SpliceToDownstream() {
  bool progress = false;
  if (splice_down_.pending == 0 && upstream_->readable && !resp_eof_) {
    net::IoResult r = net::SpliceIn(upstream_->transport().SpliceFd(), splice_down_, kSpliceChunk);
    switch (r.status()) {
      case net::IoStatus::kOk:
        last_activity_ms_ = worker_->now_ms();
        progress = true;
        break;
      case net::IoStatus::kWouldBlock:
        upstream_->readable = false;
        break;
      case net::IoStatus::kInterrupted:
        progress = true;
        break;
      case net::IoStatus::kEof:
        resp_eof_ = true;
        upstream_->readable = false;
        progress = true;
        break;
      case net::IoStatus::kError:
        CountFlowReset(r.error(), false);
        Close();  // reset by the target
        return false;
    }
  }
  if (splice_down_.pending > 0 && writable_) {
    net::IoResult r = net::SpliceOut(splice_down_, transport_->SpliceFd());
    if (r.ok()) {
      sent_bytes_ += r.bytes();
      CountFlowBytes(r.bytes());
      net::PipePool::CountSpliced(r.bytes());
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
  if (resp_eof_ && splice_down_.pending == 0 && !downstream_shut_) {
    transport_->ShutdownWrite();
    downstream_shut_ = true;
    progress = true;
  }
  return progress;
}

}  // namespace sluice::proxy
