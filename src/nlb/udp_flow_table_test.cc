#include "nlb/udp_flow_table.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>

namespace sluice::nlb {
namespace {

FlowTuple Tuple(uint16_t client_port, uint8_t client_octet = 7) {
  FlowTuple t;
  t.protocol = kIpProtoUdp;
  t.source = *SocketAddress::Parse("198.51.100.1", client_port);
  t.source.ip.bytes[15] = client_octet;
  t.destination = *SocketAddress::Parse("10.0.0.1", 53);
  return t;
}

struct Removed {
  uint16_t port;
  int fd;
  UdpFlowRemoval why;
};

struct Recorder {
  std::vector<Removed> removed;
  static void Callback(void* ctx, const FlowTuple& t, const UdpFlow& f, UdpFlowRemoval why) {
    static_cast<Recorder*>(ctx)->removed.push_back({t.source.port, f.upstream_fd, why});
  }
};

UdpFlowTable::Options Opts(size_t cap, Recorder* rec, int64_t idle = kUdpDefaultIdleTimeoutMs) {
  UdpFlowTable::Options o;
  o.capacity = cap;
  o.idle_timeout_ms = idle;
  o.key = FlowHashKey{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  o.on_remove = &Recorder::Callback;
  o.on_remove_ctx = rec;
  return o;
}

UdpFlow Flow(uint32_t target, int fd) {
  UdpFlow f;
  f.target = target;
  f.upstream_fd = fd;
  return f;
}

std::vector<uint16_t> Order(const UdpFlowTable& table) {
  std::vector<uint16_t> ports;
  table.ForEachByRecency(
      [&](const FlowTuple& t, const UdpFlow&) { ports.push_back(t.source.port); });
  return ports;
}

TEST(UdpFlowTable, InsertFindAndDuplicate) {
  Recorder rec;
  UdpFlowTable table(Opts(8, &rec));
  auto [flow, inserted] = table.Insert(Tuple(1000), Flow(3, 40), 1000);
  ASSERT_TRUE(inserted);
  EXPECT_EQ(flow->target, 3u);
  EXPECT_EQ(flow->created_ms, 1000);
  UdpFlow* found = table.Find(Tuple(1000), 2000);
  ASSERT_EQ(found, flow);
  EXPECT_EQ(found->last_active_ms, 2000);
  EXPECT_EQ(table.Find(Tuple(1001), 2000), nullptr);
  auto [again, inserted_again] = table.Insert(Tuple(1000), Flow(9, 41), 3000);
  EXPECT_FALSE(inserted_again);
  EXPECT_EQ(again, flow);
  EXPECT_EQ(again->target, 3u);  // the existing flow keeps its target
  EXPECT_EQ(table.size(), 1u);
  EXPECT_TRUE(rec.removed.empty());
  EXPECT_TRUE(table.CheckInvariants());
}

TEST(UdpFlowTable, IdleFlowExpiresAtTheTimeout) {
  Recorder rec;
  UdpFlowTable table(Opts(8, &rec));
  table.Insert(Tuple(1000), Flow(1, 50), 0);
  EXPECT_NE(table.Find(Tuple(1000), 119'999), nullptr);  // touched at 119.999 s
  EXPECT_NE(table.Find(Tuple(1000), 239'998), nullptr);  // idle 119.999 s: still live
  EXPECT_EQ(table.Find(Tuple(1000), 359'998), nullptr);  // idle exactly 120 s: a new flow
  ASSERT_EQ(rec.removed.size(), 1u);
  EXPECT_EQ(rec.removed[0].fd, 50);
  EXPECT_EQ(rec.removed[0].why, UdpFlowRemoval::kExpired);
  EXPECT_EQ(table.expirations(), 1u);
  EXPECT_EQ(table.evictions(), 0u);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_TRUE(table.CheckInvariants());
}

TEST(UdpFlowTable, ExpireIdleRemovesOnlyTheIdleTail) {
  Recorder rec;
  UdpFlowTable table(Opts(16, &rec, 1000));
  for (uint16_t i = 0; i < 10; ++i) table.Insert(Tuple(i), Flow(i, i), i * 100);
  EXPECT_EQ(table.NextExpiryMs(), 1000);
  EXPECT_EQ(table.ExpireIdle(1450), 5u);  // inserted at 0..400 ms
  EXPECT_EQ(table.size(), 5u);
  EXPECT_EQ(table.NextExpiryMs(), 1500);
  EXPECT_EQ(table.ExpireIdle(5000, 2), 2u);  // bounded work per call
  EXPECT_EQ(table.ExpireIdle(5000), 3u);
  EXPECT_EQ(table.NextExpiryMs(), -1);
  EXPECT_EQ(table.expirations(), 10u);
  for (size_t i = 0; i < rec.removed.size(); ++i) EXPECT_EQ(rec.removed[i].port, i);
}

TEST(UdpFlowTable, CapEvictsLeastRecentlyUsedAndCounts) {
  Recorder rec;
  UdpFlowTable table(Opts(3, &rec));
  table.Insert(Tuple(1), Flow(0, 11), 10);
  table.Insert(Tuple(2), Flow(0, 12), 20);
  table.Insert(Tuple(3), Flow(0, 13), 30);
  EXPECT_EQ(Order(table), (std::vector<uint16_t>{3, 2, 1}));
  table.Find(Tuple(1), 40);  // touch: 1 becomes most recently used
  EXPECT_EQ(Order(table), (std::vector<uint16_t>{1, 3, 2}));
  table.Insert(Tuple(4), Flow(0, 14), 50);  // evicts 2
  table.Insert(Tuple(5), Flow(0, 15), 60);  // evicts 3
  EXPECT_EQ(Order(table), (std::vector<uint16_t>{5, 4, 1}));
  ASSERT_EQ(rec.removed.size(), 2u);
  EXPECT_EQ(rec.removed[0].port, 2);
  EXPECT_EQ(rec.removed[0].fd, 12);
  EXPECT_EQ(rec.removed[0].why, UdpFlowRemoval::kEvicted);
  EXPECT_EQ(rec.removed[1].port, 3);
  EXPECT_EQ(table.evictions(), 2u);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.Peek(Tuple(2)), nullptr);
  EXPECT_TRUE(table.CheckInvariants());
}

TEST(UdpFlowTable, FullTableReplacesAnIdleTailAsExpiredNotEvicted) {
  Recorder rec;
  UdpFlowTable table(Opts(2, &rec, 100));
  table.Insert(Tuple(1), Flow(0, 1), 0);
  table.Insert(Tuple(2), Flow(0, 2), 50);
  table.Insert(Tuple(3), Flow(0, 3), 120);  // 1 has been idle 120 ms >= 100
  EXPECT_EQ(table.expirations(), 1u);
  EXPECT_EQ(table.evictions(), 0u);
}

TEST(UdpFlowTable, PeekDoesNotTouch) {
  Recorder rec;
  UdpFlowTable table(Opts(4, &rec));
  table.Insert(Tuple(1), Flow(0, 1), 0);
  table.Insert(Tuple(2), Flow(0, 2), 1);
  ASSERT_NE(table.Peek(Tuple(1)), nullptr);
  EXPECT_EQ(table.Peek(Tuple(1))->last_active_ms, 0);
  EXPECT_EQ(Order(table), (std::vector<uint16_t>{2, 1}));
}

TEST(UdpFlowTable, EraseAndClearReportEveryFlow) {
  Recorder rec;
  UdpFlowTable table(Opts(8, &rec));
  for (uint16_t i = 0; i < 5; ++i) table.Insert(Tuple(i), Flow(0, 100 + i), 0);
  EXPECT_TRUE(table.Erase(Tuple(2)));
  EXPECT_FALSE(table.Erase(Tuple(2)));
  EXPECT_EQ(rec.removed.back().why, UdpFlowRemoval::kErased);
  table.Clear();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(rec.removed.size(), 5u);
  EXPECT_EQ(rec.removed.back().why, UdpFlowRemoval::kCleared);
  EXPECT_TRUE(table.CheckInvariants());
  table.Insert(Tuple(9), Flow(0, 9), 1);  // slots are reused
  EXPECT_EQ(table.size(), 1u);
}

TEST(UdpFlowTable, ClockGoingBackwardsKeepsTheOrder) {
  Recorder rec;
  UdpFlowTable table(Opts(4, &rec, 1000));
  table.Insert(Tuple(1), Flow(0, 1), 5000);
  table.Insert(Tuple(2), Flow(0, 2), 4000);  // taken as 5000
  EXPECT_EQ(table.Peek(Tuple(2))->last_active_ms, 5000);
  EXPECT_TRUE(table.CheckInvariants());
}

// Against a simple model (std::unordered_map with the LRU kept by timestamps), thousands of
// random operations on a small table whose index wraps and shifts a lot.
TEST(UdpFlowTable, MatchesAModelUnderRandomOperations) {
  Recorder rec;
  constexpr size_t kCap = 37;
  UdpFlowTable table(Opts(kCap, &rec, 2000));
  std::unordered_map<uint16_t, int64_t> model;  // port → last active
  std::mt19937_64 rng(9);
  int64_t now = 0;
  for (int step = 0; step < 20000; ++step) {
    now += rng() % 200 == 0 ? 2500 : rng() % 20;  // now and then a quiet spell
    uint16_t port = static_cast<uint16_t>(rng() % 60);
    rec.removed.clear();
    switch (rng() % 4) {
      case 0:
      case 1:
        table.Insert(Tuple(port), Flow(port, port), now);
        break;
      case 2:
        table.Find(Tuple(port), now);
        break;
      default:
        table.ExpireIdle(now);
        break;
    }
    for (const Removed& r : rec.removed) {
      ASSERT_TRUE(model.count(r.port));
      if (r.why == UdpFlowRemoval::kExpired) {
        ASSERT_GE(now - model[r.port], 2000);
      }
      for (const auto& [other, last] : model) {  // the removed flow was least recently used
        if (r.why == UdpFlowRemoval::kEvicted) {
          ASSERT_LE(model[r.port], last) << other;
        }
      }
      model.erase(r.port);
    }
    if (table.Peek(Tuple(port)) != nullptr) model[port] = table.Peek(Tuple(port))->last_active_ms;
    ASSERT_EQ(table.size(), model.size());
    ASSERT_LE(table.size(), kCap);
    if (step % 100 == 0) {
      ASSERT_TRUE(table.CheckInvariants());
    }
  }
  EXPECT_GT(table.evictions(), 0u);
  EXPECT_GT(table.expirations(), 0u);
}

}  // namespace
}  // namespace sluice::nlb
