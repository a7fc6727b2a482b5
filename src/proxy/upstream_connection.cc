#include "proxy/upstream_connection.h"

#include <sys/epoll.h>

#include <algorithm>

#include "proxy/downstream_connection.h"

namespace sluice::proxy {

UpstreamConnection::UpstreamConnection(std::unique_ptr<net::Transport> transport,
                                       const UpstreamKey& key, UpstreamPools* pools)
    : transport_(std::move(transport)), key_(key), pools_(pools) {}

UpstreamConnection::~UpstreamConnection() = default;

void UpstreamConnection::OnEvents(uint32_t events) {
  if (destroyed) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable = true;
  if (events & (EPOLLRDHUP | EPOLLHUP)) hup = true;
  if (events & EPOLLOUT) writable = true;
  if (owner != nullptr) {
    owner->OnUpstreamEvents(events);
  } else if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    pools_->OnIdleEvent(this);
  }
}

UpstreamPools::~UpstreamPools() { Sweep(0, true); }

UpstreamConnection* UpstreamPools::TakeIdle(const UpstreamKey& key) {
  auto it = idle_.find(key);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  UpstreamConnection* c = it->second.back();
  it->second.pop_back();
  c->reused = true;
  if (c->in().capacity() == 0) Arm(c);
  return c;
}

void UpstreamPools::Arm(UpstreamConnection* conn) {
  net::Buffer& in = conn->in();
  if (in.capacity() != 0) return;
  if (spare_buffers_.empty()) {
    in.Reserve(kUpstreamBufferSize);
    return;
  }
  in.Swap(spare_buffers_.back());
  spare_buffers_.pop_back();
}

size_t UpstreamPools::idle_count() const {
  size_t n = 0;
  for (const auto& [addr, list] : idle_) n += list.size();
  return n;
}

void UpstreamPools::StashBuffer(UpstreamConnection* conn) {
  net::Buffer& in = conn->in();
  if (in.empty() && in.capacity() == kUpstreamBufferSize &&
      spare_buffers_.size() < kMaxSpareUpstreamBuffers) {
    spare_buffers_.emplace_back();
    spare_buffers_.back().Swap(in);
  } else {
    in.Release();
  }
}

void UpstreamPools::PutIdle(UpstreamConnection* conn, int64_t now_ms) {
  conn->owner = nullptr;
  conn->idle_since_ms = now_ms;
  idle_[conn->key()].push_back(conn);
}

void UpstreamPools::Destroy(UpstreamConnection* conn) {
  if (conn->destroyed) return;  // already scheduled for deletion
  conn->destroyed = true;
  conn->transport().Close();
  conn->owner = nullptr;
  loop_->DeferDelete(conn);
}

void UpstreamPools::RemoveIdle(UpstreamConnection* conn) {
  auto it = idle_.find(conn->key());
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
        if (c->in().capacity() != 0) StashBuffer(c);
        *keep++ = c;
      }
    }
    list.erase(keep, list.end());
  }
}

}  // namespace sluice::proxy
