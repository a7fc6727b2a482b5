// DeadlineWheel: a node comes due at the first tick at or after its deadline, never before;
// re-arming moves it; deadlines past the horizon come due at the horizon (to be re-armed);
// a long stall visits every slot once; nodes may be re-armed or dropped while due.
#include "proxy/deadline_wheel.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::proxy {
namespace {

struct Node {
  Node* next = nullptr;
  Node* prev = nullptr;
  uint32_t wheel_slot = kNotArmed;
  int id = 0;
};

using Wheel = DeadlineWheel<Node>;

std::vector<int> Due(Wheel& w, int64_t now) {
  std::vector<int> ids;
  w.Expire(now, [&](Node* n) { ids.push_back(n->id); });
  return ids;
}

TEST(DeadlineWheelTest, ComesDueAtTheFirstTickAtOrAfterItsDeadline) {
  Wheel w(1000);
  Node a{.id = 1}, b{.id = 2};
  w.Arm(&a, 1600);  // slot boundary 1750
  w.Arm(&b, 2000);  // exactly on a boundary
  EXPECT_EQ(w.size(), 2u);
  EXPECT_TRUE(Due(w, 1500).empty());
  EXPECT_TRUE(Due(w, 1749).empty());
  EXPECT_EQ(Due(w, 1750), std::vector<int>{1});
  EXPECT_TRUE(Due(w, 1999).empty());
  EXPECT_EQ(Due(w, 2000), std::vector<int>{2});
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(a.wheel_slot, kNotArmed);
}

TEST(DeadlineWheelTest, PassedDeadlineComesDueAtTheNextTick) {
  Wheel w(0);
  Due(w, 1000);
  Node a{.id = 1};
  w.Arm(&a, 10);
  EXPECT_EQ(Due(w, 1000), std::vector<int>{});  // this tick's slot was already visited
  EXPECT_EQ(Due(w, 1250), std::vector<int>{1});
}

TEST(DeadlineWheelTest, ArmIfEarlierOnlyMovesCloser) {
  Wheel w(0);
  Node a{.id = 1};
  w.Arm(&a, 60000);
  w.ArmIfEarlier(&a, 90000);  // later: stays at 60 s
  EXPECT_TRUE(Due(w, 59999).empty());
  EXPECT_EQ(Due(w, 60000), std::vector<int>{1});
  w.Arm(&a, 60000 + 60000);
  w.ArmIfEarlier(&a, 70000);  // closer: moves
  EXPECT_EQ(Due(w, 70000), std::vector<int>{1});
  EXPECT_EQ(w.size(), 0u);
}

TEST(DeadlineWheelTest, BeyondTheHorizonComesDueAtTheHorizon) {
  Wheel w(0);
  Node a{.id = 1};
  w.Arm(&a, 3600 * 1000);  // an hour: the wheel holds 128 s
  EXPECT_TRUE(Due(w, 127000).empty());
  std::vector<int> due = Due(w, 128000);
  EXPECT_EQ(due, std::vector<int>{1});  // early: the owner re-checks and re-arms
}

TEST(DeadlineWheelTest, LongStallVisitsEverySlotOnce) {
  Wheel w(0);
  std::vector<Node> nodes(600);
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].id = static_cast<int>(i);
    w.Arm(&nodes[i], static_cast<int64_t>(i) * 200);
  }
  EXPECT_EQ(Due(w, 10'000'000).size(), nodes.size());
  EXPECT_EQ(w.size(), 0u);
  Node late{.id = 9};
  w.Arm(&late, 10'000'100);
  EXPECT_TRUE(Due(w, 10'000'099).empty());
  EXPECT_EQ(Due(w, 10'000'250), std::vector<int>{9});
}

TEST(DeadlineWheelTest, DueNodesMayBeReArmedOrDisarmedOthers) {
  Wheel w(0);
  Node a{.id = 1}, b{.id = 2}, c{.id = 3};
  w.Arm(&a, 250);
  w.Arm(&b, 250);
  w.Arm(&c, 5000);
  std::vector<int> seen;
  w.Expire(250, [&](Node* n) {
    seen.push_back(n->id);
    if (n->id == 1) w.Arm(n, 1000);  // re-armed later
    if (n->id == 2) w.Disarm(&c);    // drops another node
  });
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(Due(w, 1000), std::vector<int>{1});
  EXPECT_TRUE(Due(w, 6000).empty());
  EXPECT_EQ(w.Any(), nullptr);
}

TEST(DeadlineWheelTest, ForEachAndAnySeeEveryNode) {
  Wheel w(0);
  Node a{.id = 1}, b{.id = 2};
  w.Arm(&a, 100);
  w.Arm(&b, 100000);
  int count = 0;
  w.ForEach([&](Node* n) {
    ++count;
    w.Disarm(n);
  });
  EXPECT_EQ(count, 2);
  EXPECT_EQ(w.Any(), nullptr);
}

}  // namespace
}  // namespace sluice::proxy
