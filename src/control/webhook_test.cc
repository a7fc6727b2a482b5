#include "control/webhook.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace sluice::control {
namespace {

// A TCP socket bound to a free loopback port (listening when `backlog` > 0): its port in *port.
int LoopbackSocket(int backlog, uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  if (backlog > 0) {
    EXPECT_EQ(listen(fd, backlog), 0);
  }
  socklen_t len = sizeof(a);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  *port = ntohs(a.sin_port);
  return fd;
}

std::string UrlOf(uint16_t port) { return "http://127.0.0.1:" + std::to_string(port) + "/"; }

// A loopback HTTP server answering each connection with the next status of `statuses`
// (the last one repeats), recording what it received.
class Receiver {
 public:
  explicit Receiver(std::vector<int> statuses) : statuses_(std::move(statuses)) {
    fd_ = LoopbackSocket(16, &port_);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Receiver() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string url() const { return UrlOf(port_) + "hook"; }
  int count() const { return count_.load(); }
  std::string last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

 private:
  void Serve() {
    while (true) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string got;
      char buf[4096];
      // Read until the body (Content-Length) is in; the sender closes nothing before that.
      while (true) {
        ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
        size_t end = got.find("\r\n\r\n");
        size_t cl = got.find("Content-Length: ");
        if (end != std::string::npos && cl != std::string::npos &&
            got.size() >= end + 4 + std::stoul(got.substr(cl + 16))) {
          break;
        }
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_ = got;  // before the count that tests wait for
      }
      const int i = count_.fetch_add(1);
      const int status = statuses_[std::min<size_t>(i, statuses_.size() - 1)];
      std::string reply = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\n\r\n";
      send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      close(c);
    }
  }
  std::vector<int> statuses_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> count_{0};
  std::mutex mu_;
  std::string last_;
  std::thread thread_;
};

template <class F>
bool Eventually(F f) {
  for (int i = 0; i < 500; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(PostJson, PostsTheBodyAndReadsTheStatus) {
  Receiver r({204});
  PostResult p = PostJson(r.url(), "{\"a\":1}", 2000);
  EXPECT_EQ(p.status, 204) << p.error;
  ASSERT_TRUE(Eventually([&] { return r.count() == 1; }));
  const std::string got = r.last();
  EXPECT_EQ(got.rfind("POST /hook HTTP/1.1\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_EQ(got.substr(got.size() - 7), "{\"a\":1}");
}

TEST(PostJson, FailuresSayWhy) {
  uint16_t port = 0;
  int fd = LoopbackSocket(0, &port);  // bound, nobody listening
  PostResult p = PostJson(UrlOf(port), "{}", 2000);
  close(fd);
  EXPECT_EQ(p.status, 0);
  EXPECT_NE(p.error.find("connect to 127.0.0.1:"), std::string::npos) << p.error;
  EXPECT_EQ(PostJson("https://x/", "{}", 100).status, 0);
}

TEST(PostJson, ASilentReceiverCostsOneTimeoutNotMore) {
  // Listening, never answering: the kernel completes the connection from the backlog.
  uint16_t port = 0;
  int fd = LoopbackSocket(4, &port);
  const auto start = std::chrono::steady_clock::now();
  PostResult p = PostJson(UrlOf(port), "{}", 300);
  const auto took = std::chrono::steady_clock::now() - start;
  close(fd);
  EXPECT_EQ(p.status, 0);
  EXPECT_EQ(p.error, "no response in time");
  EXPECT_LT(took, std::chrono::seconds(3));  // the 300 ms deadline, with room for a busy box
}

TEST(WebhookSender, RetriesUntilDeliveredThenGivesUpOnTheHopeless) {
  Receiver flaky({500, 503, 200});
  std::vector<std::string> logged;
  std::mutex mu;
  WebhookSender sender(
      [&](const std::string& line) {
        std::lock_guard<std::mutex> lock(mu);
        logged.push_back(line);
      },
      /*first_retry_ms=*/5);
  sender.Start();
  sender.Enqueue(flaky.url(), "{\"n\":1}");
  ASSERT_TRUE(Eventually([&] { return sender.stats().delivered == 1; }));
  EXPECT_EQ(flaky.count(), 3);
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(logged.size(), 2u);
    EXPECT_NE(logged[0].find("attempt 1 of 4 failed: HTTP 500"), std::string::npos) << logged[0];
  }
  Receiver refusing({500});
  sender.Enqueue(refusing.url(), "{}");
  ASSERT_TRUE(Eventually([&] { return sender.stats().failed == 1; }));
  EXPECT_EQ(refusing.count(), WebhookSender::kAttempts);
  sender.Stop();
}

}  // namespace
}  // namespace sluice::control
