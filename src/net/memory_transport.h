// An in-memory byte stream under the Transport seam, for tests and fuzz targets: Pair()
// gives two connected ends, each direction bounded to `capacity` buffered bytes. An end that
// is watched gets its readiness events posted to its event loop (EventLoop::Post) the way
// epoll would report them, edge-triggered; the other end is usually driven by the test with
// plain Read/Write calls. Loop thread only (both ends on one thread).
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "net/transport.h"

namespace sluice::net {

class MemoryTransport final : public Transport {
 public:
  using Ends = std::pair<std::unique_ptr<MemoryTransport>, std::unique_ptr<MemoryTransport>>;
  static Ends Pair(size_t capacity = 64 * 1024);
  ~MemoryTransport() override;

  bool Watch(EventLoop& loop, EventHandler* handler) override;
  void Unwatch() override;
  int ConnectError() override { return connect_error_; }
  IoResult Read(char* dst, size_t capacity) override;
  IoResult Write(const iovec* pieces, int count) override;
  using Transport::Write;
  void ShutdownWrite() override;
  void ResetOnClose() override { reset_on_close_ = true; }
  void Close() override;  // as Reset() after ResetOnClose()
  SocketAddress PeerAddress() const override { return peer_address_; }
  SocketAddress LocalAddress() const override { return local_address_; }
  TcpSegments Segments() const override;
  bool EnableKeepAlive(int interval_s) override;

  // ---- Test controls ----
  // Abortive close (a TCP reset): the peer's next read and write fail with ECONNRESET.
  void Reset();
  // A connect that failed: ConnectError() returns `err`, reads and writes fail with it.
  void FailConnect(int err);
  // A connect that never completes (a silent network): no readiness, reads and writes would
  // block.
  void HoldConnect() { held_ = true; }
  void set_addresses(const SocketAddress& local, const SocketAddress& peer) {
    local_address_ = local;
    peer_address_ = peer;
  }
  // Reads everything buffered now (the test side's convenience).
  std::string ReadAll();
  // Bytes the peer wrote that this end has not read yet.
  size_t readable_bytes() const;
  // True once the peer shut down its writing side or closed and every byte was read.
  bool at_eof() const;
  bool closed() const { return closed_; }
  // This end sends `n` TCP keep-alive probes: no bytes, but the other end's Segments()
  // counts them as received, as a kernel would.
  void SendKeepAliveProbes(uint64_t n);
  // The keep-alive interval the other end asked for (EnableKeepAlive), 0 if none.
  int peer_keepalive_interval_s() const;

 private:
  struct Shared;
  MemoryTransport(std::shared_ptr<Shared> shared, int side)
      : shared_(std::move(shared)), side_(side) {}
  void Notify(uint32_t events);  // posts `events` to this end's handler, if watched
  MemoryTransport* peer() const;

  std::shared_ptr<Shared> shared_;
  int side_;
  EventLoop* loop_ = nullptr;
  EventHandler* handler_ = nullptr;
  bool closed_ = false;
  int connect_error_ = 0;
  bool held_ = false;
  bool reset_on_close_ = false;  // Close() resets (ResetOnClose)
  SocketAddress local_address_;
  SocketAddress peer_address_;
};

}  // namespace sluice::net
