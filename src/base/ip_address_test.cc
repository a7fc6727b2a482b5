#include "base/ip_address.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(IpAddressTest, FormatsIpv4EveryDigitWidth) {
  for (const char* text : {"0.0.0.0", "1.2.3.4", "10.20.30.40", "100.200.255.9", "255.255.255.255",
                           "127.0.0.1", "192.168.100.10"}) {
    auto ip = IpAddress::Parse(text);
    ASSERT_TRUE(ip.has_value()) << text;
    EXPECT_EQ(ip->ToString(), text);
  }
}

TEST(IpAddressTest, FormatsIpv6) {
  EXPECT_EQ(IpAddress::Parse("2001:db8::1")->ToString(), "2001:db8::1");
  EXPECT_EQ(IpAddress::Parse("::1")->ToString(), "::1");
}

TEST(IpAddressTest, FormatRespectsCapacity) {
  auto ip = IpAddress::Parse("255.255.255.255");
  char small[8];
  EXPECT_EQ(ip->Format(small, sizeof(small)), 0u);  // does not fit: nothing written
}

TEST(CidrTest, ContainsByPrefix) {
  auto c = Cidr::Parse("10.0.0.0/8");
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->Contains(*IpAddress::Parse("10.255.1.2")));
  EXPECT_FALSE(c->Contains(*IpAddress::Parse("11.0.0.1")));
  auto v6 = Cidr::Parse("2001:db8::/32");
  EXPECT_TRUE(v6->Contains(*IpAddress::Parse("2001:db8:1::5")));
  EXPECT_FALSE(v6->Contains(*IpAddress::Parse("10.0.0.1")));
  EXPECT_FALSE(Cidr::Parse("10.0.0.0").has_value());
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/33").has_value());
  auto odd = Cidr::Parse("192.168.1.128/25");
  EXPECT_TRUE(odd->Contains(*IpAddress::Parse("192.168.1.200")));
  EXPECT_FALSE(odd->Contains(*IpAddress::Parse("192.168.1.127")));
}

TEST(IpAddressTest, LoopbackIsOnlyThisHost) {
  for (const char* a : {"127.0.0.1", "127.10.20.30", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopback(*IpAddress::Parse(a))) << a;
  }
  for (const char* a :
       {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "::2", "::ffff:10.0.0.1", "fe80::1", "1::1"}) {
    EXPECT_FALSE(IsLoopback(*IpAddress::Parse(a))) << a;
  }
}

TEST(SocketAddressTest, RoundTripsThroughSockaddr) {
  auto a = SocketAddress::Parse("127.0.0.1", 8080);
  sockaddr_storage ss;
  a->ToSockaddr(&ss);
  EXPECT_EQ(SocketAddress::FromSockaddr(ss), *a);
  EXPECT_EQ(a->ToString(), "127.0.0.1:8080");
  auto b = SocketAddress::Parse("::1", 443);
  b->ToSockaddr(&ss);
  EXPECT_EQ(SocketAddress::FromSockaddr(ss), *b);
  EXPECT_EQ(b->ToString(), "[::1]:443");
}

}  // namespace
}  // namespace sluice
