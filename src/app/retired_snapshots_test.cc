// A replaced snapshot is freed by Sweep on the control thread once nothing else holds it, and
// not before: a worker or a connection still using it keeps it alive.
#include "app/retired_snapshots.h"

#include <gtest/gtest.h>

#include <memory>

namespace sluice::app {
namespace {

TEST(RetiredSnapshots, FreedBySweepOnceOnlyItHoldsThem) {
  RetiredSnapshots retired;
  auto held_by_worker = std::make_shared<const proxy::Snapshot>();
  auto unused = std::make_shared<const proxy::Snapshot>();
  std::weak_ptr<const proxy::Snapshot> watch_held = held_by_worker;
  std::weak_ptr<const proxy::Snapshot> watch_unused = unused;
  std::shared_ptr<const proxy::Snapshot> worker_copy = held_by_worker;
  retired.Retire(std::move(held_by_worker));
  retired.Retire(std::move(unused));
  retired.Retire(nullptr);  // the first publish replaces nothing
  EXPECT_EQ(retired.size(), 2u);
  EXPECT_FALSE(watch_unused.expired());  // retiring never frees
  EXPECT_EQ(retired.Sweep(), 1u);
  EXPECT_TRUE(watch_unused.expired());
  EXPECT_FALSE(watch_held.expired());
  EXPECT_EQ(retired.size(), 1u);
  worker_copy.reset();  // the worker adopted the new snapshot: a decrement, not a free
  EXPECT_FALSE(watch_held.expired());
  EXPECT_EQ(retired.Sweep(), 1u);
  EXPECT_TRUE(watch_held.expired());
  EXPECT_EQ(retired.Sweep(), 0u);
  EXPECT_EQ(retired.size(), 0u);
}

}  // namespace
}  // namespace sluice::app
