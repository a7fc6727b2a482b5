#include "nlb/proxy_protocol.h"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <string>
#include <vector>

namespace sluice::nlb {
namespace {

using Bytes = std::vector<uint8_t>;

SocketAddress Addr(const char* ip, uint16_t port) { return *SocketAddress::Parse(ip, port); }

Bytes Signature() { return Bytes(std::begin(kProxyV2Signature), std::end(kProxyV2Signature)); }

Bytes Cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes Encode(ProxyV2Transport t, const SocketAddress& src, const SocketAddress& dst) {
  std::array<uint8_t, kProxyV2MaxAddressHeader> buf{};
  size_t n = EncodeProxyV2Proxy(t, src, dst, buf);
  return Bytes(buf.begin(), buf.begin() + n);
}

ProxyV2Decoded Decode(const Bytes& b, size_t max = kProxyV2DefaultMaxHeader) {
  return DecodeProxyV2(std::span<const uint8_t>(b.data(), b.size()), max);
}

TEST(ProxyV2Encode, TcpIpv4ByteForByte) {
  Bytes got = Encode(ProxyV2Transport::kStream, Addr("192.0.2.10", 51234), Addr("10.0.0.5", 443));
  Bytes want = Cat(Signature(), {0x21, 0x11, 0x00, 0x0C,  // PROXY, TCP/IPv4, length 12
                                 192, 0, 2, 10, 10, 0, 0, 5, 0xC8, 0x22, 0x01, 0xBB});
  EXPECT_EQ(got, want);
}

TEST(ProxyV2Encode, UdpIpv4ByteForByte) {
  Bytes got = Encode(ProxyV2Transport::kDgram, Addr("198.51.100.1", 53), Addr("10.1.2.3", 5353));
  Bytes want = Cat(Signature(),
                   {0x21, 0x12, 0x00, 0x0C, 198, 51, 100, 1, 10, 1, 2, 3, 0x00, 0x35, 0x14, 0xE9});
  EXPECT_EQ(got, want);
}

Bytes V6Block(uint8_t fam) {
  Bytes b = Cat(Signature(), {0x21, fam, 0x00, 0x24});  // length 36
  Bytes src = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
  Bytes dst = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
  return Cat(Cat(Cat(b, src), dst), {0x30, 0x39, 0x00, 0x50});  // 12345, 80
}

TEST(ProxyV2Encode, TcpAndUdpIpv6ByteForByte) {
  EXPECT_EQ(Encode(ProxyV2Transport::kStream, Addr("2001:db8::1", 12345), Addr("fd00::2", 80)),
            V6Block(0x21));
  EXPECT_EQ(Encode(ProxyV2Transport::kDgram, Addr("2001:db8::1", 12345), Addr("fd00::2", 80)),
            V6Block(0x22));
}

TEST(ProxyV2Encode, MixedFamiliesBecomeIpv6WithMappedIpv4) {
  Bytes got = Encode(ProxyV2Transport::kStream, Addr("2001:db8::1", 1), Addr("10.0.0.5", 2));
  ASSERT_EQ(got.size(), 52u);
  EXPECT_EQ(got[13], 0x21);
  Bytes mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 5};
  EXPECT_EQ(Bytes(got.begin() + 32, got.begin() + 48), mapped);
}

TEST(ProxyV2Encode, LocalIsSixteenBytes) {
  std::array<uint8_t, 16> buf{};
  ASSERT_EQ(EncodeProxyV2Local(buf), 16u);
  EXPECT_EQ(Bytes(buf.begin(), buf.end()), Cat(Signature(), {0x20, 0x00, 0x00, 0x00}));
}

TEST(ProxyV2Encode, RefusesSmallBufferAndUnspecTransport) {
  std::array<uint8_t, 27> small{};
  EXPECT_EQ(
      EncodeProxyV2Proxy(ProxyV2Transport::kStream, Addr("1.2.3.4", 1), Addr("5.6.7.8", 2), small),
      0u);
  std::array<uint8_t, 64> buf{};
  EXPECT_EQ(
      EncodeProxyV2Proxy(ProxyV2Transport::kUnspec, Addr("1.2.3.4", 1), Addr("5.6.7.8", 2), buf),
      0u);
  std::array<uint8_t, 15> tiny{};
  EXPECT_EQ(EncodeProxyV2Local(tiny), 0u);
  ProxyV2Header h;
  h.command = ProxyV2Command::kProxy;
  h.family = ProxyV2Family::kInet;
  h.transport = ProxyV2Transport::kStream;
  h.source = Addr("2001:db8::1", 1);  // IPv6 under AF_INET
  h.destination = Addr("1.2.3.4", 2);
  EXPECT_EQ(EncodeProxyV2(h, buf), 0u);
}

TEST(ProxyV2Decode, RoundTripsEachFamily) {
  struct Case {
    ProxyV2Transport t;
    const char* src;
    const char* dst;
    ProxyV2Family fam;
  } cases[] = {{ProxyV2Transport::kStream, "192.0.2.1", "10.0.0.1", ProxyV2Family::kInet},
               {ProxyV2Transport::kDgram, "192.0.2.1", "10.0.0.1", ProxyV2Family::kInet},
               {ProxyV2Transport::kStream, "2001:db8::7", "fd00::1", ProxyV2Family::kInet6},
               {ProxyV2Transport::kDgram, "2001:db8::7", "fd00::1", ProxyV2Family::kInet6}};
  for (const Case& c : cases) {
    Bytes wire = Encode(c.t, Addr(c.src, 40000), Addr(c.dst, 443));
    Bytes with_payload = Cat(wire, {'G', 'E', 'T'});
    ProxyV2Decoded d = Decode(with_payload);
    ASSERT_EQ(d.status, ProxyV2Status::kComplete) << c.src;
    EXPECT_EQ(d.consumed, wire.size());
    EXPECT_EQ(d.header.command, ProxyV2Command::kProxy);
    EXPECT_EQ(d.header.family, c.fam);
    EXPECT_EQ(d.header.transport, c.t);
    EXPECT_EQ(d.header.source, Addr(c.src, 40000));
    EXPECT_EQ(d.header.destination, Addr(c.dst, 443));
    EXPECT_TRUE(d.header.tlvs.empty());
  }
}

TEST(ProxyV2Decode, LocalHealthCheckHeader) {
  std::array<uint8_t, 16> buf{};
  EncodeProxyV2Local(buf);
  ProxyV2Decoded d = DecodeProxyV2(buf);
  ASSERT_EQ(d.status, ProxyV2Status::kComplete);
  EXPECT_EQ(d.consumed, 16u);
  EXPECT_EQ(d.header.command, ProxyV2Command::kLocal);
  EXPECT_EQ(d.header.family, ProxyV2Family::kUnspec);
}

TEST(ProxyV2Decode, EveryStrictPrefixNeedsMore) {
  Bytes wire = Encode(ProxyV2Transport::kStream, Addr("2001:db8::7", 1), Addr("fd00::1", 2));
  for (size_t n = 0; n < wire.size(); ++n) {
    ProxyV2Decoded d = Decode(Bytes(wire.begin(), wire.begin() + n));
    ASSERT_EQ(d.status, ProxyV2Status::kNeedMore) << n;
    EXPECT_EQ(d.needed, n < 16 ? 16u : wire.size()) << n;
  }
}

TEST(ProxyV2Decode, MalformedCauses) {
  Bytes good = Encode(ProxyV2Transport::kStream, Addr("1.2.3.4", 1), Addr("5.6.7.8", 2));
  auto with = [&](size_t at, uint8_t v) {
    Bytes b = good;
    b[at] = v;
    return Decode(b);
  };
  EXPECT_EQ(with(0, 'P').error, ProxyV2Error::kBadSignature);
  EXPECT_EQ(with(11, 0x0B).error, ProxyV2Error::kBadSignature);
  EXPECT_EQ(with(12, 0x11).error, ProxyV2Error::kBadVersion);
  EXPECT_EQ(with(12, 0x22).error, ProxyV2Error::kBadCommand);
  EXPECT_EQ(with(13, 0x13).error, ProxyV2Error::kBadFamily);
  EXPECT_EQ(with(13, 0x10).error, ProxyV2Error::kBadFamily);
  EXPECT_EQ(with(13, 0x31).error, ProxyV2Error::kUnsupportedFamily);
  EXPECT_EQ(with(15, 0x0B).error, ProxyV2Error::kShortAddress);  // 11 < 12
  Bytes stray = Cat(good, {0xAA, 0x00, 0x05});  // a TLV announcing 5 bytes, with none
  stray[15] = 15;
  EXPECT_EQ(Decode(stray).error, ProxyV2Error::kBadTlv);
  EXPECT_EQ(with(0, 'P').status, ProxyV2Status::kMalformed);
  EXPECT_FALSE(ToString(ProxyV2Error::kBadTlv).empty());
}

TEST(ProxyV2Decode, BadSignatureIsMalformedBeforeTheWholePrefixArrives) {
  // A v1 header ("PROXY TCP4 ...") or plain HTTP is refused at its first byte.
  Bytes v1 = {'P', 'R', 'O', 'X', 'Y'};
  EXPECT_EQ(Decode(v1).status, ProxyV2Status::kMalformed);
  Bytes http = {'G'};
  EXPECT_EQ(Decode(http).error, ProxyV2Error::kBadSignature);
  Bytes early = Cat(Signature(), {0x31});  // version 3 at byte 12, before the length arrives
  EXPECT_EQ(Decode(early).error, ProxyV2Error::kBadVersion);
}

TEST(ProxyV2Decode, LengthIsBounded) {
  Bytes b = Cat(Signature(), {0x21, 0x11, 0x04, 0x00});  // length 1024: total 1040
  EXPECT_EQ(Decode(b).error, ProxyV2Error::kTooLong);
  EXPECT_EQ(Decode(b, 2048).status, ProxyV2Status::kNeedMore);
  EXPECT_EQ(Decode(b, 2048).needed, 1040u);
  Bytes max = Cat(Signature(), {0x20, 0x00, 0xFF, 0xFF});
  EXPECT_EQ(Decode(max, SIZE_MAX).needed, kProxyV2MaxHeader);
}

Bytes Tlv(uint8_t type, const std::string& value) {
  Bytes b = {type, static_cast<uint8_t>(value.size() >> 8), static_cast<uint8_t>(value.size())};
  for (char c : value) b.push_back(static_cast<uint8_t>(c));
  return b;
}

TEST(ProxyV2Decode, TlvsAreValidatedAndRoundTrip) {
  std::string vpce = std::string("\x01", 1) + "vpce-08d2bf15fac5001c9";
  Bytes tlvs = Cat(Tlv(kPp2TypeAlpn, "h2"), Tlv(kPp2TypeAws, vpce));
  ProxyV2Header h;
  h.command = ProxyV2Command::kProxy;
  h.family = ProxyV2Family::kInet;
  h.transport = ProxyV2Transport::kStream;
  h.source = Addr("192.0.2.1", 1000);
  h.destination = Addr("10.0.0.1", 80);
  h.tlvs = std::string_view(reinterpret_cast<const char*>(tlvs.data()), tlvs.size());
  Bytes wire(ProxyV2EncodedSize(h));
  ASSERT_EQ(wire.size(), 16 + 12 + tlvs.size());
  ASSERT_EQ(EncodeProxyV2(h, wire), wire.size());
  EXPECT_EQ(wire[15], 12 + tlvs.size());

  ProxyV2Decoded d = Decode(wire);
  ASSERT_EQ(d.status, ProxyV2Status::kComplete);
  EXPECT_EQ(d.header.tlvs, h.tlvs);
  EXPECT_EQ(FindAwsVpceId(d.header.tlvs), "vpce-08d2bf15fac5001c9");

  size_t off = 0;
  uint8_t type = 0;
  std::string_view value;
  ASSERT_TRUE(NextProxyV2Tlv(d.header.tlvs, &off, &type, &value));
  EXPECT_EQ(type, kPp2TypeAlpn);
  EXPECT_EQ(value, "h2");

  Bytes again(wire.size());
  EXPECT_EQ(EncodeProxyV2(d.header, again), wire.size());
  EXPECT_EQ(again, wire);

  Bytes truncated = wire;  // cut the last TLV's value short by one byte, fix the length
  truncated.pop_back();
  truncated[15] -= 1;
  EXPECT_EQ(Decode(truncated).error, ProxyV2Error::kBadTlv);
}

TEST(ProxyV2Decode, LocalWithAddressesRoundTripsExactly) {
  // A LOCAL header may carry a family and addresses; they are kept so the bytes round-trip.
  Bytes wire = Encode(ProxyV2Transport::kStream, Addr("1.2.3.4", 1), Addr("5.6.7.8", 2));
  wire[12] = 0x20;
  ProxyV2Decoded d = Decode(wire);
  ASSERT_EQ(d.status, ProxyV2Status::kComplete);
  EXPECT_EQ(d.header.command, ProxyV2Command::kLocal);
  Bytes again(wire.size());
  ASSERT_EQ(EncodeProxyV2(d.header, again), wire.size());
  EXPECT_EQ(again, wire);
}

TEST(ProxyV2Decode, RandomAddressesRoundTrip) {
  std::mt19937_64 rng(15);
  for (int i = 0; i < 2000; ++i) {
    SocketAddress src, dst;
    bool v6 = i % 2;
    for (SocketAddress* a : {&src, &dst}) {
      a->port = static_cast<uint16_t>(rng());
      a->ip.is_v4 = !v6;
      for (auto& b : a->ip.bytes) b = static_cast<uint8_t>(rng());
      if (!v6) {
        std::fill(a->ip.bytes.begin(), a->ip.bytes.begin() + 10, 0);
        a->ip.bytes[10] = a->ip.bytes[11] = 0xff;
      }
    }
    auto t = i % 3 ? ProxyV2Transport::kStream : ProxyV2Transport::kDgram;
    ProxyV2Decoded d = Decode(Encode(t, src, dst));
    ASSERT_EQ(d.status, ProxyV2Status::kComplete);
    EXPECT_EQ(d.header.source, src);
    EXPECT_EQ(d.header.destination, dst);
    EXPECT_EQ(d.header.transport, t);
  }
}

}  // namespace
}  // namespace sluice::nlb
