#include "config/alpn_policies.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::config {
namespace {

// The wire format of a client's ALPN list (RFC 7301 §3.1).
std::string Offer(std::initializer_list<std::string_view> protocols) {
  std::string out;
  for (std::string_view p : protocols) {
    out += static_cast<char>(p.size());
    out += p;
  }
  return out;
}

TEST(AlpnPolicyTest, ParsesTheApiNamesExactly) {
  for (AlpnPolicy p : {AlpnPolicy::kNone, AlpnPolicy::kHttp1Only, AlpnPolicy::kHttp2Only,
                       AlpnPolicy::kHttp2Optional, AlpnPolicy::kHttp2Preferred}) {
    EXPECT_EQ(ParseAlpnPolicy(ToString(p)), p);
  }
  EXPECT_FALSE(ParseAlpnPolicy("http2preferred"));
  EXPECT_FALSE(ParseAlpnPolicy(""));
  EXPECT_FALSE(ParseAlpnPolicy("HTTP2"));
}

TEST(AlpnPolicyTest, TheServersPreferenceWinsOverTheClientsOrder) {
  const std::string both = Offer({"http/1.1", "h2"});
  EXPECT_EQ(SelectAlpn(AlpnPolicy::kHttp2Preferred, both), "h2");
  EXPECT_EQ(SelectAlpn(AlpnPolicy::kHttp2Optional, both), "http/1.1");
  EXPECT_EQ(SelectAlpn(AlpnPolicy::kHttp1Only, both), "http/1.1");
  EXPECT_EQ(SelectAlpn(AlpnPolicy::kHttp2Only, both), "h2");
  EXPECT_EQ(SelectAlpn(AlpnPolicy::kNone, both), "");
}

TEST(AlpnPolicyTest, NoCommonProtocolMeansNoAlpn) {
  EXPECT_EQ(SelectAlpn(AlpnPolicy::kHttp1Only, Offer({"h2"})), "");
  EXPECT_EQ(SelectAlpn(AlpnPolicy::kHttp2Only, Offer({"http/1.1", "http/1.0"})), "");
  EXPECT_EQ(SelectAlpn(AlpnPolicy::kHttp2Preferred, Offer({"imap", "smtp"})), "");
  EXPECT_EQ(SelectAlpn(AlpnPolicy::kHttp2Preferred, ""), "");
}

TEST(AlpnPolicyTest, Http10IsOfferedToo) {
  EXPECT_EQ(SelectAlpn(AlpnPolicy::kHttp1Only, Offer({"h2", "http/1.0"})), "http/1.0");
  EXPECT_EQ(SelectAlpn(AlpnPolicy::kHttp2Preferred, Offer({"http/1.0", "spdy/3"})), "http/1.0");
}

TEST(AlpnPolicyTest, TheSelectionPointsIntoTheOffer) {
  const std::string offer = Offer({"x", "h2"});
  std::string_view got = SelectAlpn(AlpnPolicy::kHttp2Only, offer);
  ASSERT_EQ(got, "h2");
  EXPECT_EQ(got.data(), offer.data() + 3);  // OpenSSL wants a pointer into the client's list
}

TEST(AlpnPolicyTest, AMalformedTailIsIgnored) {
  std::string offer = Offer({"http/1.1"});
  offer += '\x09';  // a length with no bytes behind it
  offer += "h2";
  EXPECT_EQ(SelectAlpn(AlpnPolicy::kHttp2Preferred, offer), "http/1.1");
  EXPECT_EQ(SelectAlpn(AlpnPolicy::kHttp2Only, std::string("\x00\x02h2", 4)), "");
  EXPECT_EQ(SelectAlpn(AlpnPolicy::kHttp2Only, std::string("\x05h2", 3)), "");
}

}  // namespace
}  // namespace sluice::config
