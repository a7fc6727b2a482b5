// sluice: a self-hosted Application Load Balancer.
//
//   sluice run --config FILE [--workers N]     serve a config (SIGHUP reloads, SIGTERM stops)
//   sluice validate FILE                       check a config; errors name file:line:column
//   sluice demo [--config FILE]                start demo targets for the config, then serve it
//   sluice demo-target --listen ADDR:PORT      a small echo backend (like `whoami`)
//   sluice targets [--admin ADDR:PORT] [--json] target health, from the admin endpoint
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <set>
#include <thread>
#include <variant>
#include <vector>

#include "app/demo_target.h"
#include "app/server.h"
#include "config/loader.h"
#include "control/admin_server.h"

namespace {

// Splits "host:port" / "[v6]:port" / "port".
bool SplitListen(const std::string& text, std::string* host, int* port) {
  std::string h = "127.0.0.1";
  std::string p = text;
  size_t colon = text.rfind(':');
  if (colon != std::string::npos) {
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  }
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *host = h;
  *port = std::stoi(p);
  return *port <= 65535;
}

int Validate(const std::string& path) {
  auto loaded = sluice::config::LoadConfigFromFile(path);
  if (auto* errors = std::get_if<sluice::config::ConfigErrors>(&loaded)) {
    for (const auto& e : *errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    std::fprintf(stderr, "%s: %zu error(s)\n", path.c_str(), errors->size());
    return 1;
  }
  const auto& cfg = std::get<sluice::config::Config>(loaded);
  size_t listeners = 0, rules = 0, targets = 0;
  for (const auto& lb : cfg.load_balancers) {
    listeners += lb.listeners.size();
    for (const auto& l : lb.listeners) rules += l.rules.size();
  }
  for (const auto& tg : cfg.target_groups) targets += tg.targets.size();
  std::printf(
      "%s: ok (%zu load balancers, %zu listeners, %zu rules, %zu target groups, %zu targets)\n",
      path.c_str(), cfg.load_balancers.size(), listeners, rules, cfg.target_groups.size(), targets);
  return 0;
}

// Starts an echo target for every loopback target of the config, then serves the config.
int Demo(const sluice::app::ServerOptions& options) {
  auto loaded = sluice::config::LoadConfigFromFile(options.config_path);
  if (auto* errors = std::get_if<sluice::config::ConfigErrors>(&loaded)) {
    for (const auto& e : *errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    return 1;
  }
  // Block the stop signals before any thread starts, so that only the server sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  std::set<std::pair<std::string, int>> started;
  for (const auto& tg : std::get<sluice::config::Config>(loaded).target_groups) {
    int n = 0;
    for (const auto& t : tg.targets) {
      int port = t.port ? t.port : tg.port;
      ++n;
      if (t.id.rfind("127.", 0) != 0 && t.id != "::1") continue;
      if (!started.insert({t.id, port}).second) continue;
      sluice::app::DemoTargetOptions o;
      o.listen_address = t.id;
      o.port = port;
      o.name = tg.name + "-" + std::to_string(n);
      o.health_path = tg.health_check.path;
      threads.emplace_back([o, &stop] { sluice::app::RunDemoTarget(o, &stop); });
    }
  }
  int rc = sluice::app::RunServer(options);
  stop = true;
  for (auto& t : threads) t.join();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice: a self-hosted Application Load Balancer"};
  app.require_subcommand(1);

  sluice::app::ServerOptions server;
  auto* run = app.add_subcommand("run", "Serve a config file (SIGHUP reloads, SIGTERM stops)");
  run->add_option("-c,--config", server.config_path, "Config file (YAML)")->required();
  run->add_option("-w,--workers", server.workers, "Worker threads (default: online CPUs)")
      ->check(CLI::Range(0, 256));
  run->add_option("--shutdown-timeout", server.shutdown_timeout_seconds,
                  "Seconds in-flight requests get after SIGTERM")
      ->check(CLI::Range(0, 3600));

  std::string validate_path;
  auto* validate = app.add_subcommand("validate", "Check a config file and report every error");
  validate->add_option("file", validate_path, "Config file (YAML)")->required();

  sluice::app::ServerOptions demo_options;
  demo_options.config_path = "examples/demo.yaml";
  auto* demo = app.add_subcommand("demo", "Start demo targets for a config, then serve it");
  demo->add_option("-c,--config", demo_options.config_path, "Config file (YAML)");
  demo->add_option("-w,--workers", demo_options.workers, "Worker threads");

  std::string listen = "127.0.0.1:0";
  sluice::app::DemoTargetOptions target;
  auto* demo_target = app.add_subcommand("demo-target", "A small echo backend for demos and tests");
  demo_target->add_option("-l,--listen", listen, "ADDRESS:PORT to listen on");
  demo_target->add_option("-n,--name", target.name, "Name shown in responses");
  demo_target->add_option("--health-path", target.health_path, "Path answered with 200 ok");

  std::string admin_address = "127.0.0.1:9901";
  bool targets_json = false;
  auto* targets = app.add_subcommand("targets", "Show target health (from the admin endpoint)");
  targets->add_option("-a,--admin", admin_address, "Admin endpoint ADDRESS:PORT");
  targets->add_flag("--json", targets_json, "Print the JSON (DescribeTargetHealth shape)");
  run->add_option("--admin", server.admin_override,
                  "Serve the admin endpoint on ADDRESS:PORT (overrides Admin: in the config)");
  demo->add_option("--admin", demo_options.admin_override, "Admin endpoint ADDRESS:PORT");

  CLI11_PARSE(app, argc, argv);

  if (*targets) {
    std::string host;
    int port = 0;
    auto addr = SplitListen(admin_address, &host, &port)
                    ? sluice::SocketAddress::Parse(host, static_cast<uint16_t>(port))
                    : std::nullopt;
    if (!addr) {
      std::fprintf(stderr, "targets: --admin %s: expected ADDRESS:PORT\n", admin_address.c_str());
      return 2;
    }
    auto body = sluice::control::FetchAdmin(*addr, "/targets");
    if (!body.ok()) {
      std::fprintf(stderr, "targets: %s\n", body.error().message.c_str());
      return 1;
    }
    std::string table;
    if (targets_json || !sluice::control::FormatTargetHealthTable(body.value(), &table)) {
      std::fputs(body.value().c_str(), stdout);
    } else {
      std::fputs(table.c_str(), stdout);
    }
    return 0;
  }

  if (*run) return sluice::app::RunServer(server);
  if (*validate) return Validate(validate_path);
  if (*demo) return Demo(demo_options);
  if (*demo_target) {
    if (!SplitListen(listen, &target.listen_address, &target.port)) {
      std::fprintf(stderr, "demo-target: --listen %s: expected ADDRESS:PORT\n", listen.c_str());
      return 2;
    }
    if (target.name.empty()) target.name = listen;
    return sluice::app::RunDemoTarget(target);
  }
  return 0;
}
