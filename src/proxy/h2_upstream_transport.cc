// The exchange's side of a stream to an HTTP/2 target (H2UpstreamTransport), and a worker's
// pool of HTTP/2 connections to targets (H2ClientPool). See h2_client_session.h.
#include <sys/epoll.h>

#include <cerrno>
#include <cstring>

#include "proxy/h2_client_session.h"
#include "proxy/worker.h"
#include "tls/client_context.h"

namespace sluice::proxy {

bool H2UpstreamTransport::Watch(net::EventLoop& loop, net::EventHandler* handler) {
  loop_ = &loop;
  handler_ = handler;
  // Like a socket whose connect completes: writable once the connection is ready (or failed).
  if (session_ == nullptr || session_->ready()) loop.Post(handler, EPOLLOUT);
  return true;
}

int H2UpstreamTransport::ConnectError() {
  if (session_ != nullptr) return session_->connect_error();
  // A TLS failure is reported by the write that follows (the exchange logs the reason).
  if (!was_ready_ && tls_failure_ == nullptr) return error_after_detach_;
  return 0;
}

net::IoResult H2UpstreamTransport::Read(char* dst, size_t capacity) {
  if (stream_ == nullptr) return net::IoResult::Failed(error_after_detach_);
  H2UpstreamStream& s = *stream_;
  const size_t left = s.response_bytes.size() - s.response_read;
  if (left != 0) {
    const size_t n = left < capacity ? left : capacity;
    std::memcpy(dst, s.response_bytes.data() + s.response_read, n);
    s.response_read += n;
    if (session_ != nullptr) session_->OnResponseRead(stream_);
    return net::IoResult::Moved(n);
  }
  if (s.ended) return net::IoResult::Eof();
  if (s.error != 0) return net::IoResult::Failed(s.error);
  return net::IoResult::WouldBlock();
}

net::IoResult H2UpstreamTransport::Write(const iovec* pieces, int count) {
  if (stream_ == nullptr || session_ == nullptr) return net::IoResult::Failed(EPIPE);
  H2UpstreamStream& s = *stream_;
  if (s.error != 0 || s.closed) return net::IoResult::Failed(EPIPE);
  using State = http::H1RequestReader::State;
  size_t total = 0;
  bool full = false;
  for (int i = 0; i < count && !full; ++i) {
    std::string_view rest(static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len);
    while (!rest.empty()) {
      if (s.request.state() == State::kDone) {  // nothing may follow the request: dropped
        total += rest.size();
        break;
      }
      const size_t buffered = s.body.size() - s.body_sent;
      const size_t room = buffered < kH2UpstreamBodyBuffer ? kH2UpstreamBodyBuffer - buffered : 0;
      if (s.request.state() == State::kBody && room == 0) {
        full = true;
        break;
      }
      std::string_view body;
      const size_t n = s.request.Feed(rest, room, &body);
      if (s.request.state() == State::kError) return net::IoResult::Failed(EPROTO);
      s.body.append(body);
      if (s.request.state() == State::kDone) s.body_ended = true;
      total += n;
      rest.remove_prefix(n);
      if (s.request.head_ready()) session_->OnRequestWritten(stream_);  // HEADERS first
      if (n == 0) break;
    }
  }
  if (total == 0) {
    s.exchange_waiting = true;
    return net::IoResult::WouldBlock();
  }
  session_->OnRequestWritten(stream_);
  if (full) s.exchange_waiting = true;
  return net::IoResult::Moved(total);
}

void H2UpstreamTransport::Close() {
  orphan_.reset();
  if (session_ == nullptr || stream_ == nullptr) {
    stream_ = nullptr;
    return;
  }
  H2ClientSession* session = session_;
  H2UpstreamStream* stream = stream_;
  session_ = nullptr;
  stream_ = nullptr;
  handler_ = nullptr;
  session->OnExchangeClosed(stream);
}

SocketAddress H2UpstreamTransport::LocalAddress() const {
  return session_ != nullptr ? session_->transport()->LocalAddress() : SocketAddress{};
}

const char* H2UpstreamTransport::TlsFailure() const {
  return session_ != nullptr ? session_->tls_failure() : tls_failure_;
}

H2ClientPool::~H2ClientPool() {
  for (auto& [key, list] : sessions_) {
    for (H2ClientSession* s : list) delete s;
  }
}

UpstreamConnection* H2ClientPool::OpenStream(const UpstreamKey& key,
                                             const std::shared_ptr<const tls::ClientContext>& tls,
                                             int64_t idle_timeout_ms, UpstreamPools* pools,
                                             bool* reused) {
  std::vector<H2ClientSession*>& list = sessions_[key];
  H2ClientSession* session = nullptr;
  for (H2ClientSession* s : list) {
    if (s->HasRoom()) {
      session = s;
      break;
    }
  }
  *reused = session != nullptr && session->ready();
  if (session == nullptr) {
    const bool secure = key.tls_profile != 0;
    auto transport = secure && tls != nullptr ? worker_->ConnectTls(key.address, tls)
                                              : worker_->connector().Connect(key.address, nullptr);
    if (!transport.ok()) return nullptr;
    auto* fresh =
        new H2ClientSession(worker_, std::move(transport.value()), key, secure, idle_timeout_ms);
    if (!fresh->Start()) {
      delete fresh;
      return nullptr;
    }
    list.push_back(fresh);
    session = fresh;
  }
  auto stream_transport = std::make_unique<H2UpstreamTransport>(session, key.address);
  H2UpstreamTransport* t = stream_transport.get();
  auto* c = new UpstreamConnection(std::move(stream_transport), key, pools);
  t->Attach(session->AddStream(t));
  pools->Arm(c);
  c->readable = false;
  c->writable = false;
  c->idle_timeout_ms = idle_timeout_ms;
  c->transport().Watch(worker_->loop(), c);
  return c;
}

void H2ClientPool::Sweep(int64_t now_ms, bool all) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto& list = it->second;
    auto keep = list.begin();
    for (H2ClientSession* s : list) {
      if (!s->Closed() && s->Idle() &&
          (all || now_ms - s->idle_since_ms() >= s->idle_timeout_ms())) {
        s->Close();
      }
      if (s->Closed()) {
        worker_->loop().DeferDelete(s);  // an event for it may still be in this batch
      } else {
        *keep++ = s;
      }
    }
    list.erase(keep, list.end());
    it = list.empty() ? sessions_.erase(it) : std::next(it);
  }
}

size_t H2ClientPool::session_count() const {
  size_t n = 0;
  for (const auto& [key, list] : sessions_) n += list.size();
  return n;
}

}  // namespace sluice::proxy
