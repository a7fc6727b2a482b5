#include "net/socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sluice::net {
namespace {

Error SysError(const char* what, const SocketAddress& a) {
  const int code = errno;
  return Error{ErrorSource::kInternal,
               std::string(what) + " " + a.ToString() + ": " + std::strerror(code), false, code};
}

}  // namespace

Result<int> Listen(const SocketAddress& address, int backlog) {
  sockaddr_storage ss;
  socklen_t len = address.ToSockaddr(&ss);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return SysError("socket", address);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    Error e = SysError("setsockopt(SO_REUSEADDR/SO_REUSEPORT)", address);
    close(fd);
    return e;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    Error e = SysError("bind", address);
    close(fd);
    return e;
  }
  if (listen(fd, backlog) != 0) {
    Error e = SysError("listen", address);
    close(fd);
    return e;
  }
  return fd;
}

Result<int> ListenDatagram(const SocketAddress& address) {
  sockaddr_storage ss;
  socklen_t len = address.ToSockaddr(&ss);
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return SysError("socket", address);
  int one = 1;
  // SO_REUSEPORT only: on UDP, SO_REUSEADDR would let any other user's socket bind the same
  // port and take datagrams; SO_REUSEPORT is limited to this user (the workers' sockets).
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    Error e = SysError("setsockopt(SO_REUSEPORT)", address);
    close(fd);
    return e;
  }
  if (address.ip.IsUnspecified()) {
    const bool v6 = ss.ss_family == AF_INET6;
    const int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
    const int option = v6 ? IPV6_RECVPKTINFO : IP_PKTINFO;
    if (setsockopt(fd, level, option, &one, sizeof(one)) != 0) {
      Error e = SysError("setsockopt(IP_PKTINFO)", address);
      close(fd);
      return e;
    }
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    Error e = SysError("bind", address);
    close(fd);
    return e;
  }
  return fd;
}

namespace {

// A non-blocking socket of `type` for a connection to `address` (`ss`), bound transparently to
// `source` when there is one.
Result<int> UpstreamSocket(int type, const SocketAddress& address, const sockaddr_storage& ss,
                           const SocketAddress* source) {
  int fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return SysError("socket", address);
  if (source == nullptr) return fd;
  auto bound = BindTransparent(fd, *source);
  if (!bound.ok()) {
    close(fd);
    return bound.error();
  }
  return fd;
}

}  // namespace

Result<int> ConnectDatagram(const SocketAddress& address, const SocketAddress* source) {
  sockaddr_storage ss;
  socklen_t len = address.ToSockaddr(&ss);
  auto opened = UpstreamSocket(SOCK_DGRAM, address, ss, source);
  if (!opened.ok()) return opened.error();
  const int fd = opened.value();
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    Error e = SysError("connect", address);
    e.source = ErrorSource::kUpstream;
    close(fd);
    return e;
  }
  return fd;
}

Result<bool> CheckNoOtherListener(const SocketAddress& address, bool datagram) {
  sockaddr_storage ss;
  socklen_t len = address.ToSockaddr(&ss);
  int fd = socket(ss.ss_family, (datagram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return SysError("socket", address);
  int one = 1;
  // TCP: SO_REUSEADDR skips sockets in TIME_WAIT but not listeners. UDP: no option at all,
  // since with SO_REUSEADDR on both sides the bind would succeed next to a bound socket.
  if (!datagram && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    Error e = SysError("setsockopt(SO_REUSEADDR)", address);
    close(fd);
    return e;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    Error e = errno == EADDRINUSE
                  ? Error{ErrorSource::kConfig,
                          "listen " + address.ToString() +
                              ": Address already in use (another process listens there, or "
                              "a listener on the same port)",
                          false}
                  : SysError("bind", address);
    close(fd);
    return e;
  }
  close(fd);
  return true;
}

Result<int> ConnectNonBlocking(const SocketAddress& address, const SocketAddress* source) {
  sockaddr_storage ss;
  socklen_t len = address.ToSockaddr(&ss);
  auto opened = UpstreamSocket(SOCK_STREAM, address, ss, source);
  if (!opened.ok()) return opened.error();
  const int fd = opened.value();
  SetNoDelay(fd);
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    Error e = SysError("connect", address);
    e.source = ErrorSource::kUpstream;
    close(fd);
    return e;
  }
  return fd;
}

namespace {

bool SetTransparent(int fd, bool v6) {
  int one = 1;
  return v6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) == 0
            : setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one)) == 0;
}

}  // namespace

Result<bool> BindTransparent(int fd, const SocketAddress& source) {
  sockaddr_storage ss;
  socklen_t len = source.ToSockaddr(&ss);
  if (!SetTransparent(fd, ss.ss_family == AF_INET6)) {
    return SysError("setsockopt(IP_TRANSPARENT) for source", source);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    Error e = SysError("bind to the client's address", source);
    e.source = ErrorSource::kUpstream;
    return e;
  }
  return true;
}

Result<bool> CheckTransparentAllowed(bool v6) {
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Error{ErrorSource::kInternal, std::string("socket: ") + std::strerror(errno), false};
  }
  const bool ok = SetTransparent(fd, v6);
  const int err = errno;
  close(fd);
  if (ok) return true;
  return Error{ErrorSource::kConfig,
               std::string("preserve_client_ip.enabled needs transparent sockets (") +
                   (v6 ? "IPV6_TRANSPARENT" : "IP_TRANSPARENT") +
                   "), which need CAP_NET_ADMIN or CAP_NET_RAW: " + std::strerror(err),
               false};
}

int SocketError(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

ssize_t SendPieces(int fd, const iovec* pieces, int count) {
  if (count == 1) return send(fd, pieces[0].iov_base, pieces[0].iov_len, MSG_NOSIGNAL);
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(pieces);
  msg.msg_iovlen = static_cast<size_t>(count);
  return sendmsg(fd, &msg, MSG_NOSIGNAL);
}

}  // namespace sluice::net
