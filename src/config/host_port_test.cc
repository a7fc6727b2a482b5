// Command-line ADDRESS:PORT values.
#include "config/host_port.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::config {
namespace {

// "host|port" when `text` parses, else the message.
std::string Parse(std::string_view text, HostPortRules rules = {}) {
  HostPort hp;
  std::string error = ParseHostPort(text, rules, &hp);
  return error.empty() ? hp.host + "|" + std::to_string(hp.port) : error;
}

TEST(HostPortTest, AcceptsIpv4AndBracketedIpv6) {
  EXPECT_EQ(Parse("127.0.0.1:9901"), "127.0.0.1|9901");
  EXPECT_EQ(Parse("[::1]:1"), "::1|1");
  EXPECT_EQ(Parse("0.0.0.0:65535"), "0.0.0.0|65535");
}

TEST(HostPortTest, RejectsWhatIsNotAddressAndPort) {
  const std::string expected = ": expected ADDRESS:PORT, e.g. 127.0.0.1:9901 or [::1]:9901";
  EXPECT_EQ(Parse("foo"), "'foo'" + expected);
  EXPECT_EQ(Parse(""), "''" + expected);
  EXPECT_EQ(Parse(":9901"), "':9901'" + expected);
  EXPECT_EQ(Parse("::1:9901"), "'::1:9901'" + expected);
  EXPECT_EQ(Parse("[::1]9901"), "'[::1]9901'" + expected);
  EXPECT_EQ(Parse("[::1"), "'[::1'" + expected);
  EXPECT_EQ(Parse("9901"), "'9901'" + expected);  // no default host
  EXPECT_EQ(Parse("foo:9901"), "'foo:9901': 'foo' is not an IP address");
  EXPECT_EQ(Parse("[1.2.3.4]:80"), "'[1.2.3.4]:80': '1.2.3.4' is not an IPv6 address");
}

TEST(HostPortTest, PortMustBeANumberInRange) {
  EXPECT_EQ(Parse("127.0.0.1:"), "'127.0.0.1:': port '' is not a number");
  EXPECT_EQ(Parse("127.0.0.1:x1"), "'127.0.0.1:x1': port 'x1' is not a number");
  EXPECT_EQ(Parse("127.0.0.1:-1"), "'127.0.0.1:-1': port '-1' is not a number");
  EXPECT_EQ(Parse("127.0.0.1:0"), "'127.0.0.1:0': port '0' is out of range 1..65535");
  EXPECT_EQ(Parse("127.0.0.1:65536"), "'127.0.0.1:65536': port '65536' is out of range 1..65535");
  EXPECT_EQ(Parse("127.0.0.1:99999999999999999999"),
            "'127.0.0.1:99999999999999999999': port '99999999999999999999' is out of range "
            "1..65535");
  EXPECT_EQ(Parse("127.0.0.1:0", {.min_port = 0}), "127.0.0.1|0");
}

TEST(HostPortTest, DefaultHostAndHostNames) {
  const HostPortRules listen{.allow_host_name = true, .min_port = 0, .default_host = "127.0.0.1"};
  EXPECT_EQ(Parse("3001", listen), "127.0.0.1|3001");
  EXPECT_EQ(Parse("localhost:3001", listen), "localhost|3001");
  EXPECT_EQ(Parse("[::1]:0", listen), "::1|0");
  EXPECT_EQ(Parse("bad host:1", listen),
            "'bad host:1': 'bad host' is not an IP address or host name");
}

TEST(HostPortTest, EchoedTextIsEscapedAndCut) {
  EXPECT_EQ(Parse("a\x1b[2J:1"), "'a\\x1b[2J:1': 'a\\x1b[2J' is not an IP address");
  const std::string error = Parse(std::string(100000, 'a'));
  EXPECT_LT(error.size(), 200u);
  EXPECT_NE(error.find("(100000 bytes)"), std::string::npos);
}

TEST(HostPortTest, Format) {
  EXPECT_EQ(FormatHostPort({"127.0.0.1", 80}), "127.0.0.1:80");
  EXPECT_EQ(FormatHostPort({"::1", 80}), "[::1]:80");
}

}  // namespace
}  // namespace sluice::config
