// The process's two clocks, in milliseconds. Any thread.
#pragma once

#include <cstdint>

namespace sluice {

// Monotonic milliseconds (CLOCK_MONOTONIC_COARSE; a few ms of resolution is enough for every
// timeout Sluice has).
int64_t MonotonicMillis();
// Wall-clock milliseconds since the Unix epoch (CLOCK_REALTIME_COARSE).
int64_t RealtimeMillis();

}  // namespace sluice
