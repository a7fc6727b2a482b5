#include "net/memory_transport.h"

#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "net/event_loop.h"

namespace sluice::net {

struct MemoryTransport::Shared {
  struct Direction {
    std::string bytes;  // [head, size) not yet read
    size_t head = 0;
    bool shut = false;  // the writer finished: EOF after the bytes
    int error = 0;      // a reset: both ends' reads and writes fail with it
    size_t buffered() const { return bytes.size() - head; }
  };
  explicit Shared(size_t cap) : capacity(cap) {}
  Direction from[2];  // from[i]: written by side i, read by side 1 - i
  MemoryTransport* end[2] = {nullptr, nullptr};
  size_t capacity;
  uint64_t segments_in[2] = {0, 0};  // keep-alive probes side i received
  int keepalive_s[2] = {0, 0};       // side i's EnableKeepAlive interval
};

MemoryTransport::Ends MemoryTransport::Pair(size_t capacity) {
  auto shared = std::make_shared<Shared>(capacity);
  std::unique_ptr<MemoryTransport> a(new MemoryTransport(shared, 0));
  std::unique_ptr<MemoryTransport> b(new MemoryTransport(shared, 1));
  shared->end[0] = a.get();
  shared->end[1] = b.get();
  return {std::move(a), std::move(b)};
}

MemoryTransport::~MemoryTransport() {
  Close();
  shared_->end[side_] = nullptr;
}

MemoryTransport* MemoryTransport::peer() const { return shared_->end[1 - side_]; }

void MemoryTransport::Notify(uint32_t events) {
  if (loop_ != nullptr && handler_ != nullptr) loop_->Post(handler_, events);
}

bool MemoryTransport::Watch(EventLoop& loop, EventHandler* handler) {
  if (closed_) return false;
  loop_ = &loop;
  handler_ = handler;
  if (held_) return true;  // still connecting: nothing to report
  // Like epoll on registration: writable at once, readable when something is there.
  uint32_t events = EPOLLOUT;
  if (readable_bytes() > 0 || at_eof()) events |= EPOLLIN;
  Notify(events);
  return true;
}

void MemoryTransport::Unwatch() {
  loop_ = nullptr;
  handler_ = nullptr;
}

IoResult MemoryTransport::Read(char* dst, size_t capacity) {
  if (closed_) return IoResult::Failed(EBADF);
  if (held_) return IoResult::WouldBlock();
  if (connect_error_ != 0) return IoResult::Failed(connect_error_);
  Shared::Direction& d = shared_->from[1 - side_];
  if (d.error != 0) return IoResult::Failed(d.error);
  size_t n = std::min(capacity, d.buffered());
  if (n == 0) return d.shut ? IoResult::Eof() : IoResult::WouldBlock();
  bool was_full = d.buffered() >= shared_->capacity;
  std::memcpy(dst, d.bytes.data() + d.head, n);
  d.head += n;
  if (d.head == d.bytes.size()) {
    d.bytes.clear();
    d.head = 0;
  } else if (d.head > d.bytes.size() / 2) {
    d.bytes.erase(0, d.head);
    d.head = 0;
  }
  if (was_full && peer() != nullptr) peer()->Notify(EPOLLOUT);
  return IoResult::Moved(n);
}

IoResult MemoryTransport::Write(const iovec* pieces, int count) {
  if (closed_) return IoResult::Failed(EBADF);
  if (held_) return IoResult::WouldBlock();
  if (connect_error_ != 0) return IoResult::Failed(connect_error_);
  Shared::Direction& d = shared_->from[side_];
  if (d.error != 0) return IoResult::Failed(d.error);
  if (d.shut || peer() == nullptr || peer()->closed_) return IoResult::Failed(EPIPE);
  size_t room = shared_->capacity - std::min(shared_->capacity, d.buffered());
  if (room == 0) return IoResult::WouldBlock();
  size_t moved = 0;
  for (int i = 0; i < count && moved < room; ++i) {
    size_t take = std::min(pieces[i].iov_len, room - moved);
    d.bytes.append(static_cast<const char*>(pieces[i].iov_base), take);
    moved += take;
  }
  if (moved > 0) peer()->Notify(EPOLLIN);
  return IoResult::Moved(moved);
}

void MemoryTransport::ShutdownWrite() {
  Shared::Direction& d = shared_->from[side_];
  if (d.shut) return;
  d.shut = true;
  if (peer() != nullptr) peer()->Notify(EPOLLIN | EPOLLRDHUP);
}

void MemoryTransport::Close() {
  if (closed_) return;
  if (reset_on_close_) {
    Reset();
    return;
  }
  ShutdownWrite();
  Unwatch();
  closed_ = true;
  // The peer's writes now fail (EPIPE): tell a writer waiting for room.
  if (peer() != nullptr) peer()->Notify(EPOLLOUT);
}

void MemoryTransport::Reset() {
  if (closed_) return;
  shared_->from[0].error = shared_->from[1].error = ECONNRESET;
  shared_->from[side_].shut = true;
  Unwatch();
  closed_ = true;
  if (peer() != nullptr) peer()->Notify(EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP);
}

void MemoryTransport::FailConnect(int err) {
  connect_error_ = err;
  Notify(EPOLLOUT | EPOLLERR | EPOLLHUP);
}

TcpSegments MemoryTransport::Segments() const { return {shared_->segments_in[side_], 0}; }

bool MemoryTransport::EnableKeepAlive(int interval_s) {
  if (closed_ || interval_s <= 0) return false;
  shared_->keepalive_s[side_] = interval_s;
  return true;
}

void MemoryTransport::SendKeepAliveProbes(uint64_t n) { shared_->segments_in[1 - side_] += n; }

int MemoryTransport::peer_keepalive_interval_s() const { return shared_->keepalive_s[1 - side_]; }

std::string MemoryTransport::ReadAll() {
  std::string out;
  char chunk[4096];
  for (;;) {
    IoResult r = Read(chunk, sizeof(chunk));
    if (!r.ok()) break;
    out.append(chunk, r.bytes());
  }
  return out;
}

size_t MemoryTransport::readable_bytes() const { return shared_->from[1 - side_].buffered(); }

bool MemoryTransport::at_eof() const {
  const Shared::Direction& d = shared_->from[1 - side_];
  return d.buffered() == 0 && (d.shut || d.error != 0);
}

}  // namespace sluice::net
