// The snapshot as the health checker sees it, and the checker's report as the metrics see it.
#include "app/monitored_targets.h"

#include <charconv>
#include <map>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "app/access_logs.h"
#include "config/arn.h"
#include "config/forwards.h"

namespace sluice::app {
namespace {

// HealthCheckPort resolved: "traffic-port" means the target's own port. The loader has
// validated any other value as a port number.
uint16_t CheckPort(const config::HealthCheck& check, const SocketAddress& target) {
  if (check.port == "traffic-port") return target.port;
  unsigned port = 0;
  auto [end, ec] = std::from_chars(check.port.data(), check.port.data() + check.port.size(), port);
  return ec == std::errc() && port <= 65535 ? static_cast<uint16_t>(port) : target.port;
}

// used[i]: some listener's default actions or rules forward to target group i (ALB checks
// only those; the others' targets are `unused`, Target.NotInUse).
std::vector<bool> UsedGroups(const proxy::Snapshot& snap) {
  std::vector<bool> used(snap.config.target_groups.size(), false);
  config::ForEachForward(snap.config, [&used](const config::LoadBalancer&, const config::Listener&,
                                              const config::TargetGroupTuple& t) {
    if (t.index >= 0 && static_cast<size_t>(t.index) < used.size()) used[t.index] = true;
  });
  return used;
}

// The HTTP version of a group's health checks: its ProtocolVersion.
health::CheckVersion CheckVersionOf(snapshot::ProtocolVersion version) {
  switch (version) {
    case snapshot::ProtocolVersion::kHttp2:
      return health::CheckVersion::kHttp2;
    case snapshot::ProtocolVersion::kGrpc:
      return health::CheckVersion::kGrpc;
    case snapshot::ProtocolVersion::kHttp1:
      break;
  }
  return health::CheckVersion::kHttp1;
}

// Every target group of the snapshot as the checker sees it, in configuration order.
std::vector<health::MonitoredGroup> MonitoredGroups(const proxy::Snapshot& snap) {
  std::vector<health::MonitoredGroup> out;
  out.reserve(snap.target_groups.size());
  std::vector<bool> used = UsedGroups(snap);
  std::vector<std::vector<health::CheckLogStream>> logs = HealthCheckLogStreams(snap);
  for (size_t g = 0; g < snap.target_groups.size(); ++g) {
    const proxy::TargetGroupRuntime& tg = snap.target_groups[g];
    // The TLS client side only where the checks use it: a group of HTTPS targets with HTTP
    // checks gets a new context with every build, and would never be kept (KeptGroups).
    const bool https_checks = tg.config->health_check.protocol == "HTTPS";
    out.push_back({tg.config->name,
                   tg.config->health_check,
                   tg.config->attributes.slow_start_seconds,
                   used[g],
                   https_checks ? tg.tls : nullptr,
                   tg.config->attributes.proxy_protocol_v2,
                   CheckVersionOf(tg.protocol_version),
                   {},
                   {},
                   snapshot::UnhealthyFlowGraceMs(tg.config->attributes)});
    if (g < logs.size() && !logs[g].empty()) {
      out.back().check_logs = std::move(logs[g]);
      out.back().log_group_id = config::TargetGroupArn(snap.config.account, tg.config->name);
    }
  }
  return out;
}

bool StillDraining(const proxy::DrainingTarget& d, int64_t now_ms) {
  return now_ms < d.deadline_ms;
}

bool SameDrainingTarget(const proxy::DrainingTarget& a, const proxy::DrainingTarget& b) {
  return a.group == b.group && a.id == b.id && a.address == b.address && a.check == b.check &&
         a.stats == b.stats;
}

// The targets still draining at now_ms, in the same order with the same counters.
bool SameDraining(const proxy::Snapshot& before, const proxy::Snapshot& after, int64_t now_ms) {
  auto a = before.draining.begin();
  auto b = after.draining.begin();
  while (true) {
    while (a != before.draining.end() && !StillDraining(*a, now_ms)) ++a;
    while (b != after.draining.end() && !StillDraining(*b, now_ms)) ++b;
    if (a == before.draining.end() || b == after.draining.end()) break;
    if (!SameDrainingTarget(*a, *b)) return false;
    ++a;
    ++b;
  }
  return a == before.draining.end() && b == after.draining.end();
}

// The same registered targets, in the same order with the same counters.
bool SameRegisteredTargets(const proxy::TargetGroupRuntime& a, const proxy::TargetGroupRuntime& b) {
  if (a.targets.size() != b.targets.size()) return false;
  for (size_t i = 0; i < a.targets.size(); ++i) {
    if (a.targets[i].stats != b.targets[i].stats || a.targets[i].address != b.targets[i].address ||
        a.config->targets[i].id != b.config->targets[i].id) {
      return false;
    }
  }
  return true;
}

size_t LiveDraining(const proxy::Snapshot& snap, int64_t now_ms) {
  size_t n = 0;
  for (const proxy::DrainingTarget& d : snap.draining) n += StillDraining(d, now_ms) ? 1 : 0;
  return n;
}

}  // namespace

// Everything the health checker should watch: every target group (also those without
// targets, so that the admin endpoint lists them) and whether a listener uses it, registered
// targets, and the deregistered ones while they drain (under their group, or under a group of
// their own name when the group itself was removed).
health::MonitoredSet MonitoredTargets(const proxy::Snapshot& snap, int64_t now_ms,
                                      const std::vector<bool>& kept) {
  health::MonitoredSet out;
  out.groups = MonitoredGroups(snap);
  std::map<std::string, size_t> index;
  for (size_t g = 0; g < snap.target_groups.size(); ++g) {
    const proxy::TargetGroupRuntime& tg = snap.target_groups[g];
    index[tg.config->name] = g;
    if (g < kept.size() && kept[g]) continue;
    for (size_t i = 0; i < tg.targets.size(); ++i) {
      const proxy::TargetRuntime& t = tg.targets[i];
      out.targets.push_back({g, tg.config->targets[i].id, t.address,
                             CheckPort(tg.config->health_check, t.address), t.stats, false});
    }
  }
  for (const proxy::DrainingTarget& d : snap.draining) {
    if (!StillDraining(d, now_ms)) continue;  // drained: no longer registered anywhere
    auto [it, added] = index.emplace(d.group, out.groups.size());
    if (added) {
      out.groups.push_back(
          {d.group, d.check, 0, false, nullptr, false, health::CheckVersion::kHttp1, {}, {}});
    }
    out.targets.push_back(
        {it->second, d.id, d.address, CheckPort(d.check, d.address), d.stats, true});
  }
  if (!kept.empty()) {
    out.kept = kept;
    out.kept.resize(out.groups.size(), false);  // groups of draining targets only: listed
  }
  return out;
}

// By group of `after`: its name in `before` gives the same MonitoredGroup and the same
// registered targets, and no target of that name drains in either snapshot.
std::vector<bool> KeptGroups(const proxy::Snapshot& before, const proxy::Snapshot& after) {
  std::vector<bool> kept(after.target_groups.size(), false);
  std::unordered_set<std::string_view> draining;
  for (const proxy::DrainingTarget& d : before.draining) draining.insert(d.group);
  for (const proxy::DrainingTarget& d : after.draining) draining.insert(d.group);
  std::unordered_map<std::string_view, size_t> before_named;
  for (size_t g = 0; g < before.target_groups.size(); ++g) {
    before_named.emplace(before.target_groups[g].config->name, g);
  }
  const std::vector<health::MonitoredGroup> groups_before = MonitoredGroups(before);
  const std::vector<health::MonitoredGroup> groups_after = MonitoredGroups(after);
  for (size_t g = 0; g < after.target_groups.size(); ++g) {
    const std::string& name = after.target_groups[g].config->name;
    auto it = before_named.find(name);
    if (it == before_named.end() || draining.count(name) != 0) continue;
    kept[g] = groups_before[it->second] == groups_after[g] &&
              SameRegisteredTargets(before.target_groups[it->second], after.target_groups[g]);
  }
  return kept;
}

// Mirrors MonitoredTargets field by field: the group fields through MonitoredGroup's
// equality, a target's check port through its group's check.
bool SameMonitoredTargets(const proxy::Snapshot& before, const proxy::Snapshot& after,
                          int64_t now_ms) {
  if (before.target_groups.size() != after.target_groups.size()) return false;
  for (size_t g = 0; g < before.target_groups.size(); ++g) {
    if (!SameRegisteredTargets(before.target_groups[g], after.target_groups[g])) return false;
  }
  return SameDraining(before, after, now_ms) && MonitoredGroups(before) == MonitoredGroups(after);
}

// Skipped only when the checker holds what `before` gives now: no drain ended since it was
// fed (Expire has not run yet, or not since), else the report would still list that target.
// Otherwise the groups the checker holds as `next` has them are kept: the checker holds
// `before`'s registered targets (every publish gave them or found them the same), and a
// group with a draining target, whose rows may be older than `before`, is never kept.
uint64_t CheckerFeed::Publish(const proxy::Snapshot* before, const proxy::Snapshot& next,
                              int64_t now_ms) {
  if (before != nullptr && LiveDraining(*before, now_ms) == live_draining_ &&
      SameMonitoredTargets(*before, next, now_ms)) {
    return last_update_;
  }
  live_draining_ = LiveDraining(next, now_ms);
  const std::vector<bool> kept =
      before != nullptr ? KeptGroups(*before, next) : std::vector<bool>{};
  last_update_ = checker_.Update(MonitoredTargets(next, now_ms, kept));
  return last_update_;
}

std::optional<uint64_t> CheckerFeed::Expire(const proxy::Snapshot& current, int64_t now_ms) {
  if (LiveDraining(current, now_ms) >= live_draining_) return std::nullopt;
  live_draining_ = LiveDraining(current, now_ms);
  // Only the groups with draining targets change.
  last_update_ = checker_.Update(MonitoredTargets(current, now_ms, KeptGroups(current, current)));
  return last_update_;
}

// HealthyHostCount / UnHealthyHostCount per target group, from the checker's report.
std::vector<observe::TargetGroupHealthCount> HealthCounts(
    const std::vector<health::TargetGroupHealth>& report, const observe::MetricSlots& slots) {
  std::vector<observe::TargetGroupHealthCount> out;
  for (const health::TargetGroupHealth& g : report) {
    observe::TargetGroupHealthCount c;
    c.dimension = config::TargetGroupDimension(g.group);
    c.network = slots.IsNetworkTargetGroup(g.group);
    c.check_packets = g.check_packets;
    for (const health::TargetHealthRow& t : g.targets) {
      if (t.state == health::TargetState::kHealthy) ++c.healthy;
      if (t.state == health::TargetState::kUnhealthy) ++c.unhealthy;
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace sluice::app
