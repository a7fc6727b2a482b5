#include "app/s3_upload.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/sigv4.h"

namespace sluice::app {
namespace {

// A loopback "store": answers each connection with the next of `statuses` (the last one
// repeats) and records each request it read in full (head and Content-Length body).
class FakeStore {
 public:
  explicit FakeStore(std::vector<int> statuses) : statuses_(std::move(statuses)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof(a);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeStore() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  int count() const { return count_.load(); }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Serve() {
    while (true) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string got;
      char buf[4096];
      while (true) {
        ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
        const size_t end = got.find("\r\n\r\n");
        const size_t cl = got.find("Content-Length: ");
        if (end != std::string::npos && cl != std::string::npos &&
            got.size() >= end + 4 + std::stoul(got.substr(cl + 16))) {
          break;
        }
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(got);
      }
      const int i = count_.fetch_add(1);
      const int status = statuses_[std::min<size_t>(i, statuses_.size() - 1)];
      const std::string body =
          status == 200 ? "" : "<Error><Code>SlowDown</Code><Message>m</Message></Error>";
      const std::string answer = "HTTP/1.1 " + std::to_string(status) +
                                 " X\r\nContent-Length: " + std::to_string(body.size()) +
                                 "\r\nConnection: close\r\n\r\n" + body;
      send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      close(c);
    }
  }
  std::vector<int> statuses_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> count_{0};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

class S3UploadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/s3uploadXXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  S3Target TargetOf(const FakeStore& store) {
    S3Target t;
    t.host = "127.0.0.1";
    t.port = store.port();
    t.region = "eu-west-3";
    t.credentials = {"AKIDTEST", "secret-key", ""};
    return t;
  }
  static bool WaitFor(const std::function<bool()>& done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }
  std::string dir_;
};

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

TEST_F(S3UploadTest, PutSendsTheSignedHeadAndTheFileBytes) {
  FakeStore store({200});
  const std::string content("gz\0bytes\n", 9);
  const std::string path = WriteFile("a.log.gz", content);
  S3PutResult r = PutFileToS3(TargetOf(store), path, "my-logs", "p/AWSLogs/x.log.gz", 2000);
  EXPECT_EQ(r.status, 200) << r.error;
  ASSERT_EQ(store.requests().size(), 1u);
  const std::string req = store.requests()[0];
  EXPECT_TRUE(req.starts_with("PUT /my-logs/p/AWSLogs/x.log.gz HTTP/1.1\r\n")) << req;
  EXPECT_NE(req.find("Content-Length: 9\r\n"), std::string::npos);
  EXPECT_NE(req.find("x-amz-content-sha256: " + api::Sha256Hex(content) + "\r\n"),
            std::string::npos);
  EXPECT_NE(req.find("Credential=AKIDTEST/"), std::string::npos);
  EXPECT_TRUE(req.ends_with("\r\n\r\n" + content));
  EXPECT_EQ(req.find("secret-key"), std::string::npos);
}

TEST_F(S3UploadTest, ErrorsCarryTheStoresCode) {
  FakeStore store({503});
  S3PutResult r = PutFileToS3(TargetOf(store), WriteFile("a", "x"), "b-1", "k", 2000);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.error, "HTTP 503 SlowDown");
  S3PutResult missing = PutFileToS3(TargetOf(store), dir_ + "/none", "b-1", "k", 2000);
  EXPECT_EQ(missing.status, 0);
  EXPECT_NE(missing.error.find("cannot open"), std::string::npos);
}

TEST_F(S3UploadTest, RetriesUntilTheStoreTakesItThenRemovesTheFile) {
  FakeStore store({500, 503, 200});
  std::vector<std::string> logged;
  std::mutex mu;
  S3Uploader up(
      [&](const std::string& line) {
        std::lock_guard<std::mutex> lock(mu);
        logged.push_back(line);
      },
      /*first_retry_ms=*/20, /*timeout_ms=*/2000);
  up.Configure(TargetOf(store));
  up.Start();
  const std::string path = WriteFile("f.log.gz", "entries");
  up.Enqueue(path, "my-logs", "AWSLogs/f.log.gz");
  ASSERT_TRUE(WaitFor([&] { return up.stats().uploaded == 1; }));
  EXPECT_EQ(store.count(), 3);
  EXPECT_EQ(up.stats().failed_attempts, 2u);
  EXPECT_FALSE(Exists(path));
  up.Stop(0);
  std::lock_guard<std::mutex> lock(mu);
  // Attempts 1 and 2 (powers of two) are logged, then the success after 3 attempts.
  ASSERT_EQ(logged.size(), 3u);
  EXPECT_NE(logged[0].find("failed (attempt 1): HTTP 500"), std::string::npos) << logged[0];
  EXPECT_NE(logged[2].find("after 3 attempts"), std::string::npos) << logged[2];
}

TEST_F(S3UploadTest, KeepLocalFilesKeepsThem) {
  FakeStore store({200});
  S3Uploader up([](const std::string&) {}, 20, 2000);
  S3Target t = TargetOf(store);
  t.keep_local_files = true;
  up.Configure(t);
  up.Start();
  const std::string path = WriteFile("k.log.gz", "x");
  up.Enqueue(path, "my-logs", "k");
  ASSERT_TRUE(WaitFor([&] { return up.stats().uploaded == 1; }));
  EXPECT_TRUE(Exists(path));
}

TEST_F(S3UploadTest, WithoutAStoreTheQueueWaitsAndStopLeavesFilesOnDisk) {
  FakeStore store({200});
  std::vector<std::string> logged;
  S3Uploader up([&](const std::string& line) { logged.push_back(line); }, 20, 2000);
  up.Start();
  const std::string path = WriteFile("w.log.gz", "x");
  up.Enqueue(path, "my-logs", "w");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(store.count(), 0);
  EXPECT_EQ(up.stats().queued, 1u);
  up.Stop(1000);
  EXPECT_TRUE(Exists(path));
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("1 log file(s) not uploaded"), std::string::npos) << logged[0];
}

TEST_F(S3UploadTest, StopUploadsWhatIsQueuedWithinItsBudget) {
  FakeStore store({200});
  S3Uploader up([](const std::string&) {}, 20, 2000);
  up.Configure(TargetOf(store));
  // Enqueued before the thread runs, as at shutdown: Stop still delivers them.
  const std::string a = WriteFile("a", "1"), b = WriteFile("b", "2");
  up.Enqueue(a, "my-logs", "a");
  up.Enqueue(b, "my-logs", "b");
  up.Start();
  up.Stop(5000);
  EXPECT_EQ(store.count(), 2);
  EXPECT_FALSE(Exists(a));
  EXPECT_FALSE(Exists(b));
}

TEST_F(S3UploadTest, AStoreThatNeverAnswersIsBoundedByTheStopBudget) {
  FakeStore store({500});
  S3Uploader up([](const std::string&) {}, 10000, 2000);
  up.Configure(TargetOf(store));
  up.Start();
  up.Enqueue(WriteFile("s", "1"), "my-logs", "s");
  ASSERT_TRUE(WaitFor([&] { return up.stats().failed_attempts == 1; }));
  const auto start = std::chrono::steady_clock::now();
  up.Stop(200);  // the retry is due in 10 s, past the budget
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(up.stats().queued, 1u);
}

}  // namespace
}  // namespace sluice::app
