#include <map>

#include "base/clock.h"
#include "config/arn.h"
#include "config/forwards.h"
#include "config/s3.h"
#include "snapshot/snapshot.h"

namespace sluice::snapshot {
namespace {

Error Unknown(const std::string& what, const std::string& value) {
  return Error{ErrorSource::kConfig, what + ": unknown value " + value};
}

// The enums of a target group; false names the field that does not compile.
Result<bool> CompileGroupEnums(const config::TargetGroup& tg, TargetGroupRuntime* rt) {
  auto protocol = ParseListenerProtocol(tg.protocol);
  if (!protocol) return Unknown("target group " + tg.name + ": Protocol", tg.protocol);
  auto version = ParseProtocolVersion(tg.protocol_version);
  if (!version)
    return Unknown("target group " + tg.name + ": ProtocolVersion", tg.protocol_version);
  auto sticky =
      ParseStickinessType(tg.attributes.stickiness_enabled, tg.attributes.stickiness_type);
  if (!sticky) {
    return Unknown("target group " + tg.name + ": stickiness.type", tg.attributes.stickiness_type);
  }
  auto check = ParseHealthCheckProtocol(tg.health_check.protocol);
  if (!check) {
    return Unknown("target group " + tg.name + ": HealthCheckProtocol", tg.health_check.protocol);
  }
  rt->protocol = *protocol;
  rt->protocol_version = *version;
  rt->stickiness = *sticky;
  rt->health_check_protocol = *check;
  return true;
}

// Resolves the target-group names of forward actions to indices; false on an unknown name.
bool ResolveForwards(std::vector<config::Action>& actions,
                     const std::map<std::string, int>& group_index) {
  for (config::Action& a : actions) {
    if (a.type != config::ActionType::kForward) continue;
    for (config::TargetGroupTuple& t : a.forward.target_groups) {
      auto it = group_index.find(t.target_group);
      if (it == group_index.end()) return false;
      t.index = it->second;
    }
  }
  return true;
}

// One listener: its actions resolved, its rules compiled, its address and protocol.
Result<ListenerRuntime> CompileListener(config::LoadBalancer& lb, config::Listener& l,
                                        const std::map<std::string, int>& group_index,
                                        const std::shared_ptr<const tls::CertificateStore>& certs,
                                        const tls::TrustStores& trust) {
  if (!ResolveForwards(l.default_actions, group_index)) {
    return Error{ErrorSource::kConfig, "unknown target group in default actions"};
  }
  for (config::Rule& r : l.rules) {
    if (!ResolveForwards(r.actions, group_index)) {
      return Error{ErrorSource::kConfig, "unknown target group in rule actions"};
    }
  }
  ListenerRuntime rt;
  rt.load_balancer = &lb;
  rt.listener = &l;
  rt.port_text = std::to_string(l.port);
  rt.sticky_scope = balancer::StickyHash(lb.name + ":" + l.bind_address + ":" + rt.port_text);
  rt.elb_log_name = config::LoadBalancerLogName(lb.name, lb.type);
  rt.listener_id = config::ListenerId(lb.name, l);
  if (lb.attributes.access_logs.enabled) rt.access_log_key = AccessLogKey(lb.name);
  if (lb.attributes.connection_logs.enabled) rt.connection_log_key = ConnectionLogKey(lb.name);
  auto table = routing::RuleTable::Compile(l);
  if (!table.ok()) return table.error();
  rt.rules = std::move(table.value());
  auto addr = SocketAddress::Parse(l.bind_address, static_cast<uint16_t>(l.port));
  if (!addr) return Error{ErrorSource::kConfig, "listener: bad BindAddress " + l.bind_address};
  rt.address = *addr;
  auto protocol = ParseListenerProtocol(l.protocol);
  if (!protocol) return Unknown("listener " + addr->ToString() + ": Protocol", l.protocol);
  rt.protocol = *protocol;
  if (rt.protocol == ListenerProtocol::kHttps || rt.protocol == ListenerProtocol::kTls) {
    std::shared_ptr<const tls::TrustStore> store;
    if (auto it = trust.find(l.mutual_authentication.trust_store); it != trust.end()) {
      store = it->second;
    }
    auto tls = tls::ServerContext::Build(l, certs, std::move(store), lb.attributes.http2_enabled);
    if (!tls.ok()) {
      return Error{ErrorSource::kConfig,
                   "listener " + addr->ToString() + ": " + tls.error().message};
    }
    rt.tls = std::move(tls.value());
  }
  return rt;
}

// Every error of a file check, one per line, as one config error.
Error JoinedErrors(const config::ConfigErrors& errors) {
  std::string message;
  for (const config::ConfigError& e : errors) {
    message += (message.empty() ? "" : "\n") + e.ToString();
  }
  return Error{ErrorSource::kConfig, message};
}

// Reads and checks every certificate of the store.
Result<std::shared_ptr<const tls::CertificateStore>> LoadCertificates(const config::Config& cfg) {
  auto store = tls::CertificateStore::Load(cfg, RealtimeMillis() / 1000);
  if (auto* errors = std::get_if<config::ConfigErrors>(&store)) return JoinedErrors(*errors);
  return std::get<std::shared_ptr<const tls::CertificateStore>>(std::move(store));
}

// Reads and checks every trust store.
Result<tls::TrustStores> LoadTrust(const config::Config& cfg) {
  auto stores = tls::LoadTrustStores(cfg);
  if (auto* errors = std::get_if<config::ConfigErrors>(&stores)) return JoinedErrors(*errors);
  return std::get<tls::TrustStores>(std::move(stores));
}

// Target group metric slot → the metric slot of the one load balancer whose listeners forward
// to it (-1: none, or several), for TargetResponseTime per load balancer (observe/metrics.h).
// `lb_slots`: each load balancer's metric slot, by name.
std::vector<int> GroupLoadBalancerSlots(const Snapshot& snap,
                                        const std::map<std::string, int>& lb_slots) {
  std::vector<int> out;
  config::ForEachForward(snap.config, [&](const config::LoadBalancer& lb, const config::Listener&,
                                          const config::TargetGroupTuple& t) {
    auto lb_slot = lb_slots.find(lb.name);
    if (t.index < 0 || static_cast<size_t>(t.index) >= snap.target_groups.size() ||
        lb_slot == lb_slots.end() || lb_slot->second < 0) {
      return;
    }
    const int tg_slot = snap.target_groups[static_cast<size_t>(t.index)].metrics_slot;
    if (tg_slot < 0) return;
    if (out.size() <= static_cast<size_t>(tg_slot)) out.resize(tg_slot + 1, -1);
    int& owner = out[static_cast<size_t>(tg_slot)];
    owner = owner == -1 || owner == lb_slot->second ? lb_slot->second : -2;  // -2: several
  });
  for (int& owner : out) owner = owner < 0 ? -1 : owner;
  return out;
}

// Whether `ids` are `tg`'s targets as (Id, port), in order.
bool SameIds(const std::vector<std::pair<std::string, int>>& ids, const config::TargetGroup& tg) {
  if (ids.size() != tg.targets.size()) return false;
  for (size_t i = 0; i < ids.size(); ++i) {
    const config::Target& t = tg.targets[i];
    if (ids[i].second != (t.port ? t.port : tg.port) || ids[i].first != t.id) return false;
  }
  return true;
}

}  // namespace

int32_t UnhealthyFlowGraceMs(const config::TargetGroupAttributes& a) {
  if (a.unhealthy_termination) return 0;
  if (a.unhealthy_draining_interval_seconds <= 0) return -1;
  return a.unhealthy_draining_interval_seconds * 1000;  // at most 360,000,000
}

Result<std::shared_ptr<const Snapshot>> SnapshotCompiler::Build(config::Config config,
                                                                const Accept& accept) {
  auto snap = std::make_shared<Snapshot>();
  snap->config = std::move(config);
  snap->generation = ++generation_;
  snap->sticky_codec = sticky_codec_;
  Pending next;
  if (auto groups = CompileTargetGroups(snap.get(), &next); !groups.ok()) return groups.error();
  std::map<std::string, int> group_index;
  for (size_t i = 0; i < snap->config.target_groups.size(); ++i) {
    group_index[snap->config.target_groups[i].name] = static_cast<int>(i);
  }
  auto certs = LoadCertificates(snap->config);
  if (!certs.ok()) return certs.error();
  auto trust = LoadTrust(snap->config);
  if (!trust.ok()) return trust.error();
  if (auto s3 = config::CheckS3Credentials(snap->config); !s3.empty()) return JoinedErrors(s3);
  std::map<std::string, int> lb_slots;  // by load balancer name
  for (config::LoadBalancer& lb : snap->config.load_balancers) {
    for (config::Listener& l : lb.listeners) {
      auto listener = CompileListener(lb, l, group_index, certs.value(), trust.value());
      if (!listener.ok()) return listener.error();
      if (metric_slots_ != nullptr) {
        listener.value().lb_metrics_slot =
            metric_slots_->LoadBalancer(lb.name, listener.value().elb_log_name);
        lb_slots[lb.name] = listener.value().lb_metrics_slot;
      }
      snap->listeners.push_back(std::move(listener.value()));
    }
  }
  if (accept) {
    if (auto accepted = accept(*snap); !accepted.ok()) return accepted.error();
  }
  if (metric_slots_ != nullptr) {
    metric_slots_->SetTargetGroupLoadBalancers(GroupLoadBalancerSlots(*snap, lb_slots));
  }
  Commit(std::move(next), now_ms_ != nullptr ? now_ms_() : MonotonicMillis(), snap.get());
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

Result<bool> SnapshotCompiler::CompileTargetGroups(Snapshot* snap, Pending* next) const {
  const config::Config& cfg = snap->config;
  snap->target_groups.resize(cfg.target_groups.size());
  for (size_t i = 0; i < cfg.target_groups.size(); ++i) {
    const config::TargetGroup& tg = cfg.target_groups[i];
    TargetGroupRuntime& rt = snap->target_groups[i];
    rt.config = &tg;
    rt.sticky_id = balancer::StickyHash(tg.name);
    rt.lb_cookie_scope = balancer::StickyHash("lb:" + tg.name);
    rt.app_cookie_scope = balancer::StickyHash("app:" + tg.name);
    rt.arn = config::TargetGroupArn(cfg.account, tg.name);
    if (auto enums = CompileGroupEnums(tg, &rt); !enums.ok()) return enums.error();
    if (metric_slots_ != nullptr) {
      const bool network =
          rt.protocol != TargetProtocol::kHttp && rt.protocol != TargetProtocol::kHttps;
      rt.metrics_slot =
          metric_slots_->TargetGroup(tg.name, config::TargetGroupDimension(tg.name), network);
    }
    const bool tls_targets =
        rt.protocol == TargetProtocol::kHttps || rt.protocol == TargetProtocol::kTls;
    if (tls_targets || rt.health_check_protocol == HealthCheckProtocol::kHttps) {
      config::ConfigError error;
      rt.tls = tls::ClientContext::Build(tg, cfg.source_file, worker_count_, &error);
      if (rt.tls == nullptr) return Error{ErrorSource::kConfig, error.ToString()};
      if (tls_targets) rt.tls_profile = rt.tls->profile();
    }
    auto last = groups_.find(tg.name);
    auto targets = TargetsOf(tg, last == groups_.end() ? nullptr : last->second);
    if (!targets.ok()) return targets.error();
    rt.targets = targets.value()->targets;
    rt.candidates = targets.value()->candidates;
    next->groups[tg.name] = std::move(targets.value());
  }
  return true;
}

Result<std::shared_ptr<const SnapshotCompiler::GroupTargets>> SnapshotCompiler::TargetsOf(
    const config::TargetGroup& tg, const std::shared_ptr<const GroupTargets>& last) const {
  const config::TargetGroupAttributes& a = tg.attributes;
  const GroupSettings settings{tg.health_check, a.deregistration_delay_seconds,
                               a.deregistration_termination, UnhealthyFlowGraceMs(a)};
  if (last != nullptr && last->settings == settings && SameIds(last->ids, tg)) {
    return last;  // never changed after its build: shared by the builds that reuse it
  }
  auto g = std::make_shared<GroupTargets>();
  g->settings = settings;
  g->ids.reserve(tg.targets.size());
  g->targets.reserve(tg.targets.size());
  g->candidates.reserve(tg.targets.size());
  for (const config::Target& t : tg.targets) {
    const int port = t.port ? t.port : tg.port;
    auto addr = SocketAddress::Parse(t.id, static_cast<uint16_t>(port));
    if (!addr) {
      return Error{ErrorSource::kConfig, "target group " + tg.name + ": bad target " + t.id};
    }
    const std::string address = addr->ToString();
    std::string key = tg.name + "/" + address;
    std::shared_ptr<balancer::TargetStats> stats = StatsFor(key, tg, last.get());
    g->ids.emplace_back(t.id, port);
    g->targets.push_back({*addr, stats, balancer::StickyHash(address)});
    g->candidates.push_back(stats.get());
    g->known[std::move(key)] = {t.id, *addr, std::move(stats)};
  }
  return std::shared_ptr<const GroupTargets>(std::move(g));
}

std::shared_ptr<balancer::TargetStats> SnapshotCompiler::StatsFor(const std::string& key,
                                                                  const config::TargetGroup& tg,
                                                                  const GroupTargets* last) const {
  if (last != nullptr) {
    if (auto it = last->known.find(key); it != last->known.end()) return it->second.stats;
  }
  if (auto d = draining_.find(key); d != draining_.end()) {
    return d->second.stats;  // re-registered while draining: it keeps its counters
  }
  auto stats = std::make_shared<balancer::TargetStats>();
  // Health checks off: in service at once (state "unavailable"); otherwise routable only
  // after its first passing check (the group fails open meanwhile).
  stats->routable.store(!tg.health_check.enabled);
  return stats;
}

void SnapshotCompiler::Commit(Pending next, int64_t now, Snapshot* snap) {
  // Deregistered targets drain (only groups compiled again can have lost one).
  for (const auto& [name, last] : groups_) {
    auto it = next.groups.find(name);
    const GroupTargets* now_group = it == next.groups.end() ? nullptr : it->second.get();
    if (now_group == last.get()) continue;
    for (const auto& [key, known] : last->known) {
      if ((now_group != nullptr && now_group->known.count(key) != 0) || draining_.count(key) != 0) {
        continue;
      }
      DrainingTarget d;
      d.group = name;
      d.id = known.id;
      d.address = known.address;
      d.check = last->settings.check;
      d.stats = known.stats;
      d.deadline_ms =
          now + static_cast<int64_t>(last->settings.deregistration_delay_seconds) * 1000;
      d.stats->routable.store(false);
      draining_[key] = std::move(d);
    }
  }
  // Re-registered targets stop draining; expired drains end. An expired drain stays listed
  // for a grace period, so that a reload landing just after the deadline (before a worker's
  // next tick) still ends the requests left on it.
  constexpr int64_t kExpiredDrainGraceMs = 60 * 1000;
  for (auto it = draining_.begin(); it != draining_.end();) {
    auto group = next.groups.find(it->second.group);
    const bool registered =
        group != next.groups.end() && group->second->known.count(it->first) != 0;
    if (registered || now >= it->second.deadline_ms + kExpiredDrainGraceMs) {
      it = draining_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [key, d] : draining_) snap->draining.push_back(d);
  for (const auto& [name, group] : next.groups) {
    auto last = groups_.find(name);
    if (last != groups_.end() && last->second == group) continue;  // already given
    for (const auto& [key, known] : group->known) {
      balancer::TargetStats& stats = *known.stats;
      stats.reset_flows_at_drain_end.store(group->settings.reset_flows_at_drain_end,
                                           std::memory_order_relaxed);
      stats.unhealthy_flow_grace_ms.store(group->settings.unhealthy_flow_grace_ms,
                                          std::memory_order_relaxed);
    }
  }
  // Only now forget counters that are no longer referenced.
  groups_ = std::move(next.groups);
}

uint64_t AccessLogKey(const std::string& load_balancer_name) {
  return balancer::StickyHash("access-log:" + load_balancer_name) | 1;
}

uint64_t ConnectionLogKey(const std::string& load_balancer_name) {
  return balancer::StickyHash("connection-log:" + load_balancer_name) | 1;
}

}  // namespace sluice::snapshot
