// Plain TCP under the Transport seam: a non-blocking socket, registered edge-triggered with
// the owner's event loop. Loop thread only; owns the fd (closed by Close() or destruction).
#pragma once

#include <memory>

#include "base/result.h"
#include "net/transport.h"

namespace sluice::net {

class TcpTransport final : public Transport {
 public:
  // Takes ownership of a connected (or connecting) non-blocking socket.
  explicit TcpTransport(int fd) : fd_(fd) {}
  ~TcpTransport() override;
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;

  // Starts a non-blocking connect to `address` (TCP_NODELAY set); completion is reported as
  // writability, then ConnectError() says whether it succeeded.
  // `source`: see Connector::Connect.
  static Result<std::unique_ptr<Transport>> Connect(const SocketAddress& address,
                                                    const SocketAddress* source = nullptr);

  bool Watch(EventLoop& loop, EventHandler* handler) override;
  void Unwatch() override;
  int ConnectError() override;
  IoResult Read(char* dst, size_t capacity) override;
  IoResult Write(const iovec* pieces, int count) override;
  using Transport::Write;
  void ShutdownWrite() override;
  void ResetOnClose() override;
  void Close() override;
  SocketAddress PeerAddress() const override;
  SocketAddress LocalAddress() const override;
  int SpliceFd() const override { return fd_; }
  TcpSegments Segments() const override { return ReadTcpSegments(fd_); }
  bool EnableKeepAlive(int interval_s) override;

  int fd() const { return fd_; }

 private:
  int fd_;
  EventLoop* loop_ = nullptr;  // set while watched
};

class TcpConnector final : public Connector {
 public:
  Result<std::unique_ptr<Transport>> Connect(const SocketAddress& address,
                                             const SocketAddress* source) override {
    return TcpTransport::Connect(address, source);
  }
  Result<std::unique_ptr<Transport>> ConnectTls(const SocketAddress& address,
                                                const SocketAddress* source, ssl_st* ssl,
                                                std::shared_ptr<const void> keep) override;
};

}  // namespace sluice::net
