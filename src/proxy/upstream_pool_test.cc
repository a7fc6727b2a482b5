// UpstreamPools: an idle pooled connection holds no receive buffer after a sweep (the buffer
// goes to the pool's spare list and comes back when the connection is taken), keyed by target
// address, and a sweep closes idle connections past their timeout.
#include <gtest/gtest.h>

#include <string_view>

#include "net/event_loop.h"
#include "net/memory_transport.h"
#include "proxy/upstream_connection.h"

namespace sluice::proxy {
namespace {

UpstreamKey Target(uint16_t port,
                   snapshot::ProtocolVersion version = snapshot::ProtocolVersion::kHttp1) {
  UpstreamKey k;
  k.address.ip = *IpAddress::Parse("127.0.0.1");
  k.address.port = port;
  k.version = version;
  return k;
}

class UpstreamPoolTest : public ::testing::Test {
 protected:
  // A connected in-memory stream; the pool's connection owns one end, the test the other
  // (the target's side).
  UpstreamConnection* NewConnection(
      uint16_t port, snapshot::ProtocolVersion version = snapshot::ProtocolVersion::kHttp1) {
    auto [ours, theirs] = net::MemoryTransport::Pair();
    targets_.push_back(std::move(theirs));
    auto* c = new UpstreamConnection(std::move(ours), Target(port, version), &pools_);
    EXPECT_TRUE(c->transport().Watch(loop_, c));
    pools_.Arm(c);
    c->connected = true;
    return c;
  }
  void RunLoop() {
    loop_.RunPending(250, [] {});
  }
  void TearDown() override {
    pools_.Sweep(0, true);
    RunLoop();
  }
  net::EventLoop loop_;
  UpstreamPools pools_{&loop_};
  std::vector<std::unique_ptr<net::MemoryTransport>> targets_;
};

TEST_F(UpstreamPoolTest, IdleConnectionHoldsNoBuffer) {
  UpstreamConnection* c = NewConnection(80);
  EXPECT_EQ(c->in().capacity(), kUpstreamBufferSize);
  pools_.PutIdle(c, 1000);
  EXPECT_EQ(c->in().capacity(), kUpstreamBufferSize);  // until the tick sweeps the pool
  pools_.Sweep(1001, false);
  EXPECT_EQ(c->in().capacity(), 0u);
  EXPECT_EQ(pools_.spare_buffer_count(), 1u);
  EXPECT_EQ(pools_.idle_count(), 1u);
  // An idle connection's whole footprint in the process (the kernel's socket aside).
  EXPECT_LE(sizeof(UpstreamConnection) + sizeof(void*), 4096u);

  UpstreamConnection* again = pools_.TakeIdle(Target(80));
  ASSERT_EQ(again, c);
  EXPECT_TRUE(again->reused);
  EXPECT_EQ(again->in().capacity(), kUpstreamBufferSize);
  EXPECT_EQ(pools_.spare_buffer_count(), 0u);
  pools_.PutIdle(again, 1000);
}

TEST_F(UpstreamPoolTest, NewConnectionsReuseSpareBuffers) {
  UpstreamConnection* a = NewConnection(80);
  pools_.PutIdle(a, 1000);
  pools_.Sweep(1001, false);
  ASSERT_EQ(pools_.spare_buffer_count(), 1u);
  UpstreamConnection* b = NewConnection(81);  // Arm takes the spare buffer
  EXPECT_EQ(pools_.spare_buffer_count(), 0u);
  EXPECT_EQ(b->in().capacity(), kUpstreamBufferSize);
  pools_.PutIdle(b, 1000);
}

TEST_F(UpstreamPoolTest, KeyedByTargetAddress) {
  pools_.PutIdle(NewConnection(80), 1000);
  EXPECT_EQ(pools_.TakeIdle(Target(81)), nullptr);
  UpstreamConnection* c = pools_.TakeIdle(Target(80));
  ASSERT_NE(c, nullptr);
  pools_.PutIdle(c, 1000);
}

TEST_F(UpstreamPoolTest, KeyedByProtocolVersionToo) {
  // A group that speaks HTTP/2 to the same address must not get an HTTP/1.1 connection.
  pools_.PutIdle(NewConnection(80), 1000);
  EXPECT_EQ(pools_.TakeIdle(Target(80, snapshot::ProtocolVersion::kHttp2)), nullptr);
  UpstreamConnection* c = pools_.TakeIdle(Target(80));
  ASSERT_NE(c, nullptr);
  pools_.PutIdle(c, 1000);
}

TEST_F(UpstreamPoolTest, SweepClosesConnectionsPastTheirIdleTimeout) {
  UpstreamConnection* old_one = NewConnection(80);
  old_one->idle_timeout_ms = 500;
  pools_.PutIdle(old_one, 1000);
  UpstreamConnection* fresh = NewConnection(80);
  fresh->idle_timeout_ms = 500;
  pools_.PutIdle(fresh, 1400);
  pools_.Sweep(1500, false);
  EXPECT_EQ(pools_.idle_count(), 1u);
  EXPECT_EQ(pools_.TakeIdle(Target(80)), fresh);
  pools_.PutIdle(fresh, 1400);
}

TEST_F(UpstreamPoolTest, IdleConnectionClosedByItsTargetLeavesThePool) {
  UpstreamConnection* c = NewConnection(80);
  pools_.PutIdle(c, 1000);
  RunLoop();  // the registration's writability reaches an idle connection: nothing happens
  EXPECT_EQ(pools_.idle_count(), 1u);
  targets_[0]->Close();
  RunLoop();
  EXPECT_EQ(pools_.idle_count(), 0u);
  EXPECT_EQ(pools_.TakeIdle(Target(80)), nullptr);
}

TEST_F(UpstreamPoolTest, IdleConnectionThatGetsUnexpectedBytesLeavesThePool) {
  UpstreamConnection* c = NewConnection(80);
  pools_.PutIdle(c, 1000);
  constexpr std::string_view kUnasked = "HTTP/1.1 408 Request Timeout\r\n\r\n";
  EXPECT_EQ(targets_[0]->Write(kUnasked.data(), kUnasked.size()).status(), net::IoStatus::kOk);
  RunLoop();
  EXPECT_EQ(pools_.idle_count(), 0u);
  EXPECT_TRUE(targets_[0]->at_eof());  // closed on our side: the target reads EOF
}

}  // namespace
}  // namespace sluice::proxy
