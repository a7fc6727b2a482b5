#include "app/quiet_trim.h"

#include <gtest/gtest.h>

namespace sluice::app {
namespace {

TEST(QuietTrim, DueOnceAfterTheQuietTimeFollowingWork) {
  QuietTrim t;
  EXPECT_FALSE(t.DueAfterQuiet(100000));  // nothing freed yet
  t.Busy(1000);
  EXPECT_FALSE(t.DueAfterQuiet(2000));  // a quiet second is not enough
  EXPECT_FALSE(t.DueAfterQuiet(1000 + QuietTrim::kQuietMs - 1));
  EXPECT_TRUE(t.DueAfterQuiet(1000 + QuietTrim::kQuietMs));
  EXPECT_FALSE(t.DueAfterQuiet(1000 + 2 * QuietTrim::kQuietMs));  // once
}

TEST(QuietTrim, WorkDuringTheQuietTimeStartsItAgain) {
  QuietTrim t;
  t.Busy(0);
  t.Busy(QuietTrim::kQuietMs - 10);  // a call paced every few seconds keeps the heap
  EXPECT_FALSE(t.DueAfterQuiet(QuietTrim::kQuietMs + 10));
  EXPECT_TRUE(t.DueAfterQuiet(2 * QuietTrim::kQuietMs));
}

}  // namespace
}  // namespace sluice::app
