#include <string.h>

#include <algorithm>
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

// The entries one group had before an update, to be matched with the new set's targets of the
// group of that name. In order first: a group the update did not change matches entry by
// entry, with no hashing (an API call changes one group of many); by address otherwise.
class OldGroupEntries {
 public:
  static constexpr int64_t kNone = -1;   // not an old entry: a new target
  static constexpr int64_t kTaken = -2;  // listed twice in the new set: the first one counts

  void Add(uint32_t entry) { entries_.push_back(entry); }
  // The old entry of `address`, which is taken; kNone or kTaken. `address_of(i)`: old entry
  // i's address; `taken`: by old entry, shared by the groups.
  template <typename AddressOf>
  int64_t Take(const SocketAddress& address, const AddressOf& address_of,
               std::vector<bool>& taken) {
    if (cursor_ < entries_.size()) {
      const uint32_t i = entries_[cursor_];
      if (!taken[i] && address_of(i) == address) {
        ++cursor_;
        taken[i] = true;
        return i;
      }
    }
    if (!indexed_) {
      by_address_.reserve(entries_.size());
      for (uint32_t p = 0; p < entries_.size(); ++p)
        by_address_.emplace(address_of(entries_[p]), p);
      indexed_ = true;
    }
    auto it = by_address_.find(address);
    if (it == by_address_.end()) return kNone;
    const uint32_t i = entries_[it->second];
    if (taken[i]) return kTaken;
    cursor_ = it->second + 1;
    taken[i] = true;
    return i;
  }

 private:
  std::vector<uint32_t> entries_;
  size_t cursor_ = 0;
  std::unordered_map<SocketAddress, uint32_t, AddressHash> by_address_;  // → place in entries_
  bool indexed_ = false;
};

}  // namespace

// Takes the pending set: kept targets (same group name and address) keep their state (and a
// check in flight), new ones get a fresh state machine and a first check soon. O(n) per
// update, never per probe; a group whose targets did not change costs a comparison per target.
void HealthChecker::Impl::ApplyUpdate(MonitoredSet set, uint64_t seq, int64_t now) {
  std::vector<Group> old_groups = std::move(groups_);
  TakeGroups(set.groups);
  std::vector<Entry> old_entries = std::move(entries_);
  std::vector<OldGroupEntries> old_by_group(old_groups.size());
  for (uint32_t i = 0; i < old_entries.size(); ++i) old_by_group[old_entries[i].group].Add(i);
  std::unordered_map<std::string_view, size_t> old_group_named;
  for (size_t g = 0; g < old_groups.size(); ++g) old_group_named.emplace(old_groups[g].name, g);
  std::vector<int64_t> old_group_of(groups_.size(), -1);  // new group → old group of its name
  for (size_t g = 0; g < groups_.size(); ++g) {
    auto it = old_group_named.find(groups_[g].name);
    if (it != old_group_named.end()) old_group_of[g] = static_cast<int64_t>(it->second);
  }
  std::vector<bool> taken(old_entries.size(), false);
  auto address_of = [&old_entries](uint32_t i) -> const SocketAddress& {
    return old_entries[i].address;
  };
  std::unordered_set<std::pair<size_t, SocketAddress>, NewTargetHash> new_targets;
  entries_.clear();
  entries_.reserve(set.targets.size());
  std::vector<uint32_t> fresh;
  for (MonitoredTarget& t : set.targets) {
    if (t.group >= groups_.size() || !t.stats) continue;  // not a target of this set
    int64_t old = OldGroupEntries::kNone;
    if (old_group_of[t.group] >= 0) {
      old = old_by_group[static_cast<size_t>(old_group_of[t.group])].Take(t.address, address_of,
                                                                          taken);
    }
    if (old == OldGroupEntries::kTaken) continue;
    if (old == OldGroupEntries::kNone && !new_targets.emplace(t.group, t.address).second) continue;
    auto i = static_cast<uint32_t>(entries_.size());
    bool was_active = false;
    int64_t old_interval_ms = 0;
    if (old >= 0) {
      Entry& e = old_entries[static_cast<size_t>(old)];
      const Group& og = old_groups[e.group];
      was_active = !e.draining && og.in_use && og.check.enabled == groups_[t.group].check.enabled;
      old_interval_ms = og.interval_ms;
      entries_.push_back(std::move(e));
      e.probe = -1;  // moved: the old slot no longer owns the probe
    } else {
      entries_.emplace_back();
    }
    if (Adopt(t, was_active, old_interval_ms, entries_.back()) && Schedulable(entries_.back())) {
      fresh.push_back(i);
    }
  }
  for (Entry& gone : old_entries) ReleaseProbe(gone);
  // What the update consumed is freed before the report goes out, not after.
  set = MonitoredSet{};
  old_entries = {};
  RebuildDerivedState(now);
  ScheduleFirstChecks(fresh, now);
  RunDueTimers(now);  // first checks due now start before the report goes out
  StartQueued(now);
  Publish(now, seq);
}

// Moves what the set says about target t into e (a kept entry whose group checked every
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

// Entry indices changed: renumbers probes, and rebuilds the timers, the per-group counts and
// the live report from the entries.
void HealthChecker::Impl::RebuildDerivedState(int64_t now) {
  heap_.Reset(entries_.size());
  queue_.clear();
  report_.clear();
  report_.resize(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].routable = 0;
    report_[g].group = groups_[g].name;
  }
  initial_rows_ = 0;
  for (uint32_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (e.probe >= 0) {
      probes_[e.probe].entry = i;
      heap_.Set(i, probes_[e.probe].deadline_ms);
    } else if (Schedulable(e)) {
      heap_.Set(i, std::max(e.next_check_ms, now));
    }
    if (e.machine.routable()) ++groups_[e.group].routable;
    std::vector<TargetHealthRow>& rows = report_[e.group].targets;
    e.row = static_cast<uint32_t>(rows.size());
    TargetHealthRow row;
    row.id = e.id;
    row.port = e.address.port;
    row.health_check_port = e.check_port;
    VisibleState(e, &row.state, &row.reason, &row.status_code);
    if (row.state == TargetState::kInitial) ++initial_rows_;
    PublishTarget(e);
    row.unhealthy_draining_until_ms = UnhealthyDrainingUntilMs(e, row.state);
    rows.push_back(std::move(row));
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
