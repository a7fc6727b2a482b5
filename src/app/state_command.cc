#include "app/state_command.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "api/policy.h"
#include "config/export.h"
#include "config/loader.h"
#include "config/scoped_check.h"
#include "store/state_store.h"

namespace sluice::app {
namespace {

std::unique_ptr<store::StateStore> OpenStore(const StateCommandOptions& o) {
  std::string key = o.master_key_path.empty() ? o.state_path + ".key" : o.master_key_path;
  auto opened = store::StateStore::Open(o.state_path, key);
  if (!opened.ok()) {
    std::fprintf(stderr, "sluice: %s\n", opened.error().message.c_str());
    return nullptr;
  }
  return std::move(opened.value());
}

// The policy document a key gets: a built-in by name, or a JSON file (@FILE), checked.
bool ReadPolicy(const std::string& spec, std::string* json) {
  if (spec == "admin") {
    *json = api::Policy::AdminJson();
  } else if (spec == "read-only") {
    *json = api::Policy::ReadOnlyJson();
  } else if (!spec.empty() && spec[0] == '@') {
    std::ifstream in(spec.substr(1));
    if (!in) {
      std::fprintf(stderr, "sluice: cannot read policy file %s\n", spec.substr(1).c_str());
      return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    *json = ss.str();
  } else {
    std::fprintf(stderr, "sluice: --policy must be admin, read-only or @FILE, not %s\n",
                 spec.c_str());
    return false;
  }
  auto parsed = api::Policy::Parse(*json);
  if (!parsed.ok()) {
    std::fprintf(stderr, "sluice: policy %s: %s\n", spec.c_str(), parsed.error().message.c_str());
    return false;
  }
  return true;
}

}  // namespace

int ImportConfig(const StateCommandOptions& o) {
  // By absolute path: the certificate and log paths the store keeps must not depend on the
  // directory `sluice run` starts in.
  std::error_code ec;
  std::string path = std::filesystem::absolute(o.file, ec).string();
  if (ec) path = o.file;
  config::LoadResult loaded = config::LoadConfigFromFile(path);
  if (auto* errors = std::get_if<config::ConfigErrors>(&loaded)) {
    for (const config::ConfigError& e : *errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    std::fprintf(stderr, "sluice: %s: %zu error(s); nothing imported\n", o.file.c_str(),
                 static_cast<size_t>(config::CountErrors(*errors)));
    return 1;
  }
  auto db = OpenStore(o);
  if (!db) return 1;
  auto current = db->Load();
  if (!current.ok()) {
    std::fprintf(stderr, "sluice: %s\n", current.error().message.c_str());
    return 1;
  }
  std::string yaml = config::ExportYaml(std::get<config::Config>(loaded));
  // The stored form writes every attribute out, so it holds more YAML nodes than a compact
  // file: near the loader's limits, make sure `sluice run` will load it.
  if (!config::WithinLoaderLimits(yaml)) {
    config::LoadResult back = config::LoadConfigFromString(yaml, o.file + " (as stored)");
    if (auto* errors = std::get_if<config::ConfigErrors>(&back)) {
      for (const config::ConfigError& e : *errors) {
        std::fprintf(stderr, "%s\n", e.ToString().c_str());
      }
      std::fprintf(stderr,
                   "sluice: %s: its stored form, with every attribute written out, would not "
                   "load; nothing imported\n",
                   o.file.c_str());
      return 1;
    }
  }
  auto committed = db->Commit(current.value().generation, yaml, "import " + o.file);
  if (!committed.ok()) {
    std::fprintf(stderr, "sluice: %s\n", committed.error().message.c_str());
    return 1;
  }
  std::printf("imported %s into %s as generation %lld\n", o.file.c_str(), o.state_path.c_str(),
              static_cast<long long>(committed.value()));
  return 0;
}

int ExportConfig(const StateCommandOptions& o) {
  auto db = OpenStore(o);
  if (!db) return 1;
  auto doc = db->Load();
  if (!doc.ok()) {
    std::fprintf(stderr, "sluice: %s\n", doc.error().message.c_str());
    return 1;
  }
  if (doc.value().generation == 0) {
    std::fprintf(stderr, "sluice: %s holds no config yet (sluice import FILE --state %s)\n",
                 o.state_path.c_str(), o.state_path.c_str());
    return 1;
  }
  std::fwrite(doc.value().yaml.data(), 1, doc.value().yaml.size(), stdout);
  return 0;
}

int CreateApiKey(const StateCommandOptions& o) {
  std::string policy;
  if (!ReadPolicy(o.policy, &policy)) return 1;
  auto db = OpenStore(o);
  if (!db) return 1;
  auto created = db->CreateAccessKey(o.user, policy);
  if (!created.ok()) {
    std::fprintf(stderr, "sluice: %s\n", created.error().message.c_str());
    return 1;
  }
  // The secret is shown once; the store keeps it sealed with the master key.
  std::printf(
      "AccessKeyId:     %s\nSecretAccessKey: %s\nUser:            %s\nPolicy:          %s\n",
      created.value().first.access_key_id.c_str(), created.value().second.c_str(), o.user.c_str(),
      o.policy.c_str());
  return 0;
}

int ListApiKeys(const StateCommandOptions& o) {
  auto db = OpenStore(o);
  if (!db) return 1;
  auto keys = db->ListAccessKeys();
  if (!keys.ok()) {
    std::fprintf(stderr, "sluice: %s\n", keys.error().message.c_str());
    return 1;
  }
  std::printf("%-22s %-8s %-24s %s\n", "ACCESS KEY ID", "STATUS", "CREATED", "USER");
  for (const auto& k : keys.value()) {
    std::printf("%-22s %-8s %-24s %s\n", k.access_key_id.c_str(), k.active ? "active" : "revoked",
                k.created_at.c_str(), k.user_name.c_str());
  }
  return 0;
}

int RevokeApiKey(const StateCommandOptions& o) {
  auto db = OpenStore(o);
  if (!db) return 1;
  auto revoked = db->RevokeAccessKey(o.access_key_id);
  if (!revoked.ok()) {
    std::fprintf(stderr, "sluice: %s\n", revoked.error().message.c_str());
    return 1;
  }
  if (!revoked.value()) {
    std::fprintf(stderr, "sluice: no access key %s in %s\n", o.access_key_id.c_str(),
                 o.state_path.c_str());
    return 1;
  }
  std::printf("revoked %s\n", o.access_key_id.c_str());
  return 0;
}

}  // namespace sluice::app
