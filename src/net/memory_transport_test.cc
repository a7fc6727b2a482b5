// The in-memory stream (tests' stand-in for TCP) and EventLoop::Post: bytes, bounded
// buffering with writability when room frees up, end of stream, reset, refused connect, and
// readiness posted to a watching handler, never to one that has been deleted.
#include "net/memory_transport.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>

#include <cerrno>
#include <vector>

#include "net/event_loop.h"

namespace sluice::net {
namespace {

struct Recorder : EventHandler {
  void OnEvents(uint32_t events) override { seen.push_back(events); }
  std::vector<uint32_t> seen;
};

void RunLoop(EventLoop& loop) {
  loop.RunPending(250, [] {});
}

TEST(MemoryTransport, BytesFlowBothWays) {
  auto [a, b] = MemoryTransport::Pair();
  EXPECT_EQ(a->Write("ping", 4).bytes(), 4u);
  EXPECT_EQ(b->ReadAll(), "ping");
  EXPECT_EQ(b->Read(nullptr, 0).status(), IoStatus::kWouldBlock);
  iovec pieces[2] = {{const_cast<char*>("po"), 2}, {const_cast<char*>("ng"), 2}};
  EXPECT_EQ(b->Write(pieces, 2).bytes(), 4u);
  EXPECT_EQ(a->ReadAll(), "pong");
}

TEST(MemoryTransport, BoundedAndWritableAgainWhenDrained) {
  EventLoop loop;
  Recorder writer;
  auto [a, b] = MemoryTransport::Pair(8);
  ASSERT_TRUE(a->Watch(loop, &writer));
  RunLoop(loop);
  ASSERT_EQ(writer.seen.size(), 1u);  // writable on registration, like epoll
  EXPECT_TRUE(writer.seen[0] & EPOLLOUT);
  EXPECT_EQ(a->Write("0123456789", 10).bytes(), 8u);
  EXPECT_EQ(a->Write("89", 2).status(), IoStatus::kWouldBlock);
  char buf[4];
  EXPECT_EQ(b->Read(buf, sizeof(buf)).bytes(), 4u);
  RunLoop(loop);
  ASSERT_EQ(writer.seen.size(), 2u);
  EXPECT_TRUE(writer.seen[1] & EPOLLOUT);
}

TEST(MemoryTransport, EndOfStreamAfterTheBytes) {
  EventLoop loop;
  Recorder reader;
  auto [a, b] = MemoryTransport::Pair();
  ASSERT_TRUE(b->Watch(loop, &reader));
  a->Write("last", 4);
  a->ShutdownWrite();
  EXPECT_EQ(a->Write("x", 1).status(), IoStatus::kError);
  EXPECT_FALSE(b->at_eof());
  EXPECT_EQ(b->ReadAll(), "last");
  EXPECT_TRUE(b->at_eof());
  char c;
  EXPECT_EQ(b->Read(&c, 1).status(), IoStatus::kEof);
  RunLoop(loop);
  ASSERT_FALSE(reader.seen.empty());
  EXPECT_TRUE(reader.seen.back() & EPOLLRDHUP);
}

TEST(MemoryTransport, ResetFailsBothDirections) {
  auto [a, b] = MemoryTransport::Pair();
  a->Write("lost", 4);
  b->Reset();
  char c;
  EXPECT_EQ(a->Read(&c, 1).error(), ECONNRESET);
  EXPECT_EQ(a->Write("x", 1).error(), ECONNRESET);
}

TEST(MemoryTransport, RefusedConnect) {
  auto [a, b] = MemoryTransport::Pair();
  a->FailConnect(ECONNREFUSED);
  EXPECT_EQ(a->ConnectError(), ECONNREFUSED);
  EXPECT_EQ(a->Write("x", 1).error(), ECONNREFUSED);
}

// A handler that is deleted (deferred) in the iteration where it was posted to is not
// called afterwards: the loop drops its pending turns when it frees it.
TEST(EventLoopPost, NoEventReachesAHandlerDeletedInTheSameIteration) {
  struct Dying : EventHandler {
    explicit Dying(int* calls) : calls(calls) {}
    void OnEvents(uint32_t) override { ++*calls; }
    int* calls;
  };
  struct Killer : EventHandler {
    void OnEvents(uint32_t) override {
      loop->Post(victim, EPOLLIN);  // queued for the next iteration...
      loop->DeferDelete(victim);    // ...but freed at the end of this one
    }
    EventLoop* loop = nullptr;
    EventHandler* victim = nullptr;
  };
  EventLoop loop;
  int calls = 0;
  Killer killer;
  killer.loop = &loop;
  killer.victim = new Dying(&calls);
  loop.Post(&killer, EPOLLIN);
  RunLoop(loop);
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace sluice::net
