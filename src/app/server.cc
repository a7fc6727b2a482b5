#include "app/server.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <thread>
#include <variant>
#include <vector>

#include "config/loader.h"
#include "net/event_loop.h"
#include "proxy/snapshot.h"
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
std::shared_ptr<const proxy::Snapshot> LoadSnapshot(const std::string& path,
                                                    proxy::SnapshotBuilder* builder) {
  config::LoadResult loaded = config::LoadConfigFromFile(path);
  if (auto* errors = std::get_if<config::ConfigErrors>(&loaded)) {
    for (const config::ConfigError& e : *errors) Log("%s", e.ToString());
    Log("%s: %s", path, std::to_string(errors->size()) + " error(s); config not applied");
    return nullptr;
  }
  auto built = builder->Build(std::move(std::get<config::Config>(loaded)));
  if (!built.ok()) {
    Log("%s: %s; config not applied", path, built.error().message);
    return nullptr;
  }
  return built.value();
}

void DescribeListeners(const proxy::Snapshot& snap) {
  for (const proxy::ListenerRuntime& l : snap.listeners) {
    Log("load balancer %s listening on %s", l.load_balancer->name,
        "http://" + l.sockets->address.ToString() + " (" +
            std::to_string(l.rules->rule_count()) + " rules)");
  }
}

}  // namespace

int RunServer(const ServerOptions& options) {
  int workers = options.workers > 0 ? options.workers
                                    : static_cast<int>(std::thread::hardware_concurrency());
  if (workers <= 0) workers = 1;

  // Signals are taken synchronously by this thread; workers inherit the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  proxy::SnapshotBuilder builder(workers);
  std::shared_ptr<const proxy::Snapshot> current = LoadSnapshot(options.config_path, &builder);
  if (!current) return 1;

  std::vector<std::unique_ptr<proxy::Worker>> pool;
  for (int i = 0; i < workers; ++i) {
    pool.push_back(std::make_unique<proxy::Worker>(i));
    pool.back()->Publish(current);
    pool.back()->Start();
  }
  DescribeListeners(*current);
  Log("ready: %s workers, config %s", std::to_string(workers), options.config_path);

  while (true) {
    timespec timeout{1, 0};
    int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGHUP) {
      Log("SIGHUP: reloading %s%s", options.config_path);
      auto next = LoadSnapshot(options.config_path, &builder);
      if (!next) {
        Log("reload refused; still serving generation %s%s",
            std::to_string(current->generation));
        continue;
      }
      current = next;
      for (auto& w : pool) w->Publish(current);
      DescribeListeners(*current);
      Log("reload applied: generation %s%s", std::to_string(current->generation));
    } else if (sig == SIGTERM || sig == SIGINT) {
      Log("%s: stopping; in-flight requests have %s seconds",
          sig == SIGTERM ? "SIGTERM" : "SIGINT", std::to_string(options.shutdown_timeout_seconds));
      int64_t deadline =
          net::MonotonicMillis() + static_cast<int64_t>(options.shutdown_timeout_seconds) * 1000;
      for (auto& w : pool) w->BeginShutdown(deadline);
      for (auto& w : pool) w->Join();
      pool.clear();
      Log("stopped%s%s");
      return 0;
    }
  }
}

}  // namespace sluice::app
