// SplicePipe and PipePool over real loopback TCP sockets (splice needs kernel sockets): bytes
// move socket → pipe → socket unchanged, each status is reported as the relay expects, and
// the pool reuses empty pipes, closes non-empty ones and keeps its count honest.
#include "net/splice_pipe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace sluice::net {
namespace {

// A connected pair of non-blocking loopback TCP sockets (client, accepted).
std::pair<int, int> TcpPair() {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "listen: " << errno;
    return {-1, -1};
  }
  int client = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(client, reinterpret_cast<sockaddr*>(&addr), len) != 0) ADD_FAILURE() << errno;
  int server = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
  close(listener);
  fcntl(client, F_SETFL, O_NONBLOCK);
  return {client, server};
}

std::string ReadAll(int fd, size_t n) {
  std::string out;
  char buf[65536];
  while (out.size() < n) {
    ssize_t r = read(fd, buf, sizeof(buf));
    if (r > 0) out.append(buf, static_cast<size_t>(r));
    if (r == 0) break;
    if (r < 0 && errno != EAGAIN) break;
  }
  return out;
}

class SplicePipeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::tie(a_client_, a_server_) = TcpPair();
    std::tie(b_client_, b_server_) = TcpPair();
  }
  void TearDown() override {
    for (int fd : {a_client_, a_server_, b_client_, b_server_}) close(fd);
  }
  // Bytes written on a_client_ arrive on a_server_, are relayed to b_client_, read on b_server_.
  int a_client_ = -1, a_server_ = -1, b_client_ = -1, b_server_ = -1;
};

TEST_F(SplicePipeTest, MovesBytesUnchangedAndReportsEachState) {
  PipePool pool(4);
  SplicePipe pipe;
  ASSERT_TRUE(pool.Acquire(&pipe));
  ASSERT_TRUE(pipe.open());
  // 1 MiB when the kernel allows it (root, or within the user's pipe pages); never under
  // 64 KiB, the size below which the pool refuses a pipe.
  EXPECT_GE(fcntl(pipe.write_fd, F_GETPIPE_SZ), 64 * 1024);

  EXPECT_EQ(SpliceIn(a_server_, pipe, 1 << 20).status(), IoStatus::kWouldBlock);  // nothing yet
  EXPECT_EQ(pipe.pending, 0u);

  std::string data;
  for (int i = 0; i < 3000; ++i) data += "line " + std::to_string(i) + "\n";
  ASSERT_EQ(write(a_client_, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  size_t moved = 0;
  while (moved < data.size()) {
    IoResult in = SpliceIn(a_server_, pipe, 1 << 20);
    ASSERT_TRUE(in.ok()) << in.error();
    EXPECT_EQ(pipe.pending, in.bytes());
    IoResult out = SpliceOut(pipe, b_client_);
    ASSERT_TRUE(out.ok()) << out.error();
    EXPECT_EQ(out.bytes(), in.bytes());
    EXPECT_EQ(pipe.pending, 0u);
    moved += out.bytes();
  }
  EXPECT_EQ(ReadAll(b_server_, data.size()), data);

  ASSERT_EQ(shutdown(a_client_, SHUT_WR), 0);
  EXPECT_EQ(SpliceIn(a_server_, pipe, 1 << 20).status(), IoStatus::kEof);
  pool.Release(&pipe);
  EXPECT_FALSE(pipe.open());
}

TEST_F(SplicePipeTest, AFullSendBufferWouldBlockAndAPeerResetIsAnError) {
  PipePool pool(4);
  SplicePipe pipe;
  ASSERT_TRUE(pool.Acquire(&pipe));
  int small = 4096;
  ASSERT_EQ(setsockopt(b_client_, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  std::string chunk(256 * 1024, 'x');
  bool blocked = false;
  // Nobody reads b_server_: the relay's writes must stop with "would block", not stall.
  for (int round = 0; round < 200 && !blocked; ++round) {
    if (pipe.pending == 0) {
      (void)write(a_client_, chunk.data(), chunk.size());
      IoResult in = SpliceIn(a_server_, pipe, 1 << 20);
      ASSERT_TRUE(in.ok() || in.status() == IoStatus::kWouldBlock) << in.error();
    }
    if (pipe.pending > 0) {
      IoResult out = SpliceOut(pipe, b_client_);
      blocked = out.status() == IoStatus::kWouldBlock;
      ASSERT_TRUE(out.ok() || blocked) << out.error();
    }
  }
  ASSERT_TRUE(blocked);
  EXPECT_GT(pipe.pending, 0u);

  linger reset{1, 0};  // the reader goes away with a reset
  ASSERT_EQ(setsockopt(b_server_, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)), 0);
  close(b_server_);
  b_server_ = -1;
  IoResult out = SpliceOut(pipe, b_client_);
  for (int i = 0; i < 100 && out.ok(); ++i) out = SpliceOut(pipe, b_client_);
  EXPECT_EQ(out.status(), IoStatus::kError);
  EXPECT_TRUE(out.error() == ECONNRESET || out.error() == EPIPE) << out.error();

  // A pipe with bytes in it is closed, not pooled: the next Acquire opens a fresh one.
  const int64_t open_before = PipePool::PipesOpen();
  pool.Release(&pipe);
  EXPECT_EQ(PipePool::PipesOpen(), open_before - 1);
}

TEST(PipePoolTest, EmptyPipesAreReusedUpToTheKeepLimit) {
  const int64_t base = PipePool::PipesOpen();
  {
    PipePool pool(1);
    SplicePipe first, second;
    ASSERT_TRUE(pool.Acquire(&first));
    ASSERT_TRUE(pool.Acquire(&second));
    EXPECT_EQ(PipePool::PipesOpen(), base + 2);
    const int kept_fd = first.read_fd;
    pool.Release(&first);   // kept
    pool.Release(&second);  // over the keep limit: closed
    EXPECT_EQ(PipePool::PipesOpen(), base + 1);
    SplicePipe again;
    ASSERT_TRUE(pool.Acquire(&again));
    EXPECT_EQ(again.read_fd, kept_fd);
    EXPECT_EQ(again.pending, 0u);
    PipePool::Discard(&again);
    EXPECT_FALSE(again.open());
  }
  EXPECT_EQ(PipePool::PipesOpen(), base);  // the pool's idle pipes close with it
  EXPECT_GE(PipePool::Budget(), 16);
}

}  // namespace
}  // namespace sluice::net
