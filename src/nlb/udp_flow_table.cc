#include "nlb/udp_flow_table.h"

#include <algorithm>

namespace sluice::nlb {

namespace {

size_t IndexSizeFor(size_t capacity) {
  size_t n = 4;
  while (n < 2 * capacity) n <<= 1;  // load factor at most 1/2
  return n;
}

}  // namespace

UdpFlowTable::UdpFlowTable(const Options& options)
    : key_(options.key),
      idle_timeout_ms_(std::max<int64_t>(options.idle_timeout_ms, 1)),
      on_remove_(options.on_remove),
      on_remove_ctx_(options.on_remove_ctx) {
  size_t capacity = std::clamp<size_t>(options.capacity, 1, size_t{1} << 30);
  slots_.resize(capacity);
  index_.assign(IndexSizeFor(capacity), kNil);
  mask_ = index_.size() - 1;
  for (size_t i = 0; i < capacity; ++i) {  // free list: 0, 1, 2, ...
    slots_[i].next = i + 1 < capacity ? static_cast<uint32_t>(i + 1) : kNil;
  }
  free_ = 0;
}

size_t UdpFlowTable::Probe(const FlowTuple& tuple, uint64_t hash, bool* found) const {
  size_t pos = hash & mask_;
  while (index_[pos] != kNil) {
    const Slot& s = slots_[index_[pos]];
    if (s.hash == hash && s.tuple == tuple) {
      *found = true;
      return pos;
    }
    pos = (pos + 1) & mask_;
  }
  *found = false;
  return pos;
}

// Backward-shift deletion: entries after the hole that would no longer be reachable from
// their home position move into it, so lookups never need tombstones.
void UdpFlowTable::IndexErase(size_t pos) {
  size_t hole = pos;
  size_t j = pos;
  for (;;) {
    j = (j + 1) & mask_;
    if (index_[j] == kNil) break;
    size_t home = slots_[index_[j]].hash & mask_;
    // The entry at j stays when its home lies cyclically in (hole, j].
    bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    index_[hole] = index_[j];
    hole = j;
  }
  index_[hole] = kNil;
}

void UdpFlowTable::Unlink(uint32_t slot) {
  Slot& s = slots_[slot];
  if (s.prev != kNil) {
    slots_[s.prev].next = s.next;
  } else {
    head_ = s.next;
  }
  if (s.next != kNil) {
    slots_[s.next].prev = s.prev;
  } else {
    tail_ = s.prev;
  }
  s.prev = s.next = kNil;
}

void UdpFlowTable::PushFront(uint32_t slot) {
  Slot& s = slots_[slot];
  s.prev = kNil;
  s.next = head_;
  if (head_ != kNil) slots_[head_].prev = slot;
  head_ = slot;
  if (tail_ == kNil) tail_ = slot;
}

void UdpFlowTable::Touch(uint32_t slot, int64_t now_ms) {
  slots_[slot].flow.last_active_ms = now_ms;
  if (head_ == slot) return;
  Unlink(slot);
  PushFront(slot);
}

void UdpFlowTable::Remove(uint32_t slot, UdpFlowRemoval why) {
  Slot& s = slots_[slot];
  bool found = false;
  size_t pos = Probe(s.tuple, s.hash, &found);
  if (found) IndexErase(pos);
  Unlink(slot);
  if (why == UdpFlowRemoval::kExpired) ++expired_;
  if (why == UdpFlowRemoval::kEvicted) ++evictions_;
  --size_;
  s.used = false;
  if (on_remove_ != nullptr) on_remove_(on_remove_ctx_, s.tuple, s.flow, why);
  s.next = free_;
  free_ = slot;
}

UdpFlow* UdpFlowTable::Find(const FlowTuple& tuple, int64_t now_ms) {
  now_ms = Clamp(now_ms);
  bool found = false;
  size_t pos = Probe(tuple, HashOf(tuple), &found);
  if (!found) return nullptr;
  uint32_t slot = index_[pos];
  if (IsIdle(slots_[slot], now_ms)) {
    Remove(slot, UdpFlowRemoval::kExpired);
    return nullptr;
  }
  Touch(slot, now_ms);
  return &slots_[slot].flow;
}

const UdpFlow* UdpFlowTable::Peek(const FlowTuple& tuple) const {
  bool found = false;
  size_t pos = Probe(tuple, HashOf(tuple), &found);
  return found ? &slots_[index_[pos]].flow : nullptr;
}

std::pair<UdpFlow*, bool> UdpFlowTable::Insert(const FlowTuple& tuple, const UdpFlow& flow,
                                               int64_t now_ms) {
  now_ms = Clamp(now_ms);
  if (UdpFlow* existing = Find(tuple, now_ms)) return {existing, false};
  if (free_ == kNil) {
    bool idle = IsIdle(slots_[tail_], now_ms);
    Remove(tail_, idle ? UdpFlowRemoval::kExpired : UdpFlowRemoval::kEvicted);
  }
  uint64_t hash = HashOf(tuple);
  bool found = false;
  size_t pos = Probe(tuple, hash, &found);  // after any removal: the index may have shifted
  uint32_t slot = free_;
  Slot& s = slots_[slot];
  free_ = s.next;
  s.tuple = tuple;
  s.flow = flow;
  s.flow.created_ms = now_ms;
  s.flow.last_active_ms = now_ms;
  s.hash = hash;
  s.used = true;
  index_[pos] = slot;
  PushFront(slot);
  ++size_;
  return {&s.flow, true};
}

bool UdpFlowTable::Erase(const FlowTuple& tuple) {
  bool found = false;
  size_t pos = Probe(tuple, HashOf(tuple), &found);
  if (!found) return false;
  Remove(index_[pos], UdpFlowRemoval::kErased);
  return true;
}

size_t UdpFlowTable::ExpireIdle(int64_t now_ms, size_t max_flows) {
  now_ms = Clamp(now_ms);
  size_t removed = 0;
  while (removed < max_flows && tail_ != kNil && IsIdle(slots_[tail_], now_ms)) {
    Remove(tail_, UdpFlowRemoval::kExpired);
    ++removed;
  }
  return removed;
}

void UdpFlowTable::Clear() {
  while (tail_ != kNil) Remove(tail_, UdpFlowRemoval::kCleared);
}

int64_t UdpFlowTable::NextExpiryMs() const {
  if (tail_ == kNil) return -1;
  return slots_[tail_].flow.last_active_ms + idle_timeout_ms_;
}

bool UdpFlowTable::CheckInvariants() const {
  size_t listed = 0;
  uint32_t prev = kNil;
  for (uint32_t i = head_; i != kNil; i = slots_[i].next) {
    const Slot& s = slots_[i];
    if (!s.used || s.prev != prev || ++listed > slots_.size()) return false;
    if (prev != kNil && s.flow.last_active_ms > slots_[prev].flow.last_active_ms) return false;
    // Found by its tuple: also proves s.hash is the tuple's hash (Probe compares it).
    if (Peek(s.tuple) != &s.flow) return false;
    prev = i;
  }
  if (prev != tail_ || listed != size_) return false;
  size_t indexed =
      std::count_if(index_.begin(), index_.end(), [](uint32_t v) { return v != kNil; });
  size_t free_count = 0;
  for (uint32_t i = free_; i != kNil; i = slots_[i].next) {
    if (slots_[i].used || ++free_count > slots_.size()) return false;
  }
  return indexed == size_ && free_count + size_ == slots_.size() && size_ <= slots_.size();
}

}  // namespace sluice::nlb
