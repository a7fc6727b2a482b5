// Transparent upstream sockets (preserve_client_ip, reference §8.3) over real loopback
// sockets: a connect or a datagram from a given source address and port reaches the peer
// with exactly that address, and an address that is not this host's can be bound. Needs
// CAP_NET_ADMIN (IP_TRANSPARENT); skipped, saying so, without it. Also the TCP segment counts
// (TCP_INFO) the network load balancer's ProcessedPackets reads.
#include "net/socket.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "gtest/gtest.h"
#include "net/tcp_info.h"
#include "net/tcp_transport.h"

namespace sluice::net {
namespace {

SocketAddress Addr(const char* ip, uint16_t port) { return *SocketAddress::Parse(ip, port); }

SocketAddress LocalOf(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len), 0);
  return SocketAddress::FromSockaddr(ss);
}

// A port free on 127.0.0.9 right now (bound and released).
uint16_t FreePort(int type) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_storage ss{};
  socklen_t len = Addr("127.0.0.9", 0).ToSockaddr(&ss);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
  const uint16_t port = LocalOf(fd).port;
  close(fd);
  return port;
}

#define SKIP_WITHOUT_TRANSPARENT_SOCKETS()                            \
  if (auto allowed = CheckTransparentAllowed(false); !allowed.ok()) { \
    GTEST_SKIP() << allowed.error().message;                          \
  }

TEST(TransparentSocket, ConnectComesFromTheGivenAddressAndPort) {
  SKIP_WITHOUT_TRANSPARENT_SOCKETS();
  auto listener = Listen(Addr("127.0.0.1", 0));
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  const SocketAddress target = LocalOf(listener.value());
  const SocketAddress client = Addr("127.0.0.9", FreePort(SOCK_STREAM));
  auto fd = ConnectNonBlocking(target, &client);
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  sockaddr_storage peer{};
  socklen_t len = sizeof(peer);
  int accepted = -1;
  for (int i = 0; i < 1000 && accepted < 0; ++i) {
    accepted = accept4(listener.value(), reinterpret_cast<sockaddr*>(&peer), &len, 0);
    if (accepted < 0) usleep(1000);
  }
  ASSERT_GE(accepted, 0);
  EXPECT_EQ(SocketAddress::FromSockaddr(peer), client);
  close(accepted);
  close(fd.value());
  close(listener.value());
}

TEST(TransparentSocket, DatagramsComeFromTheGivenAddressAndPort) {
  SKIP_WITHOUT_TRANSPARENT_SOCKETS();
  auto server = ListenDatagram(Addr("127.0.0.1", 0));
  ASSERT_TRUE(server.ok()) << server.error().message;
  const SocketAddress client = Addr("127.0.0.9", FreePort(SOCK_DGRAM));
  auto fd = ConnectDatagram(LocalOf(server.value()), &client);
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  ASSERT_EQ(send(fd.value(), "ping", 4, 0), 4);
  char buf[16];
  sockaddr_storage from{};
  socklen_t len = sizeof(from);
  ssize_t n = -1;
  for (int i = 0; i < 1000 && n < 0; ++i) {
    n = recvfrom(server.value(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) usleep(1000);
  }
  EXPECT_EQ(n, 4);
  EXPECT_EQ(SocketAddress::FromSockaddr(from), client);
  close(fd.value());
  close(server.value());
}

TEST(TransparentSocket, BindsAnAddressThatIsNotThisHosts) {
  SKIP_WITHOUT_TRANSPARENT_SOCKETS();
  // 192.0.2.0/24 is TEST-NET-1: on no interface. A plain bind refuses it (EADDRNOTAVAIL).
  const SocketAddress foreign = Addr("192.0.2.7", 40007);
  int plain = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage ss{};
  socklen_t len = foreign.ToSockaddr(&ss);
  EXPECT_NE(bind(plain, reinterpret_cast<sockaddr*>(&ss), len), 0);
  close(plain);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto bound = BindTransparent(fd, foreign);
  EXPECT_TRUE(bound.ok()) << bound.error().message;
  EXPECT_EQ(LocalOf(fd), foreign);
  close(fd);
}

TEST(TransparentSocket, ATakenClientPortFailsTheConnectAsAnUpstreamError) {
  SKIP_WITHOUT_TRANSPARENT_SOCKETS();
  auto listener = Listen(Addr("127.0.0.9", 0));
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  const SocketAddress taken = LocalOf(listener.value());
  auto fd = ConnectNonBlocking(Addr("127.0.0.1", 9), &taken);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().source, ErrorSource::kUpstream);
  EXPECT_NE(fd.error().message.find("bind to the client's address 127.0.0.9:"), std::string::npos)
      << fd.error().message;
  // What a network load balancer counts as PortAllocationErrorCount.
  EXPECT_EQ(fd.error().code, EADDRINUSE);
  EXPECT_TRUE(IsPortAllocationFailure(fd.error()));
  close(listener.value());
}

// A connected loopback pair: `client` (ConnectNonBlocking's) and `accepted`; the listener is
// closed once the pair is up. Fds of -1 when something failed (reported).
struct LoopbackPair {
  int client = -1;
  int accepted = -1;
};
LoopbackPair Connected() {
  LoopbackPair p;
  auto listener = Listen(Addr("127.0.0.1", 0));
  EXPECT_TRUE(listener.ok()) << listener.error().message;
  if (!listener.ok()) return p;
  auto fd = ConnectNonBlocking(LocalOf(listener.value()));
  EXPECT_TRUE(fd.ok()) << fd.error().message;
  if (fd.ok()) p.client = fd.value();
  for (int i = 0; i < 1000 && p.client >= 0 && p.accepted < 0; ++i) {
    p.accepted = accept4(listener.value(), nullptr, nullptr, 0);
    if (p.accepted < 0) usleep(1000);
  }
  close(listener.value());
  return p;
}

TEST(TcpSegments, CountWhatTheSocketReceivedAndSent) {
  const auto [client, accepted] = Connected();
  ASSERT_GE(accepted, 0);
  const TcpSegments before = ReadTcpSegments(accepted);
  EXPECT_GE(before.in, 2u);  // SYN and the handshake's ACK
  ASSERT_EQ(send(client, "ping", 4, MSG_NOSIGNAL), 4);
  char buf[8];
  ssize_t n = -1;
  for (int i = 0; i < 1000 && n < 0; ++i) {
    n = recv(accepted, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0) usleep(1000);
  }
  EXPECT_EQ(n, 4);
  const TcpSegments after = ReadTcpSegments(accepted);
  EXPECT_GE(after.in, before.in + 1);
  EXPECT_GE(ReadTcpSegments(client).out, after.in);  // the connector sent all of them
  // Not a TCP socket, or no socket at all: nothing counted.
  int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(ReadTcpSegments(udp).in, 0u);
  EXPECT_EQ(ReadTcpSegments(-1).out, 0u);
  close(udp);
  close(accepted);
  close(client);
}

// What FlowKeepAlive (proxy/flow_keepalive.h) relies on: a keep-alive probe carries no data
// and is answered by the kernel, but the receiving socket counts it as a segment in; and
// TcpTransport::EnableKeepAlive makes the kernel send them.
TEST(TcpSegments, KeepAliveProbesCountAsSegmentsReceived) {
  const auto [client, accepted] = Connected();
  ASSERT_GE(accepted, 0);
  const TcpSegments before = ReadTcpSegments(accepted);
  TcpTransport sender(client);  // owns and closes the socket
  ASSERT_TRUE(sender.EnableKeepAlive(1));
  TcpSegments now = before;
  for (int i = 0; i < 400 && now.in < before.in + 2; ++i) {
    usleep(10000);
    now = ReadTcpSegments(accepted);
  }
  EXPECT_GE(now.in, before.in + 2) << "no keep-alive probe counted within 4 s";
  char byte;
  EXPECT_EQ(recv(accepted, &byte, 1, MSG_DONTWAIT), -1);  // and no data with them
  close(accepted);
}

}  // namespace
}  // namespace sluice::net
