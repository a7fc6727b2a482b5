// The outcome table (every Cause named once, statuses as reference §4.6) and the exchange
// record a worker hands its sink, asserted over real loopback sockets: one worker thread,
// one test backend thread, a client in the test. Each case waits for the record (bounded),
// never for a fixed time.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "config/loader.h"
#include "proxy/listener_sockets.h"
#include "proxy/outcome.h"
#include "proxy/worker.h"

namespace sluice::proxy {
namespace {

TEST(OutcomeTable, EveryCauseHasAUniqueNameAndASide) {
  std::set<std::string_view> names;
  for (int i = 0; i < static_cast<int>(Cause::kCount); ++i) {
    const CauseInfo& info = Describe(static_cast<Cause>(i));
    EXPECT_FALSE(info.name.empty()) << i;
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    EXPECT_EQ(info.error_reason, "-") << info.name;  // ALB logs none for proxy failures
    if (info.status != 0) {
      EXPECT_NE(info.side, Side::kNone) << info.name;
    }
  }
}

TEST(OutcomeTable, StatusesAreAlbs) {
  EXPECT_EQ(Describe(Cause::kTargetConnectFailed).status, 502);
  EXPECT_EQ(Describe(Cause::kTargetConnectTimeout).status, 504);
  EXPECT_EQ(Describe(Cause::kTargetTimeout).status, 504);
  EXPECT_EQ(Describe(Cause::kTargetClosed).status, 502);
  EXPECT_EQ(Describe(Cause::kResponseHeadTooLarge).status, 502);
  EXPECT_EQ(Describe(Cause::kDrainDeadline).status, 502);
  EXPECT_EQ(Describe(Cause::kNoTargets).status, 503);
  EXPECT_EQ(Describe(Cause::kClientHeadTimeout).status, 408);
  EXPECT_EQ(Describe(Cause::kClientClosed).status, 460);
  EXPECT_EQ(Describe(Cause::kTooManyForwardedFor).status, 463);
  EXPECT_EQ(Describe(Cause::kMethodNotAllowed).status, 405);
  EXPECT_EQ(Describe(Cause::kTransformFailed).status, 500);
  EXPECT_EQ(Describe(Cause::kTargetConnectFailed).side, Side::kTarget);
  EXPECT_EQ(Describe(Cause::kMalformedRequest).side, Side::kClient);
  EXPECT_EQ(SideName(Describe(Cause::kNoTargets).side), "load-balancer");
}

TEST(OutcomeTable, ParseErrorsMapToCauses) {
  EXPECT_EQ(CauseOfRequestError({414, "request line too long"}), Cause::kRequestLineTooLong);
  EXPECT_EQ(CauseOfRequestError({505, "HTTP version not supported"}), Cause::kUnsupportedVersion);
  EXPECT_EQ(CauseOfRequestError({501, "unsupported transfer coding"}),
            Cause::kUnsupportedTransferCoding);
  EXPECT_EQ(CauseOfRequestError({400, "headers too large", true}), Cause::kRequestHeadTooLarge);
  EXPECT_EQ(CauseOfRequestError({400, "malformed method"}), Cause::kMalformedRequest);
}

// ---- The worker over loopback ----

int ListenOnLoopback(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 16) != 0) {
    ADD_FAILURE() << "cannot listen on loopback";
    return -1;
  }
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

int FreePort() {
  int port = 0;
  int fd = ListenOnLoopback(&port);
  close(fd);
  return port;
}

// Answers every request head with "200 ok" on a kept-alive connection, or, when `silent`,
// reads and never answers. Stops when the listening socket is shut down.
class Backend {
 public:
  explicit Backend(bool silent) : silent_(silent) {
    fd_ = ListenOnLoopback(&port_);
    thread_ = std::thread([this] { Run(); });
  }
  ~Backend() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
    for (int c : conns_) close(c);
  }
  int port() const { return port_; }
  // Waits (bounded) until a request head has arrived.
  bool WaitForRequest() {
    for (int i = 0; i < 1000 && heads_.load() == 0; ++i) usleep(10 * 1000);
    return heads_.load() > 0;
  }

 private:
  void Run() {
    std::vector<pollfd> fds;
    std::vector<std::string> bufs;
    while (!stop_) {
      fds.assign(1, {fd_, POLLIN, 0});
      for (int c : conns_) fds.push_back({c, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 100) <= 0) continue;
      if (fds[0].revents != 0) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;  // shut down
        conns_.push_back(c);
        bufs.emplace_back();
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        char b[4096];
        ssize_t n = recv(fds[i].fd, b, sizeof(b), 0);
        if (n <= 0) continue;
        std::string& buf = bufs[i - 1];
        buf.append(b, static_cast<size_t>(n));
        size_t end;
        while ((end = buf.find("\r\n\r\n")) != std::string::npos) {
          buf.erase(0, end + 4);
          ++heads_;
          if (silent_) continue;
          static constexpr char kResponse[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
          if (send(fds[i].fd, kResponse, sizeof(kResponse) - 1, MSG_NOSIGNAL) < 0) break;
        }
      }
    }
  }
  bool silent_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> heads_{0};
  std::vector<int> conns_;
  std::thread thread_;
};

// Collects records on the worker thread; the test waits for them (bounded).
class CollectingSink : public ExchangeSink {
 public:
  struct Kept {
    ExchangeRecord record;
    std::string request_line, user_agent, trace_id, transformed_uri, transform_status;
  };
  void OnExchangeDone(const ExchangeRecord& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    // The views in `r` are valid only during this call: keep copies.
    kept_.push_back({r, std::string(r.request_line), std::string(r.user_agent),
                     std::string(r.trace_id), std::string(r.transformed_uri),
                     std::string(r.request_transform_status)});
    cv_.notify_all();
  }
  bool WaitFor(size_t n, Kept* out) {
    std::unique_lock<std::mutex> lock(mu_);
    bool ok = cv_.wait_for(lock, std::chrono::seconds(10), [&] { return kept_.size() >= n; });
    if (ok) *out = kept_[n - 1];
    return ok;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Kept> kept_;
};

class ExchangeRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    listen_port_ = FreePort();
    refused_port_ = FreePort();
    std::string yaml = R"(LoadBalancers:
  - Name: lb
    Listeners:
      - Protocol: HTTP
        Port: )" + std::to_string(listen_port_) +
                       R"(
        BindAddress: 127.0.0.1
        DefaultActions:
          - Type: fixed-response
            FixedResponseConfig: {StatusCode: "404", MessageBody: "none"}
        Rules:
          - Priority: 10
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/app/*"]}}]
            Actions: [{Type: forward, TargetGroupName: app}]
          - Priority: 20
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/down/*"]}}]
            Actions: [{Type: forward, TargetGroupName: down}]
          - Priority: 30
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/slow/*"]}}]
            Actions: [{Type: forward, TargetGroupName: slow}]
          - Priority: 40
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/old/*"]}}]
            Actions: [{Type: forward, TargetGroupName: app}]
            Transforms:
              - Type: url-rewrite
                UrlRewriteConfig: {Rewrites: [{Regex: "^/old/(.*)$", Replace: "/new/$1"}]}
          - Priority: 50
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/bad/*"]}}]
            Actions: [{Type: forward, TargetGroupName: app}]
            Transforms:
              - Type: url-rewrite
                UrlRewriteConfig: {Rewrites: [{Regex: "^/bad/(.*)$", Replace: "$1"}]}
TargetGroups:
  - Name: app
    Port: )" + std::to_string(backend_.port()) +
                       R"(
    HealthCheckEnabled: false
    Targets: [{Id: 127.0.0.1}]
  - Name: down
    Port: )" + std::to_string(refused_port_) +
                       R"(
    HealthCheckEnabled: false
    Targets: [{Id: 127.0.0.1}]
  - Name: slow
    Port: )" + std::to_string(silent_.port()) +
                       R"(
    HealthCheckEnabled: false
    Targets: [{Id: 127.0.0.1}]
)";
    config::LoadResult loaded = config::LoadConfigFromString(yaml, "test.yaml");
    ASSERT_TRUE(std::holds_alternative<config::Config>(loaded));
    std::shared_ptr<const ListenerSocketTable> sockets;
    auto open = [&](const Snapshot& s) -> Result<bool> {
      auto table = listener_sockets_.Open(s);
      if (!table.ok()) return table.error();
      sockets = table.value();
      return true;
    };
    auto built = compiler_.Build(std::get<config::Config>(std::move(loaded)), open);
    ASSERT_TRUE(built.ok()) << built.error().message;
    worker_.set_exchange_sink(&sink_);
    worker_.Publish(built.value(), sockets);
    Result<bool> started = worker_.Start();
    ASSERT_TRUE(started.ok()) << started.error().message;
  }
  void TearDown() override {
    worker_.BeginShutdown(net::MonotonicMillis());
    worker_.Join();
  }

  // Connects, sends `request`, reads until `expect_bytes` arrived or the server closed.
  std::string Exchange(const std::string& request, size_t expect_bytes, int* fd_out = nullptr) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(listen_port_));
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string got;
    pollfd p{fd, POLLIN, 0};
    while (got.size() < expect_bytes && poll(&p, 1, 10000) > 0) {
      char b[4096];
      ssize_t n = recv(fd, b, sizeof(b), 0);
      if (n <= 0) break;
      got.append(b, static_cast<size_t>(n));
    }
    if (fd_out != nullptr) {
      *fd_out = fd;
    } else {
      close(fd);
    }
    return got;
  }

  int listen_port_ = 0;
  int refused_port_ = 0;
  Backend backend_{false};
  Backend silent_{true};
  SnapshotCompiler compiler_;
  ListenerSockets listener_sockets_{1};
  Worker worker_{0};
  CollectingSink sink_;
};

TEST_F(ExchangeRecordTest, ForwardedRequestRecordsTargetRuleBytesAndTimes) {
  const std::string request =
      "GET /app/x?q=1 HTTP/1.1\r\nHost: a.example\r\nUser-Agent: t/1\r\n\r\n";
  std::string got = Exchange(request, 1);
  ASSERT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  CollectingSink::Kept k;
  ASSERT_TRUE(sink_.WaitFor(1, &k));
  const ExchangeRecord& r = k.record;
  EXPECT_EQ(r.cause, Cause::kTargetResponse);
  EXPECT_EQ(r.elb_status, 200);
  EXPECT_EQ(r.target_status, 200);
  EXPECT_EQ(r.rule_priority, 10);
  ASSERT_TRUE(r.has_target);
  EXPECT_EQ(r.target.port, backend_.port());
  EXPECT_EQ(r.received_bytes, request.size());
  EXPECT_EQ(r.sent_bytes, got.size());
  EXPECT_EQ(k.request_line, "GET /app/x?q=1 HTTP/1.1");
  EXPECT_EQ(k.user_agent, "t/1");
  EXPECT_EQ(k.trace_id.rfind("Root=1-", 0), 0u) << k.trace_id;
  EXPECT_EQ(k.trace_id.size(), 40u) << k.trace_id;
  EXPECT_GT(r.received_ms, 0);
  EXPECT_LE(r.received_ms, r.routed_ms);
  EXPECT_LE(r.routed_ms, r.sent_ms);
  EXPECT_LE(r.sent_ms, r.first_byte_ms);
  EXPECT_LE(r.first_byte_ms, r.done_ms);
  EXPECT_GT(r.received_unix_ms, 1'600'000'000'000);
  EXPECT_EQ(r.verdict.tier, http::DesyncTier::kCompliant);
  EXPECT_TRUE(r.tls_protocol.empty() && r.tls_cipher.empty() && r.tls_server_name.empty());
  EXPECT_EQ(r.tls_handshake_ms, -1);  // plain HTTP listener
}

TEST_F(ExchangeRecordTest, TransformsAreRecorded) {
  ASSERT_EQ(Exchange("GET /old/a?b HTTP/1.1\r\nHost: a\r\n\r\n", 1).rfind("HTTP/1.1 200", 0), 0u);
  CollectingSink::Kept k;
  ASSERT_TRUE(sink_.WaitFor(1, &k));
  EXPECT_EQ(k.record.rule_priority, 40);
  EXPECT_EQ(k.transform_status, "success");
  EXPECT_EQ(k.transformed_uri, "/new/a?b");
  EXPECT_EQ(k.request_line, "GET /old/a?b HTTP/1.1");  // logged as received
  // A rewrite that yields no valid target: 500 from the load balancer, cause in the record.
  ASSERT_EQ(Exchange("GET /bad/x HTTP/1.1\r\nHost: a\r\n\r\n", 1).rfind("HTTP/1.1 500", 0), 0u);
  ASSERT_TRUE(sink_.WaitFor(2, &k));
  EXPECT_EQ(k.record.cause, Cause::kTransformFailed);
  EXPECT_EQ(k.record.elb_status, 500);
  EXPECT_EQ(k.transform_status, "failed");
  EXPECT_FALSE(k.record.has_target);
}

TEST_F(ExchangeRecordTest, FixedResponseIsTheRulesWithNoTarget) {
  std::string got = Exchange("GET /elsewhere HTTP/1.1\r\nHost: a\r\n\r\n", 1);
  ASSERT_EQ(got.rfind("HTTP/1.1 404", 0), 0u) << got;
  CollectingSink::Kept k;
  ASSERT_TRUE(sink_.WaitFor(1, &k));
  EXPECT_EQ(k.record.cause, Cause::kFixedResponse);
  EXPECT_EQ(k.record.elb_status, 404);
  EXPECT_EQ(k.record.target_status, 0);
  EXPECT_EQ(k.record.rule_priority, 0);
  EXPECT_FALSE(k.record.has_target);
  EXPECT_EQ(k.record.routed_ms, 0);
}

TEST_F(ExchangeRecordTest, RefusedTargetIs502FromTheTargetSide) {
  std::string got = Exchange("GET /down/x HTTP/1.1\r\nHost: a\r\n\r\n", 1);
  ASSERT_EQ(got.rfind("HTTP/1.1 502", 0), 0u) << got;
  CollectingSink::Kept k;
  ASSERT_TRUE(sink_.WaitFor(1, &k));
  EXPECT_EQ(k.record.cause, Cause::kTargetConnectFailed);
  EXPECT_EQ(k.record.elb_status, 502);
  EXPECT_EQ(k.record.target_status, 0);
  EXPECT_TRUE(k.record.has_target);
  EXPECT_EQ(k.record.target.port, refused_port_);
  EXPECT_EQ(Describe(k.record.cause).side, Side::kTarget);
}

TEST_F(ExchangeRecordTest, MalformedRequestHasNoRequestLine) {
  std::string got = Exchange("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 1);
  ASSERT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
  CollectingSink::Kept k;
  ASSERT_TRUE(sink_.WaitFor(1, &k));
  EXPECT_EQ(k.record.cause, Cause::kMalformedRequest);
  EXPECT_EQ(k.record.elb_status, 400);
  EXPECT_EQ(k.record.rule_priority, -2);
  EXPECT_EQ(k.request_line, "");
}

TEST_F(ExchangeRecordTest, MissingHostAndTraceAreClientErrors) {
  ASSERT_EQ(Exchange("GET /app/x HTTP/1.1\r\n\r\n", 1).rfind("HTTP/1.1 400", 0), 0u);
  CollectingSink::Kept k;
  ASSERT_TRUE(sink_.WaitFor(1, &k));
  EXPECT_EQ(k.record.cause, Cause::kInvalidHost);
  ASSERT_EQ(Exchange("TRACE /app/x HTTP/1.1\r\nHost: a\r\n\r\n", 1).rfind("HTTP/1.1 405", 0), 0u);
  ASSERT_TRUE(sink_.WaitFor(2, &k));
  EXPECT_EQ(k.record.cause, Cause::kMethodNotAllowed);
  EXPECT_EQ(k.request_line, "TRACE /app/x HTTP/1.1");
}

TEST_F(ExchangeRecordTest, ClientLeavingWhileTheTargetThinksIs460) {
  int fd = -1;
  Exchange("GET /slow/x HTTP/1.1\r\nHost: a\r\n\r\n", 0, &fd);
  // Leave once the request is with the target (a FIN that arrives with the request is only
  // seen later: ReadDownstream stops at a short read).
  ASSERT_TRUE(silent_.WaitForRequest());
  CollectingSink::Kept k;
  close(fd);
  ASSERT_TRUE(sink_.WaitFor(1, &k));
  EXPECT_EQ(k.record.cause, Cause::kClientClosed);
  EXPECT_EQ(k.record.elb_status, 460);
  EXPECT_EQ(k.record.target_status, 0);
  EXPECT_EQ(k.record.rule_priority, 30);
}

TEST_F(ExchangeRecordTest, KeepAliveRequestsGetOneRecordEach) {
  const std::string one = "GET /app/1 HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string two = "GET /app/2 HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string got = Exchange(one + two, 2 * 40);
  CollectingSink::Kept k;
  ASSERT_TRUE(sink_.WaitFor(2, &k));
  EXPECT_EQ(k.request_line, "GET /app/2 HTTP/1.1");
  EXPECT_EQ(k.record.received_bytes, two.size());
  EXPECT_EQ(k.record.sent_bytes, got.size() / 2);
}

}  // namespace
}  // namespace sluice::proxy
