// sluice: a self-hosted Application Load Balancer.
//
//   sluice run --config FILE [--workers N]     serve a config (SIGHUP reloads, SIGTERM stops)
//   sluice run --state DB [--api ADDR:PORT]    serve the state store; the elbv2 API changes it
//   sluice import FILE --state DB              load a YAML config into the state store
//   sluice export --state DB                   print the store's config as YAML
//   sluice api-keys create|list|revoke ...     access keys for the elbv2 API (SigV4)
//   sluice validate FILE                       check a config; errors name file:line:column
//   sluice demo [--config FILE]                start demo targets for the config, then serve it
//   sluice demo-target --listen ADDR:PORT      a small echo backend (like `whoami`)
//   sluice targets [--admin ADDR:PORT] [--json] target health, from the admin endpoint
//   sluice cert self-signed --name NAME ...    a self-signed certificate for local HTTPS
//
// Every flag is checked before anything starts: a bad value is one message naming the flag
// and exit status 2. Exit status 1 is a config or runtime error; 70 an internal error (an
// exception that should not happen, caught here as a last resort).
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <set>
#include <thread>
#include <variant>
#include <vector>

#include "app/cert_command.h"
#include "app/demo_target.h"
#include "app/server.h"
#include "app/state_command.h"
#include "base/clock.h"
#include "config/host_port.h"
#include "config/loader.h"
#include "config/quote.h"
#include "config/s3.h"
#include "control/admin_server.h"
#include "control/admin_token.h"
#include "tls/client_context.h"
#include "tls/server_context.h"
#include "tls/trust_store.h"

namespace {

using sluice::config::HostPortRules;

constexpr int kUsageError = 2;
constexpr int kInternalError = 70;  // EX_SOFTWARE
constexpr size_t kMaxNameBytes = 64;
constexpr size_t kMaxPathBytes = 1024;

// Where the admin endpoint of `run`/`demo` may listen: an IP address, port 0 = any free port
// (the one chosen is logged). `targets` connects, so it needs a real port; a bare PORT means
// 127.0.0.1. demo-target also takes host names.
const HostPortRules kServeAdmin{.allow_host_name = false, .min_port = 0, .default_host = ""};
const HostPortRules kFetchAdmin{
    .allow_host_name = false, .min_port = 1, .default_host = "127.0.0.1"};
const HostPortRules kDemoListen{
    .allow_host_name = true, .min_port = 0, .default_host = "127.0.0.1"};

sluice::config::HostPort MustParse(const std::string& text, const HostPortRules& rules) {
  sluice::config::HostPort hp;
  (void)sluice::config::ParseHostPort(text, rules, &hp);  // already checked by the CLI
  return hp;
}

CLI::Validator HostPortCheck(const HostPortRules& rules) {
  return CLI::Validator(
      [rules](const std::string& value) {
        sluice::config::HostPort hp;
        return sluice::config::ParseHostPort(value, rules, &hp);
      },
      "ADDRESS:PORT");
}

// Text that goes into a response header (demo-target --name): printable ASCII, bounded.
CLI::Validator NameCheck() {
  return CLI::Validator(
      [](const std::string& value) -> std::string {
        if (value.size() > kMaxNameBytes) {
          return sluice::config::QuoteValue(value) + " is longer than " +
                 std::to_string(kMaxNameBytes) + " characters";
        }
        for (char c : value) {
          if (c < 0x20 || c > 0x7e) {
            return sluice::config::QuoteValue(value) + " must be printable ASCII";
          }
        }
        return "";
      },
      "NAME");
}

// An HTTP path: starts with '/', visible ASCII, bounded.
CLI::Validator PathCheck() {
  return CLI::Validator(
      [](const std::string& value) -> std::string {
        bool ok = !value.empty() && value.front() == '/' && value.size() <= kMaxPathBytes;
        for (char c : value) ok = ok && c > 0x20 && c < 0x7f;
        if (ok) return "";
        return sluice::config::QuoteValue(value) + ": expected a path such as /health (at most " +
               std::to_string(kMaxPathBytes) + " visible ASCII characters)";
      },
      "PATH");
}

// Prints every error, then the count.
void PrintErrorList(const sluice::config::ConfigErrors& errors, const std::string& path) {
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
  std::fprintf(stderr, "%s: %zu error(s)\n", sluice::config::EscapeText(path).c_str(),
               sluice::config::CountErrors(errors));
}

// Prints every error and the count; the config when it loaded, else null.
const sluice::config::Config* PrintErrors(const sluice::config::LoadResult& loaded,
                                          const std::string& path) {
  const auto* errors = std::get_if<sluice::config::ConfigErrors>(&loaded);
  if (errors == nullptr) return &std::get<sluice::config::Config>(loaded);
  PrintErrorList(*errors, path);
  return nullptr;
}

// Reads and checks the certificate, CA and S3 credentials files of a loaded config; prints
// every problem.
bool CheckCertificates(const sluice::config::Config& cfg, const std::string& path) {
  auto store = sluice::tls::CertificateStore::Load(cfg, sluice::RealtimeMillis() / 1000);
  sluice::config::ConfigErrors errors;
  if (const auto* e = std::get_if<sluice::config::ConfigErrors>(&store)) errors = *e;
  for (auto& e : sluice::tls::CheckTargetTls(cfg)) errors.push_back(std::move(e));
  for (auto& e : sluice::config::CheckS3Credentials(cfg)) errors.push_back(std::move(e));
  auto trust = sluice::tls::LoadTrustStores(cfg);
  if (auto* e = std::get_if<sluice::config::ConfigErrors>(&trust)) {
    for (auto& one : *e) errors.push_back(std::move(one));
  }
  if (errors.empty()) return true;
  PrintErrorList(errors, path);
  return false;
}

// The demo's certificate files, made (self-signed, for localhost) when they do not exist yet.
bool MakeMissingDemoCertificates(const sluice::config::Config& cfg) {
  for (const auto& def : cfg.certificates) {
    if (access(def.certificate_file.c_str(), F_OK) == 0 ||
        access(def.private_key_file.c_str(), F_OK) == 0) {
      continue;
    }
    sluice::tls::SelfSignedRequest request;
    request.names = {"localhost", "127.0.0.1"};
    auto written =
        sluice::app::WriteSelfSigned(request, def.certificate_file, def.private_key_file);
    if (!written.ok()) {
      std::fprintf(stderr, "demo: %s\n", written.error().message.c_str());
      return false;
    }
    std::fprintf(stderr, "demo: made a self-signed certificate for localhost: %s (key %s)\n",
                 def.certificate_file.c_str(), def.private_key_file.c_str());
  }
  return true;
}

int Validate(const std::string& path) {
  auto loaded = sluice::config::LoadConfigFromFile(path);
  const sluice::config::Config* cfg = PrintErrors(loaded, path);
  if (cfg == nullptr || !CheckCertificates(*cfg, path)) return 1;
  size_t listeners = 0, rules = 0, targets = 0;
  for (const auto& lb : cfg->load_balancers) {
    listeners += lb.listeners.size();
    for (const auto& l : lb.listeners) rules += l.rules.size();
  }
  for (const auto& tg : cfg->target_groups) targets += tg.targets.size();
  std::printf(
      "%s: ok (%zu load balancers, %zu listeners, %zu rules, %zu target groups, %zu targets)\n",
      sluice::config::EscapeText(path).c_str(), cfg->load_balancers.size(), listeners, rules,
      cfg->target_groups.size(), targets);
  return 0;
}

// Starts an echo target for every loopback target of the config, then serves the config.
int Demo(const sluice::app::ServerOptions& options) {
  auto loaded = sluice::config::LoadConfigFromFile(options.config_path);
  const sluice::config::Config* cfg = PrintErrors(loaded, options.config_path);
  if (cfg == nullptr || !MakeMissingDemoCertificates(*cfg)) return 1;
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
  for (const auto& tg : cfg->target_groups) {
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

int Targets(const std::string& admin_address, const std::string& token_file, bool json) {
  std::string token;
  if (!token_file.empty()) {
    sluice::Result<std::string> read = sluice::control::ReadAdminToken(token_file);
    if (!read.ok()) {
      std::fprintf(stderr, "targets: --token-file: %s\n", read.error().message.c_str());
      return kUsageError;
    }
    token = std::move(read.value());
  }
  const sluice::config::HostPort hp = MustParse(admin_address, kFetchAdmin);
  auto addr = sluice::SocketAddress::Parse(hp.host, static_cast<uint16_t>(hp.port));
  if (!addr) {  // unreachable: checked when parsing the command line
    std::fprintf(stderr, "targets: --admin: bad address\n");
    return kUsageError;
  }
  auto body = sluice::control::FetchAdmin(*addr, "/targets", token);
  if (!body.ok()) {
    std::fprintf(stderr, "targets: %s\n", body.error().message.c_str());
    return 1;
  }
  std::string table;
  if (json || !sluice::control::FormatTargetHealthTable(body.value(), &table)) {
    std::fputs(body.value().c_str(), stdout);
  } else {
    std::fputs(table.c_str(), stdout);
  }
  return 0;
}

// RunServer splits the admin override at its last ':' and wants the address unbracketed.
std::string ServerAdminOverride(const std::string& flag) {
  if (flag.empty()) return flag;
  const sluice::config::HostPort hp = MustParse(flag, kServeAdmin);
  return hp.host + ":" + std::to_string(hp.port);
}

// Everything the command line can set.
struct Cli {
  sluice::app::ServerOptions server;
  std::string validate_path;
  sluice::app::ServerOptions demo;
  std::string listen = "127.0.0.1:0";
  sluice::app::DemoTargetOptions target;
  std::string admin_address = "127.0.0.1:9901";
  bool targets_json = false;
  std::string targets_token_file;
  std::vector<std::string> cert_names;
  std::string cert_key = "ecdsa";
  int cert_days = 365;
  std::string cert_out_dir = ".";
  sluice::app::StateCommandOptions state;
};

int CertSelfSigned(const Cli& cli) {
  sluice::tls::SelfSignedRequest request;
  request.names = cli.cert_names;
  request.key_type =
      cli.cert_key == "rsa" ? sluice::tls::KeyType::kRsa : sluice::tls::KeyType::kEcdsa;
  request.days = cli.cert_days;
  const std::string base = cli.cert_out_dir + "/" + request.names.front();
  auto written = sluice::app::WriteSelfSigned(request, base + ".crt", base + ".key");
  if (!written.ok()) {
    std::fprintf(stderr, "cert: %s\n", written.error().message.c_str());
    return 1;
  }
  std::printf("%s.crt\n%s.key\n", base.c_str(), base.c_str());
  return 0;
}

void AddServeOptions(CLI::App* sub, sluice::app::ServerOptions* options) {
  sub->add_option("-w,--workers", options->workers, "Worker threads (default: online CPUs)")
      ->check(CLI::Range(0, 256));
  sub->add_option("--shutdown-timeout", options->shutdown_timeout_seconds,
                  "Seconds in-flight requests get after SIGTERM")
      ->check(CLI::Range(0, 3600));
  sub->add_option("--admin", options->admin_override,
                  "Serve the admin endpoint on ADDRESS:PORT, port 0 = any free port (overrides "
                  "Admin: in the config)")
      ->check(HostPortCheck(kServeAdmin));
}

void AddStateOptions(CLI::App* sub, sluice::app::StateCommandOptions* o) {
  sub->add_option("--state", o->state_path, "State store (SQLite file)")->required();
  sub->add_option("--master-key", o->master_key_path, "Master key file (default: STATE.key)");
}

void AddStateSubcommands(CLI::App& app, Cli& cli) {
  auto* import = app.add_subcommand("import", "Load a YAML config into the state store");
  import->add_option("file", cli.state.file, "Config file (YAML)")->required();
  AddStateOptions(import, &cli.state);
  auto* exp = app.add_subcommand("export", "Print the state store's config as YAML");
  AddStateOptions(exp, &cli.state);
  auto* keys = app.add_subcommand("api-keys", "Access keys for the elbv2 API");
  keys->require_subcommand(1);
  auto* create = keys->add_subcommand("create", "Create a key; prints its secret once");
  create->add_option("--user", cli.state.user, "Who the key is for")
      ->required()
      ->check(NameCheck());
  create->add_option("--policy", cli.state.policy, "admin, read-only, or @FILE (a JSON policy)");
  AddStateOptions(create, &cli.state);
  auto* list = keys->add_subcommand("list", "List the keys (never their secrets)");
  AddStateOptions(list, &cli.state);
  auto* revoke = keys->add_subcommand("revoke", "Revoke a key");
  revoke->add_option("access_key_id", cli.state.access_key_id, "AKIA...")->required();
  AddStateOptions(revoke, &cli.state);
}

int RunStateCommand(CLI::App& app, const Cli& cli) {
  using namespace sluice::app;
  if (app.got_subcommand("import")) return ImportConfig(cli.state);
  if (app.got_subcommand("export")) return ExportConfig(cli.state);
  CLI::App* keys = app.get_subcommand("api-keys");
  if (keys->got_subcommand("create")) return CreateApiKey(cli.state);
  if (keys->got_subcommand("list")) return ListApiKeys(cli.state);
  return RevokeApiKey(cli.state);
}

void AddSubcommands(CLI::App& app, Cli& cli) {
  auto* run = app.add_subcommand(
      "run", "Serve a config file or a state store (SIGHUP reloads, SIGTERM stops)");
  auto* run_config = run->add_option("-c,--config", cli.server.config_path, "Config file (YAML)");
  auto* run_state = run->add_option(
      "--state", cli.server.state_path,
      "State store (SQLite): serve its config, changed by the elbv2 API; with --config, only "
      "the API's access keys come from it");
  run->add_option("--master-key", cli.server.master_key_path,
                  "The state store's master key file (default: STATE.key)");
  run->add_option("--api", cli.server.api_override,
                  "Serve the elbv2 API on ADDRESS:PORT, port 0 = any free port (overrides Api:)")
      ->check(HostPortCheck(kServeAdmin));
  run->add_option("--api-audit-log", cli.server.api_audit_log,
                  "Append one JSON line per API call (CloudTrail's record shape) to this file; "
                  "SIGHUP reopens it");
  run->add_option("--api-audit-log-max-bytes", cli.server.api_audit_log_max_bytes,
                  "Rotate the audit log past this size: FILE becomes FILE.1, FILE.1 FILE.2, ...")
      ->check(CLI::Range(uint64_t{4096}, uint64_t{1} << 40))
      ->capture_default_str();
  run->add_option("--api-audit-log-keep", cli.server.api_audit_log_keep,
                  "Rotated audit log files kept (FILE.1 .. FILE.N)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  run->add_flag("--api-allow-unsigned", cli.server.api_allow_unsigned,
                "Accept API calls without a signature (loopback addresses only)");
  run->callback([run_config, run_state] {
    if (run_config->count() == 0 && run_state->count() == 0) {
      throw CLI::RequiredError("--config or --state");
    }
  });
  AddServeOptions(run, &cli.server);
  AddStateSubcommands(app, cli);

  auto* validate = app.add_subcommand("validate", "Check a config file and report every error");
  validate->add_option("file", cli.validate_path, "Config file (YAML)")->required();

  cli.demo.config_path = "examples/demo.yaml";
  auto* demo = app.add_subcommand("demo", "Start demo targets for a config, then serve it");
  demo->add_option("-c,--config", cli.demo.config_path, "Config file (YAML)");
  AddServeOptions(demo, &cli.demo);

  auto* demo_target = app.add_subcommand("demo-target", "A small echo backend for demos and tests");
  demo_target->add_option("-l,--listen", cli.listen, "[ADDRESS:]PORT to listen on, port 0 = any")
      ->check(HostPortCheck(kDemoListen));
  demo_target->add_option("-n,--name", cli.target.name, "Name shown in responses")
      ->check(NameCheck());
  demo_target->add_option("--health-path", cli.target.health_path, "Path answered with 200 ok")
      ->check(PathCheck());

  auto* targets = app.add_subcommand("targets", "Show target health (from the admin endpoint)");
  targets->add_option("-a,--admin", cli.admin_address, "Admin endpoint [ADDRESS:]PORT")
      ->check(HostPortCheck(kFetchAdmin));
  targets->add_flag("--json", cli.targets_json, "Print the JSON (DescribeTargetHealth shape)");
  targets->add_option("--token-file", cli.targets_token_file,
                      "The admin endpoint's token file (its Admin.TokenFile)");

  auto* cert = app.add_subcommand("cert", "Certificates for HTTPS listeners");
  cert->require_subcommand(1);
  auto* self_signed = cert->add_subcommand(
      "self-signed", "Write NAME.crt and NAME.key: a self-signed certificate for local use");
  self_signed->add_option("-n,--name", cli.cert_names, "DNS name or IP address (repeatable)")
      ->required()
      ->check(NameCheck());
  self_signed->add_option("--key", cli.cert_key, "Key type")
      ->check(CLI::IsMember({"ecdsa", "rsa"}));
  self_signed->add_option("--days", cli.cert_days, "Validity in days")->check(CLI::Range(1, 3650));
  self_signed->add_option("--out-dir", cli.cert_out_dir, "Directory for the two files");
}

int Main(int argc, char** argv) {
  CLI::App app{"sluice: a self-hosted Application Load Balancer"};
  app.set_version_flag("--version", std::string("sluice ") + SLUICE_VERSION);
  app.require_subcommand(1);
  // CLI11's messages quote what was given; keep that bounded and free of control characters.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return sluice::config::BoundText(e.what(), 1024) + "\nRun with --help for more information.\n";
  });
  Cli cli;
  AddSubcommands(app, cli);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kUsageError;  // --help exits 0
  }

  if (app.got_subcommand("targets"))
    return Targets(cli.admin_address, cli.targets_token_file, cli.targets_json);
  if (app.got_subcommand("cert")) return CertSelfSigned(cli);
  if (app.got_subcommand("import") || app.got_subcommand("export") ||
      app.got_subcommand("api-keys")) {
    return RunStateCommand(app, cli);
  }
  if (app.got_subcommand("run")) {
    cli.server.admin_override = ServerAdminOverride(cli.server.admin_override);
    cli.server.api_override = ServerAdminOverride(cli.server.api_override);
    return sluice::app::RunServer(cli.server);
  }
  if (app.got_subcommand("validate")) return Validate(cli.validate_path);
  if (app.got_subcommand("demo")) {
    cli.demo.admin_override = ServerAdminOverride(cli.demo.admin_override);
    return Demo(cli.demo);
  }
  if (app.got_subcommand("demo-target")) {
    const sluice::config::HostPort hp = MustParse(cli.listen, kDemoListen);
    cli.target.listen_address = hp.host;
    cli.target.port = hp.port;
    if (cli.target.name.empty()) cli.target.name = cli.listen;
    return sluice::app::RunDemoTarget(cli.target);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Freed memory stays in the heap instead of going back to the kernel at each free, and
  // blocks up to 32 MiB (glibc's maximum) come from the heap rather than from mmap: an API
  // change at 100,000 targets frees and allocates again hundreds of megabytes, and faulting
  // them in again every time took a quarter of its time (decision 0031). The process keeps
  // its peak heap while busy, as a load balancer's pools do.
  // The control loop gives the memory back once it has been quiet for 30 s (QuietTrim).
  // GLIBC_TUNABLES, when set, is the operator's choice and stays.
  // A refusal (the sanitizers' allocators refuse) costs only that speed: nothing to report.
  if (std::getenv("GLIBC_TUNABLES") == nullptr && mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1) {
    (void)mallopt(M_TRIM_THRESHOLD, 256 << 20);
  }
  // Bad input is caught by the checks above; an exception reaching here is a bug, reported
  // rather than left to abort() with a core dump.
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sluice: internal error: %s\n",
                 sluice::config::BoundText(e.what(), 1024).c_str());
  } catch (...) {
    std::fprintf(stderr, "sluice: internal error: unknown exception\n");
  }
  return kInternalError;
}
