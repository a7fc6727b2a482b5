// TLS under the Transport seam: an OpenSSL session over a TcpTransport. The handshake runs
// inside Read/Write (and Handshake()), so the connection above sees only plaintext and the
// usual readiness: the transport is the loop's handler for its socket and passes readiness
// on, turning "writable" into "readable" while a read waits for the socket to take a
// handshake or alert record, and the reverse. Read drains whole TLS records: a read that
// returns less than asked left nothing decrypted behind, as for TCP.
//
// Contract: as Transport (one owner, one thread). The SSL session and what its callbacks
// need (`keep`, e.g. the listener's tls::ServerContext) live as long as the transport.
#pragma once

#include <openssl/ssl.h>

#include <cerrno>
#include <memory>
#include <string>

#include "net/event_loop.h"
#include "net/tcp_transport.h"
#include "net/transport.h"

namespace sluice::net {

class TlsTransport final : public Transport, public EventHandler {
 public:
  // Takes the socket and the session (already in accept or connect state). A server that
  // receives a plain HTTP request instead of a ClientHello writes `plain_http_answer` (when
  // given; it must outlive the transport) unencrypted before failing the handshake.
  TlsTransport(int fd, SSL* ssl, std::shared_ptr<const void> keep,
               const std::string* plain_http_answer = nullptr);
  ~TlsTransport() override;
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  bool Watch(EventLoop& loop, EventHandler* handler) override;
  void Unwatch() override;
  int ConnectError() override { return tcp_.ConnectError(); }
  HandshakeStatus Handshake() override;
  IoResult Read(char* dst, size_t capacity) override;
  IoResult Write(const iovec* pieces, int count) override;
  using Transport::Write;
  void ShutdownWrite() override;
  void ResetOnClose() override { tcp_.ResetOnClose(); }
  void Close() override;
  SocketAddress PeerAddress() const override { return tcp_.PeerAddress(); }
  SocketAddress LocalAddress() const override { return tcp_.LocalAddress(); }
  TcpSegments Segments() const override { return tcp_.Segments(); }
  bool EnableKeepAlive(int interval_s) override { return tcp_.EnableKeepAlive(interval_s); }
  std::string_view TlsVersion() const override;
  std::string_view TlsCipher() const override;
  std::string_view TlsServerName() const override;
  std::string_view ApplicationProtocol() const override;
  bool HasBufferedInput() const override;
  const char* TlsFailure() const override;
  SSL* TlsSession() const override { return ssl_; }
  bool SetCleartextPrefix(std::string_view prefix) override;

  void OnEvents(uint32_t events) override;

  bool handshake_done() const { return handshake_done_; }
  SSL* ssl() const { return ssl_; }

 private:
  // Maps an SSL_read/SSL_write failure to an IoResult, remembering which readiness a
  // retry waits for.
  IoResult Failure(int ret, bool reading);
  IoResult WriteRecord(const char* data, size_t size);
  // What Read/Write report while the handshake is not done: would-block while it is in
  // progress; after it failed, end of stream when the peer closed before finishing, its
  // errno when it reset, EPROTO when the TLS exchange failed.
  IoResult HandshakeFailure() const;
  // Sends what is left of prefix_; kDone once all of it is out.
  HandshakeStatus SendPrefix();

  TcpTransport tcp_;
  SSL* ssl_;
  std::shared_ptr<const void> keep_;
  EventHandler* handler_ = nullptr;
  const std::string* plain_http_answer_;
  bool handshake_done_ = false;
  bool read_wants_write_ = false;
  bool write_wants_read_ = false;
  bool handshake_failed_ = false;
  bool session_broken_ = false;         // a TLS protocol error: its session must not be resumed
  int handshake_error_ = EPROTO;        // after a failed handshake: 0 (peer closed), errno, EPROTO
  unsigned long handshake_reason_ = 0;  // OpenSSL's reason code of that failure
  std::string prefix_;                  // SetCleartextPrefix's bytes; prefix_sent_ of them out
  size_t prefix_sent_ = 0;
};

}  // namespace sluice::net
