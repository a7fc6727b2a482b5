// The health checker's bookkeeping that needs no I/O: a timer heap over its targets, the
// descriptor budget for probe sockets, and the check schedule (first round and later rounds).
// Used by the checker thread only; plain values, no locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice::health {

// An indexed binary min-heap of (due time, id). Ids are small integers (the checker's entry
// indices, below the capacity given to Reset); each is in the heap at most once, so Set moves
// an id that is already there. Set, Erase and Pop are O(log n); Contains is O(1). Ties on the
// due time are broken by id, so the order is deterministic.
class TimerHeap {
 public:
  // Empties the heap; ids may then range over [0, id_capacity).
  void Reset(size_t id_capacity);
  void Set(uint32_t id, int64_t due_ms);
  void Erase(uint32_t id);
  bool Contains(uint32_t id) const { return id < pos_.size() && pos_[id] != kAbsent; }
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  int64_t top_due() const { return items_.front().due; }  // requires !empty()
  uint32_t Pop();                                         // requires !empty()

 private:
  static constexpr uint32_t kAbsent = 0xffffffffu;
  struct Item {
    int64_t due;
    uint32_t id;
    bool operator<(const Item& o) const { return due != o.due ? due < o.due : id < o.id; }
  };
  void Place(size_t at, const Item& item);
  void SiftUp(size_t at);
  void SiftDown(size_t at);
  void RemoveAt(size_t at);
  std::vector<Item> items_;
  std::vector<uint32_t> pos_;  // pos_[id]: index of id in items_, or kAbsent
};

// Probe sockets the checker may hold open at once, from the process's soft RLIMIT_NOFILE: a
// quarter of it, at least kMinProbeSockets and at most kMaxProbeSockets, so that the workers
// keep three quarters of the descriptors for client and upstream connections.
inline constexpr int kMinProbeSockets = 8;
inline constexpr int kMaxProbeSockets = 4096;
int ProbeSocketBudget(uint64_t nofile_soft_limit);
// The same from getrlimit(RLIMIT_NOFILE); kMinProbeSockets if getrlimit fails.
int ProbeSocketBudgetFromRlimit();

// When the first checks of newly registered targets start, in ms from now. group_of[j] is the
// group of new target j (indices into interval_ms, each group's check interval). They start
// at the rate the checks will run at once all are registered (the sum over groups of
// targets / interval), but at least one per millisecond: a handful of new targets are checked
// at once, 100,000 at a 30 s interval take 30 s, not one burst. Groups are interleaved: a
// group's new targets start no later (give or take one ms per group) than if they alone were
// spread evenly over their own interval.
std::vector<int64_t> FirstCheckOffsetsMs(const std::vector<uint32_t>& group_of,
                                         const std::vector<int64_t>& interval_ms);

// The next regular check of a target whose check starts at now_ms: at the target's own phase
// of the interval (phase_ms in [0, interval_ms)), whatever the check takes, so that the checks
// of many targets stay spread out; at least half an interval after now, so that the check made
// at registration is not followed at once by a phase-aligned one. Checks after that are
// exactly one interval apart.
int64_t NextCheckMs(int64_t now_ms, int64_t interval_ms, int64_t phase_ms);

}  // namespace sluice::health
