// NLB TLS listeners in the config (reference §7.5, §8.1, §8.5): certificates and policy as
// HTTPS listeners, AlpnPolicy, forward-only to TCP or TLS groups, no attributes, mutual TLS
// off or verify; TLS target groups with NLB's health-check defaults; the exporter's round
// trip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/export_test_util.h"
#include "config/test_util.h"

namespace sluice::config {
namespace {

using ::testing::ElementsAre;
using testing::Errors;
using ::testing::HasSubstr;
using testing::MustLoad;

constexpr char kTls[] = R"(
Certificates:
  - {Name: site, CertificateFile: /etc/sluice/site.pem, PrivateKeyFile: /etc/sluice/site.key}
LoadBalancers:
  - Name: net
    Type: network
    Listeners:
      - Protocol: TLS
        Port: 8443
        Certificates: [site]
        AlpnPolicy: HTTP2Preferred
        DefaultActions:
          - Type: forward
            TargetGroupName: app
TargetGroups:
  - Name: app
    Protocol: TLS
    Port: 9443
    Targets: [{Id: 10.0.0.1}]
)";

// kTls with `from` replaced by `to` (once).
std::string With(std::string_view from, std::string_view to) {
  return testing::Replaced(kTls, from, to);
}

TEST(TlsListenerConfig, LoadsWithNlbDefaults) {
  Config c = MustLoad(kTls);
  const Listener& l = c.load_balancers[0].listeners[0];
  EXPECT_EQ(l.protocol, "TLS");
  EXPECT_EQ(l.alpn_policy, "HTTP2Preferred");
  EXPECT_EQ(l.ssl_policy, "ELBSecurityPolicy-2016-08");
  ASSERT_EQ(l.certificates.size(), 1u);
  EXPECT_EQ(l.attributes.tcp_idle_timeout_seconds, 350);  // fixed for TLS listeners
  const TargetGroup& g = c.target_groups[0];
  EXPECT_EQ(g.protocol, "TLS");
  EXPECT_EQ(g.health_check.protocol, "TCP");
  EXPECT_EQ(g.health_check.timeout_seconds, 10);
}

TEST(TlsListenerConfig, AlpnPolicyDefaultsToNoneAndTakesAListOfOne) {
  EXPECT_EQ(MustLoad(With("        AlpnPolicy: HTTP2Preferred\n", ""))
                .load_balancers[0]
                .listeners[0]
                .alpn_policy,
            "None");
  EXPECT_EQ(MustLoad(With("AlpnPolicy: HTTP2Preferred", "AlpnPolicy: [HTTP1Only]"))
                .load_balancers[0]
                .listeners[0]
                .alpn_policy,
            "HTTP1Only");
  EXPECT_THAT(Errors(With("AlpnPolicy: HTTP2Preferred", "AlpnPolicy: [HTTP1Only, HTTP2Only]")),
              ElementsAre(HasSubstr("AlpnPolicy takes exactly one policy")));
  EXPECT_THAT(Errors(With("AlpnPolicy: HTTP2Preferred", "AlpnPolicy: h2")),
              ElementsAre(HasSubstr("LoadBalancers[0].Listeners[0].AlpnPolicy: ALPNPolicyNotFound: "
                                    "AlpnPolicy 'h2' is not a policy; allowed: None, HTTP1Only, "
                                    "HTTP2Only, HTTP2Optional, HTTP2Preferred")));
}

TEST(TlsListenerConfig, AlpnPolicyIsForTlsListenersOnly) {
  constexpr char kHttps[] = R"(
Certificates:
  - {Name: site, CertificateFile: /etc/sluice/site.pem, PrivateKeyFile: /etc/sluice/site.key}
LoadBalancers:
  - Name: app
    Listeners:
      - Protocol: HTTPS
        Port: 443
        Certificates: [site]
        AlpnPolicy: HTTP2Only
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
)";
  EXPECT_THAT(Errors(kHttps), ElementsAre(HasSubstr("AlpnPolicy is only for TLS listeners")));
}

TEST(TlsListenerConfig, ATlsListenerNeedsACertificate) {
  EXPECT_THAT(Errors(With("        Certificates: [site]\n", "")),
              ElementsAre(HasSubstr("a TLS listener needs a certificate")));
  EXPECT_THAT(Errors(With("Certificates: [site]\n",
                          "Certificates: [site]\n        SslPolicy: "
                          "ELBSecurityPolicy-Nope\n")),
              ElementsAre(HasSubstr("SslPolicy 'ELBSecurityPolicy-Nope' is not a known policy")));
}

TEST(TlsListenerConfig, ForwardsOnlyToTcpOrTlsGroups) {
  EXPECT_NO_THROW(MustLoad(With("    Protocol: TLS\n    Port: 9443",
                                "    Protocol: TCP\n    "
                                "Port: 9443")));
  EXPECT_THAT(
      Errors(With("    Protocol: TLS\n    Port: 9443", "    Protocol: HTTPS\n    Port: 9443")),
      ElementsAre(HasSubstr("IncompatibleProtocols: a TLS listener cannot forward to target "
                            "group 'app' of protocol HTTPS; allowed: TCP, TLS")));
  EXPECT_THAT(Errors(With("      - Protocol: TLS\n        Port: 8443\n        Certificates: "
                          "[site]\n        AlpnPolicy: HTTP2Preferred\n",
                          "      - Protocol: TCP\n        Port: 8443\n")),
              ElementsAre(HasSubstr("IncompatibleProtocols: a TCP listener cannot forward to "
                                    "target group 'app' of protocol TLS; allowed: TCP, TCP_UDP")));
  EXPECT_THAT(Errors(With("          - Type: forward\n            TargetGroupName: app\n",
                          "          - Type: fixed-response\n"
                          "            FixedResponseConfig: {StatusCode: \"200\"}\n")),
              ElementsAre(HasSubstr("a TLS listener's only action is forward")));
}

TEST(TlsListenerConfig, TlsListenersHaveNoAttributesAndVerifyOnlyMutualTls) {
  EXPECT_THAT(Errors(With("        AlpnPolicy",
                          "        Attributes: {tcp.idle_timeout.seconds: "
                          "\"600\"}\n        AlpnPolicy")),
              ElementsAre(HasSubstr("unknown TLS listener attribute 'tcp.idle_timeout.seconds'; "
                                    "a TLS listener has none")));
  // Sluice's connection cap is the one attribute it takes.
  Config capped = MustLoad(With(
      "        AlpnPolicy", "        Attributes: {sluice.max_connections: 5}\n        AlpnPolicy"));
  EXPECT_EQ(capped.load_balancers[0].listeners[0].attributes.max_connections, 5);
  testing::ExpectRoundTrip(capped);
  EXPECT_THAT(Errors(With("        AlpnPolicy",
                          "        MutualAuthentication: {Mode: "
                          "passthrough}\n        AlpnPolicy")),
              ElementsAre(HasSubstr("a TLS listener's mutual TLS mode is off or verify")));
  EXPECT_THAT(Errors(With("    Port: 9443\n", "    Port: 9443\n    ProtocolVersion: HTTP2\n")),
              ElementsAre(HasSubstr("ProtocolVersion is only for HTTP and HTTPS target groups")));
  // PROXY v2 to a TLS group: sent in the clear before the handshake (§8.4).
  EXPECT_TRUE(Errors(With("    Port: 9443\n",
                          "    Port: 9443\n    Attributes: "
                          "{proxy_protocol_v2.enabled: true}\n"))
                  .empty());
}

TEST(TlsListenerConfig, ApplicationLoadBalancersRefuseTls) {
  EXPECT_THAT(Errors(With("    Type: network\n", "")),
              ElementsAre(HasSubstr("listener protocol TLS is for load balancers of Type network; "
                                    "this one is application (allowed: HTTP, HTTPS)")));
}

TEST(TlsListenerConfig, ExportRoundTrip) {
  const std::string y = testing::ExpectRoundTrip(MustLoad(kTls));
  EXPECT_THAT(y, HasSubstr("AlpnPolicy: \"HTTP2Preferred\""));
  EXPECT_THAT(y, HasSubstr("Protocol: \"TLS\""));
  EXPECT_THAT(y, ::testing::Not(HasSubstr("tcp.idle_timeout.seconds")));
  testing::ExpectRoundTrip(MustLoad(With("        AlpnPolicy: HTTP2Preferred\n", "")));
}

}  // namespace
}  // namespace sluice::config
