#include <algorithm>

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
    groups_.push_back(std::move(g));
  }
}

// Takes the pending set: kept targets keep their state (and a check in flight), new ones get
// a fresh state machine and a first check soon. O(n) per update; never per probe.
void HealthChecker::Impl::ApplyUpdate(MonitoredSet set, uint64_t seq, int64_t now) {
  std::vector<Group> old_groups = std::move(groups_);
  TakeGroups(set.groups);
  std::vector<Entry> old_entries = std::move(entries_);
  std::unordered_map<std::string, uint32_t> old_index = std::move(index_);
  entries_.clear();
  entries_.reserve(set.targets.size());
  index_.clear();
  index_.reserve(set.targets.size());
  std::vector<uint32_t> fresh;
  for (MonitoredTarget& t : set.targets) {
    if (t.group >= groups_.size() || !t.stats) continue;  // not a target of this set
    std::string key = groups_[t.group].name + "/" + t.address.ToString();
    if (index_.count(key) != 0) continue;  // listed twice: the first one counts
    auto i = static_cast<uint32_t>(entries_.size());
    bool was_active = false;
    if (auto it = old_index.find(key); it != old_index.end()) {
      Entry& old = old_entries[it->second];
      const Group& og = old_groups[old.group];
      was_active = !old.draining && og.in_use && og.check.enabled == groups_[t.group].check.enabled;
      entries_.push_back(std::move(old));
      old.probe = -1;  // moved: the old slot no longer owns the probe
      old_index.erase(it);
    } else {
      entries_.emplace_back();
    }
    if (Adopt(t, key, was_active, entries_.back()) && Schedulable(entries_.back())) {
      fresh.push_back(i);
    }
    index_.emplace(std::move(key), i);
  }
  for (Entry& gone : old_entries) ReleaseProbe(gone);
  // What the update consumed is freed before the report goes out, not after.
  set = MonitoredSet{};
  old_entries = {};
  old_index = {};
  RebuildDerivedState(now);
  ScheduleFirstChecks(fresh, now);
  RunDueTimers(now);  // first checks due now start before the report goes out
  StartQueued(now);
  Publish(now, seq);
}

// Moves what the set says about target t into e (a kept entry, or a new one when was_active
// is false). Returns true when e starts over in `initial`: it is new, registered again after
// draining, its group is newly used, or its checks were switched on or off.
bool HealthChecker::Impl::Adopt(MonitoredTarget& t, const std::string& key, bool was_active,
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
  e.id = std::move(t.id);
  e.address = t.address;
  e.check_port = t.check_port;
  e.stats = std::move(t.stats);
  e.draining = t.draining;
  e.group = static_cast<uint32_t>(t.group);
  e.phase_ms = InitialCheckOffsetMs(key, g.interval_ms);
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
