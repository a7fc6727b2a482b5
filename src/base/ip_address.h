// IPv4/IPv6 addresses and CIDR blocks, parsed and compared without allocation.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

// An IP address in 16 bytes; IPv4 is kept as its IPv4-mapped IPv6 form (::ffff:a.b.c.d) so
// that one comparison path serves both families.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool is_v4 = true;

  static std::optional<IpAddress> Parse(std::string_view text);
  static IpAddress FromSockaddr(const sockaddr_storage& sa);
  // Writes the canonical text form ("10.0.0.1", "2001:db8::1") into out; returns its length.
  size_t Format(char* out, size_t cap) const;
  std::string ToString() const;
  // 0.0.0.0 or :: (a wildcard bind address).
  bool IsUnspecified() const {
    for (size_t i = is_v4 ? 12 : 0; i < 16; ++i) {
      if (bytes[i] != 0) return false;
    }
    return true;
  }
  bool operator==(const IpAddress&) const = default;
};

// 127.0.0.0/8, ::1, or an IPv4-mapped 127.x address: reachable only from this host.
bool IsLoopback(const IpAddress& ip);

// A CIDR block such as 10.0.0.0/8 or 2001:db8::/32.
struct Cidr {
  IpAddress base;
  int prefix_len = 0;  // in bits of the family: 0..32 for IPv4, 0..128 for IPv6

  // Parses "a.b.c.d/n" or "x::y/n"; a bare address is not accepted (ALB requires the prefix).
  static std::optional<Cidr> Parse(std::string_view text);
  bool Contains(const IpAddress& addr) const;
};

// A socket address (IP and port) with helpers to build sockaddr structures.
struct SocketAddress {
  IpAddress ip;
  uint16_t port = 0;

  static std::optional<SocketAddress> Parse(std::string_view host, uint16_t port);
  socklen_t ToSockaddr(sockaddr_storage* out) const;
  static SocketAddress FromSockaddr(const sockaddr_storage& sa);
  std::string ToString() const;  // "1.2.3.4:80" or "[::1]:80"
  bool operator==(const SocketAddress&) const = default;
};

}  // namespace sluice
