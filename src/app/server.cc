#include "app/server.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <thread>
#include <variant>
#include <vector>

#include "app/access_logs.h"
#include "app/file_watch.h"
#include "config/arn.h"
#include "config/loader.h"
#include "control/admin_server.h"
#include "health/checker.h"
#include "net/event_loop.h"
#include "proxy/listener_sockets.h"
#include "proxy/worker.h"

namespace sluice::app {
namespace {

void Log(const char* fmt, const std::string& a = "", const std::string& b = "") {
  char ts[32];
  time_t now = time(nullptr);
  tm t;
  gmtime_r(&now, &t);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &t);
  std::fprintf(stderr, "%s sluice: ", ts);
  std::fprintf(stderr, fmt, a.c_str(), b.c_str());
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

// Loads and compiles the config; prints every error and returns null on failure.
// A compiled snapshot and the listening sockets that serve it, published together.
struct Loaded {
  std::shared_ptr<const proxy::Snapshot> snapshot;
  std::shared_ptr<const proxy::ListenerSocketTable> sockets;
  explicit operator bool() const { return snapshot != nullptr; }
};

Loaded LoadSnapshot(const std::string& path, proxy::SnapshotCompiler* compiler,
                    proxy::ListenerSockets* listener_sockets) {
  config::LoadResult loaded = config::LoadConfigFromFile(path);
  if (auto* errors = std::get_if<config::ConfigErrors>(&loaded)) {
    for (const config::ConfigError& e : *errors) Log("%s", e.ToString());
    Log("%s: %s", path,
        std::to_string(config::CountErrors(*errors)) + " error(s); config not applied");
    return {};
  }
  Loaded out;
  // The sockets are opened as the last step of compiling: a port that cannot be bound
  // refuses the whole config, and the compiler's state stays as it was.
  auto open_sockets = [&](const proxy::Snapshot& snap) -> Result<bool> {
    auto table = listener_sockets->Open(snap);
    if (!table.ok()) return table.error();
    out.sockets = table.value();
    return true;
  };
  auto built = compiler->Build(std::move(std::get<config::Config>(loaded)), open_sockets);
  if (!built.ok()) {
    const std::string& message = built.error().message;
    if (message.rfind(path + ":", 0) == 0) {
      // Already located (file:line:column: field: ...), one problem per line.
      Log("%s", message);
      Log("%s: config not applied", path);
    } else {
      Log("%s: %s; config not applied", path, message);
    }
    return {};
  }
  out.snapshot = built.value();
  return out;
}

void DescribeListeners(const proxy::Snapshot& snap) {
  for (const proxy::ListenerRuntime& l : snap.listeners) {
    std::string tls;
    if (l.tls != nullptr) {
      tls = ", " + std::string(l.tls->policy().name) + ", " +
            std::to_string(l.tls->certificate_count()) + " certificate(s)";
      const config::MutualAuthentication& ma = l.listener->mutual_authentication;
      if (ma.mode == config::MutualTlsMode::kPassthrough) tls += ", mutual TLS passthrough";
      if (ma.mode == config::MutualTlsMode::kVerify) {
        tls += ", mutual TLS verify against trust store " + ma.trust_store;
      }
    }
    Log("load balancer %s listening on %s", l.load_balancer->name,
        std::string(snapshot::SchemeOf(l.protocol)) + "://" + l.address.ToString() + " (" +
            std::to_string(l.rules->rule_count()) + " rules" + tls + ")");
  }
}

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
  auto mark = [&used](const std::vector<config::Action>& actions) {
    for (const config::Action& a : actions) {
      if (a.type != config::ActionType::kForward) continue;
      for (const config::TargetGroupTuple& t : a.forward.target_groups) {
        if (t.index >= 0 && static_cast<size_t>(t.index) < used.size()) used[t.index] = true;
      }
    }
  };
  for (const config::LoadBalancer& lb : snap.config.load_balancers) {
    for (const config::Listener& l : lb.listeners) {
      mark(l.default_actions);
      for (const config::Rule& r : l.rules) mark(r.actions);
    }
  }
  return used;
}

// Everything the health checker should watch: every target group (also those without
// targets, so that the admin endpoint lists them) and whether a listener uses it, registered
// targets, and the deregistered ones while they drain (under their group, or under a group of
// their own name when the group itself was removed).
health::MonitoredSet MonitoredTargets(const proxy::Snapshot& snap) {
  health::MonitoredSet out;
  std::vector<bool> used = UsedGroups(snap);
  std::map<std::string, size_t> index;
  for (size_t g = 0; g < snap.target_groups.size(); ++g) {
    const proxy::TargetGroupRuntime& tg = snap.target_groups[g];
    index[tg.config->name] = g;
    out.groups.push_back({tg.config->name, tg.config->health_check,
                          tg.config->attributes.slow_start_seconds, used[g], tg.tls});
    for (size_t i = 0; i < tg.targets.size(); ++i) {
      const proxy::TargetRuntime& t = tg.targets[i];
      out.targets.push_back({g, tg.config->targets[i].id, t.address,
                             CheckPort(tg.config->health_check, t.address), t.stats, false});
    }
  }
  int64_t now = net::MonotonicMillis();
  for (const proxy::DrainingTarget& d : snap.draining) {
    if (now >= d.deadline_ms) continue;  // drained: no longer registered anywhere
    auto [it, added] = index.emplace(d.group, out.groups.size());
    if (added) out.groups.push_back({d.group, d.check, 0, false, nullptr});
    out.targets.push_back(
        {it->second, d.id, d.address, CheckPort(d.check, d.address), d.stats, true});
  }
  return out;
}

// Descriptors a serving process must have free at start-up: a client and a target
// connection per request in flight, plus room for a few connections per worker.
constexpr long kMinFreeDescriptors = 64;

// Fails when fewer than kMinFreeDescriptors are free under RLIMIT_NOFILE, counting the open
// ones in /proc/self/fd: "ready" with no descriptor left would accept nothing.
Result<bool> CheckDescriptorHeadroom() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return Error{ErrorSource::kInternal, std::string("getrlimit: ") + std::strerror(errno)};
  }
  if (limit.rlim_cur == RLIM_INFINITY) return true;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    if (errno != EMFILE && errno != ENFILE) return true;  // no /proc: nothing to count
    return Error{ErrorSource::kInternal,
                 "file-descriptor limit " + std::to_string(limit.rlim_cur) +
                     " reached at start-up (ulimit -n): nothing could be served"};
  }
  long open_fds = -3;  // ".", ".." and the directory's own descriptor
  while (readdir(dir) != nullptr) ++open_fds;
  closedir(dir);
  const long free_fds = static_cast<long>(limit.rlim_cur) - open_fds;
  if (free_fds >= kMinFreeDescriptors) return true;
  return Error{ErrorSource::kInternal,
               "file-descriptor limit " + std::to_string(limit.rlim_cur) + " (ulimit -n) leaves " +
                   std::to_string(free_fds) + " free after start-up (" + std::to_string(open_fds) +
                   " open); at least " + std::to_string(kMinFreeDescriptors) +
                   " are needed to serve"};
}

// HealthyHostCount / UnHealthyHostCount per target group, from the checker's report.
std::vector<observe::TargetGroupHealthCount> HealthCounts(
    const std::vector<health::TargetGroupHealth>& report) {
  std::vector<observe::TargetGroupHealthCount> out;
  for (const health::TargetGroupHealth& g : report) {
    observe::TargetGroupHealthCount c;
    c.dimension = config::TargetGroupDimension(g.group);
    for (const health::TargetHealthRow& t : g.targets) {
      if (t.state == health::TargetState::kHealthy) ++c.healthy;
      if (t.state == health::TargetState::kUnhealthy) ++c.unhealthy;
    }
    out.push_back(std::move(c));
  }
  return out;
}

// Starts every worker on `snap`; "ready" may be said only when this returns true. On a
// failure it logs the cause, stops the workers already running and returns false.
bool StartWorkers(std::vector<std::unique_ptr<proxy::Worker>>& pool, const Loaded& loaded) {
  for (size_t i = 0; i < pool.size(); ++i) {
    pool[i]->Publish(loaded.snapshot, loaded.sockets);
    Result<bool> started = pool[i]->Start();
    if (started.ok()) continue;
    Log("cannot start: %s%s", started.error().message);
    for (size_t k = 0; k < i; ++k) pool[k]->BeginShutdown(net::MonotonicMillis());
    pool.clear();  // joins the ones that ran
    return false;
  }
  return true;
}

}  // namespace

int RunServer(const ServerOptions& options) {
  int workers =
      options.workers > 0 ? options.workers : static_cast<int>(std::thread::hardware_concurrency());
  if (workers <= 0) workers = 1;

  // Signals are taken synchronously by this thread; workers inherit the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  proxy::SnapshotCompiler compiler;
  compiler.set_worker_count(static_cast<size_t>(workers));
  observe::MetricSlots metric_slots;  // outlives the compiler and the admin endpoint
  compiler.set_metric_slots(&metric_slots);
  proxy::ListenerSockets listener_sockets(workers);
  Loaded loaded = LoadSnapshot(options.config_path, &compiler, &listener_sockets);
  if (!loaded) return 1;
  std::shared_ptr<const proxy::Snapshot> current = loaded.snapshot;
  std::shared_ptr<const proxy::ListenerSocketTable> current_sockets = loaded.sockets;

  // The workers' event loops are created before the health checker opens its first probe
  // socket, so that thousands of targets cannot take the descriptors serving needs.
  // Declared first: the sinks must outlive the workers' threads.
  AccessLogs access_logs(static_cast<size_t>(workers));
  std::vector<std::unique_ptr<proxy::Worker>> pool;
  for (int i = 0; i < workers; ++i) pool.push_back(std::make_unique<proxy::Worker>(i));
  for (auto& w : pool) access_logs.Attach(*w);
  access_logs.Apply(*current);

  health::HealthChecker checker;
  checker.Update(MonitoredTargets(*current));
  if (!checker.Start()) {
    Log("cannot start: the health checker could not start (see above)%s%s");
    return 1;
  }
  // Serve once the first round of checks is in (bounded), so that traffic starts on healthy
  // targets instead of failing open to all of them and then narrowing.
  if (!checker.WaitForInitialChecks(2000)) {
    Log("some targets are still in their first health check; serving anyway%s%s");
  }

  control::AdminServer admin([&checker] { return checker.Report(); });
  admin.set_access_log_stats([&access_logs] { return access_logs.stats(); });
  std::vector<const observe::WorkerMetrics*> worker_metrics;
  for (auto& w : pool) worker_metrics.push_back(&w->metrics());
  admin.set_metrics([&metric_slots, worker_metrics, &checker] {
    return observe::RenderPrometheus(metric_slots, worker_metrics, HealthCounts(checker.Report()));
  });
  {
    std::string addr = current->config.admin.address;
    int port = current->config.admin.port;
    if (!options.admin_override.empty()) {
      size_t colon = options.admin_override.rfind(':');
      addr = options.admin_override.substr(0, colon);
      port = std::stoi(options.admin_override.substr(colon + 1));
    }
    if (port > 0 || !options.admin_override.empty()) {
      auto sa = SocketAddress::Parse(addr, static_cast<uint16_t>(port));
      auto started = sa ? admin.Start(*sa)
                        : Result<bool>(Error{ErrorSource::kConfig, "admin: bad address " + addr});
      if (!started.ok()) {
        Log("%s%s", started.error().message);
        return 1;
      }
      Log("admin endpoint on http://%s%s", addr + ":" + std::to_string(admin.port()));
    }
  }

  if (Result<bool> headroom = CheckDescriptorHeadroom(); !headroom.ok()) {
    Log("cannot start: %s%s", headroom.error().message);
    return 1;
  }
  if (!StartWorkers(pool, loaded)) return 1;
  loaded = {};  // current/current_sockets hold them now; a reload must be able to drop them
  DescribeListeners(*current);
  Log("ready: %s workers, config %s", std::to_string(workers), options.config_path);

  // Certificate, key, CA and CRL files are watched: replacing one reloads as SIGHUP does.
  FileWatch watch;
  watch.Watch(WatchedFiles(current->config));
  auto reload = [&](const char* why) {
    Log("%s: reloading %s", why, options.config_path);
    Loaded next = LoadSnapshot(options.config_path, &compiler, &listener_sockets);
    if (!next) {
      Log("reload refused; still serving generation %s%s", std::to_string(current->generation));
      return;
    }
    current = next.snapshot;
    current_sockets = next.sockets;
    for (auto& w : pool) w->Publish(current, current_sockets);
    access_logs.Apply(*current);
    uint64_t update = checker.Update(MonitoredTargets(*current));
    // "reload applied" promises that the admin endpoint shows the new target set (draining
    // targets included), so wait for the checker thread to take it; it only runs probes
    // between updates, so this takes milliseconds.
    if (!checker.WaitForUpdate(update, 2000)) {
      Log("reload: health checker slow to take the new targets%s%s");
    }
    watch.Watch(WatchedFiles(current->config));
    DescribeListeners(*current);
    Log("reload applied: generation %s%s", std::to_string(current->generation));
  };

  while (true) {
    timespec timeout{1, 0};
    int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig < 0 && watch.PollSettled()) reload("certificate files changed");
    if (sig < 0 && !current->draining.empty()) {
      // Draining targets leave the health report when their delay ends.
      bool expired = false;
      for (const auto& d : current->draining) {
        if (net::MonotonicMillis() >= d.deadline_ms) expired = true;
      }
      if (expired) checker.Update(MonitoredTargets(*current));
    }
    if (sig == SIGHUP) {
      reload("SIGHUP");
    } else if (sig == SIGTERM || sig == SIGINT) {
      Log("%s: stopping; in-flight requests have %s seconds", sig == SIGTERM ? "SIGTERM" : "SIGINT",
          std::to_string(options.shutdown_timeout_seconds));
      int64_t deadline =
          net::MonotonicMillis() + static_cast<int64_t>(options.shutdown_timeout_seconds) * 1000;
      for (auto& w : pool) w->BeginShutdown(deadline);
      // Stop listening now, so that new connections are refused rather than left to wait
      // in an accept queue nobody serves (and reset at exit).
      current_sockets->ShutdownAll();
      for (auto& w : pool) w->Join();
      pool.clear();
      access_logs.Stop();  // the workers are gone: their last entries are in the rings
      Log("stopped%s%s");
      return 0;
    }
  }
}

}  // namespace sluice::app
