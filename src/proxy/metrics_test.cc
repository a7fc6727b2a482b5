// CloudWatch counters from a whole worker over in-memory streams (MemoryHarness): each kind of
// exchange moves the counters ALB's metrics of the same name would.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "proxy/memory_harness.h"

namespace sluice::proxy {
namespace {

using observe::LbMetric;
using observe::TgMetric;

constexpr char kConfig[] = R"(LoadBalancers:
  - Name: web
    Listeners:
      - Protocol: HTTP
        Port: 80
        BindAddress: 127.0.0.1
        DefaultActions:
          - Type: forward
            TargetGroupName: app
        Rules:
          - Priority: 1
            Conditions: [{Field: path-pattern, Values: ["/fixed"]}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "418"}}]
          - Priority: 2
            Conditions: [{Field: path-pattern, Values: ["/redirect"]}]
            Actions: [{Type: redirect, RedirectConfig: {Path: "/x", StatusCode: HTTP_301}}]
          - Priority: 3
            Conditions: [{Field: path-pattern, Values: ["/down"]}]
            Actions: [{Type: forward, TargetGroupName: down}]
TargetGroups:
  - Name: app
    Port: 8080
    HealthCheckEnabled: false
    Targets: [{Id: 10.0.0.1}]
  - Name: down
    Port: 8080
    HealthCheckEnabled: false
    Targets: [{Id: 10.0.0.2}]
)";

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = MemoryHarness::Create(kConfig);
    ASSERT_TRUE(h.ok()) << h.error().message;
    h_ = std::move(h.value());
  }
  void Send(net::MemoryTransport* s, std::string_view bytes) {
    ASSERT_EQ(s->Write(bytes.data(), bytes.size()).bytes(), bytes.size());
    h_->Run();
  }
  uint64_t Lb(LbMetric m) { return h_->worker().metrics().Get(0, m); }
  uint64_t Tg(int slot, TgMetric m) {
    return h_->worker().metrics().Get(static_cast<size_t>(slot), m);
  }
  std::unique_ptr<MemoryHarness> h_;
};

TEST_F(MetricsTest, EachExchangeMovesAlbsCounters) {
  EXPECT_EQ(h_->metric_slots().TargetGroupDimensions().size(), 2u);
  net::MemoryTransport* c = h_->Connect();
  EXPECT_EQ(Lb(LbMetric::kNewConnectionCount), 1u);
  EXPECT_EQ(Lb(LbMetric::kActiveConnectionCount), 1u);
  // A target's 503: counted as the target's, with its response time.
  Send(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  h_->upstreams()[0].target->ReadAll();
  h_->Advance(3);
  Send(h_->upstreams()[0].target.get(), "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(Lb(LbMetric::kRequestCount), 1u);
  EXPECT_EQ(Lb(LbMetric::kHttpCodeTarget5xx), 1u);
  EXPECT_EQ(Lb(LbMetric::kHttpCodeElb5xx), 0u);
  EXPECT_EQ(Tg(0, TgMetric::kRequestCount), 1u);
  EXPECT_EQ(Tg(0, TgMetric::kHttpCodeTarget5xx), 1u);
  EXPECT_EQ(Tg(0, TgMetric::kResponseTimeCount), 1u);
  EXPECT_EQ(Tg(0, TgMetric::kResponseTimeSumMs), 3u);
  // The load balancer's own answers.
  Send(c, "GET /fixed HTTP/1.1\r\nHost: a\r\n\r\n");
  Send(c, "GET /redirect HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(Lb(LbMetric::kHttpFixedResponseCount), 1u);
  EXPECT_EQ(Lb(LbMetric::kHttpCodeElb4xx), 1u);
  EXPECT_EQ(Lb(LbMetric::kHttpRedirectCount), 1u);
  EXPECT_EQ(Lb(LbMetric::kHttpCodeElb3xx), 1u);
  EXPECT_EQ(Lb(LbMetric::kRequestCount), 3u);
  EXPECT_GT(Lb(LbMetric::kProcessedBytes), 0u);
  // A refused target: a connection error and ELB 502, on the group too.
  h_->Refuse(*SocketAddress::Parse("10.0.0.2", 8080), ECONNREFUSED);
  Send(c, "GET /down HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(Lb(LbMetric::kTargetConnectionErrorCount), 1u);
  EXPECT_EQ(Lb(LbMetric::kHttpCodeElb502), 1u);
  EXPECT_EQ(Lb(LbMetric::kHttpCodeElb5xx), 1u);
  EXPECT_EQ(Tg(1, TgMetric::kTargetConnectionErrorCount), 1u);
  // A malformed request: ELB 4XX, not a request ALB counts, and non-compliant.
  net::MemoryTransport* bad = h_->Connect(0, 40001);
  Send(bad, std::string_view("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 35));
  EXPECT_EQ(Lb(LbMetric::kHttpCodeElb4xx), 2u);
  EXPECT_EQ(Lb(LbMetric::kDesyncNonCompliantRequestCount), 1u);
  EXPECT_EQ(Lb(LbMetric::kRequestCount), 4u);  // the refused /down one was routed
  // The closed connection leaves the gauge.
  h_->Advance(3000);
  EXPECT_EQ(Lb(LbMetric::kNewConnectionCount), 2u);
  EXPECT_EQ(Lb(LbMetric::kActiveConnectionCount), 1u);
}

}  // namespace
}  // namespace sluice::proxy
