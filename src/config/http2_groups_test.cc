// Target groups with ProtocolVersion HTTP2 and GRPC (reference §2.2): accepted, and reachable
// only from listeners that receive HTTP/2 requests (HTTPS, or HTTP with cleartext HTTP/2).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/test_util.h"

namespace sluice::config {
namespace {

using ::testing::ElementsAre;
using testing::Errors;
using ::testing::HasSubstr;
using testing::MustLoad;

std::string Config(const std::string& lb_attributes, const std::string& version) {
  return R"(
LoadBalancers:
  - Name: app
)" + lb_attributes +
         R"(
    Listeners:
      - Port: 80
        DefaultActions: [{Type: forward, TargetGroupName: svc}]
TargetGroups:
  - Name: svc
    Protocol: HTTP
    ProtocolVersion: )" +
         version + R"(
    Port: 50051
    Targets: [{Id: 127.0.0.1}]
)";
}

TEST(Http2Groups, HttpListenerNeedsCleartextHttp2) {
  for (const char* version : {"HTTP2", "GRPC"}) {
    EXPECT_THAT(Errors(Config("", version)),
                ElementsAre(HasSubstr(std::string("an HTTP listener cannot forward to target group "
                                                  "'svc' of protocol version ") +
                                      version)))
        << version;
    const auto config =
        MustLoad(Config("    Attributes: {sluice.routing.http2.cleartext.enabled: true}", version));
    ASSERT_EQ(config.target_groups.size(), 1u);
    EXPECT_EQ(config.target_groups[0].protocol_version, version);
  }
}

TEST(Http2Groups, Http1GroupsNeedNothing) {
  EXPECT_EQ(MustLoad(Config("", "HTTP1")).target_groups[0].protocol_version, "HTTP1");
}

}  // namespace
}  // namespace sluice::config
