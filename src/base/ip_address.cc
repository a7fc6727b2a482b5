#include "base/ip_address.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

namespace sluice {

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress out;
  in_addr v4;
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    out.is_v4 = true;
    out.bytes[10] = 0xff;
    out.bytes[11] = 0xff;
    std::memcpy(&out.bytes[12], &v4, 4);
    return out;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, buf, &v6) == 1) {
    out.is_v4 = false;
    std::memcpy(out.bytes.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

IpAddress IpAddress::FromSockaddr(const sockaddr_storage& sa) {
  IpAddress out;
  if (sa.ss_family == AF_INET) {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&sa);
    out.is_v4 = true;
    out.bytes[10] = 0xff;
    out.bytes[11] = 0xff;
    std::memcpy(&out.bytes[12], &s4->sin_addr, 4);
  } else if (sa.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    std::memcpy(out.bytes.data(), &s6->sin6_addr, 16);
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    out.is_v4 = std::memcmp(out.bytes.data(), kMapped, 12) == 0;
  }
  return out;
}

namespace {
// Decimal text of every octet value: up to 3 digits, then the digit count in the last byte.
constexpr std::array<std::array<char, 4>, 256> MakeOctetText() {
  std::array<std::array<char, 4>, 256> t{};
  for (unsigned v = 0; v < 256; ++v) {
    char* p = t[v].data();
    size_t n = 0;
    if (v >= 100) p[n++] = static_cast<char>('0' + v / 100);
    if (v >= 10) p[n++] = static_cast<char>('0' + (v / 10) % 10);
    p[n++] = static_cast<char>('0' + v % 10);
    t[v][3] = static_cast<char>(n);
  }
  return t;
}
constexpr std::array<std::array<char, 4>, 256> kOctetText = MakeOctetText();
}  // namespace

size_t IpAddress::Format(char* out, size_t cap) const {
  if (is_v4 && cap >= 16) {
    // Table-driven for IPv4: this runs for every forwarded request (X-Forwarded-For), and
    // inet_ntop costs several times more. Each octet copies 4 bytes and advances by its
    // length (hence cap >= 16: the last copy may write one byte past the text).
    size_t n = 0;
    for (size_t i = 12; i < 16; ++i) {
      const std::array<char, 4>& text = kOctetText[bytes[i]];
      std::memcpy(out + n, text.data(), 4);
      n += static_cast<size_t>(text[3]);
      if (i < 15) out[n++] = '.';
    }
    return n;
  }
  char buf[INET6_ADDRSTRLEN];
  const char* r = is_v4 ? inet_ntop(AF_INET, &bytes[12], buf, sizeof(buf))
                        : inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
  if (r == nullptr) return 0;
  size_t n = std::strlen(buf);
  if (n > cap) return 0;
  std::memcpy(out, buf, n);
  return n;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  size_t n = Format(buf, sizeof(buf));
  return std::string(buf, n);
}

std::optional<Cidr> Cidr::Parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = IpAddress::Parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  std::string_view len_text = text.substr(slash + 1);
  if (len_text.empty() || len_text.size() > 3) return std::nullopt;
  int len = 0;
  for (char c : len_text) {
    if (c < '0' || c > '9') return std::nullopt;
    len = len * 10 + (c - '0');
  }
  if (len > (ip->is_v4 ? 32 : 128)) return std::nullopt;
  return Cidr{*ip, len};
}

bool Cidr::Contains(const IpAddress& addr) const {
  if (addr.is_v4 != base.is_v4) return false;
  int bits = base.is_v4 ? prefix_len + 96 : prefix_len;
  int full = bits / 8;
  if (std::memcmp(addr.bytes.data(), base.bytes.data(), full) != 0) return false;
  int rem = bits % 8;
  if (rem == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rem));
  return (addr.bytes[full] & mask) == (base.bytes[full] & mask);
}

std::optional<SocketAddress> SocketAddress::Parse(std::string_view host, uint16_t port) {
  auto ip = IpAddress::Parse(host);
  if (!ip) return std::nullopt;
  return SocketAddress{*ip, port};
}

socklen_t SocketAddress::ToSockaddr(sockaddr_storage* out) const {
  std::memset(out, 0, sizeof(*out));
  if (ip.is_v4) {
    auto* s4 = reinterpret_cast<sockaddr_in*>(out);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    std::memcpy(&s4->sin_addr, &ip.bytes[12], 4);
    return sizeof(sockaddr_in);
  }
  auto* s6 = reinterpret_cast<sockaddr_in6*>(out);
  s6->sin6_family = AF_INET6;
  s6->sin6_port = htons(port);
  std::memcpy(&s6->sin6_addr, ip.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

SocketAddress SocketAddress::FromSockaddr(const sockaddr_storage& sa) {
  SocketAddress out;
  out.ip = IpAddress::FromSockaddr(sa);
  if (sa.ss_family == AF_INET) {
    out.port = ntohs(reinterpret_cast<const sockaddr_in*>(&sa)->sin_port);
  } else if (sa.ss_family == AF_INET6) {
    out.port = ntohs(reinterpret_cast<const sockaddr_in6*>(&sa)->sin6_port);
  }
  return out;
}

std::string SocketAddress::ToString() const {
  if (ip.is_v4) return ip.ToString() + ":" + std::to_string(port);
  return "[" + ip.ToString() + "]:" + std::to_string(port);
}

}  // namespace sluice

namespace sluice {

bool IsLoopback(const IpAddress& ip) {
  if (ip.is_v4) return ip.bytes[12] == 127;
  bool zero_prefix = true;
  for (size_t i = 0; i < 10; ++i) zero_prefix &= ip.bytes[i] == 0;
  if (!zero_prefix) return false;
  if (ip.bytes[10] == 0xff && ip.bytes[11] == 0xff) return ip.bytes[12] == 127;  // ::ffff:127.x
  for (size_t i = 10; i < 15; ++i) {
    if (ip.bytes[i] != 0) return false;
  }
  return ip.bytes[15] == 1;  // ::1
}

}  // namespace sluice
