#include "nlb/protocols.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::nlb {
namespace {

const char* kAll[] = {"TCP", "TLS", "UDP", "TCP_UDP", "QUIC", "TCP_QUIC"};

struct Allowed {
  const char* listener;
  const char* target_group;
};

// §8.1: listener → allowed target-group protocols. Every pair not listed is incompatible.
const Allowed kAllowed[] = {
    {"TCP", "TCP"},       {"TCP", "TCP_UDP"},       {"TLS", "TCP"},         {"TLS", "TLS"},
    {"UDP", "UDP"},       {"UDP", "TCP_UDP"},       {"TCP_UDP", "TCP_UDP"}, {"QUIC", "QUIC"},
    {"QUIC", "TCP_QUIC"}, {"TCP_QUIC", "TCP_QUIC"},
};

bool Listed(const std::string& l, const std::string& tg) {
  for (const Allowed& a : kAllowed) {
    if (l == a.listener && tg == a.target_group) return true;
  }
  return false;
}

TEST(NlbProtocols, ParseAndNameRoundTrip) {
  for (const char* name : kAll) {
    auto p = ParseNlbProtocol(name);
    ASSERT_TRUE(p.has_value()) << name;
    EXPECT_EQ(ToString(*p), name);
  }
  EXPECT_FALSE(ParseNlbProtocol("tcp").has_value());
  EXPECT_FALSE(ParseNlbProtocol("HTTP").has_value());
  EXPECT_FALSE(ParseNlbProtocol("").has_value());
}

TEST(NlbProtocols, EveryPairFollowsTheTable) {
  int ok = 0;
  for (const char* l : kAll) {
    for (const char* tg : kAll) {
      bool want = Listed(l, tg);
      EXPECT_EQ(IsCompatible(*ParseNlbProtocol(l), *ParseNlbProtocol(tg)), want) << l << "→" << tg;
      std::optional<Error> err = CheckListenerTargetGroup(l, tg);
      EXPECT_EQ(!err.has_value(), want) << l << "→" << tg;
      ok += want;
      if (!err) continue;
      EXPECT_EQ(err->source, ErrorSource::kConfig);
      EXPECT_EQ(err->message.rfind("IncompatibleProtocols:", 0), 0u) << err->message;
      EXPECT_NE(err->message.find(std::string("'") + l + "'"), std::string::npos);
      EXPECT_NE(err->message.find(std::string("'") + tg + "'"), std::string::npos);
    }
  }
  EXPECT_EQ(ok, 10);
}

TEST(NlbProtocols, MessageSaysWhatTheListenerAllows) {
  auto err = CheckListenerTargetGroup(NlbProtocol::kTls, NlbProtocol::kUdp);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->message,
            "IncompatibleProtocols: listener protocol 'TLS' is not compatible with target group "
            "protocol 'UDP' (a TLS listener forwards to TCP or TLS target groups)");
}

TEST(NlbProtocols, AlbTargetGroupsAreTcpOnly) {
  EXPECT_FALSE(CheckListenerTargetGroup(NlbProtocol::kTcp, NlbProtocol::kTcp, true).has_value());
  auto err = CheckListenerTargetGroup(NlbProtocol::kTcp, NlbProtocol::kTcpUdp, true);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("'alb'"), std::string::npos);
  EXPECT_NE(err->message.find("'TCP_UDP'"), std::string::npos);
}

TEST(NlbProtocols, UnknownNamesAreValidationErrors) {
  auto err = CheckListenerTargetGroup("HTTP", "TCP");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->message.rfind("ValidationError:", 0), 0u);
  EXPECT_NE(err->message.find("'HTTP'"), std::string::npos);
  err = CheckListenerTargetGroup("TCP", "GENEVE");
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("'GENEVE'"), std::string::npos);
}

}  // namespace
}  // namespace sluice::nlb
