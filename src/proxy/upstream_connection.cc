#include "proxy/upstream_connection.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>

#include "proxy/downstream_connection.h"

namespace sluice::proxy {

UpstreamConnection::UpstreamConnection(int fd, const SocketAddress& address, UpstreamPools* pools)
    : fd_(fd), address_(address), pools_(pools), in_(kUpstreamBufferSize) {}

UpstreamConnection::~UpstreamConnection() {
  if (fd_ >= 0) close(fd_);
}

void UpstreamConnection::OnEvents(uint32_t events) {
  if (destroyed) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable = true;
  if (events & EPOLLOUT) writable = true;
  if (owner != nullptr) {
    owner->OnUpstreamEvents(events);
  } else if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    pools_->OnIdleEvent(this);
  }
}

UpstreamPools::~UpstreamPools() { Sweep(0, true); }

UpstreamConnection* UpstreamPools::TakeIdle(const SocketAddress& address) {
  auto it = idle_.find(address);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  UpstreamConnection* c = it->second.back();
  it->second.pop_back();
  c->reused = true;
  return c;
}

void UpstreamPools::PutIdle(UpstreamConnection* conn, int64_t now_ms) {
  conn->owner = nullptr;
  conn->idle_since_ms = now_ms;
  idle_[conn->address()].push_back(conn);
}

void UpstreamPools::Destroy(UpstreamConnection* conn) {
  if (conn->destroyed) return;  // already scheduled for deletion
  conn->destroyed = true;
  loop_->Remove(conn->fd());
  conn->owner = nullptr;
  loop_->DeferDelete(conn);
}

void UpstreamPools::RemoveIdle(UpstreamConnection* conn) {
  auto it = idle_.find(conn->address());
  if (it == idle_.end()) return;
  auto& list = it->second;
  list.erase(std::remove(list.begin(), list.end(), conn), list.end());
}

void UpstreamPools::OnIdleEvent(UpstreamConnection* conn) {
  RemoveIdle(conn);
  Destroy(conn);
}

void UpstreamPools::Sweep(int64_t now_ms, bool all) {
  for (auto& [addr, list] : idle_) {
    auto keep = list.begin();
    for (auto it = list.begin(); it != list.end(); ++it) {
      UpstreamConnection* c = *it;
      if (all || now_ms - c->idle_since_ms >= c->idle_timeout_ms) {
        Destroy(c);
      } else {
        *keep++ = c;
      }
    }
    list.erase(keep, list.end());
  }
}

}  // namespace sluice::proxy
