#include "health/schedule.h"

#include <sys/resource.h>

#include <algorithm>

namespace sluice::health {

void TimerHeap::Reset(size_t id_capacity) {
  items_.clear();
  pos_.assign(id_capacity, kAbsent);
}

void TimerHeap::Place(size_t at, const Item& item) {
  items_[at] = item;
  pos_[item.id] = static_cast<uint32_t>(at);
}

void TimerHeap::SiftUp(size_t at) {
  Item item = items_[at];
  while (at > 0) {
    size_t parent = (at - 1) / 2;
    if (!(item < items_[parent])) break;
    Place(at, items_[parent]);
    at = parent;
  }
  Place(at, item);
}

void TimerHeap::SiftDown(size_t at) {
  Item item = items_[at];
  const size_t n = items_.size();
  while (true) {
    size_t child = 2 * at + 1;
    if (child >= n) break;
    if (child + 1 < n && items_[child + 1] < items_[child]) ++child;
    if (!(items_[child] < item)) break;
    Place(at, items_[child]);
    at = child;
  }
  Place(at, item);
}

void TimerHeap::RemoveAt(size_t at) {
  pos_[items_[at].id] = kAbsent;
  Item last = items_.back();
  items_.pop_back();
  if (at == items_.size()) return;
  Place(at, last);
  SiftDown(at);
  SiftUp(pos_[last.id]);
}

void TimerHeap::Set(uint32_t id, int64_t due_ms) {
  if (id >= pos_.size()) pos_.resize(id + 1, kAbsent);
  if (pos_[id] != kAbsent) {
    size_t at = pos_[id];
    items_[at].due = due_ms;
    SiftDown(at);
    SiftUp(pos_[id]);
    return;
  }
  items_.push_back({due_ms, id});
  pos_[id] = static_cast<uint32_t>(items_.size() - 1);
  SiftUp(items_.size() - 1);
}

void TimerHeap::Erase(uint32_t id) {
  if (Contains(id)) RemoveAt(pos_[id]);
}

uint32_t TimerHeap::Pop() {
  uint32_t id = items_.front().id;
  RemoveAt(0);
  return id;
}

int ProbeSocketBudget(uint64_t nofile_soft_limit) {
  uint64_t quarter = nofile_soft_limit / 4;
  return static_cast<int>(std::clamp<uint64_t>(quarter, kMinProbeSockets, kMaxProbeSockets));
}

int ProbeSocketBudgetFromRlimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return kMinProbeSockets;
  // RLIM_INFINITY is the largest rlim_t: the budget's upper bound applies.
  return ProbeSocketBudget(static_cast<uint64_t>(lim.rlim_cur));
}

int64_t FirstCheckSpacingUs(int64_t interval_ms, size_t new_targets) {
  constexpr int64_t kMaxSpacingUs = 1000;  // at least 1,000 first checks per second
  if (new_targets == 0 || interval_ms <= 0) return 0;
  int64_t spread = interval_ms * 1000 / static_cast<int64_t>(new_targets);
  return std::min(spread, kMaxSpacingUs);
}

int64_t NextCheckMs(int64_t now_ms, int64_t interval_ms, int64_t phase_ms) {
  if (interval_ms <= 0) return now_ms;
  int64_t earliest = now_ms + interval_ms / 2;
  int64_t next = earliest - (earliest % interval_ms) + phase_ms;
  while (next < earliest) next += interval_ms;
  return next;
}

}  // namespace sluice::health
