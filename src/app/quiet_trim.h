// When the control loop gives freed heap memory back to the kernel (malloc_trim): once the
// process has been quiet for a while after some work freed memory. The heap keeps what is
// freed while busy (main.cc raises glibc's trim threshold), so that a burst of API changes
// reuses it; trimming after every quiet second made each call of a slow sequence (a CLI
// user, Terraform pacing its calls) fault ~100 MB back in: 150 ms instead of 25 at 100,000
// targets (decision 0032). Pure logic: the caller passes the monotonic time and trims.
//
// Thread: the control thread only.
#pragma once

#include <cstdint>

namespace sluice::app {

class QuietTrim {
 public:
  // Quiet time after which the heap is trimmed.
  static constexpr int64_t kQuietMs = 30000;

  // Something happened at now_ms (an event, an API change, a reload, a replaced snapshot
  // freed): memory may have been freed, and the quiet time starts again. Changes less than
  // kQuietMs apart (a reconciler every 20 s) keep the peak heap for as long as they go on.
  void Busy(int64_t now_ms) {
    pending_ = true;
    last_busy_ms_ = now_ms;
  }

  // At now_ms, after a wait with no event: true once when a trim is due (the caller trims).
  bool DueAfterQuiet(int64_t now_ms) {
    if (!pending_ || now_ms - last_busy_ms_ < kQuietMs) return false;
    pending_ = false;
    return true;
  }

 private:
  bool pending_ = false;
  int64_t last_busy_ms_ = 0;
};

}  // namespace sluice::app
