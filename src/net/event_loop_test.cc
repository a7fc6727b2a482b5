// EventLoop: a stop requested before Run() is kept; the tick runs on the injected clock.
#include "net/event_loop.h"

#include <gtest/gtest.h>

namespace sluice::net {
namespace {

TEST(EventLoopTest, StopBeforeRunIsNotLost) {
  // A worker told to shut down before its thread first entered Run() used to run on until
  // its shutdown deadline: Run() reset the flag Stop() had cleared.
  EventLoop loop;
  ASSERT_TRUE(loop.ok()) << loop.error();
  loop.Stop();
  int ticks = 0;
  loop.Run(1, [&] {
    if (++ticks == 3) loop.Stop();  // a bound, so that the failing case ends
  });
  EXPECT_EQ(ticks, 0);
}

int64_t g_fake_now = 1000;
int64_t FakeNow() { return g_fake_now += 100; }  // every read is 100 ms later
int64_t FakeWall() { return 1'700'000'000'000; }

TEST(EventLoopTest, ClocksAreInjectable) {
  EventLoop loop(FakeNow, FakeWall);
  ASSERT_TRUE(loop.ok()) << loop.error();
  int ticks = 0;
  loop.Run(250, [&] {
    ++ticks;
    EXPECT_EQ(loop.unix_ms(), FakeWall());  // the wall clock at the same instant
    loop.Stop();
  });
  EXPECT_EQ(ticks, 1);
  EXPECT_GE(loop.now_ms(), 1250);
}

}  // namespace
}  // namespace sluice::net
