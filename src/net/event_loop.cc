#include "net/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace sluice::net {

class EventLoop::WakeHandler : public EventHandler {
 public:
  explicit WakeHandler(EventLoop* loop) : loop_(loop) {}
  void OnEvents(uint32_t) override {
    uint64_t v;
    while (read(loop_->wake_fd_, &v, sizeof(v)) > 0) {
    }
    if (loop_->on_wake_) loop_->on_wake_();
  }

 private:
  EventLoop* loop_;
};

EventLoop::EventLoop(Clock monotonic, Clock realtime) : monotonic_(monotonic), realtime_(realtime) {
  now_ms_ = monotonic_();
  unix_offset_ms_ = realtime_() - now_ms_;
  wake_handler_ = new WakeHandler(this);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    Fail("epoll_create1");
    return;
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    Fail("eventfd");
    return;
  }
  if (!AddLevelInput(wake_fd_, wake_handler_)) Fail("epoll_ctl(eventfd)");
}

void EventLoop::Fail(const char* call) { error_ = std::string(call) + ": " + std::strerror(errno); }

EventLoop::~EventLoop() {
  for (EventHandler* h : graveyard_) delete h;
  delete wake_handler_;
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

bool EventLoop::Add(int fd, EventHandler* handler) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = handler;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::AddLevelInput(int fd, EventHandler* handler) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = handler;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void EventLoop::Remove(int fd) { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void EventLoop::Wake() {
  uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the loop is being woken anyway. A loop
  // that was never created has no thread to wake (its owner failed to start).
  if (wake_fd_ >= 0 && write(wake_fd_, &one, sizeof(one)) < 0 && errno != EAGAIN) {
    std::fprintf(stderr, "sluice: event loop wake-up failed: %s\n", std::strerror(errno));
  }
}

// Inlined into Run(): it runs once or twice per proxied request.
[[gnu::always_inline]] inline bool EventLoop::Iterate(int64_t max_wait_ms, int tick_ms,
                                                      const std::function<void()>& tick) {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  int64_t wait = max_wait_ms;
  if (wait < 0 || !yielded_.empty()) wait = 0;
  int n = epoll_wait(epoll_fd_, events, kMaxEvents, static_cast<int>(wait));
  now_ms_ = monotonic_();
  if (n < 0) {
    if (errno != EINTR) {
      Fail("epoll_wait");
      stopped_ = true;
      return false;
    }
    n = 0;
  }
  bool ran = n > 0 || !yielded_.empty();
  for (int i = 0; i < n; ++i) {
    static_cast<EventHandler*>(events[i].data.ptr)->OnEvents(events[i].events);
  }
  if (!yielded_.empty()) {
    running_yielded_.swap(yielded_);
    for (const Pending& p : running_yielded_) p.handler->OnEvents(p.events);
    running_yielded_.clear();
  }
  if (now_ms_ >= next_tick_ms_) {
    unix_offset_ms_ = realtime_() - now_ms_;  // follows wall-clock steps within a tick
    tick();
    next_tick_ms_ = now_ms_ + tick_ms;
    ran = true;
  }
  if (!graveyard_.empty()) BuryDead();
  return ran;
}

void EventLoop::Run(int tick_ms, const std::function<void()>& tick) {
  if (!ok()) return;
  now_ms_ = monotonic_();
  if (next_tick_ms_ < 0) next_tick_ms_ = now_ms_ + tick_ms;
  while (!stopped_) {
    // One clock read per iteration: the wait is reckoned from the time this batch started,
    // so a tick may come late by the batch's own length (the tick is coarse anyway).
    Iterate(next_tick_ms_ - now_ms_, tick_ms, tick);
  }
}

int EventLoop::RunPending(int tick_ms, const std::function<void()>& tick) {
  if (!ok()) return 0;
  if (next_tick_ms_ < 0) next_tick_ms_ = now_ms_ + tick_ms;
  int busy = 0;
  while (!stopped_ && Iterate(0, tick_ms, tick)) ++busy;
  return busy;
}

bool EventLoop::RunOnce(int64_t max_wait_ms) {
  if (!ok() || stopped_) return false;
  static const std::function<void()> kNoTick = [] {};
  next_tick_ms_ = INT64_MAX;  // no tick: the owner's timers are its own
  Iterate(max_wait_ms, 0, kNoTick);
  return ok() && !stopped_;
}

void EventLoop::Post(EventHandler* handler, uint32_t events) {
  for (Pending& p : yielded_) {
    if (p.handler == handler) {
      p.events |= events;
      return;
    }
  }
  yielded_.push_back({handler, events});
}

void EventLoop::BuryDead() {
  // A handler yielded or posted to in this iteration may have closed since: its turn in the
  // next iteration must not reach freed memory.
  if (!yielded_.empty()) {
    std::erase_if(yielded_, [this](const Pending& p) {
      return std::find(graveyard_.begin(), graveyard_.end(), p.handler) != graveyard_.end();
    });
  }
  for (EventHandler* h : graveyard_) delete h;
  graveyard_.clear();
}

}  // namespace sluice::net
