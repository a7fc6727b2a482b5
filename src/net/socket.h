// Thin wrappers over Linux socket calls: listening sockets, accept, non-blocking connect.
// Errors are returned as values (errno captured in the message).
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>
#include <string>

#include "base/ip_address.h"
#include "base/result.h"

namespace sluice::net {

// Creates a non-blocking listening socket with SO_REUSEADDR and SO_REUSEPORT (so that every
// worker can have its own socket on the same address), bound and listening.
Result<int> Listen(const SocketAddress& address, int backlog = 4096);

// A non-blocking UDP socket with SO_REUSEPORT (not SO_REUSEADDR, which on UDP would let
// another user's socket share the port), bound to `address` (every
// worker binds its own; the kernel keeps each 4-tuple on one of them). On a wildcard address
// it also asks for each datagram's destination (IP_PKTINFO / IPV6_RECVPKTINFO), so that
// replies can leave from the address the client reached.
Result<int> ListenDatagram(const SocketAddress& address);

// Fails when another socket already listens on `address` (or on a wildcard address of the
// same port): binds a probe socket with SO_REUSEADDR but without SO_REUSEPORT, which Linux
// refuses while any socket listens there, and closes it. Listen() alone cannot tell, since
// SO_REUSEPORT lets a second process of the same user share the port and split its traffic.
// Call it only for an address this process does not listen on itself. `datagram`: UDP.
Result<bool> CheckNoOtherListener(const SocketAddress& address, bool datagram = false);

// A non-blocking UDP socket connected to `address` (it then receives only that peer's
// datagrams, and ICMP errors for what it sent). `source`: see ConnectNonBlocking.
Result<int> ConnectDatagram(const SocketAddress& address, const SocketAddress* source = nullptr);

// True when a ConnectNonBlocking/ConnectDatagram error says no source port could be had
// towards the target: the ephemeral range is used up for it (EADDRNOTAVAIL; EAGAIN for a
// datagram socket's automatic bind), or a transparent bind found the client's address and
// port taken (EADDRINUSE). What the network load balancer counts as PortAllocationErrorCount.
inline bool IsPortAllocationFailure(const Error& e) {
  return e.code == EADDRNOTAVAIL || e.code == EADDRINUSE || e.code == EAGAIN;
}

// Starts a non-blocking connect. Returns the fd; completion is signalled by writability.
// `source` (preserve_client_ip, reference §8.3): the socket is first bound, transparently,
// to that address and port, which need not be this host's (BindTransparent).
Result<int> ConnectNonBlocking(const SocketAddress& address, const SocketAddress* source = nullptr);

// Sets IP_TRANSPARENT (IPV6_TRANSPARENT for IPv6) on `fd` and binds it to `source`, so that
// what it sends carries that address. Needs CAP_NET_ADMIN (or CAP_NET_RAW); replies to a foreign
// address reach the socket only when policy routing delivers them locally (docs/nlb.md).
Result<bool> BindTransparent(int fd, const SocketAddress& source);

// Whether this process may open transparent sockets of the family (false: IPv4): sets the
// option on a probe socket. The error says what is missing (CAP_NET_ADMIN or CAP_NET_RAW).
Result<bool> CheckTransparentAllowed(bool v6);

// Returns the pending socket error (SO_ERROR) after a non-blocking connect, 0 on success.
int SocketError(int fd);

void SetNoDelay(int fd);

// Sends `count` (1 or more) pieces in one call, never raising SIGPIPE. A single piece goes out
// with send(), which is cheaper in the kernel than an iovec. Returns what send/sendmsg return
// (errno set on -1).
ssize_t SendPieces(int fd, const iovec* pieces, int count);

}  // namespace sluice::net
