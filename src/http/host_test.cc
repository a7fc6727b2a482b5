// Tests for Host / authority validation (RFC 9112 §3.2, RFC 3986 §3.2.2).
#include "http/host.h"

#include <gtest/gtest.h>

namespace sluice::http {
namespace {

TEST(HostTest, AcceptsHostsAndPorts) {
  for (const char* v :
       {"", "a", "good.example", "good.example:8080", "GOOD.Example:", "127.0.0.1", "127.0.0.1:80",
        "[::1]", "[::1]:443", "[2001:db8::7]:65535", "xn--bcher-kva.example", "a_b-c~d",
        "%41.example", "a!$&'()*+,;=b", "[v1.fe80::a+en1]"}) {
    EXPECT_TRUE(IsValidHost(v)) << v;
  }
}

TEST(HostTest, RejectsWhatATargetCouldReadAsAnotherHost) {
  for (const char* v : {"good.example@evil.example",
                        "evil.example good.example",
                        "good.example:80:80",
                        "good.example:8o",
                        "good.example:123456",
                        ":80",
                        "[::1",
                        "[]",
                        "[::1]x",
                        "[::1]:80:1",
                        "a/b",
                        "a\\b",
                        "a?b",
                        "a#b",
                        "a\tb",
                        "%4",
                        "%zz.example",
                        "a\"b",
                        "a<b",
                        "\xc3\xa9.example",
                        "user:pass@host"}) {
    EXPECT_FALSE(IsValidHost(v)) << testing::PrintToString(std::string(v));
  }
  EXPECT_FALSE(IsValidHost(std::string_view("a\0b", 3)));
}

TEST(HostTest, EveryHostFieldAndTheAuthorityAreChecked) {
  HeaderField fields[] = {{"Host", "good.example"}, {"X", "y"}, {"host", "a b"}};
  EXPECT_TRUE(RequestHostsValid("", std::span(fields, 2), &fields[0], 1));
  EXPECT_FALSE(RequestHostsValid("", fields, &fields[0], 2));
  EXPECT_FALSE(RequestHostsValid("good.example@evil.example", std::span(fields, 2), &fields[0], 1));
  EXPECT_TRUE(RequestHostsValid("good.example:8080", {}, nullptr, 0));
  EXPECT_TRUE(RequestHostsValid("", {}, nullptr, 0));  // HTTP/1.0 without Host
}

}  // namespace
}  // namespace sluice::http
