// Access-log entries from a whole worker over in-memory streams (MemoryHarness): what the
// exchange record carries reaches ALB's fields, only load balancers with access logs on
// produce entries, and conn_trace_id names the connection.
#include "proxy/access_log_sink.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/arn.h"
#include "proxy/memory_harness.h"

namespace sluice::proxy {
namespace {

constexpr char kConfig[] = R"(Account: {Id: "123456789012", Region: eu-west-3}
LoadBalancers:
  - Name: logged
    Attributes:
      access_logs.s3.enabled: true
      sluice.access_logs.directory: /nonexistent
    Listeners:
      - Protocol: HTTP
        Port: 80
        BindAddress: 127.0.0.1
        DefaultActions:
          - Type: forward
            TargetGroupName: app
        Rules:
          - Priority: 7
            Conditions: [{Field: path-pattern, Values: ["/old"]}]
            Actions: [{Type: redirect, RedirectConfig: {Path: "/new", StatusCode: HTTP_302}}]
  - Name: quiet
    Listeners:
      - Protocol: HTTP
        Port: 81
        BindAddress: 127.0.0.1
        DefaultActions:
          - Type: forward
            TargetGroupName: quiet-app
TargetGroups:
  - Name: app
    Port: 8080
    HealthCheckEnabled: false
    Targets: [{Id: 10.0.0.1}]
  - Name: quiet-app
    Port: 8080
    HealthCheckEnabled: false
    Targets: [{Id: 10.0.0.1}]
)";

class AccessLogSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = MemoryHarness::Create(kConfig);
    ASSERT_TRUE(h.ok()) << h.error().message;
    h_ = std::move(h.value());
    h_->worker().set_exchange_sink(&sink_, false);
  }
  void Send(net::MemoryTransport* stream, std::string_view bytes) {
    ASSERT_EQ(stream->Write(bytes.data(), bytes.size()).bytes(), bytes.size());
    h_->Run();
  }
  std::vector<std::string> Lines() {
    std::vector<std::string> out;
    std::string scratch;
    ring_.Drain(&scratch, [&](uint64_t key, std::string_view e) {
      EXPECT_EQ(key, snapshot::AccessLogKey("logged"));
      out.emplace_back(e);
    });
    return out;
  }
  // Field `i` (0-based) of a line, splitting on spaces outside double quotes.
  static std::string Field(const std::string& line, size_t i) {
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      if (c == ' ' && !quoted) {
        fields.emplace_back();
      } else if (c != '\n') {
        fields.back().push_back(c);
      }
    }
    return i < fields.size() ? fields[i] : "<none>";
  }

  observe::LogRing ring_{1 << 16};
  AccessLogSink sink_{&ring_};
  std::unique_ptr<MemoryHarness> h_;
};

TEST_F(AccessLogSinkTest, AForwardedRequestFillsAlbsFields) {
  net::MemoryTransport* client = h_->Connect(0, 40001);
  Send(client, "GET /a?b=1 HTTP/1.1\r\nHost: Example.com:8080\r\nUser-Agent: t/1\r\n\r\n");
  ASSERT_EQ(h_->upstreams().size(), 1u);
  h_->upstreams()[0].target->ReadAll();
  h_->Advance(5);
  Send(h_->upstreams()[0].target.get(), "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  const std::string& l = lines[0];
  EXPECT_EQ(l.back(), '\n');
  EXPECT_EQ(Field(l, 0), "http");
  EXPECT_EQ(Field(l, 2), "app/logged/" + config::ResourceId("loadbalancer", "logged"));
  EXPECT_EQ(Field(l, 3), "192.0.2.10:40001");
  EXPECT_EQ(Field(l, 4), "10.0.0.1:8080");
  EXPECT_EQ(Field(l, 5), "0.000");
  EXPECT_EQ(Field(l, 6), "0.005");  // the target answered 5 ms after the request was sent
  EXPECT_EQ(Field(l, 8), "201");
  EXPECT_EQ(Field(l, 9), "201");
  EXPECT_EQ(Field(l, 12), "\"GET http://Example.com:80/a?b=1 HTTP/1.1\"");
  EXPECT_EQ(Field(l, 13), "\"t/1\"");
  EXPECT_EQ(Field(l, 14), "-");
  EXPECT_EQ(Field(l, 16), "arn:aws:elasticloadbalancing:eu-west-3:123456789012:targetgroup/app/" +
                              config::ResourceId("targetgroup", "app"));
  EXPECT_EQ(Field(l, 17).rfind("\"Root=1-", 0), 0u);
  EXPECT_EQ(Field(l, 20), "0");
  EXPECT_EQ(Field(l, 22), "\"forward\"");
  EXPECT_EQ(Field(l, 25), "\"10.0.0.1:8080\"");
  EXPECT_EQ(Field(l, 26), "\"201\"");
  EXPECT_EQ(Field(l, 29).size(), 36u);
  EXPECT_EQ(Field(l, 29).rfind("TID_", 0), 0u);
  EXPECT_EQ(Field(l, 33), "<none>");  // 33 fields
}

TEST_F(AccessLogSinkTest, ARedirectLogsItsLocationAndNoTarget) {
  net::MemoryTransport* client = h_->Connect(0);
  Send(client, "GET /old HTTP/1.1\r\nHost: a.example\r\n\r\n");
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  const std::string& l = lines[0];
  EXPECT_EQ(Field(l, 4), "-");
  EXPECT_EQ(Field(l, 8), "302");
  EXPECT_EQ(Field(l, 9), "-");
  EXPECT_EQ(Field(l, 16), "-");
  EXPECT_EQ(Field(l, 20), "7");
  EXPECT_EQ(Field(l, 22), "\"redirect\"");
  EXPECT_EQ(Field(l, 23), "\"http://a.example:80/new\"");
}

TEST_F(AccessLogSinkTest, AMalformedRequestIsLoggedWithDashes) {
  net::MemoryTransport* client = h_->Connect(0);
  Send(client, "this is not http\r\n\r\n");
  EXPECT_EQ(client->ReadAll().rfind("HTTP/1.1 400 ", 0), 0u);
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Field(lines[0], 4), "-");
  EXPECT_EQ(Field(lines[0], 5), "-1");
  EXPECT_EQ(Field(lines[0], 8), "400");
  EXPECT_EQ(Field(lines[0], 12), "\"- - - \"");
  EXPECT_EQ(Field(lines[0], 20), "-");
  EXPECT_EQ(Field(lines[0], 22), "\"-\"");
}

TEST_F(AccessLogSinkTest, ASevereRequestIsLoggedWithItsClassification) {
  net::MemoryTransport* client = h_->Connect(0);
  Send(client, std::string_view("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n", 37));
  EXPECT_EQ(client->ReadAll().rfind("HTTP/1.1 400 ", 0), 0u);
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Field(lines[0], 8), "400");
  EXPECT_EQ(Field(lines[0], 12), "\"GET http://a:80/ HTTP/1.1\"");
  EXPECT_EQ(Field(lines[0], 27), "\"Severe\"");
  EXPECT_EQ(Field(lines[0], 28), "\"BadHeader\"");
}

TEST_F(AccessLogSinkTest, OnlyLoadBalancersWithAccessLogsOnAreLogged) {
  net::MemoryTransport* client = h_->Connect(1);  // the "quiet" load balancer
  Send(client, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(h_->upstreams().size(), 1u);
  Send(h_->upstreams()[0].target.get(), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(Lines().empty());
}

TEST_F(AccessLogSinkTest, ConnTraceIdNamesTheConnection) {
  net::MemoryTransport* first = h_->Connect(0, 40001);
  Send(first, "GET /old HTTP/1.1\r\nHost: a\r\n\r\nGET /old HTTP/1.1\r\nHost: a\r\n\r\n");
  net::MemoryTransport* second = h_->Connect(0, 40002);
  Send(second, "GET /old HTTP/1.1\r\nHost: a\r\n\r\n");
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(Field(lines[0], 29), Field(lines[1], 29));
  EXPECT_NE(Field(lines[0], 29), Field(lines[2], 29));
}

}  // namespace
}  // namespace sluice::proxy
