// A single-threaded epoll event loop. One per worker thread and one for the health checker;
// never shared (only Wake() may be called from another thread).
//
// File descriptors are registered once, edge-triggered, for both directions; handlers read
// and write until EAGAIN (or until their bounded buffers are full, in which case they must
// resume on their own when space frees up). Workers run it with a periodic tick that sweeps
// their deadline wheel; the health checker steps it with RunOnce and keeps its own timers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/clock.h"

namespace sluice::net {

// Receives readiness events for one fd. Called on the loop's thread only.
class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void OnEvents(uint32_t epoll_events) = 0;
};

using sluice::MonotonicMillis;  // base/clock.h
using sluice::RealtimeMillis;

class EventLoop {
 public:
  using Clock = int64_t (*)();
  // The clocks are injectable so that tests can drive time.
  explicit EventLoop(Clock monotonic = MonotonicMillis, Clock realtime = RealtimeMillis);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // False when the constructor could not create the epoll instance or the wake-up eventfd,
  // or Run() stopped on an epoll_wait error; error() then names the call and errno's text.
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // Registers fd for EPOLLIN|EPOLLOUT|EPOLLRDHUP, edge-triggered. Returns false on error.
  bool Add(int fd, EventHandler* handler);
  // Registers a listening or wake-up fd, level-triggered, input only.
  bool AddLevelInput(int fd, EventHandler* handler);
  void Remove(int fd);

  // Runs until Stop(), or until epoll_wait fails with anything but EINTR (then ok() turns
  // false). Returns at once when the loop was not created. `tick` runs at least every tick_ms
  // milliseconds.
  void Run(int tick_ms, const std::function<void()>& tick);
  // For tests on the loop's own thread: runs iterations without blocking until one finds
  // no epoll event, no posted event and no yielded handler; `tick` runs when the clock has
  // reached the next tick (every tick_ms). Returns the number of iterations that did work.
  int RunPending(int tick_ms, const std::function<void()>& tick);
  // One iteration for an owner that keeps its own timers (the health checker): waits at
  // most max_wait_ms for events, dispatches them, yielded and posted handlers and the wake
  // handler; no tick. False when the loop is stopped or failed (see ok()).
  bool RunOnce(int64_t max_wait_ms);
  // Thread-safe: wakes the loop from another thread; `on_wake` runs on the loop thread.
  void Wake();
  void SetWakeHandler(std::function<void()> on_wake) { on_wake_ = std::move(on_wake); }
  // Makes Run() return after the current iteration, or at once if it has not started yet: a
  // stop requested before Run() (a worker told to shut down before its thread first ran) is
  // never lost. Loop thread, or before Run().
  void Stop() { stopped_ = true; }

  // The monotonic time read once per loop iteration, after epoll_wait returns.
  int64_t now_ms() const { return now_ms_; }
  // The wall clock at now_ms(): the offset between the clocks is read once per tick.
  int64_t unix_ms() const { return now_ms_ + unix_offset_ms_; }

  // Defers destruction of an object to the end of the current iteration, so that a
  // handler may close itself while events for it are still in the batch.
  void DeferDelete(EventHandler* handler) { graveyard_.push_back(handler); }

  // Calls handler->OnEvents(0) again after the current batch of events, so that a busy
  // handler can yield to others without losing its turn (edge-triggered events would not
  // fire again for data that is already buffered in the kernel).
  void Yield(EventHandler* handler) { yielded_.push_back({handler, 0}); }
  // Calls handler->OnEvents(events) after the current batch, the way epoll would report
  // them: readiness of a stream that has no fd (net::MemoryTransport) arrives this way. Like
  // edge-triggered epoll, readiness that arrives before the handler's pending report was
  // delivered joins that report (data and an end of stream can come in one event).
  void Post(EventHandler* handler, uint32_t events);

 private:
  class WakeHandler;
  struct Pending {
    EventHandler* handler;
    uint32_t events;
  };
  void Fail(const char* call);
  // One iteration: waits at most `max_wait_ms` (0: poll). Returns whether any handler ran.
  bool Iterate(int64_t max_wait_ms, int tick_ms, const std::function<void()>& tick);
  void BuryDead();
  std::string error_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool stopped_ = false;
  Clock monotonic_;
  Clock realtime_;
  int64_t now_ms_ = 0;
  int64_t unix_offset_ms_ = 0;
  int64_t next_tick_ms_ = -1;  // -1: not scheduled yet
  std::function<void()> on_wake_;
  std::vector<EventHandler*> graveyard_;
  std::vector<Pending> yielded_;  // yielded and posted, in order
  std::vector<Pending> running_yielded_;
  WakeHandler* wake_handler_ = nullptr;
};

}  // namespace sluice::net
