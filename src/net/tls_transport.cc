#include "net/tls_transport.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <sys/epoll.h>

#include <cstring>

#include "net/socket.h"
#include "net/tcp_transport.h"

namespace sluice::net {

Result<std::unique_ptr<Transport>> Connector::ConnectTls(const SocketAddress&, const SocketAddress*,
                                                         SSL* ssl, std::shared_ptr<const void>) {
  SSL_free(ssl);
  return Error{ErrorSource::kInternal, "this connector does not make TLS connections"};
}

Result<std::unique_ptr<Transport>> TcpConnector::ConnectTls(const SocketAddress& address,
                                                            const SocketAddress* source, SSL* ssl,
                                                            std::shared_ptr<const void> keep) {
  auto fd = ConnectNonBlocking(address, source);
  if (!fd.ok()) {
    SSL_free(ssl);
    return fd.error();
  }
  auto stream = std::make_unique<TlsTransport>(fd.value(), ssl, std::move(keep));
  if (stream->ssl() == nullptr) return Error{ErrorSource::kInternal, "SSL_set_fd failed"};
  return std::unique_ptr<Transport>(std::move(stream));
}

TlsTransport::TlsTransport(int fd, SSL* ssl, std::shared_ptr<const void> keep,
                           const std::string* plain_http_answer)
    : tcp_(fd), ssl_(ssl), keep_(std::move(keep)), plain_http_answer_(plain_http_answer) {
  if (ssl_ != nullptr && SSL_set_fd(ssl_, fd) != 1) {
    ERR_clear_error();
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
}

TlsTransport::~TlsTransport() { Close(); }

bool TlsTransport::Watch(EventLoop& loop, EventHandler* handler) {
  if (ssl_ == nullptr) return false;
  handler_ = handler;
  return tcp_.Watch(loop, this);
}

void TlsTransport::Unwatch() { tcp_.Unwatch(); }

void TlsTransport::OnEvents(uint32_t events) {
  if ((events & EPOLLOUT) && read_wants_write_) events |= EPOLLIN;
  if ((events & (EPOLLIN | EPOLLRDHUP)) && write_wants_read_) events |= EPOLLOUT;
  handler_->OnEvents(events);
}

IoResult TlsTransport::Failure(int ret, bool reading) {
  int err = SSL_get_error(ssl_, ret);
  int saved_errno = errno;
  ERR_clear_error();
  switch (err) {
    case SSL_ERROR_WANT_READ:
      (reading ? read_wants_write_ : write_wants_read_) = !reading;
      return IoResult::WouldBlock();
    case SSL_ERROR_WANT_WRITE:
      (reading ? read_wants_write_ : write_wants_read_) = reading;
      return IoResult::WouldBlock();
    case SSL_ERROR_ZERO_RETURN:
      return IoResult::Eof();
    case SSL_ERROR_SYSCALL:
      if (saved_errno == EINTR) return IoResult::Failed(EINTR);
      return IoResult::Failed(saved_errno != 0 ? saved_errno : ECONNRESET);
    default:
      session_broken_ = true;
      return IoResult::Failed(EPROTO);
  }
}

IoResult TlsTransport::HandshakeFailure() const {
  if (ssl_ == nullptr) return IoResult::Failed(ENOMEM);   // no session could be made
  if (!handshake_failed_) return IoResult::WouldBlock();  // still in progress
  return handshake_error_ == 0 ? IoResult::Eof() : IoResult::Failed(handshake_error_);
}

bool TlsTransport::SetCleartextPrefix(std::string_view prefix) {
  prefix_.assign(prefix);
  prefix_sent_ = 0;
  return true;
}

HandshakeStatus TlsTransport::SendPrefix() {
  while (prefix_sent_ < prefix_.size()) {
    IoResult r = tcp_.Write(prefix_.data() + prefix_sent_, prefix_.size() - prefix_sent_);
    if (r.ok()) {
      prefix_sent_ += r.bytes();
    } else if (r.status() == IoStatus::kInterrupted) {
      continue;
    } else if (r.status() == IoStatus::kWouldBlock) {
      read_wants_write_ = true;  // a reader waits for the socket to take the prefix
      return HandshakeStatus::kWantWrite;
    } else {
      handshake_failed_ = true;
      handshake_error_ = r.error() != 0 ? r.error() : ECONNRESET;
      return HandshakeStatus::kFailed;
    }
  }
  return HandshakeStatus::kDone;
}

HandshakeStatus TlsTransport::Handshake() {
  if (handshake_done_) return HandshakeStatus::kDone;
  if (ssl_ == nullptr || handshake_failed_) return HandshakeStatus::kFailed;
  if (prefix_sent_ < prefix_.size()) [[unlikely]] {
    if (HandshakeStatus s = SendPrefix(); s != HandshakeStatus::kDone) return s;
  }
  errno = 0;
  int ret = SSL_do_handshake(ssl_);
  const int saved_errno = errno;
  if (ret == 1) {
    handshake_done_ = true;
    read_wants_write_ = write_wants_read_ = false;
    return HandshakeStatus::kDone;
  }
  int err = SSL_get_error(ssl_, ret);
  const unsigned long reason = ERR_GET_REASON(ERR_peek_error());
  ERR_clear_error();
  if (err == SSL_ERROR_WANT_READ) {
    read_wants_write_ = write_wants_read_ = false;
    write_wants_read_ = true;  // a writer waits for the peer's next flight
    return HandshakeStatus::kWantRead;
  }
  if (err == SSL_ERROR_WANT_WRITE) {
    read_wants_write_ = true;  // a reader waits for the socket to take our flight
    return HandshakeStatus::kWantWrite;
  }
  handshake_failed_ = true;
  handshake_reason_ = reason;
  // Why, for Read/Write: the peer closed or reset before finishing (its end of stream or
  // errno), or the TLS exchange itself failed (EPROTO).
  if (err == SSL_ERROR_ZERO_RETURN || reason == SSL_R_UNEXPECTED_EOF_WHILE_READING ||
      (err == SSL_ERROR_SYSCALL && saved_errno == 0)) {
    handshake_error_ = 0;
  } else if (err == SSL_ERROR_SYSCALL) {
    handshake_error_ = saved_errno;
  } else {
    handshake_error_ = EPROTO;
  }
  if ((reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST) &&
      plain_http_answer_ != nullptr && !plain_http_answer_->empty()) {
    // Best effort, like any last word before a close: a full socket drops it.
    (void)tcp_.Write(plain_http_answer_->data(), plain_http_answer_->size());
  }
  return HandshakeStatus::kFailed;
}

IoResult TlsTransport::Read(char* dst, size_t capacity) {
  if (!handshake_done_ && Handshake() != HandshakeStatus::kDone) return HandshakeFailure();
  size_t total = 0;
  while (total < capacity) {
    size_t n = 0;
    int ret = SSL_read_ex(ssl_, dst + total, capacity - total, &n);
    if (ret == 1) {
      total += n;
      continue;
    }
    if (total > 0) {
      // Deliver what was decrypted; the condition (would-block, end, error) is met again by
      // the next call.
      IoResult r = Failure(ret, true);
      if (r.status() != IoStatus::kWouldBlock) read_wants_write_ = false;
      return IoResult::Moved(total);
    }
    return Failure(ret, true);
  }
  return IoResult::Moved(total);
}

IoResult TlsTransport::WriteRecord(const char* data, size_t size) {
  size_t n = 0;
  int ret = SSL_write_ex(ssl_, data, size, &n);
  if (ret == 1) return IoResult::Moved(n);
  return Failure(ret, false);
}

IoResult TlsTransport::Write(const iovec* pieces, int count) {
  if (!handshake_done_ && Handshake() != HandshakeStatus::kDone) return HandshakeFailure();
  // Small pieces (a head and a short body) go out as one record: copy them together.
  constexpr size_t kCoalesce = 16 * 1024;
  size_t total_size = 0;
  for (int i = 0; i < count; ++i) total_size += pieces[i].iov_len;
  if (count > 1 && total_size <= kCoalesce) {
    char joined[kCoalesce];
    size_t at = 0;
    for (int i = 0; i < count; ++i) {
      std::memcpy(joined + at, pieces[i].iov_base, pieces[i].iov_len);
      at += pieces[i].iov_len;
    }
    return WriteRecord(joined, at);
  }
  size_t total = 0;
  for (int i = 0; i < count; ++i) {
    const char* base = static_cast<const char*>(pieces[i].iov_base);
    size_t done = 0;
    while (done < pieces[i].iov_len) {
      IoResult r = WriteRecord(base + done, pieces[i].iov_len - done);
      if (!r.ok()) return total > 0 ? IoResult::Moved(total) : r;
      done += r.bytes();
      total += r.bytes();
    }
  }
  return total > 0 ? IoResult::Moved(total) : IoResult::WouldBlock();
}

std::string_view TlsTransport::TlsVersion() const {
  return ssl_ != nullptr && handshake_done_ ? SSL_get_version(ssl_) : std::string_view();
}

std::string_view TlsTransport::TlsCipher() const {
  if (ssl_ == nullptr || !handshake_done_) return {};
  const char* name = SSL_get_cipher_name(ssl_);
  return name != nullptr ? std::string_view(name) : std::string_view();
}

bool TlsTransport::HasBufferedInput() const {
  return ssl_ != nullptr && SSL_has_pending(ssl_) == 1;
}

std::string_view TlsTransport::ApplicationProtocol() const {
  if (ssl_ == nullptr || !handshake_done_) return {};
  const unsigned char* p = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &p, &len);
  return p != nullptr ? std::string_view(reinterpret_cast<const char*>(p), len)
                      : std::string_view();
}

std::string_view TlsTransport::TlsServerName() const {
  if (ssl_ == nullptr) return {};
  const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return name != nullptr ? std::string_view(name) : std::string_view();
}

const char* TlsTransport::TlsFailure() const {
  if (!handshake_failed_) return nullptr;
  if (ssl_ == nullptr) return "no TLS session could be made";
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) return X509_verify_cert_error_string(verify);
  if (handshake_error_ == 0) return "the peer closed the connection during the handshake";
  if (handshake_error_ != EPROTO) return "the connection was reset during the handshake";
  const char* why = ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, handshake_reason_));
  return why != nullptr ? why : "the TLS handshake failed";
}

void TlsTransport::ShutdownWrite() {
  if (ssl_ != nullptr && handshake_done_) {
    // Sends close_notify (best effort: a full socket drops it) before the TCP half-close.
    (void)SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  tcp_.ShutdownWrite();
}

void TlsTransport::Close() {
  if (ssl_ != nullptr) {
    // OpenSSL marks the session of a stream freed without a shutdown not resumable. A
    // stream closed after a good handshake and no protocol error (a target's
    // "Connection: close", an idle pool sweep) keeps its session resumable.
    if (handshake_done_ && !session_broken_) {
      SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    }
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  tcp_.Close();
  keep_.reset();
}

}  // namespace sluice::net
