#include "app/demo_target.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace sluice::app {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr size_t kKeepBody = 1 << 20;  // bodies larger than this are only counted

struct Response {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;  // decoded; only the first kKeepBody bytes
  uint64_t body_size = 0;
  bool all_x = true;  // every body byte was 'x'
  bool chunked = false;
};

// A blocking client socket that reads responses one at a time (so pipelined answers can be
// checked in order).
class Client {
 public:
  explicit Client(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<uint16_t>(port));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0;
  }
  ~Client() { close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // True when the server closed the connection (after any buffered bytes).
  bool AtEof() { return buf_.size() == pos_ && !Fill(); }

  std::optional<Response> Read(bool head_request = false) {
    Response r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n", pos_)) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    r.head = buf_.substr(pos_, end + 4 - pos_);
    pos_ = end + 4;
    r.status = std::atoi(r.head.c_str() + 9);
    if (r.head.find("Transfer-Encoding: chunked\r\n") != std::string::npos) {
      r.chunked = true;
      if (head_request) return r;
      for (;;) {
        std::string line;
        if (!ReadLine(&line)) return std::nullopt;
        uint64_t size = std::strtoull(line.c_str(), nullptr, 16);
        if (size == 0) {
          if (!ReadLine(&line) || !line.empty()) return std::nullopt;
          return r;
        }
        if (!ReadBody(size, &r) || !ReadLine(&line) || !line.empty()) return std::nullopt;
      }
    }
    size_t cl = r.head.find("Content-Length: ");
    if (cl == std::string::npos || head_request) return r;
    if (!ReadBody(std::strtoull(r.head.c_str() + cl + 16, nullptr, 10), &r)) return std::nullopt;
    return r;
  }

 private:
  bool Fill() {
    if (pos_ > 0) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    char tmp[65536];
    ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  bool ReadLine(std::string* line) {
    size_t nl;
    while ((nl = buf_.find("\r\n", pos_)) == std::string::npos) {
      if (!Fill()) return false;
    }
    *line = buf_.substr(pos_, nl - pos_);
    pos_ = nl + 2;
    return true;
  }

  bool ReadBody(uint64_t size, Response* r) {
    while (size > 0) {
      if (pos_ == buf_.size() && !Fill()) return false;
      size_t take = std::min<uint64_t>(size, buf_.size() - pos_);
      std::string_view piece(buf_.data() + pos_, take);
      if (r->all_x && piece.find_first_not_of('x') != std::string_view::npos) r->all_x = false;
      if (r->body.size() < kKeepBody) r->body.append(piece.substr(0, kKeepBody - r->body.size()));
      r->body_size += take;
      pos_ += take;
      size -= take;
    }
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
  size_t pos_ = 0;
};

class DemoTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.name = "test-1";
    thread_ = std::thread([this] { rc_ = RunDemoTarget(options_, &stop_, &port_); });
    auto deadline = steady_clock::now() + std::chrono::seconds(10);
    while (port_.load() == 0 && steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    ASSERT_GT(port_.load(), 0);
  }

  void TearDown() override {
    stop_ = true;
    thread_.join();
    EXPECT_EQ(rc_, 0);
  }

  // Sends one request on a new connection and reads one response.
  std::optional<Response> Get(const std::string& target, const std::string& extra_headers = "") {
    Client client(port_.load());
    if (!client.connected()) return std::nullopt;
    client.Send("GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra_headers + "\r\n");
    return client.Read();
  }

  DemoTargetOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<int> port_{0};
  int rc_ = -1;
  std::thread thread_;
};

TEST_F(DemoTargetTest, Health) {
  auto r = Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok\n");
  EXPECT_NE(r->head.find("Content-Type: text/plain\r\n"), std::string::npos);
  EXPECT_NE(r->head.find("X-Sluice-Target: test-1\r\n"), std::string::npos);
}

TEST_F(DemoTargetTest, EchoContainsNameAddressHeadersAndBodySize) {
  auto r = Get("/some/path?q=1", "X-Test-Header: hello world\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->head.find("X-Sluice-Target: test-1\r\n"), std::string::npos);
  std::string addr = "addr: 127.0.0.1:" + std::to_string(port_.load()) + "\n";
  EXPECT_EQ(r->body.rfind("target: test-1\n" + addr + "client: 127.0.0.1:", 0), 0u) << r->body;
  EXPECT_NE(r->body.find("\n\nGET /some/path?q=1 HTTP/1.1\nHost: test\n"), std::string::npos);
  EXPECT_NE(r->body.find("\nX-Test-Header: hello world\n"), std::string::npos);
  EXPECT_NE(r->body.find("\nbody-bytes: 0\n"), std::string::npos);
}

TEST_F(DemoTargetTest, CountsContentLengthAndChunkedBodies) {
  Client client(port_.load());
  ASSERT_TRUE(client.connected());
  client.Send("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world");
  auto r1 = client.Read();
  ASSERT_TRUE(r1);
  EXPECT_NE(r1->body.find("body-bytes: 11\n"), std::string::npos) << r1->body;
  client.Send(
      "POST /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n");
  auto r2 = client.Read();
  ASSERT_TRUE(r2);
  EXPECT_NE(r2->body.find("POST /b HTTP/1.1\n"), std::string::npos) << r2->body;
  EXPECT_NE(r2->body.find("body-bytes: 21\n"), std::string::npos) << r2->body;
}

// Heads and chunked bodies go through the data plane's parser and decoder (http/), so the
// demo target speaks the grammar the listeners do: whitespace after a chunk size is refused
// (RFC 9112 §7.1; the target's own parser used to trim it), a folded header line too.
TEST_F(DemoTargetTest, SharesTheDataPlaneGrammar) {
  for (const char* bad :
       {"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n"}) {
    SCOPED_TRACE(bad);
    Client client(port_.load());
    ASSERT_TRUE(client.connected());
    client.Send(bad);
    auto r = client.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
  }
  Client client(port_.load());
  ASSERT_TRUE(client.connected());
  client.Send("GET / HTTP/1.1\nHost: t\n\n");  // bare LF line ends are still accepted
  auto r = client.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(DemoTargetTest, StatusParameter) {
  auto r = Get("/x?status=503");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->head.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u);
  auto health = Get("/health?status=418");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 418);
  auto bad = Get("/x?status=abc");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(DemoTargetTest, BytesParameter) {
  auto r = Get("/x?bytes=1000");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->head.find("Content-Length: 1000\r\n"), std::string::npos);
  EXPECT_EQ(r->body, std::string(1000, 'x'));
  auto zero = Get("/x?bytes=0");
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->body_size, 0u);
}

TEST_F(DemoTargetTest, HundredMegabyteBody) {
  constexpr uint64_t kSize = 100ull * 1024 * 1024;
  auto r = Get("/x?bytes=" + std::to_string(kSize));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body_size, kSize);
  EXPECT_TRUE(r->all_x);
}

TEST_F(DemoTargetTest, ChunkedResponses) {
  auto r = Get("/x?bytes=200000&chunked=1");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->chunked);
  EXPECT_EQ(r->head.find("Content-Length"), std::string::npos);
  EXPECT_EQ(r->body_size, 200000u);
  EXPECT_TRUE(r->all_x);
  auto echo = Get("/y?chunked=1");
  ASSERT_TRUE(echo);
  EXPECT_TRUE(echo->chunked);
  EXPECT_NE(echo->body.find("GET /y?chunked=1 HTTP/1.1\n"), std::string::npos);
  auto empty = Get("/x?bytes=0&chunked=1");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->chunked);
  EXPECT_EQ(empty->body_size, 0u);
}

TEST_F(DemoTargetTest, PipelinedRequestsAnswerInOrder) {
  Client client(port_.load());
  ASSERT_TRUE(client.connected());
  client.Send(
      "GET /first?delay_ms=50 HTTP/1.1\r\nHost: t\r\n\r\n"
      "POST /second HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
      "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r1 = client.Read();
  auto r2 = client.Read();
  auto r3 = client.Read();
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_NE(r1->body.find("GET /first?delay_ms=50 HTTP/1.1\n"), std::string::npos);
  EXPECT_NE(r2->body.find("POST /second HTTP/1.1\n"), std::string::npos);
  EXPECT_NE(r2->body.find("body-bytes: 3\n"), std::string::npos);
  EXPECT_EQ(r3->body, "ok\n");
}

TEST_F(DemoTargetTest, MalformedRequestGets400AndClose) {
  for (const char* bad :
       {"GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET / HTTP/1.1\r\n\r\n", "GET / HTTP/9.9\r\nHost: t\r\n\r\n"}) {
    SCOPED_TRACE(bad);
    Client client(port_.load());
    ASSERT_TRUE(client.connected());
    client.Send(bad);
    auto r = client.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->head.find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(client.AtEof());
  }
}

TEST_F(DemoTargetTest, OversizedHeadGets400) {
  Client client(port_.load());
  ASSERT_TRUE(client.connected());
  client.Send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(70 * 1024, 'a'));
  auto r = client.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(client.AtEof());
}

TEST_F(DemoTargetTest, CloseSemantics) {
  {
    Client client(port_.load());
    client.Send("GET /x?close=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    auto r = client.Read();
    ASSERT_TRUE(r);
    EXPECT_NE(r->head.find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(client.AtEof());
  }
  {
    Client client(port_.load());
    client.Send("GET /x HTTP/1.0\r\n\r\n");
    auto r = client.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(client.AtEof());
  }
  {
    Client client(port_.load());
    client.Send("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto r1 = client.Read();
    ASSERT_TRUE(r1);
    EXPECT_NE(r1->head.find("Connection: keep-alive\r\n"), std::string::npos);
    client.Send("HEAD /x?bytes=5 HTTP/1.1\r\nHost: t\r\n\r\n");
    auto r2 = client.Read(/*head_request=*/true);
    ASSERT_TRUE(r2);
    EXPECT_NE(r2->head.find("Content-Length: 5\r\n"), std::string::npos);
    client.Send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
    auto r3 = client.Read();
    ASSERT_TRUE(r3);
    EXPECT_EQ(r3->body, "ok\n");
  }
}

TEST_F(DemoTargetTest, DelayDoesNotBlockOtherConnections) {
  Client slow(port_.load());
  ASSERT_TRUE(slow.connected());
  auto start = steady_clock::now();
  slow.Send("GET /slow?delay_ms=1000 HTTP/1.1\r\nHost: t\r\n\r\n");
  auto fast = Get("/health");
  ASSERT_TRUE(fast);
  EXPECT_LT(steady_clock::now() - start, milliseconds(800));  // not queued behind the delay
  auto r = slow.Read();
  ASSERT_TRUE(r);
  EXPECT_GE(steady_clock::now() - start, milliseconds(1000));
  EXPECT_EQ(r->status, 200);
}

TEST_F(DemoTargetTest, ManyConcurrentConnections) {
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 300; ++i) {
    clients.push_back(std::make_unique<Client>(port_.load()));
    ASSERT_TRUE(clients.back()->connected());
  }
  for (size_t i = 0; i < clients.size(); ++i) {
    clients[i]->Send("GET /c" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n");
  }
  for (size_t i = 0; i < clients.size(); ++i) {
    auto r = clients[i]->Read();
    ASSERT_TRUE(r);
    EXPECT_NE(r->body.find("GET /c" + std::to_string(i) + " HTTP/1.1\n"), std::string::npos);
  }
}

TEST(DemoTargetStandaloneTest, PortInUseFails) {
  std::atomic<bool> stop{false};
  std::atomic<int> port{0};
  DemoTargetOptions options;
  options.name = "first";
  std::thread first([&] { RunDemoTarget(options, &stop, &port); });
  while (port.load() == 0) std::this_thread::sleep_for(milliseconds(5));
  ASSERT_GT(port.load(), 0);
  DemoTargetOptions second = options;
  second.port = port.load();
  std::atomic<int> second_port{0};
  std::atomic<bool> second_stop{true};
  EXPECT_NE(RunDemoTarget(second, &second_stop, &second_port), 0);
  EXPECT_EQ(second_port.load(), -1);
  stop = true;
  first.join();
}

}  // namespace
}  // namespace sluice::app
