// The exchange's side of an HTTP/2 stream (h2_session.h): a net::Transport whose reads give
// the stream's request as HTTP/1.1 bytes and whose writes take the HTTP/1.1 response.
#include <sys/epoll.h>

#include <cerrno>
#include <cstring>

#include "net/event_loop.h"
#include "proxy/h2_session.h"

namespace sluice::proxy {

bool H2StreamTransport::Watch(net::EventLoop& loop, net::EventHandler* handler) {
  loop_ = &loop;
  handler_ = handler;
  loop.Post(handler, EPOLLIN | EPOLLOUT);  // like a new socket: writable, maybe readable
  return true;
}

net::IoResult H2StreamTransport::Read(char* dst, size_t capacity) {
  if (stream_ == nullptr) return net::IoResult::Failed(ECONNRESET);
  // A stream nghttp2 closed before the exchange ended its response was reset by the client
  // (a normal close comes only after the response's last byte, which the exchange wrote and
  // then shut down): what the client sent no longer needs an answer.
  if (stream_->closed) {
    return write_shut_ ? net::IoResult::Eof() : net::IoResult::Failed(ECONNRESET);
  }
  const size_t left = stream_->request.size() - stream_->request_read;
  if (left != 0) {
    size_t n = left < capacity ? left : capacity;
    std::memcpy(dst, stream_->request.data() + stream_->request_read, n);
    stream_->request_read += n;
    session_->OnRequestRead(stream_);
    if (n == left) WakeIfTunnelEnded();  // the end after the last bytes needs its own read
    return net::IoResult::Moved(n);
  }
  // The whole request was delivered: the exchange sees no end of stream (that would read as
  // a client that left) until it has ended its response itself, or, for a WebSocket whose
  // upgrade was answered, until the client's END_STREAM (its half-close of the tunnel).
  if (write_shut_) return net::IoResult::Eof();
  if (stream_->request_ended && stream_->response.upgraded()) {
    return net::IoResult::Eof();
  }
  return net::IoResult::WouldBlock();
}

net::IoResult H2StreamTransport::Write(const iovec* pieces, int count) {
  if (stream_ == nullptr || stream_->closed || write_shut_) return net::IoResult::Failed(EPIPE);
  using State = http::H1ResponseReader::State;
  http::H1ResponseReader& reader = stream_->response;
  size_t total = 0;
  bool full = false;
  for (int i = 0; i < count && !full; ++i) {
    std::string_view rest(static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len);
    while (!rest.empty()) {
      if (reader.state() == State::kDone) {  // nothing may follow the response: dropped
        total += rest.size();
        break;
      }
      const size_t buffered = stream_->body.size() - stream_->body_sent;
      const size_t room = buffered < kH2ResponseBuffer ? kH2ResponseBuffer - buffered : 0;
      if (reader.state() == State::kBody && room == 0) {
        full = true;
        break;
      }
      std::string_view body;
      size_t n = reader.Feed(rest, room, &body);
      if (reader.state() == State::kError) {
        session_->OnResponseProgress(stream_);  // resets the stream
        return net::IoResult::Failed(EPIPE);
      }
      if (reader.interim_ready()) session_->SubmitInterim(stream_);
      if (reader.head_ready() && reader.upgraded()) WakeIfTunnelEnded();  // ended before
      stream_->body.append(body);
      if (reader.state() == State::kDone) stream_->body_ended = true;
      total += n;
      rest.remove_prefix(n);
      if (n == 0) break;
    }
  }
  if (total == 0) {
    stream_->exchange_waiting = true;
    return net::IoResult::WouldBlock();
  }
  session_->OnResponseProgress(stream_);
  if (full) stream_->exchange_waiting = true;
  return net::IoResult::Moved(total);
}

void H2StreamTransport::WakeIfTunnelEnded() {
  // A short read clears the exchange's readiness (edge-triggered, as for a socket): the
  // client's END_STREAM of a WebSocket must come as an event of its own to be read.
  if (stream_->request_ended && stream_->response.upgraded() && handler_ != nullptr &&
      loop_ != nullptr) {
    loop_->Post(handler_, EPOLLIN);
  }
}

void H2StreamTransport::ShutdownWrite() {
  if (write_shut_) return;
  write_shut_ = true;
  if (stream_ == nullptr) return;
  stream_->response.FinishStream();  // an until-close body ends here
  if (stream_->response.state() == http::H1ResponseReader::State::kDone) {
    stream_->body_ended = true;
  }
  session_->OnResponseProgress(stream_);
  // The lingering read that follows sees the end at once.
  if (handler_ != nullptr && loop_ != nullptr) loop_->Post(handler_, EPOLLIN);
}

void H2StreamTransport::Close() {
  if (stream_ == nullptr) return;
  ShutdownWrite();
  H2Session* session = session_;
  H2Stream* stream = stream_;
  Detach();
  handler_ = nullptr;
  session->OnExchangeClosed(stream);
}

std::string_view H2StreamTransport::TlsVersion() const {
  return session_ != nullptr ? session_->transport()->TlsVersion() : std::string_view();
}
std::string_view H2StreamTransport::TlsCipher() const {
  return session_ != nullptr ? session_->transport()->TlsCipher() : std::string_view();
}
std::string_view H2StreamTransport::TlsServerName() const {
  return session_ != nullptr ? session_->transport()->TlsServerName() : std::string_view();
}
ssl_st* H2StreamTransport::TlsSession() const {
  return session_ != nullptr ? session_->transport()->TlsSession() : nullptr;
}

}  // namespace sluice::proxy
