#include "proxy/snapshot.h"

#include <unistd.h>

#include <map>

#include "net/socket.h"

namespace sluice::proxy {

ListenSocketSet::~ListenSocketSet() {
  for (int fd : fds) close(fd);
}

Result<std::shared_ptr<const Snapshot>> SnapshotBuilder::Build(config::Config config) {
  auto snap = std::make_shared<Snapshot>();
  snap->config = std::move(config);
  snap->generation = ++generation_;
  config::Config& cfg = snap->config;

  std::map<std::string, int> group_index;
  for (size_t i = 0; i < cfg.target_groups.size(); ++i) {
    group_index[cfg.target_groups[i].name] = static_cast<int>(i);
  }

  // Target groups and their live counters.
  std::map<std::string, std::shared_ptr<balancer::TargetStats>> next_stats;
  snap->target_groups.resize(cfg.target_groups.size());
  for (size_t i = 0; i < cfg.target_groups.size(); ++i) {
    const config::TargetGroup& tg = cfg.target_groups[i];
    TargetGroupRuntime& rt = snap->target_groups[i];
    rt.config = &tg;
    for (const config::Target& t : tg.targets) {
      auto addr = SocketAddress::Parse(t.id, static_cast<uint16_t>(t.port ? t.port : tg.port));
      if (!addr) {
        return Error{ErrorSource::kConfig, "target group " + tg.name + ": bad target " + t.id};
      }
      std::string key = tg.name + "/" + addr->ToString();
      auto it = target_stats_.find(key);
      auto stats = it != target_stats_.end() ? it->second
                                             : std::make_shared<balancer::TargetStats>();
      next_stats[key] = stats;
      rt.targets.push_back({*addr, stats});
      rt.candidates.push_back(stats.get());
    }
  }

  // Resolve forward actions to target-group indices.
  auto resolve = [&](std::vector<config::Action>& actions) -> bool {
    for (config::Action& a : actions) {
      if (a.type != config::ActionType::kForward) continue;
      for (config::TargetGroupTuple& t : a.forward.target_groups) {
        auto it = group_index.find(t.target_group);
        if (it == group_index.end()) return false;
        t.index = it->second;
      }
    }
    return true;
  };

  // Listeners: compile rules and reuse or open sockets.
  std::map<std::string, std::shared_ptr<ListenSocketSet>> opened;
  for (config::LoadBalancer& lb : cfg.load_balancers) {
    for (config::Listener& l : lb.listeners) {
      if (!resolve(l.default_actions)) {
        return Error{ErrorSource::kConfig, "unknown target group in default actions"};
      }
      for (config::Rule& r : l.rules) {
        if (!resolve(r.actions)) {
          return Error{ErrorSource::kConfig, "unknown target group in rule actions"};
        }
      }
      ListenerRuntime rt;
      rt.load_balancer = &lb;
      rt.listener = &l;
      rt.port_text = std::to_string(l.port);
      auto table = routing::RuleTable::Compile(l);
      if (!table.ok()) return table.error();
      rt.rules = std::move(table.value());
      auto addr = SocketAddress::Parse(l.bind_address, static_cast<uint16_t>(l.port));
      if (!addr) {
        return Error{ErrorSource::kConfig, "listener: bad BindAddress " + l.bind_address};
      }
      std::string key = addr->ToString();
      std::shared_ptr<ListenSocketSet> set;
      if (auto it = sockets_.find(key); it != sockets_.end()) set = it->second.lock();
      if (!set) {
        set = std::make_shared<ListenSocketSet>();
        set->address = *addr;
        for (int k = 0; k < worker_count_; ++k) {
          auto fd = net::Listen(*addr);
          if (!fd.ok()) return fd.error();  // `set` closes what it opened
          set->fds.push_back(fd.value());
        }
      }
      opened[key] = set;
      rt.sockets = set;
      snap->listeners.push_back(std::move(rt));
    }
  }

  // Commit: only now forget sockets and counters that are no longer referenced.
  sockets_.clear();
  for (auto& [key, set] : opened) sockets_[key] = set;
  target_stats_ = std::move(next_stats);
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

}  // namespace sluice::proxy
