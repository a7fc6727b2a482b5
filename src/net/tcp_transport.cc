#include "net/tcp_transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "net/event_loop.h"
#include "net/socket.h"

namespace sluice::net {

TcpTransport::~TcpTransport() { Close(); }

Result<std::unique_ptr<Transport>> TcpTransport::Connect(const SocketAddress& address,
                                                         const SocketAddress* source) {
  auto fd = ConnectNonBlocking(address, source);
  if (!fd.ok()) return fd.error();
  return std::unique_ptr<Transport>(new TcpTransport(fd.value()));
}

bool TcpTransport::Watch(EventLoop& loop, EventHandler* handler) {
  if (fd_ < 0 || !loop.Add(fd_, handler)) return false;
  loop_ = &loop;
  return true;
}

void TcpTransport::Unwatch() {
  if (loop_ == nullptr) return;
  loop_->Remove(fd_);
  loop_ = nullptr;
}

int TcpTransport::ConnectError() { return fd_ < 0 ? EBADF : SocketError(fd_); }

// No retry loop here: kInterrupted goes to the caller, whose own loop calls again; the
// common path then keeps nothing across the system call.
IoResult TcpTransport::Read(char* dst, size_t capacity) {
  return IoResult::FromSyscall(recv(fd_, dst, capacity, 0));
}

IoResult TcpTransport::Write(const iovec* pieces, int count) {
  return IoResult::FromSyscall(SendPieces(fd_, pieces, count));
}

void TcpTransport::ShutdownWrite() {
  // ENOTCONN (the peer already reset) leaves nothing to half-close; the next read says so.
  if (fd_ >= 0) (void)shutdown(fd_, SHUT_WR);
}

void TcpTransport::ResetOnClose() {
  // A zero linger time makes close() send RST. Should the call fail (the socket already
  // gone), the close sends FIN instead, which ends the stream all the same.
  linger abort{1, 0};
  if (fd_ >= 0) (void)setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
}

bool TcpTransport::EnableKeepAlive(int interval_s) {
  if (fd_ < 0 || interval_s <= 0) return false;
  const int on = 1;
  return setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) == 0 &&
         setsockopt(fd_, IPPROTO_TCP, TCP_KEEPIDLE, &interval_s, sizeof(interval_s)) == 0 &&
         setsockopt(fd_, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof(interval_s)) == 0;
}

void TcpTransport::Close() {
  if (fd_ < 0) return;
  Unwatch();
  // close() releases the descriptor even when it reports an error (EINTR included), so
  // there is nothing to retry and nothing the owner could do about it.
  (void)close(fd_);
  fd_ = -1;
}

SocketAddress TcpTransport::PeerAddress() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (fd_ < 0 || getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return SocketAddress::FromSockaddr(ss);
}

SocketAddress TcpTransport::LocalAddress() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (fd_ < 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return SocketAddress::FromSockaddr(ss);
}

}  // namespace sluice::net
