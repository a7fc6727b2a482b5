#include "app/server.h"

#include <dirent.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <variant>
#include <vector>

#include "app/access_logs.h"
#include "app/api_change.h"
#include "app/api_runtime.h"
#include "app/file_watch.h"
#include "app/metrics_runtime.h"
#include "app/monitored_targets.h"
#include "app/quiet_trim.h"
#include "app/retired_snapshots.h"
#include "app/service_notify.h"
#include "config/arn.h"
#include "config/export.h"
#include "config/loader.h"
#include "control/admin_server.h"
#include "control/admin_token.h"
#include "health/checker.h"
#include "net/event_loop.h"
#include "proxy/listener_sockets.h"
#include "proxy/worker.h"

namespace sluice::app {
namespace {

// One line per call, written with one fwrite: the control, sampler and webhook threads log
// concurrently, and their lines must not interleave.
void Log(const char* fmt, const std::string& a = "", const std::string& b = "") {
  char ts[32];
  time_t now = time(nullptr);
  tm t;
  gmtime_r(&now, &t);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &t);
  std::string line = std::string(ts) + " sluice: ";
  const int n = std::snprintf(nullptr, 0, fmt, a.c_str(), b.c_str());
  if (n > 0) {
    const size_t at = line.size();
    line.resize(at + static_cast<size_t>(n) + 1);
    std::snprintf(line.data() + at, static_cast<size_t>(n) + 1, fmt, a.c_str(), b.c_str());
    line.back() = '\n';
  } else {
    line.push_back('\n');
  }
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

// Loads and compiles the config; prints every error and returns null on failure.
// A compiled snapshot and the listening sockets that serve it, published together.
struct Loaded {
  std::shared_ptr<const proxy::Snapshot> snapshot;
  std::shared_ptr<const proxy::ListenerSocketTable> sockets;
  explicit operator bool() const { return snapshot != nullptr; }
};

// `path` names the source in messages (the file, or the state store's document). On a
// failure, *why (when given) gets the errors, one per line.
Loaded LoadSnapshot(config::LoadResult loaded, const std::string& path,
                    proxy::SnapshotCompiler* compiler, proxy::ListenerSockets* listener_sockets,
                    std::string* why = nullptr) {
  if (auto* errors = std::get_if<config::ConfigErrors>(&loaded)) {
    for (const config::ConfigError& e : *errors) {
      Log("%s", e.ToString());
      if (why != nullptr) *why += e.ToString() + "\n";
    }
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
    if (why != nullptr) *why = message;
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

// Where the config comes from: a file (SIGHUP reloads it) or the state store's document
// (the elbv2 API changes it). With both, the file is served and the store holds only the
// API's access keys. Control thread only.
struct ConfigSource {
  std::string file;
  std::unique_ptr<store::StateStore> db;
  std::string db_path;
  int64_t generation = 0;

  bool from_store() const { return file.empty(); }
  std::string Label() const {
    return from_store() ? db_path + " (generation " + std::to_string(generation) + ")" : file;
  }
  // Reads the current config; errors as the loader reports them.
  config::LoadResult Read() {
    if (!from_store()) return config::LoadConfigFromFile(file);
    auto doc = db->Load();
    if (!doc.ok()) return StoreError(doc.error().message);
    if (doc.value().generation == 0) {
      return StoreError(
          "the state store holds no config yet; load one with `sluice import FILE "
          "--state " +
          db_path + "`");
    }
    generation = doc.value().generation;
    return config::LoadConfigFromString(doc.value().yaml, Label());
  }
  config::ConfigErrors StoreError(std::string message) const {
    config::ConfigError e;
    e.file = db_path;
    e.message = std::move(message);
    return {e};
  }
};

std::string MasterKeyPath(const ServerOptions& options) {
  return options.master_key_path.empty() ? options.state_path + ".key" : options.master_key_path;
}

Result<bool> OpenSource(const ServerOptions& options, ConfigSource* source) {
  source->file = options.config_path;
  if (options.state_path.empty()) return true;
  auto opened = store::StateStore::Open(options.state_path, MasterKeyPath(options));
  if (!opened.ok()) return opened.error();
  source->db = std::move(opened.value());
  source->db_path = options.state_path;
  return true;
}

// Blocks SIGHUP, SIGTERM and SIGINT (the workers inherit the mask) and returns a signalfd
// that reads them, or -1.
int BlockServerSignals(sigset_t* signals) {
  sigemptyset(signals);
  sigaddset(signals, SIGHUP);
  sigaddset(signals, SIGTERM);
  sigaddset(signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signalfd(-1, signals, SFD_CLOEXEC | SFD_NONBLOCK);
}

// Waits up to 1 s for a signal or an API change; returns the signal number, or 0.
// `idle`: a second passed with nothing to do.
int WaitForEvent(int signal_fd, ApiRuntime& api, bool* idle) {
  pollfd fds[2] = {{signal_fd, POLLIN, 0}, {api.wakeup_fd(), POLLIN, 0}};
  int n = poll(fds, api.wakeup_fd() >= 0 ? 2 : 1, 1000);
  *idle = n == 0;
  if (n <= 0) return 0;
  if (fds[1].revents & POLLIN) api.RunPending();
  if (fds[0].revents & POLLIN) {
    signalfd_siginfo info{};
    if (read(signal_fd, &info, sizeof(info)) == sizeof(info))
      return static_cast<int>(info.ssi_signo);
  }
  return 0;
}

// The admin token (Admin.TokenFile) into `admin`; an endpoint beyond loopback without one
// (given by --admin, which the loader's check does not see) is refused.
Result<bool> AdminToken(const config::AdminSettings& settings, const IpAddress* ip,
                        const std::string& addr, control::AdminServer& admin) {
  if (settings.token_file.empty()) {
    if (ip == nullptr || IsLoopback(*ip)) return true;
    return Error{ErrorSource::kConfig, "admin endpoint " + addr +
                                           " is reachable beyond this host: set Admin.TokenFile "
                                           "in the config (a file holding the token its clients "
                                           "must send) or bind 127.0.0.1"};
  }
  Result<std::string> token = control::ReadAdminToken(settings.token_file);
  if (!token.ok()) return token.error();
  admin.set_token(std::move(token.value()));
  return true;
}

void StartAdmin(const ServerOptions& options, const proxy::Snapshot& snap,
                control::AdminServer& admin, bool* failed) {
  std::string addr = snap.config.admin.address;
  int port = snap.config.admin.port;
  if (!options.admin_override.empty()) {
    size_t colon = options.admin_override.rfind(':');
    addr = options.admin_override.substr(0, colon);
    port = std::stoi(options.admin_override.substr(colon + 1));
  }
  if (port <= 0 && options.admin_override.empty()) return;
  auto sa = SocketAddress::Parse(addr, static_cast<uint16_t>(port));
  Result<bool> started = AdminToken(snap.config.admin, sa ? &sa->ip : nullptr, addr, admin);
  if (started.ok()) {
    started = sa ? admin.Start(*sa)
                 : Result<bool>(Error{ErrorSource::kConfig, "admin: bad address " + addr});
  }
  if (!started.ok()) {
    Log("%s%s", started.error().message);
    *failed = true;
    return;
  }
  Log("admin endpoint on http://%s%s", addr + ":" + std::to_string(admin.port()));
}

std::string IsoNow() {
  time_t now = time(nullptr);
  tm t;
  gmtime_r(&now, &t);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S.000Z", &t);
  return buf;
}

std::string ApiAddress(const ServerOptions& options, const config::Config& config, uint16_t port) {
  std::string addr = config.api.address;
  if (!options.api_override.empty()) {
    addr = options.api_override.substr(0, options.api_override.rfind(':'));
  }
  return addr + ":" + std::to_string(port);
}

}  // namespace

int RunServer(const ServerOptions& options) {
  int workers =
      options.workers > 0 ? options.workers : static_cast<int>(std::thread::hardware_concurrency());
  if (workers <= 0) workers = 1;

  // Signals are taken synchronously by this thread (a signalfd); workers inherit the mask.
  sigset_t signals;
  int signal_fd = BlockServerSignals(&signals);
  if (signal_fd < 0) {
    Log("cannot start: signalfd: %s%s", std::strerror(errno));
    return 1;
  }

  ConfigSource source;
  if (Result<bool> opened = OpenSource(options, &source); !opened.ok()) {
    Log("cannot start: %s%s", opened.error().message);
    return 1;
  }
  proxy::SnapshotCompiler compiler;
  compiler.set_worker_count(static_cast<size_t>(workers));
  observe::MetricSlots metric_slots;  // outlives the compiler and the admin endpoint
  compiler.set_metric_slots(&metric_slots);
  proxy::ListenerSockets listener_sockets(workers);
  Loaded loaded = LoadSnapshot(source.Read(), source.Label(), &compiler, &listener_sockets);
  if (!loaded) return 1;
  std::shared_ptr<const proxy::Snapshot> current = loaded.snapshot;
  std::shared_ptr<const proxy::ListenerSocketTable> current_sockets = loaded.sockets;

  // The workers' event loops are created before the health checker opens its first probe
  // socket, so that thousands of targets cannot take the descriptors serving needs.
  // Declared first: the sinks must outlive the workers' threads.
  AccessLogs access_logs(static_cast<size_t>(workers),
                         [](const std::string& line) { Log("%s", line); });
  std::vector<std::unique_ptr<proxy::Worker>> pool;
  for (int i = 0; i < workers; ++i) pool.push_back(std::make_unique<proxy::Worker>(i));
  for (auto& w : pool) access_logs.Attach(*w);
  access_logs.Apply(*current);

  health::HealthChecker checker;
  access_logs.Attach(checker);  // health-check logs
  CheckerFeed checker_feed(checker);
  checker_feed.Publish(nullptr, *current, net::MonotonicMillis());
  if (!checker.Start()) {
    Log("cannot start: the health checker could not start (see above)%s%s");
    return 1;
  }
  // Serve once the first round of checks is in (bounded), so that traffic starts on healthy
  // targets instead of failing open to all of them and then narrowing.
  if (!checker.WaitForInitialChecks(2000)) {
    Log("some targets are still in their first health check; serving anyway%s%s");
  }

  std::vector<const observe::WorkerMetrics*> worker_metrics;
  for (auto& w : pool) worker_metrics.push_back(&w->metrics());
  // The metric history (GET /cloudwatch) and the alarms judged on it (GET /alarms), sampled
  // on their own thread; declared before the admin endpoint, whose thread reads them.
  MetricsRuntime metrics(
      current->config,
      [&metric_slots, worker_metrics, &checker] {
        return observe::CollectTotals(metric_slots, worker_metrics,
                                      HealthCounts(checker.Report(), metric_slots));
      },
      [](const std::string& line) { Log("%s%s", line); });
  control::AdminServer admin([&checker] { return checker.Report(); });
  admin.set_access_log_stats([&access_logs] { return access_logs.stats(); });
  admin.set_metrics([&metric_slots, worker_metrics, &checker] {
    return observe::RenderPrometheus(metric_slots, worker_metrics,
                                     HealthCounts(checker.Report(), metric_slots));
  });
  metrics.Attach(admin);
  admin.set_model(std::shared_ptr<const config::Config>(current, &current->config),
                  metrics.history().resolution_s());
  bool admin_failed = false;
  StartAdmin(options, *current, admin, &admin_failed);
  if (admin_failed) return 1;

  if (Result<bool> headroom = CheckDescriptorHeadroom(); !headroom.ok()) {
    Log("cannot start: %s%s", headroom.error().message);
    return 1;
  }
  if (!StartWorkers(pool, loaded)) return 1;
  metrics.Start();  // reads the workers' counters: only once they all run
  loaded = {};      // current/current_sockets hold them now; a reload must be able to drop them
  DescribeListeners(*current);
  Log("ready: %s workers, config %s", std::to_string(workers), source.Label());
  // Type=notify: systemd considers the unit started now, not when the process was forked.
  NotifyReady("ready: " + std::to_string(workers) + " workers, config " + source.Label());

  // A new snapshot in force: workers, access logs, health checks, watched files.
  RetiredSnapshots retired;
  FileWatch watch;
  watch.Watch(WatchedFiles(current->config));
  auto publish = [&](Loaded next) {
    std::shared_ptr<const proxy::Snapshot> before = std::move(current);
    current = next.snapshot;
    current_sockets = next.sockets;
    for (auto& w : pool) w->Publish(current, current_sockets);
    access_logs.Apply(*current);
    metrics.Apply(current->config);
    admin.set_model(std::shared_ptr<const config::Config>(current, &current->config),
                    metrics.history().resolution_s());
    // "applied" promises that the admin endpoint shows the new target set (draining
    // targets included), so wait for the checker thread to take it; it only runs probes
    // between updates, so this takes milliseconds.
    const uint64_t update = checker_feed.Publish(before.get(), *current, net::MonotonicMillis());
    if (!checker.WaitForUpdate(update, 2000)) {
      Log("health checker slow to take the new targets%s%s");
    }
    watch.Watch(WatchedFiles(current->config));
    DescribeListeners(*current);
    retired.Retire(std::move(before));  // freed here, after the caller is answered
  };

  std::unique_ptr<store::StateStore> api_keys;
  if (source.db) {
    // The API's threads read keys on a connection of their own (one thread per connection).
    auto opened = store::StateStore::Open(options.state_path, MasterKeyPath(options));
    if (!opened.ok()) {
      Log("cannot start: %s%s", opened.error().message);
      return 1;
    }
    api_keys = std::move(opened.value());
  }
  ApiRuntime api(
      std::move(api_keys), source.from_store() ? "" : source.file,
      ApiOptions{options.api_override, options.api_audit_log, options.api_audit_log_max_bytes,
                 options.api_audit_log_keep, options.api_allow_unsigned});
  // systemd hears RELOADING=1 before and READY=1 after, applied or refused: either way
  // the process serves a config again (`systemctl reload` returns then).
  auto reload = [&](const char* why) {
    Log("%s: reloading %s", why, source.Label());
    NotifyReloading();
    Loaded next = LoadSnapshot(source.Read(), source.Label(), &compiler, &listener_sockets);
    if (!next) {
      // What the refused document took goes back at once, before the refusal is told: a
      // reader of the log sees the memory returned (the order raced in a test).
      malloc_trim(0);
      Log("reload refused; still serving generation %s%s", std::to_string(current->generation));
      NotifyReady("reload refused; still serving generation " +
                  std::to_string(current->generation));
      return;
    }
    publish(std::move(next));
    api.SetConfig(current->config);
    Log("reload applied: generation %s%s", std::to_string(current->generation));
    NotifyReady("reload applied: generation " + std::to_string(current->generation));
  };
  // An API change (control thread): validated as the file would be, compiled, committed,
  // then published; refused as a whole at the first step that fails.
  auto apply = [&](config::Config model, api::ChangeScope scope,
                   std::string reason) -> api::ApiResult<bool> {
    std::string yaml = config::ExportYaml(model);
    std::future<Result<std::string>> deflated = DeflateAside(yaml);  // joined before yaml goes
    std::string label = source.db_path + " (API change)";
    config::LoadResult checked = CheckApiChange(std::move(model), scope, yaml, label);
    if (auto* errors = std::get_if<config::ConfigErrors>(&checked)) return ApiChangeError(*errors);
    std::string why;
    Loaded next = LoadSnapshot(std::move(checked), label, &compiler, &listener_sockets, &why);
    if (!next) return api::SenderError("InvalidConfigurationRequest", why);
    Result<std::string> stored = deflated.get();
    auto committed = stored.ok() ? source.db->CommitDeflated(source.generation, stored.value(),
                                                             yaml.size(), reason)
                                 : Result<int64_t>(stored.error());
    if (!committed.ok()) {
      Log("API change not applied: %s%s", committed.error().message);
      return api::ReceiverError("InternalFailure", "the change could not be stored");
    }
    source.generation = committed.value();
    publish(std::move(next));
    Log("API change applied: %s, generation %s", reason, std::to_string(source.generation));
    return true;
  };
  api.set_metric_history(&metrics.history());
  api::ServiceHooks hooks;
  hooks.health = [&checker] { return checker.Report(); };
  hooks.created_time = IsoNow();
  hooks.document_label = source.db_path.empty() ? source.file : source.db_path;
  if (Result<bool> started = api.Start(current->config, std::move(hooks), apply); !started.ok()) {
    Log("cannot start: %s%s", started.error().message);
    return 1;
  } else if (started.value()) {
    Log(api.tls() ? "elbv2 API on https://%s%s" : "elbv2 API on http://%s%s",
        ApiAddress(options, current->config, api.port()));
    if (!source.db && !options.api_allow_unsigned) {
      Log("elbv2 API: no access keys without a state store; every call will be refused "
          "(give --state DB, whose keys sluice api-keys makes)%s%s");
    }
  }

  QuietTrim quiet_trim;
  while (true) {
    bool idle = false;
    int sig = WaitForEvent(signal_fd, api, &idle);
    // The heap keeps what is freed (main.cc): API changes reuse it instead of faulting it in
    // again at each call; it goes back to the kernel once the process has been quiet. A
    // snapshot freed late (a connection held it) counts as work too.
    if (retired.Sweep() > 0 || !idle) {
      quiet_trim.Busy(net::MonotonicMillis());
    } else if (quiet_trim.DueAfterQuiet(net::MonotonicMillis())) {
      malloc_trim(0);
    }
    if (sig == 0 && watch.PollSettled()) {
      reload("certificate files changed");
      quiet_trim.Busy(net::MonotonicMillis());
    }
    // Draining targets leave the health report when their delay ends.
    if (sig == 0) checker_feed.Expire(*current, net::MonotonicMillis());
    if (sig == SIGHUP) {
      api.ReopenAuditLog();  // after logrotate moved it
      reload("SIGHUP");
    } else if (sig == SIGTERM || sig == SIGINT) {
      Log("%s: stopping; in-flight requests have %s seconds", sig == SIGTERM ? "SIGTERM" : "SIGINT",
          std::to_string(options.shutdown_timeout_seconds));
      NotifyStopping();
      api.Stop();
      int64_t deadline =
          net::MonotonicMillis() + static_cast<int64_t>(options.shutdown_timeout_seconds) * 1000;
      for (auto& w : pool) w->BeginShutdown(deadline);
      // Stop listening now, so that new connections are refused rather than left to wait
      // in an accept queue nobody serves (and reset at exit).
      current_sockets->ShutdownAll();
      for (auto& w : pool) w->Join();
      // Both read the workers' counters: stopped before the workers are freed.
      metrics.Stop();
      admin.Stop();
      pool.clear();
      checker.Stop();      // no more health-check log entries
      access_logs.Stop();  // the workers are gone: their last entries are in the rings
      Log("stopped%s%s");
      close(signal_fd);
      return 0;
    }
  }
}

}  // namespace sluice::app
