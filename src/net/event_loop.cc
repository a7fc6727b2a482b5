#include "net/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

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

void EventLoop::Run(int tick_ms, const std::function<void()>& tick) {
  if (!ok()) return;
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  now_ms_ = monotonic_();
  int64_t next_tick = now_ms_ + tick_ms;
  while (!stopped_) {
    // One clock read per iteration: the wait is reckoned from the time this batch started,
    // so a tick may come late by the batch's own length (the tick is coarse anyway).
    int64_t wait = next_tick - now_ms_;
    if (wait < 0 || !yielded_.empty()) wait = 0;
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, static_cast<int>(wait));
    now_ms_ = monotonic_();
    if (n < 0) {
      if (errno != EINTR) {
        Fail("epoll_wait");
        break;
      }
      n = 0;
    }
    for (int i = 0; i < n; ++i) {
      static_cast<EventHandler*>(events[i].data.ptr)->OnEvents(events[i].events);
    }
    if (!yielded_.empty()) {
      running_yielded_.swap(yielded_);
      for (EventHandler* h : running_yielded_) h->OnEvents(0);
      running_yielded_.clear();
    }
    if (now_ms_ >= next_tick) {
      unix_offset_ms_ = realtime_() - now_ms_;  // follows wall-clock steps within a tick
      tick();
      next_tick = now_ms_ + tick_ms;
    }
    if (!graveyard_.empty()) {
      for (EventHandler* h : graveyard_) delete h;
      graveyard_.clear();
    }
  }
}

}  // namespace sluice::net
