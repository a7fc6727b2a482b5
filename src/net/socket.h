// Thin wrappers over Linux socket calls: listening sockets, accept, non-blocking connect.
// Errors are returned as values (errno captured in the message).
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

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
// datagrams, and ICMP errors for what it sent).
Result<int> ConnectDatagram(const SocketAddress& address);

// Starts a non-blocking connect. Returns the fd; completion is signalled by writability.
Result<int> ConnectNonBlocking(const SocketAddress& address);

// Returns the pending socket error (SO_ERROR) after a non-blocking connect, 0 on success.
int SocketError(int fd);

void SetNoDelay(int fd);

// Sends `count` (1 or more) pieces in one call, never raising SIGPIPE. A single piece goes out
// with send(), which is cheaper in the kernel than an iovec. Returns what send/sendmsg return
// (errno set on -1).
ssize_t SendPieces(int fd, const iovec* pieces, int count);

}  // namespace sluice::net
