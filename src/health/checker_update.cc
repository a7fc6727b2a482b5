#include <string.h>

#include <algorithm>
#include <deque>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "health/checker_impl.h"

namespace sluice::health {

void HealthChecker::Impl::TakeGroups(std::vector<MonitoredGroup>& groups) {
  groups_.clear();
  groups_.reserve(groups.size());
  for (MonitoredGroup& mg : groups) {
    Group g;
    g.name = std::move(mg.name);
    g.matcher = StatusMatcher::Parse(mg.check.matcher);
    g.version = mg.version;
    if (g.version == CheckVersion::kGrpc) {
      g.grpc_matcher = StatusMatcher::Parse(mg.check.grpc_matcher, 0, 99);  // Matcher.GrpcCode
    }
    g.tcp = mg.check.protocol == "TCP";
    g.proxy_protocol_v2 = mg.proxy_protocol_v2;
    if (mg.check.protocol == "HTTPS") g.tls = std::move(mg.tls);
    g.interval_ms = std::max<int64_t>(1, mg.check.interval_seconds) * 1000;
    g.timeout_ms = std::max<int64_t>(1, mg.check.timeout_seconds) * 1000;
    g.check = std::move(mg.check);
    g.slow_start_seconds = mg.slow_start_seconds;
    g.in_use = mg.in_use;
    g.check_logs = std::move(mg.check_logs);
    g.log_group_id = std::move(mg.log_group_id);
    g.rows.group = g.name;
    {
      std::lock_guard<std::mutex> lock(packets_mu);
      std::shared_ptr<std::atomic<uint64_t>>& counter = packets_by_group[g.name];
      if (!counter) counter = std::make_shared<std::atomic<uint64_t>>(0);
      g.packets = counter;
    }
    groups_.push_back(std::move(g));
  }
}

namespace {

struct AddressHash {
  size_t operator()(const SocketAddress& a) const {
    uint64_t hi = 0;
    uint64_t lo = 0;
    memcpy(&hi, a.ip.bytes.data(), sizeof(hi));
    memcpy(&lo, a.ip.bytes.data() + sizeof(hi), sizeof(lo));
    uint64_t h = (hi * 0x9E3779B97F4A7C15ULL) ^ (lo + (uint64_t{a.port} << 1) + a.ip.is_v4);
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ULL;
    return static_cast<size_t>(h ^ (h >> 29));
  }
};

struct NewTargetHash {
  size_t operator()(const std::pair<size_t, SocketAddress>& k) const {
    return AddressHash{}(k.second) ^ (k.first * 0x9E3779B97F4A7C15ULL);
  }
};

// The slots one held group had before an update, to be matched with the new set's targets of
// the group of that name. In order first: a group whose targets did not move matches slot by
// slot, with no hashing; by address otherwise.
class OldGroupEntries {
 public:
  static constexpr int64_t kNone = -1;   // not a held target: a new one
  static constexpr int64_t kTaken = -2;  // listed twice in the new set: the first one counts

  explicit OldGroupEntries(const std::vector<uint32_t>* slots) : entries_(slots) {}
  // The held slot of `address`, which is taken; kNone or kTaken. `address_of(i)`: slot i's
  // address; `taken`: by slot, shared by the groups.
  template <typename AddressOf>
  int64_t Take(const SocketAddress& address, const AddressOf& address_of,
               std::vector<bool>& taken) {
    const std::vector<uint32_t>& entries = *entries_;
    if (cursor_ < entries.size()) {
      const uint32_t i = entries[cursor_];
      if (!taken[i] && address_of(i) == address) {
        ++cursor_;
        taken[i] = true;
        return i;
      }
    }
    if (!indexed_) {
      by_address_.reserve(entries.size());
      for (uint32_t p = 0; p < entries.size(); ++p) by_address_.emplace(address_of(entries[p]), p);
      indexed_ = true;
    }
    auto it = by_address_.find(address);
    if (it == by_address_.end()) return kNone;
    const uint32_t i = entries[it->second];
    if (taken[i]) return kTaken;
    cursor_ = it->second + 1;
    taken[i] = true;
    return i;
  }

 private:
  const std::vector<uint32_t>* entries_;
  size_t cursor_ = 0;
  std::unordered_map<SocketAddress, uint32_t, AddressHash> by_address_;  // → place in entries_
  bool indexed_ = false;
};

}  // namespace

// Takes the pending set. A kept group (MonitoredSet::kept) takes the held group's targets as
// they are. In the others, targets already held (same group name and address) keep their slot
// and state (and a check in flight), new ones get a fresh slot, state machine and first check
// soon, and held ones not listed are dropped. O(targets of the groups not kept) per update,
// never per probe; a listed group whose targets did not move costs a comparison per target.
void HealthChecker::Impl::ApplyUpdate(MonitoredSet set, uint64_t seq, int64_t now) {
  std::vector<Group> old_groups = std::move(groups_);
  TakeGroups(set.groups);
  std::deque<uint32_t> queued;
  queued.swap(queue_);
  std::unordered_map<std::string_view, size_t> old_named;
  for (size_t g = 0; g < old_groups.size(); ++g) old_named.emplace(old_groups[g].name, g);
  auto kept = [&set](size_t g) { return g < set.kept.size() && set.kept[g]; };
  std::vector<int64_t> old_of(groups_.size(), -1);  // new group → held group of its name
  std::vector<bool> rebuild(groups_.size(), true);
  std::vector<uint32_t> fresh;
  for (size_t g = 0; g < groups_.size(); ++g) {
    auto it = old_named.find(groups_[g].name);
    if (it == old_named.end()) continue;
    old_of[g] = static_cast<int64_t>(it->second);
    if (kept(g)) rebuild[g] = !KeepGroup(old_groups[it->second], g, fresh);
  }
  std::vector<OldGroupEntries> held;  // after KeepGroup: a kept group's slots are gone from it
  held.reserve(old_groups.size());
  for (const Group& og : old_groups) held.emplace_back(&og.members);
  std::vector<bool> taken(entries_.size(), false);
  auto address_of = [this](uint32_t i) -> const SocketAddress& { return entries_[i].address; };
  std::unordered_set<std::pair<size_t, SocketAddress>, NewTargetHash> new_targets;
  for (MonitoredTarget& t : set.targets) {
    if (t.group >= groups_.size() || !t.stats || kept(t.group)) continue;  // not listed here
    int64_t old = OldGroupEntries::kNone;
    if (old_of[t.group] >= 0) {
      old = held[static_cast<size_t>(old_of[t.group])].Take(t.address, address_of, taken);
    }
    if (old == OldGroupEntries::kTaken) continue;
    if (old == OldGroupEntries::kNone && !new_targets.emplace(t.group, t.address).second) continue;
    bool was_active = false;
    int64_t old_interval_ms = 0;
    uint32_t slot = 0;
    if (old >= 0) {
      slot = static_cast<uint32_t>(old);
      const Entry& e = entries_[slot];
      const Group& og = old_groups[e.group];  // e.group: still its held group's index
      was_active = !e.draining && og.in_use && og.check.enabled == groups_[t.group].check.enabled;
      old_interval_ms = og.interval_ms;
    } else {
      slot = NewSlot();
    }
    groups_[t.group].members.push_back(slot);
    if (Adopt(t, was_active, old_interval_ms, entries_[slot]) && Schedulable(entries_[slot])) {
      fresh.push_back(slot);
    }
  }
  // Freed only now: a slot freed by this update is not reused by it.
  for (const Group& og : old_groups) {
    for (uint32_t slot : og.members) {
      if (!taken[slot]) FreeSlot(slot);
    }
  }
  // What the update consumed is freed before the report goes out, not after.
  set = MonitoredSet{};
  old_groups = {};
  initial_rows_ = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (rebuild[g]) RebuildGroup(g, now);
    initial_rows_ += groups_[g].initial_rows;
  }
  dirty_ = true;
  RequeueStillDue(queued);
  ScheduleFirstChecks(fresh, now);
  RunDueTimers(now);  // first checks due now start before the report goes out
  StartQueued(now);
  Publish(now, seq);
}

// Moves the held group `old`'s targets to group g, which the update keeps. With the same checks
// and use they keep their rows and counts too (true); otherwise they take g's settings as
// listed targets would (false: g's rows are to be rebuilt).
bool HealthChecker::Impl::KeepGroup(Group& old, size_t g, std::vector<uint32_t>& fresh) {
  Group& to = groups_[g];
  to.members = std::move(old.members);
  old.members.clear();
  if (old.check == to.check && old.in_use == to.in_use) {
    for (uint32_t slot : to.members) entries_[slot].group = static_cast<uint32_t>(g);
    to.rows = std::move(old.rows);
    to.published = std::move(old.published);
    to.dirty = old.dirty;
    to.routable = old.routable;
    to.initial_rows = old.initial_rows;
    return true;
  }
  for (uint32_t slot : to.members) {
    Entry& e = entries_[slot];
    const bool was_active = !e.draining && old.in_use && old.check.enabled == to.check.enabled;
    MonitoredTarget t{g, e.id, e.address, e.check_port, e.stats, e.draining};
    if (Adopt(t, was_active, old.interval_ms, e) && Schedulable(e)) fresh.push_back(slot);
  }
  return false;
}

// Moves what the set says about target t into e (a held entry whose group checked every
// `old_interval_ms`, or a new one when was_active is false). Returns true when e starts over
// in `initial`: it is new, registered again after draining, its group is newly used, or its
// checks were switched on or off.
bool HealthChecker::Impl::Adopt(MonitoredTarget& t, bool was_active, int64_t old_interval_ms,
                                Entry& e) {
  const Group& g = groups_[t.group];
  bool fresh = !was_active && (!t.draining || e.stats == nullptr);
  if (fresh) {
    ReleaseProbe(e);
    e.machine =
        HealthStateMachine(g.check.healthy_threshold, g.check.unhealthy_threshold, g.check.enabled);
  } else {
    e.machine.SetThresholds(g.check.healthy_threshold, g.check.unhealthy_threshold);
  }
  if (t.draining && e.machine.state() != TargetState::kDraining) e.machine.OnDeregistered();
  // The phase is a function of "group/ip:port" and the interval: a kept target's changes only
  // with its group's interval.
  if (e.stats == nullptr || old_interval_ms != g.interval_ms) {
    e.phase_ms = InitialCheckOffsetMs(g.name + "/" + t.address.ToString(), g.interval_ms);
  }
  e.id = std::move(t.id);
  e.address = t.address;
  e.check_port = t.check_port;
  e.stats = std::move(t.stats);
  e.draining = t.draining;
  e.group = static_cast<uint32_t>(t.group);
  if (!Schedulable(e)) ReleaseProbe(e);
  return fresh;
}

uint32_t HealthChecker::Impl::NewSlot() {
  uint32_t slot = 0;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(entries_.size());
    entries_.emplace_back();
  }
  entries_[slot].live = true;
  return slot;
}

// A target no longer monitored: its check abandoned, its timer gone, its slot free.
void HealthChecker::Impl::FreeSlot(uint32_t slot) {
  ReleaseProbe(entries_[slot]);
  heap_.Erase(slot);
  entries_[slot] = Entry{};
  free_slots_.push_back(slot);
}

// Group g's members were listed or changed: their rows, timers and counts from the entries.
void HealthChecker::Impl::RebuildGroup(size_t g, int64_t now) {
  Group& group = groups_[g];
  group.routable = 0;
  group.initial_rows = 0;
  group.dirty = true;
  group.rows.targets.clear();
  group.rows.targets.reserve(group.members.size());
  for (uint32_t r = 0; r < group.members.size(); ++r) {
    const uint32_t slot = group.members[r];
    Entry& e = entries_[slot];
    e.row = r;
    if (e.probe < 0 && !Schedulable(e)) {
      heap_.Erase(slot);
    } else if (e.probe < 0 && !heap_.Contains(slot)) {
      heap_.Set(slot, std::max(e.next_check_ms, now));
    }
    if (e.machine.routable()) ++group.routable;
    TargetHealthRow row;
    row.id = e.id;
    row.port = e.address.port;
    row.health_check_port = e.check_port;
    VisibleState(e, &row.state, &row.reason, &row.status_code);
    if (row.state == TargetState::kInitial) ++group.initial_rows;
    PublishTarget(e);
    row.unhealthy_draining_until_ms = UnhealthyDrainingUntilMs(e, row.state);
    group.rows.targets.push_back(std::move(row));
  }
}

// Checks that were due and waiting for a probe slot when the update came, still monitored and
// checked, and not rescheduled by it: first in line again, in their order.
void HealthChecker::Impl::RequeueStillDue(const std::deque<uint32_t>& queued) {
  for (uint32_t slot : queued) {
    const Entry& e = entries_[slot];
    if (e.live && e.probe < 0 && Schedulable(e) && !heap_.Contains(slot)) queue_.push_back(slot);
  }
}

// The first checks of new targets, paced by FirstCheckOffsetsMs, so that a large registration
// does not open every socket at once.
void HealthChecker::Impl::ScheduleFirstChecks(const std::vector<uint32_t>& fresh, int64_t now) {
  std::vector<uint32_t> group_of(fresh.size());
  for (size_t j = 0; j < fresh.size(); ++j) group_of[j] = entries_[fresh[j]].group;
  std::vector<int64_t> interval_ms(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) interval_ms[g] = groups_[g].interval_ms;
  std::vector<int64_t> offsets = FirstCheckOffsetsMs(group_of, interval_ms);
  for (size_t j = 0; j < fresh.size(); ++j) {
    entries_[fresh[j]].next_check_ms = now + offsets[j];
    heap_.Set(fresh[j], now + offsets[j]);
  }
}

bool HealthChecker::Impl::Schedulable(const Entry& e) const {
  const Group& g = groups_[e.group];
  return !e.draining && g.in_use && g.check.enabled;
}

}  // namespace sluice::health
