// NLB UDP listeners in the config (reference §8.1, §8.5, §8.7): forward-only to UDP groups, no
// attributes (the idle timeout is fixed at 120 s), UDP groups checked over TCP by default, and
// the exporter's round trip.
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

constexpr char kUdp[] = R"(
LoadBalancers:
  - Name: dns
    Type: network
    Listeners:
      - Protocol: UDP
        Port: 53
        DefaultActions:
          - Type: forward
            TargetGroupName: resolvers
TargetGroups:
  - Name: resolvers
    Protocol: UDP
    Port: 5353
    HealthCheckPort: "53"
    Targets: [{Id: 10.0.0.1}, {Id: 10.0.0.2}]
)";

// kUdp with `from` replaced by `to` (once).
std::string With(std::string_view from, std::string_view to) {
  return testing::Replaced(kUdp, from, to);
}

TEST(UdpListenerConfig, LoadsWithNlbDefaults) {
  Config c = MustLoad(kUdp);
  EXPECT_EQ(c.load_balancers[0].listeners[0].protocol, "UDP");
  const TargetGroup& g = c.target_groups[0];
  EXPECT_EQ(g.protocol, "UDP");
  EXPECT_EQ(g.health_check.protocol, "TCP");  // UDP groups are checked over TCP (§8.7)
  EXPECT_EQ(g.health_check.port, "53");
  EXPECT_EQ(g.health_check.timeout_seconds, 10);
}

TEST(UdpListenerConfig, ForwardsOnlyToUdpGroups) {
  EXPECT_THAT(
      Errors(With("    Protocol: UDP\n    Port: 5353", "    Protocol: TCP\n    Port: 5353")),
      ElementsAre(HasSubstr("IncompatibleProtocols: a UDP listener cannot forward to "
                            "target group 'resolvers' of protocol TCP; allowed: UDP, TCP_UDP")));
  EXPECT_THAT(
      Errors(With("      - Protocol: UDP\n", "      - Protocol: TCP\n")),
      ElementsAre(HasSubstr("IncompatibleProtocols: a TCP listener cannot forward to "
                            "target group 'resolvers' of protocol UDP; allowed: TCP, TCP_UDP")));
  EXPECT_THAT(Errors(With("          - Type: forward\n            TargetGroupName: resolvers\n",
                          "          - Type: fixed-response\n"
                          "            FixedResponseConfig: {StatusCode: \"200\"}\n")),
              ElementsAre(HasSubstr("a UDP listener's only action is forward")));
}

TEST(UdpListenerConfig, UdpListenersAndGroupsRefuseWhatTheyCannotUse) {
  EXPECT_THAT(Errors(With("        Port: 53\n",
                          "        Port: 53\n        Attributes: "
                          "{tcp.idle_timeout.seconds: \"600\"}\n")),
              ElementsAre(HasSubstr("unknown UDP listener attribute 'tcp.idle_timeout.seconds'; "
                                    "a UDP listener has none (its idle timeout is fixed at 120 "
                                    "seconds)")));
  // Nor Sluice's connection cap: UDP flows have their own bounds.
  EXPECT_THAT(Errors(With("        Port: 53\n",
                          "        Port: 53\n        Attributes: {sluice.max_connections: 7}\n")),
              ElementsAre(HasSubstr("unknown UDP listener attribute 'sluice.max_connections'; "
                                    "a UDP listener has none")));
  EXPECT_THAT(Errors(With("        Port: 53\n", "        Port: 53\n        Certificates: [x]\n")),
              ElementsAre(HasSubstr("Certificates are only for HTTPS and TLS listeners")));
  EXPECT_THAT(Errors(With("    Port: 5353\n", "    Port: 5353\n    ProtocolVersion: HTTP1\n")),
              ElementsAre(HasSubstr("ProtocolVersion is only for HTTP and HTTPS target groups")));
  EXPECT_THAT(Errors(With("    Port: 5353\n",
                          "    Port: 5353\n    Attributes: "
                          "{proxy_protocol_v2.enabled: true}\n")),
              ElementsAre(HasSubstr("a UDP or TCP_UDP group keeps the client's address")));
  EXPECT_THAT(Errors(With("    HealthCheckPort: \"53\"\n", "    HealthCheckProtocol: UDP\n")),
              ElementsAre(HasSubstr("health check protocol 'UDP' is invalid")));
}

TEST(UdpListenerConfig, ExportRoundTrip) {
  const std::string y = testing::ExpectRoundTrip(MustLoad(kUdp));
  EXPECT_THAT(y, HasSubstr("Protocol: \"UDP\""));
  EXPECT_THAT(y, ::testing::Not(HasSubstr("ProtocolVersion")));
  EXPECT_THAT(y, ::testing::Not(HasSubstr("tcp.idle_timeout.seconds")));
}

}  // namespace
}  // namespace sluice::config

namespace sluice::config {
namespace {

TEST(TcpUdpListenerConfig, ServesBothTransportsOfOneGroup) {
  std::string text = With("      - Protocol: UDP\n", "      - Protocol: TCP_UDP\n");
  const std::string group = "    Protocol: UDP\n    Port: 5353";
  text.replace(text.find(group), group.size(), "    Protocol: TCP_UDP\n    Port: 5353");
  Config c = MustLoad(text);
  EXPECT_EQ(c.load_balancers[0].listeners[0].protocol, "TCP_UDP");
  EXPECT_EQ(c.load_balancers[0].listeners[0].attributes.tcp_idle_timeout_seconds, 350);
  EXPECT_EQ(c.target_groups[0].protocol, "TCP_UDP");
  EXPECT_EQ(c.target_groups[0].health_check.protocol, "TCP");
  testing::ExpectRoundTrip(c);
  EXPECT_THAT(Errors(With("      - Protocol: UDP\n", "      - Protocol: TCP_UDP\n")),
              ElementsAre(HasSubstr("IncompatibleProtocols: a TCP_UDP listener cannot forward "
                                    "to target group 'resolvers' of protocol UDP; allowed: "
                                    "TCP_UDP")));
}

}  // namespace
}  // namespace sluice::config

namespace sluice::config {
namespace {

TEST(UdpListenerConfig, TcpAndUdpPortsAreSeparateButOneLoadBalancerHasOneListenerPerPort) {
  constexpr char kTwoBalancers[] = R"(
LoadBalancers:
  - Name: dns-udp
    Type: network
    Listeners:
      - {Protocol: UDP, Port: 53, DefaultActions: [{Type: forward, TargetGroupName: u}]}
  - Name: dns-tcp
    Type: network
    Listeners:
      - {Protocol: TCP, Port: 53, DefaultActions: [{Type: forward, TargetGroupName: t}]}
TargetGroups:
  - {Name: u, Protocol: UDP, Port: 53}
  - {Name: t, Protocol: TCP, Port: 53}
)";
  EXPECT_NO_THROW(MustLoad(kTwoBalancers));
  constexpr char kOneBalancer[] = R"(
LoadBalancers:
  - Name: dns
    Type: network
    Listeners:
      - {Protocol: UDP, Port: 53, DefaultActions: [{Type: forward, TargetGroupName: u}]}
      - {Protocol: TCP, Port: 53, DefaultActions: [{Type: forward, TargetGroupName: t}]}
TargetGroups:
  - {Name: u, Protocol: UDP, Port: 53}
  - {Name: t, Protocol: TCP, Port: 53}
)";
  EXPECT_THAT(Errors(kOneBalancer),
              ElementsAre(HasSubstr("DuplicateListener: LoadBalancers[0].Listeners[0] (line 5) "
                                    "already listens on port 53; for TCP and UDP on one port "
                                    "use one TCP_UDP listener")));
  constexpr char kTwoTcpUdp[] = R"(
LoadBalancers:
  - Name: a
    Type: network
    Listeners:
      - {Protocol: TCP_UDP, Port: 53, DefaultActions: [{Type: forward, TargetGroupName: b}]}
  - Name: c
    Type: network
    Listeners:
      - {Protocol: TCP_UDP, Port: 53, DefaultActions: [{Type: forward, TargetGroupName: d}]}
TargetGroups:
  - {Name: b, Protocol: TCP_UDP, Port: 53}
  - {Name: d, Protocol: TCP_UDP, Port: 53}
)";
  EXPECT_THAT(Errors(kTwoTcpUdp), ElementsAre(HasSubstr("clashes with")));  // reported once
}

}  // namespace
}  // namespace sluice::config
