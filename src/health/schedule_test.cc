#include "health/schedule.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>

#include <algorithm>
#include <random>
#include <tuple>
#include <vector>

#include "health/probe.h"
#include "net/memory_transport.h"

namespace sluice::health {
namespace {

TEST(TimerHeapTest, PopsInDueOrderAndSetMovesAnId) {
  TimerHeap h;
  h.Reset(8);
  h.Set(3, 300);
  h.Set(1, 100);
  h.Set(2, 200);
  h.Set(1, 400);  // moved later, not added twice
  EXPECT_EQ(h.size(), 3u);
  EXPECT_TRUE(h.Contains(1));
  EXPECT_EQ(h.top_due(), 200);
  EXPECT_EQ(h.Pop(), 2u);
  EXPECT_EQ(h.Pop(), 3u);
  EXPECT_EQ(h.Pop(), 1u);
  EXPECT_TRUE(h.empty());
  EXPECT_FALSE(h.Contains(1));
}

TEST(TimerHeapTest, EraseAnywhereKeepsTheOrder) {
  std::mt19937 rng(7);
  TimerHeap h;
  h.Reset(1000);
  std::vector<int64_t> due(1000);
  for (uint32_t id = 0; id < 1000; ++id) {
    due[id] = static_cast<int64_t>(rng() % 5000);
    h.Set(id, due[id]);
  }
  for (uint32_t id = 0; id < 1000; id += 3) h.Erase(id);
  h.Erase(1);  // twice is harmless
  h.Erase(1);
  int64_t last = -1;
  size_t popped = 0;
  while (!h.empty()) {
    int64_t d = h.top_due();
    uint32_t id = h.Pop();
    EXPECT_NE(id % 3, 0u);
    EXPECT_NE(id, 1u);
    EXPECT_EQ(d, due[id]);
    EXPECT_GE(d, last);
    last = d;
    ++popped;
  }
  EXPECT_EQ(popped, 1000u - 334u - 1u);
}

TEST(ScheduleTest, ProbeSocketBudgetIsAQuarterOfTheLimitWithinBounds) {
  EXPECT_EQ(ProbeSocketBudget(20000), 5000 > kMaxProbeSockets ? kMaxProbeSockets : 5000);
  EXPECT_EQ(ProbeSocketBudget(1024), 256);
  EXPECT_EQ(ProbeSocketBudget(16), kMinProbeSockets);
  EXPECT_EQ(ProbeSocketBudget(~uint64_t{0}), kMaxProbeSockets);  // RLIM_INFINITY
}

TEST(ScheduleTest, FirstChecksAFewAtOnceOnePerMillisecond) {
  EXPECT_EQ(FirstCheckOffsetsMs({0, 0, 0}, {5000}), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_TRUE(FirstCheckOffsetsMs({}, {5000}).empty());
}

// 100 groups of 1,000 at 30 s: 3,333 per second over the whole interval, not 100 at a time
// (one per group) in the first second.
TEST(ScheduleTest, FirstChecksOfManyGroupsSpreadOverTheInterval) {
  std::vector<uint32_t> group_of;
  for (uint32_t g = 0; g < 100; ++g) group_of.insert(group_of.end(), 1000, g);
  std::vector<int64_t> offsets = FirstCheckOffsetsMs(group_of, std::vector<int64_t>(100, 30'000));
  std::vector<int64_t> sorted = offsets;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted.front(), 0);
  EXPECT_GE(sorted.back(), 29'900);
  EXPECT_LE(sorted.back(), 30'000);
  // At most 4 in any millisecond (3.33 per ms).
  for (size_t k = 4; k < sorted.size(); ++k) ASSERT_GT(sorted[k], sorted[k - 4]) << k;
  // Each group's targets no later than its own even spread (+100 ms).
  for (size_t j = 0; j < group_of.size(); ++j) {
    ASSERT_LE(offsets[j], static_cast<int64_t>(j % 1000) * 30 + 100) << j;
  }
}

// A short-interval group is not held back behind a big long-interval one.
TEST(ScheduleTest, FirstChecksInterleaveGroupsByTheirIntervals) {
  std::vector<uint32_t> group_of(10'000, 0);  // 10,000 at 300 s
  group_of.insert(group_of.end(), 100, 1);    // 100 at 5 s
  std::vector<int64_t> offsets = FirstCheckOffsetsMs(group_of, {300'000, 5000});
  for (size_t j = 10'000; j < group_of.size(); ++j) {
    ASSERT_LE(offsets[j], static_cast<int64_t>(j - 10'000) * 50 + 2) << j;
  }
  EXPECT_LE(*std::max_element(offsets.begin(), offsets.end()), 300'000);
}

TEST(ScheduleTest, NextCheckKeepsThePhaseAndAtLeastHalfAnInterval) {
  EXPECT_EQ(NextCheckMs(10'000, 5000, 1234), 16'234);  // earliest 12,500
  EXPECT_EQ(NextCheckMs(16'234, 5000, 1234), 21'234);  // then one interval apart
  EXPECT_EQ(NextCheckMs(0, 5000, 4999), 4999);
}

TEST(ProbeTest, StatusLines) {
  EXPECT_EQ(ParseStatusCode("HTTP/1.1 200 OK"), 200);
  EXPECT_EQ(ParseStatusCode("HTTP/1.0 503"), 503);
  EXPECT_EQ(ParseStatusCode("HTTP/1.1 20"), -1);
  EXPECT_EQ(ParseStatusCode("HTTP/2 200 OK"), -1);
  EXPECT_EQ(ParseStatusCode("HTTP/1.1 2x0 OK"), -1);
  EXPECT_EQ(ParseStatusCode("SSH-2.0-OpenSSH"), -1);
  // http::ParseStatusLine's grammar: three digits, then a space or the end.
  EXPECT_EQ(ParseStatusCode("HTTP/1.1 2000 OK"), -1);
  EXPECT_EQ(ParseStatusCode("HTTP/1.1 200"), 200);
}

TEST(ProbeTest, LocalShortagesAreNotTargetFailures) {
  EXPECT_TRUE(IsLocalShortage(EMFILE));
  EXPECT_TRUE(IsLocalShortage(ENFILE));
  EXPECT_TRUE(IsLocalShortage(ENOBUFS));
  EXPECT_FALSE(IsLocalShortage(ECONNREFUSED));
  EXPECT_FALSE(IsLocalShortage(ENETUNREACH));
}

// A probe over an in-memory stream: the request goes out once "connected", and the verdict
// comes from the status line, even when it arrives in pieces.
class ProbeIoTest : public ::testing::Test {
 protected:
  void SetUp() override { std::tie(probe_, target_) = net::MemoryTransport::Pair(); }
  void Peer(const std::string& bytes) {
    net::IoResult r = target_->Write(bytes.data(), bytes.size());
    ASSERT_EQ(r.status(), net::IoStatus::kOk);
    ASSERT_EQ(r.bytes(), bytes.size());
  }
  std::optional<CheckResult> Events(uint32_t events) {
    return io_.OnEvents(*probe_, events, [](int status) { return status == 200; });
  }
  std::unique_ptr<net::MemoryTransport> probe_;
  std::unique_ptr<net::MemoryTransport> target_;  // the target's side
  ProbeIo io_;
};

TEST_F(ProbeIoTest, SendsTheRequestThenJudgesTheStatusLine) {
  io_.Reset(false, "GET /health HTTP/1.1\r\n\r\n");
  EXPECT_FALSE(Events(EPOLLOUT).has_value());
  EXPECT_EQ(target_->ReadAll(), "GET /health HTTP/1.1\r\n\r\n");
  Peer("HTTP/1.");
  EXPECT_FALSE(Events(EPOLLIN).has_value());
  Peer("1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
  std::optional<CheckResult> r = Events(EPOLLIN);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outcome, CheckOutcome::kCodeMismatch);
  EXPECT_EQ(r->status_code, 503);
}

TEST_F(ProbeIoTest, MatchingStatusPasses) {
  io_.Reset(false, "GET / HTTP/1.1\r\n\r\n");
  Peer("HTTP/1.1 200 OK\r\n");
  std::optional<CheckResult> r = Events(EPOLLOUT | EPOLLIN);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outcome, CheckOutcome::kSuccess);
}

TEST_F(ProbeIoTest, ClosedBeforeAStatusLineFails) {
  io_.Reset(false, "GET / HTTP/1.1\r\n\r\n");
  Peer("HTTP/1.1 2");
  target_->Close();
  std::optional<CheckResult> r = Events(EPOLLOUT | EPOLLIN | EPOLLRDHUP);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outcome, CheckOutcome::kFailed);
}

TEST_F(ProbeIoTest, TcpCheckPassesOnConnect) {
  io_.Reset(true, "");
  EXPECT_FALSE(Events(EPOLLIN).has_value());  // not writable yet: still connecting
  std::optional<CheckResult> r = Events(EPOLLOUT);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outcome, CheckOutcome::kSuccess);
}

TEST_F(ProbeIoTest, StatusLineWithoutReasonPasses) {
  io_.Reset(false, "GET / HTTP/1.1\r\n\r\n");
  Peer("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n");
  std::optional<CheckResult> r = Events(EPOLLOUT | EPOLLIN);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outcome, CheckOutcome::kSuccess);
  EXPECT_EQ(r->status_code, 200);
}

TEST_F(ProbeIoTest, RefusedConnectFails) {
  io_.Reset(true, "");
  probe_->FailConnect(ECONNREFUSED);
  std::optional<CheckResult> r = Events(EPOLLOUT | EPOLLERR | EPOLLHUP);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outcome, CheckOutcome::kFailed);
}

TEST_F(ProbeIoTest, ResetAfterTheRequestFails) {
  io_.Reset(false, "GET / HTTP/1.1\r\n\r\n");
  EXPECT_FALSE(Events(EPOLLOUT).has_value());
  target_->Reset();
  std::optional<CheckResult> r = Events(EPOLLIN | EPOLLERR | EPOLLHUP);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outcome, CheckOutcome::kFailed);
}

}  // namespace
}  // namespace sluice::health
