// The worker over in-memory streams on a fake clock (MemoryHarness): proxying, pipelining
// order, the retry of a request on a stale pooled connection (bodiless idempotent requests
// only), timeouts without sleeping, and the cause each failure ends with.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "proxy/downstream_connection.h"
#include "proxy/memory_harness.h"

namespace sluice::proxy {
namespace {

constexpr char kConfig[] = R"(LoadBalancers:
  - Name: lb
    Attributes: {idle_timeout.timeout_seconds: "30"}
    Listeners:
      - Protocol: HTTP
        Port: 80
        BindAddress: 127.0.0.1
        DefaultActions:
          - Type: forward
            TargetGroupName: app
TargetGroups:
  - Name: app
    Port: 8080
    HealthCheckEnabled: false
    Targets: [{Id: 10.0.0.1}]
)";

constexpr char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

class WorkerMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = MemoryHarness::Create(kConfig);
    ASSERT_TRUE(h.ok()) << h.error().message;
    h_ = std::move(h.value());
  }
  // Writes without running the worker: events queue up in the order they happen.
  void Put(net::MemoryTransport* stream, std::string_view bytes) {
    net::IoResult r = stream->Write(bytes.data(), bytes.size());
    ASSERT_EQ(r.bytes(), bytes.size());
  }
  void Send(net::MemoryTransport* stream, std::string_view bytes) {
    Put(stream, bytes);
    h_->Run();
  }
  net::MemoryTransport& Target(size_t i) { return *h_->upstreams().at(i).target; }
  Cause LastCause() const {
    return h_->records().empty() ? Cause::kNone : h_->records().back().record.cause;
  }
  std::unique_ptr<MemoryHarness> h_;
};

TEST_F(WorkerMemoryTest, ProxiesARequestAndItsResponse) {
  net::MemoryTransport* client = h_->Connect();
  Send(client, "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_EQ(h_->upstreams().size(), 1u);
  std::string sent = Target(0).ReadAll();
  EXPECT_EQ(sent.rfind("GET /a HTTP/1.1\r\n", 0), 0u) << sent;
  EXPECT_NE(sent.find("X-Forwarded-For: 192.0.2.10\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("X-Amzn-Trace-Id: Root=1-"), std::string::npos) << sent;
  Send(&Target(0), kOk);
  std::string got = client->ReadAll();
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_EQ(got.substr(got.size() - 2), "ok");
  ASSERT_EQ(h_->records().size(), 1u);
  EXPECT_EQ(h_->records()[0].record.cause, Cause::kTargetResponse);
  EXPECT_EQ(h_->records()[0].request_line, "GET /a HTTP/1.1");
}

TEST_F(WorkerMemoryTest, PipelinedRequestsAreAnsweredInOrder) {
  net::MemoryTransport* client = h_->Connect();
  Send(client, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(h_->upstreams().size(), 1u);
  // One request at a time: the second is not sent before the first is answered.
  EXPECT_EQ(Target(0).ReadAll().find("GET /2"), std::string::npos);
  Send(&Target(0), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst");
  EXPECT_EQ(Target(0).ReadAll().rfind("GET /2 HTTP/1.1\r\n", 0), 0u);  // same pooled stream
  Send(&Target(0), "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond");
  std::string got = client->ReadAll();
  size_t first = got.find("first"), second = got.find("second");
  ASSERT_NE(first, std::string::npos) << got;
  ASSERT_NE(second, std::string::npos) << got;
  EXPECT_LT(first, second);
}

TEST_F(WorkerMemoryTest, StalePooledConnectionIsRetriedForABodilessGet) {
  net::MemoryTransport* client = h_->Connect();
  Send(client, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
  Target(0).ReadAll();
  Send(&Target(0), kOk);
  client->ReadAll();
  // The second request reuses the pooled stream while the target resets it: the race of
  // a target's keep-alive timeout (the reset arrives after the request was taken).
  Put(client, "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
  Target(0).Reset();
  h_->Run();
  ASSERT_EQ(h_->upstreams().size(), 2u);  // resent on a fresh stream
  EXPECT_EQ(Target(1).ReadAll().rfind("GET /2 HTTP/1.1\r\n", 0), 0u);
  Send(&Target(1), kOk);
  EXPECT_EQ(client->ReadAll().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_TRUE(h_->records().back().record.retried);
}

TEST_F(WorkerMemoryTest, StalePooledConnectionIsNotRetriedForAPost) {
  net::MemoryTransport* client = h_->Connect();
  Send(client, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
  Target(0).ReadAll();
  Send(&Target(0), kOk);
  client->ReadAll();
  Put(client, "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
  Target(0).Reset();
  h_->Run();
  EXPECT_EQ(h_->upstreams().size(), 1u);
  EXPECT_EQ(client->ReadAll().rfind("HTTP/1.1 502 ", 0), 0u);
  EXPECT_EQ(LastCause(), Cause::kTargetClosed);
}

TEST_F(WorkerMemoryTest, RefusedConnectIs502) {
  h_->Refuse(h_->snapshot().target_groups[0].targets[0].address, ECONNREFUSED);
  net::MemoryTransport* client = h_->Connect();
  Send(client, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(client->ReadAll().rfind("HTTP/1.1 502 ", 0), 0u);
  EXPECT_EQ(LastCause(), Cause::kTargetConnectFailed);
}

TEST_F(WorkerMemoryTest, SilentTargetTimesOutAtTheIdleTimeoutWithoutSleeping) {
  net::MemoryTransport* client = h_->Connect();
  Send(client, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  Target(0).ReadAll();
  h_->Advance(29000);
  EXPECT_EQ(client->ReadAll(), "");
  h_->Advance(1500);
  EXPECT_EQ(client->ReadAll().rfind("HTTP/1.1 504 ", 0), 0u);
  EXPECT_EQ(LastCause(), Cause::kTargetTimeout);
}

TEST_F(WorkerMemoryTest, IdleKeepAliveConnectionClosesAtTheIdleTimeout) {
  net::MemoryTransport* client = h_->Connect();
  Send(client, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  Target(0).ReadAll();
  Send(&Target(0), kOk);
  client->ReadAll();
  h_->Advance(29500);  // checked every 10 s meanwhile (the header timeout), kept open
  EXPECT_FALSE(client->at_eof());
  EXPECT_EQ(h_->worker().connection_count(), 1u);
  h_->Advance(1000);
  EXPECT_TRUE(client->at_eof());
  EXPECT_EQ(h_->worker().connection_count(), 0u);
}

TEST_F(WorkerMemoryTest, ActivityPostponesTheIdleTimeout) {
  net::MemoryTransport* client = h_->Connect();
  for (int i = 0; i < 4; ++i) {
    h_->Advance(20000);
    Send(client, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    Target(0).ReadAll();
    Send(&Target(0), kOk);
    EXPECT_EQ(client->ReadAll().rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << i;
  }
  EXPECT_FALSE(client->at_eof());  // 80 s old, but never idle for 30 s
}

TEST_F(WorkerMemoryTest, IncompleteHeadTimesOutWith408) {
  net::MemoryTransport* client = h_->Connect();
  Send(client, "GET / HTTP/1.1\r\nHo");
  h_->Advance(kHeaderTimeoutMs + 500);
  EXPECT_EQ(client->ReadAll().rfind("HTTP/1.1 408 ", 0), 0u);
  EXPECT_EQ(LastCause(), Cause::kClientHeadTimeout);
  EXPECT_TRUE(h_->upstreams().empty());
}

// Defensive mode (the default): Content-Length beside chunked is ambiguous; the request goes
// out chunked only and the connection ends after it, so the smuggled request never does.
TEST_F(WorkerMemoryTest, SmuggledRequestNeverReachesTheTarget) {
  net::MemoryTransport* client = h_->Connect();
  Send(client,
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(h_->upstreams().size(), 1u);
  std::string sent = Target(0).ReadAll();
  EXPECT_NE(sent.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << sent;
  EXPECT_EQ(sent.find("Content-Length"), std::string::npos) << sent;
  Send(&Target(0), kOk);
  EXPECT_EQ(client->ReadAll().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_TRUE(client->at_eof());
  EXPECT_EQ(Target(0).ReadAll().find("/admin"), std::string::npos);
  EXPECT_EQ(h_->upstreams().size(), 1u);
}

// A severe classification (a control character in a field value) is refused before any
// byte reaches a target.
TEST_F(WorkerMemoryTest, SevereRequestIsRefusedBeforeTheTarget) {
  net::MemoryTransport* client = h_->Connect();
  Send(client, std::string_view("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n", 37));
  EXPECT_EQ(client->ReadAll().rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_TRUE(h_->upstreams().empty());
  EXPECT_TRUE(client->at_eof());
}

TEST_F(WorkerMemoryTest, ClientGoneMidResponseClosesTheUpstream) {
  net::MemoryTransport* client = h_->Connect();
  Send(client, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  Target(0).ReadAll();
  Send(&Target(0), "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart");
  client->Reset();
  h_->Run();
  EXPECT_TRUE(Target(0).at_eof());  // not pooled: the rest of the body would follow
}

}  // namespace
}  // namespace sluice::proxy
