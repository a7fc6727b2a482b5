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

std::vector<int64_t> FirstCheckOffsetsMs(const std::vector<uint32_t>& group_of,
                                         const std::vector<int64_t>& interval_ms) {
  std::vector<size_t> count(interval_ms.size(), 0);
  for (uint32_t g : group_of) ++count[g];
  double per_ms = 0;  // checks per millisecond once all are registered
  for (size_t g = 0; g < count.size(); ++g) {
    per_ms +=
        static_cast<double>(count[g]) / static_cast<double>(std::max<int64_t>(1, interval_ms[g]));
  }
  per_ms = std::max(per_ms, 1.0);
  // Each target's place if its group alone were spread over its interval; then all of them
  // in that order, at per_ms.
  std::vector<std::pair<double, size_t>> order(group_of.size());
  std::vector<size_t> seen(interval_ms.size(), 0);
  for (size_t j = 0; j < group_of.size(); ++j) {
    uint32_t g = group_of[j];
    double place = static_cast<double>(seen[g]++) * static_cast<double>(interval_ms[g]) /
                   static_cast<double>(count[g]);
    order[j] = {place, j};
  }
  std::sort(order.begin(), order.end());
  std::vector<int64_t> offsets(group_of.size(), 0);
  for (size_t k = 0; k < order.size(); ++k) {
    offsets[order[k].second] = static_cast<int64_t>(static_cast<double>(k) / per_ms);
  }
  return offsets;
}

int64_t NextCheckMs(int64_t now_ms, int64_t interval_ms, int64_t phase_ms) {
  if (interval_ms <= 0) return now_ms;
  int64_t earliest = now_ms + interval_ms / 2;
  int64_t next = earliest - (earliest % interval_ms) + phase_ms;
  while (next < earliest) next += interval_ms;
  return next;
}

}  // namespace sluice::health
