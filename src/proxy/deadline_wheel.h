// A worker's connection deadlines: a hashed timing wheel of kSlots slots of kSlotMs each.
// Every registered connection sits in exactly one slot, at (or, past the wheel's horizon,
// before) its next deadline; the tick visits only the slots whose time has come, not every
// connection. Deadlines are lazy: activity never touches the wheel (the hot path pays
// nothing); when a slot comes due, its owner re-checks each node's real deadline and re-arms
// the node. A change that brings a deadline closer calls ArmIfEarlier.
//
// Node is intrusive: `Node* next`, `Node* prev`, `uint32_t wheel_slot` (kNotArmed when in no
// slot). Loop thread only; nodes must be disarmed before they are freed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice::proxy {

inline constexpr uint32_t kNotArmed = ~uint32_t{0};

template <class Node>
class DeadlineWheel {
 public:
  static constexpr int64_t kSlotMs = 250;
  static constexpr uint32_t kSlots = 512;  // a horizon of 128 s

  explicit DeadlineWheel(int64_t now_ms) : origin_ms_(now_ms), slots_(kSlots, nullptr) {}

  // Places `node` in the slot that comes due at or after `deadline_ms` (the next slot for a
  // deadline already passed; the last slot of the horizon for one beyond it).
  void Arm(Node* node, int64_t deadline_ms) {
    Disarm(node);
    Insert(node, SlotFor(deadline_ms));
  }
  // Arms `node` at `deadline_ms` only if that comes due before its current slot.
  void ArmIfEarlier(Node* node, int64_t deadline_ms) {
    uint32_t slot = SlotFor(deadline_ms);
    if (node->wheel_slot != kNotArmed && Before(node->wheel_slot, slot)) return;
    if (node->wheel_slot == slot) return;
    Disarm(node);
    Insert(node, slot);
  }
  void Disarm(Node* node) {
    if (node->wheel_slot == kNotArmed) return;
    if (node->prev != nullptr) {
      node->prev->next = node->next;
    } else {
      slots_[node->wheel_slot % kSlots] = node->next;
    }
    if (node->next != nullptr) node->next->prev = node->prev;
    node->next = node->prev = nullptr;
    node->wheel_slot = kNotArmed;
    --size_;
  }

  // Calls due(node) for every node whose slot has come by `now_ms`, each taken out of the
  // wheel first (due may re-arm it, or free it).
  template <class Due>
  void Expire(int64_t now_ms, const Due& due) {
    uint32_t target = SlotOf(now_ms);
    uint32_t passes = 0;
    while (Before(cursor_, target) || cursor_ == target) {
      uint32_t index = cursor_ % kSlots;
      ++cursor_;  // arming during `due` lands in a later slot, never in this one
      Node* n = slots_[index];
      slots_[index] = nullptr;
      while (n != nullptr) {
        Node* next = n->next;
        n->next = n->prev = nullptr;
        n->wheel_slot = kNotArmed;
        --size_;
        due(n);
        n = next;
      }
      if (++passes == kSlots) cursor_ = target + 1;  // a long stall: every slot was visited
    }
  }

  // Some armed node, or nullptr (for closing them all).
  Node* Any() const {
    if (size_ == 0) return nullptr;
    for (Node* head : slots_) {
      if (head != nullptr) return head;
    }
    return nullptr;
  }
  // Every armed node, collected first so that `f` may disarm or free any of them.
  template <class F>
  void ForEach(const F& f) const {
    std::vector<Node*> all;
    all.reserve(size_);
    for (Node* n : slots_) {
      for (; n != nullptr; n = n->next) all.push_back(n);
    }
    for (Node* n : all) f(n);
  }
  size_t size() const { return size_; }

 private:
  uint32_t SlotOf(int64_t ms) const {
    int64_t rel = ms - origin_ms_;
    return static_cast<uint32_t>(rel <= 0 ? 0 : rel / kSlotMs);
  }
  // The first slot at or after `deadline_ms`, within [cursor_, cursor_ + kSlots).
  uint32_t SlotFor(int64_t deadline_ms) const {
    int64_t rel = deadline_ms - origin_ms_;
    uint32_t slot = static_cast<uint32_t>(rel <= 0 ? 0 : (rel + kSlotMs - 1) / kSlotMs);
    if (Before(slot, cursor_)) return cursor_;
    if (!Before(slot, cursor_ + kSlots)) return cursor_ + kSlots - 1;
    return slot;
  }
  // Slot numbers wrap after 2^32 slots (34 years of 250 ms); compare them as a ring.
  static bool Before(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }
  void Insert(Node* node, uint32_t slot) {
    Node*& head = slots_[slot % kSlots];
    node->prev = nullptr;
    node->next = head;
    if (head != nullptr) head->prev = node;
    head = node;
    node->wheel_slot = slot;
    ++size_;
  }

  int64_t origin_ms_;
  uint32_t cursor_ = 0;  // the next slot to come due
  std::vector<Node*> slots_;
  size_t size_ = 0;
};

}  // namespace sluice::proxy
