// The byte-stream seam: every connection in the data plane (downstream, upstream, health
// check) reads and writes through a Transport, never through a socket call of its own. Plain
// TCP (tcp_transport.h) and an in-memory pipe for tests (memory_transport.h) implement it
// today; TLS is a second implementation over TCP and needs no change above this seam.
//
// Contract: one owner, one thread (the owner's event loop). Non-blocking: every call returns
// at once. Readiness is edge-triggered: after kWouldBlock the owner waits for the handler it
// gave Watch() to be called with EPOLLIN / EPOLLOUT (as epoll reports them); a transport with
// bytes of its own buffered (TLS records) reports that readiness itself.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "base/ip_address.h"
#include "base/result.h"
#include "net/tcp_info.h"

struct ssl_st;  // OpenSSL's SSL

namespace sluice::net {

class EventLoop;
class EventHandler;

enum class IoStatus : uint8_t {
  kOk,           // bytes() moved (> 0)
  kWouldBlock,   // nothing now: wait for readiness
  kEof,          // read: the peer finished sending (orderly close)
  kInterrupted,  // a signal interrupted the call before anything moved: call again
  kError,        // reset, broken pipe, ...: error() holds errno's value; the stream is done
};

// The outcome of a read or a write in one register, as the kernel and io_uring report it:
// bytes moved (> 0), 0 for end of stream, or minus an errno value. Reads and writes run
// several times per proxied request, so the result is not a wider struct.
class IoResult {
 public:
  static IoResult Moved(size_t n) { return IoResult(static_cast<int64_t>(n)); }
  static IoResult WouldBlock() { return IoResult(-EAGAIN); }
  static IoResult Eof() { return IoResult(0); }
  static IoResult Failed(int err) { return IoResult(-static_cast<int64_t>(err)); }
  // What a recv/send/sendmsg call returned (-1: errno says why).
  static IoResult FromSyscall(ssize_t n) { return n >= 0 ? IoResult(n) : IoResult(-errno); }

  bool ok() const { return value_ > 0; }
  IoStatus status() const {
    if (value_ > 0) return IoStatus::kOk;
    if (value_ == 0) return IoStatus::kEof;
    if (value_ == -EAGAIN || value_ == -EWOULDBLOCK) return IoStatus::kWouldBlock;
    if (value_ == -EINTR) return IoStatus::kInterrupted;
    return IoStatus::kError;
  }
  size_t bytes() const { return value_ > 0 ? static_cast<size_t>(value_) : 0; }
  int error() const { return value_ < 0 ? static_cast<int>(-value_) : 0; }

 private:
  explicit IoResult(int64_t value) : value_(value) {}
  int64_t value_;
};

// Where a handshake (TLS) stands; plain streams are kDone from the start.
enum class HandshakeStatus : uint8_t { kDone, kWantRead, kWantWrite, kFailed };

class Transport {
 public:
  virtual ~Transport() = default;

  // Reports readiness of both directions to `handler` (edge-triggered) until Unwatch() or
  // Close(). False when the loop refused (errno set for a socket).
  virtual bool Watch(EventLoop& loop, EventHandler* handler) = 0;
  virtual void Unwatch() = 0;

  // For an outgoing stream: 0 once the connection is established (or still in progress),
  // else the errno value of why it failed (refused, unreachable, reset).
  virtual int ConnectError() = 0;
  // Advances a handshake; kDone at once for plain TCP.
  virtual HandshakeStatus Handshake() { return HandshakeStatus::kDone; }

  // Reads at most `capacity` bytes into `dst`. A read that fills less than `capacity`
  // drained what was available: the caller may treat the stream as not readable until the
  // next readiness event.
  virtual IoResult Read(char* dst, size_t capacity) = 0;
  // Writes the pieces in order as one stream (a prefix of them may be accepted).
  virtual IoResult Write(const iovec* pieces, int count) = 0;
  IoResult Write(const char* data, size_t size) {
    iovec one{const_cast<char*>(data), size};
    return Write(&one, 1);
  }
  // Half-close: no more writes; the peer reads EOF after what was written.
  virtual void ShutdownWrite() = 0;
  // Makes the coming Close() reset the stream (the peer sees RST, not FIN): how a network
  // load balancer ends a flow it terminates (reference §8.5, §8.6). No-op where there is
  // no socket.
  virtual void ResetOnClose() {}
  // Stops watching and releases the stream; every later call fails. Idempotent.
  virtual void Close() = 0;

  virtual SocketAddress PeerAddress() const = 0;
  virtual SocketAddress LocalAddress() const = 0;

  // For TLS streams after the handshake: the protocol ("TLSv1.3") and cipher suite
  // ("TLS_AES_128_GCM_SHA256") in OpenSSL's names, static strings; empty otherwise.
  virtual std::string_view TlsVersion() const { return {}; }
  virtual std::string_view TlsCipher() const { return {}; }
  // The SNI host name the client sent (valid while the stream is open), or empty.
  virtual std::string_view TlsServerName() const { return {}; }
  // The protocol ALPN selected ("h2", "http/1.1") after a TLS handshake, else empty.
  virtual std::string_view ApplicationProtocol() const { return {}; }
  // After a TLS handshake failed: why, in a few words (a static string: the certificate
  // check's reason, OpenSSL's reason, or that the peer closed); null otherwise.
  virtual const char* TlsFailure() const { return nullptr; }
  // The OpenSSL session of a TLS stream (for what a peer certificate says), else null.
  virtual ssl_st* TlsSession() const { return nullptr; }
  // True when the stream holds received bytes that no readiness event will announce (a TLS
  // library's read-ahead took records off the socket), so the owner must read again.
  virtual bool HasBufferedInput() const { return false; }
  // The socket under a plain stream, whose bytes may move by splice(2) without passing
  // through this object (net/splice_pipe.h); -1 for TLS and memory streams.
  virtual int SpliceFd() const { return -1; }
  // The TCP segments the socket under the stream received and sent so far (TCP_INFO); zeros
  // for memory streams.
  virtual TcpSegments Segments() const { return {}; }
  // Makes the socket under the stream send TCP keep-alives once it has been quiet for
  // `interval_s` seconds, then every `interval_s` (a TLS listener's flows, reference §8.5).
  // False when there is no socket or the kernel refused.
  virtual bool EnableKeepAlive(int /*interval_s*/) { return false; }
  // A TLS client stream: `prefix` (copied) goes out in the clear before its first TLS byte —
  // the PROXY protocol header a network load balancer puts in front of a TLS target's stream
  // (reference §8.4). Call before the handshake starts. False for streams without a
  // handshake, whose caller writes the bytes itself.
  virtual bool SetCleartextPrefix(std::string_view /*prefix*/) { return false; }
};

// Opens outgoing streams (upstream connections, health checks): TCP in the process
// (TcpConnector), memory pipes in tests. Called on the loop thread of the stream's owner.
class Connector {
 public:
  virtual ~Connector() = default;
  // Starts connecting; the stream reports writability when the connect completes, and
  // ConnectError() then says whether it succeeded. An error here failed at once. `source`
  // (may be null: the host's address): the client's address and port the target is to see
  // (preserve_client_ip), bound transparently (net::BindTransparent).
  virtual Result<std::unique_ptr<Transport>> Connect(const SocketAddress& address,
                                                     const SocketAddress* source) = 0;
  // The same with TLS over it: `ssl` is a client session in connect state, owned from the
  // call on (freed on every path); `keep` (what its callbacks need) lives as long as the
  // stream. The handshake runs in the stream's first reads and writes. This default refuses
  // (memory pipes carry no TLS); TcpConnector implements it.
  virtual Result<std::unique_ptr<Transport>> ConnectTls(const SocketAddress& address,
                                                        const SocketAddress* source, ssl_st* ssl,
                                                        std::shared_ptr<const void> keep);
};

}  // namespace sluice::net
