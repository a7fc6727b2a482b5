// The UDP flow table of an NLB listener (reference alb-nlb.md §8.2, §8.5): the flows a worker
// forwards, keyed by 5-tuple, each stuck to one target until it has been idle for the idle
// timeout (120 s on AWS, not configurable there), after which the next datagram starts a new
// flow. A cap bounds the memory; when full, inserting evicts the least recently used flow.
//
// Shape: every slot is allocated by the constructor; a power-of-two open-addressing index
// (linear probing, backward-shift deletion, load <= 1/2) keyed by a SipHash of the tuple
// (keyed, so a client cannot pick ports that collide), and an intrusive doubly-linked LRU
// list threaded through the slots. Find, Insert, Erase and each expiry are O(1) expected and
// never allocate.
//
// Time: callers pass now_ms from a monotonic clock. A now_ms older than one the table has
// already seen is taken as that newer time, so the LRU order is also the last-activity order
// and expiry only ever looks at the tail.
//
// Removal: every flow that leaves the table (expired, evicted, erased, cleared) is reported to
// the `on_remove` callback, so the owner can close the flow's upstream socket. The callback
// must not call back into the table.
//
// Thread: one table per worker; not thread-safe. Lifetime: a UdpFlow* stays valid until that
// flow is removed (any call that may remove flows may invalidate it: Find, Insert, Erase,
// ExpireIdle, Clear).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "nlb/flow_hash.h"

namespace sluice::nlb {

inline constexpr int64_t kUdpDefaultIdleTimeoutMs = 120'000;

// What the table keeps per flow. The owner fills target and upstream_fd and adds to the
// counters; the table maintains last_active_ms.
struct UdpFlow {
  uint32_t target = 0;     // index into the target group's healthy-target vector at creation
  int upstream_fd = -1;    // the connected socket towards the target, owned by the caller
  void* owner = nullptr;   // the caller's object for the flow (its socket's event handler)
  int64_t created_ms = 0;  // set by Insert
  int64_t last_active_ms = 0;
  uint64_t packets_in = 0;  // client → target
  uint64_t packets_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

enum class UdpFlowRemoval : uint8_t { kExpired, kEvicted, kErased, kCleared };

class UdpFlowTable {
 public:
  using RemoveCallback = void (*)(void* ctx, const FlowTuple& tuple, const UdpFlow& flow,
                                  UdpFlowRemoval why);

  struct Options {
    size_t capacity = 65536;  // at least 1; at most 2^30
    int64_t idle_timeout_ms = kUdpDefaultIdleTimeoutMs;
    FlowHashKey key;  // secret per process; the index's hash
    RemoveCallback on_remove = nullptr;
    void* on_remove_ctx = nullptr;
  };

  explicit UdpFlowTable(const Options& options);
  UdpFlowTable(const UdpFlowTable&) = delete;
  UdpFlowTable& operator=(const UdpFlowTable&) = delete;

  // The live flow for `tuple`, touched (moved to most recently used, last_active_ms = now),
  // or nullptr. A flow idle for the timeout or longer is removed (kExpired) and not returned.
  UdpFlow* Find(const FlowTuple& tuple, int64_t now_ms);
  // As Find, without touching, expiring or removing anything.
  const UdpFlow* Peek(const FlowTuple& tuple) const;

  // Adds a flow for `tuple` with `flow`'s target, fd and counters; returns it and true. When
  // the tuple is already present (and live), returns the existing flow, touched, and false.
  // When full, first removes the least recently used flow (kExpired if it was idle for the
  // timeout, else kEvicted).
  std::pair<UdpFlow*, bool> Insert(const FlowTuple& tuple, const UdpFlow& flow, int64_t now_ms);

  // Removes the flow for `tuple` (kErased); false when absent.
  bool Erase(const FlowTuple& tuple);
  // Removes flows idle for the timeout, oldest first, at most `max_flows` of them (to bound
  // one call's work); returns how many. Cost: O(removed).
  size_t ExpireIdle(int64_t now_ms, size_t max_flows = SIZE_MAX);
  // Removes every flow (kCleared).
  void Clear();

  // The time at which the least recently used flow expires, or -1 when empty: when to call
  // ExpireIdle next.
  int64_t NextExpiryMs() const;

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  uint64_t evictions() const { return evictions_; }  // removed by the cap while live
  uint64_t expirations() const { return expired_; }  // removed for idleness
  int64_t idle_timeout_ms() const { return idle_timeout_ms_; }

  // Visits flows from most to least recently used: fn(const FlowTuple&, const UdpFlow&).
  template <class Fn>
  void ForEachByRecency(Fn&& fn) const {
    for (uint32_t i = head_; i != kNil; i = slots_[i].next) fn(slots_[i].tuple, slots_[i].flow);
  }

  // Full consistency check (O(capacity)): index and list agree with size, every listed flow
  // is found by its tuple, and last activity does not increase towards the tail. For tests
  // and fuzzing.
  bool CheckInvariants() const;

 private:
  static constexpr uint32_t kNil = UINT32_MAX;

  struct Slot {
    FlowTuple tuple;
    UdpFlow flow;
    uint64_t hash = 0;
    uint32_t prev = kNil;
    uint32_t next = kNil;  // also the free list's link
    bool used = false;
  };

  uint64_t HashOf(const FlowTuple& tuple) const { return FlowHash(key_, tuple, 0); }
  // The index position holding `tuple`, or the empty position where it would go.
  size_t Probe(const FlowTuple& tuple, uint64_t hash, bool* found) const;
  void IndexErase(size_t pos);
  void Unlink(uint32_t slot);
  void PushFront(uint32_t slot);
  void Touch(uint32_t slot, int64_t now_ms);
  void Remove(uint32_t slot, UdpFlowRemoval why);
  bool IsIdle(const Slot& s, int64_t now_ms) const {
    return now_ms - s.flow.last_active_ms >= idle_timeout_ms_;
  }
  int64_t Clamp(int64_t now_ms) {
    if (now_ms > latest_ms_) latest_ms_ = now_ms;
    return latest_ms_;
  }

  std::vector<Slot> slots_;
  std::vector<uint32_t> index_;  // slot number or kNil
  size_t mask_ = 0;
  FlowHashKey key_;
  int64_t idle_timeout_ms_;
  RemoveCallback on_remove_;
  void* on_remove_ctx_;
  uint32_t head_ = kNil;  // most recently used
  uint32_t tail_ = kNil;  // least recently used
  uint32_t free_ = kNil;
  size_t size_ = 0;
  int64_t latest_ms_ = INT64_MIN;
  uint64_t evictions_ = 0;
  uint64_t expired_ = 0;
};

}  // namespace sluice::nlb
