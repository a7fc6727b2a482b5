#include "config/arn.h"

#include <cstdint>

namespace sluice::config {

std::string ResourceId(std::string_view kind, std::string_view name) {
  // FNV-1a over "kind/name": a stable, well-spread 64-bit value; not a secret.
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(kind);
  mix("/");
  mix(name);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kHex[h & 0xf];
    h >>= 4;
  }
  return out;
}

std::string LoadBalancerLogName(std::string_view name, std::string_view type) {
  std::string out = type == "network" ? "net/" : "app/";
  out.append(name);
  out.push_back('/');
  out.append(ResourceId("loadbalancer", name));
  return out;
}

namespace {

std::string ArnPrefix(std::string_view service, const AccountSettings& account) {
  std::string out = "arn:aws:";
  out.append(service);
  out.push_back(':');
  out.append(account.region);
  out.push_back(':');
  out.append(account.id);
  out.push_back(':');
  return out;
}

}  // namespace

std::string LoadBalancerArn(const AccountSettings& account, std::string_view name,
                            std::string_view type) {
  return ArnPrefix("elasticloadbalancing", account) + "loadbalancer/" +
         LoadBalancerLogName(name, type);
}

std::string TargetGroupDimension(std::string_view name) {
  return "targetgroup/" + std::string(name) + "/" + ResourceId("targetgroup", name);
}

std::string TargetGroupArn(const AccountSettings& account, std::string_view name) {
  return ArnPrefix("elasticloadbalancing", account) + TargetGroupDimension(name);
}

std::string ListenerId(std::string_view load_balancer, const Listener& listener) {
  if (!listener.id.empty()) return listener.id;
  return ResourceId("listener", std::string(load_balancer) + ":" + std::to_string(listener.port));
}

std::string RuleId(std::string_view listener_id, const Rule& rule) {
  if (!rule.id.empty()) return rule.id;
  return ResourceId("listener-rule",
                    std::string(listener_id) + ":" + std::to_string(rule.priority));
}

std::string DefaultRuleId(std::string_view listener_id) {
  return ResourceId("listener-rule", std::string(listener_id) + ":default");
}

std::string ListenerArn(const AccountSettings& account, std::string_view load_balancer,
                        std::string_view listener_id, std::string_view type) {
  return ArnPrefix("elasticloadbalancing", account) + "listener/" +
         LoadBalancerLogName(load_balancer, type) + "/" + std::string(listener_id);
}

std::string RuleArn(const AccountSettings& account, std::string_view load_balancer,
                    std::string_view listener_id, std::string_view rule_id, std::string_view type) {
  return ArnPrefix("elasticloadbalancing", account) + "listener-rule/" +
         LoadBalancerLogName(load_balancer, type) + "/" + std::string(listener_id) + "/" +
         std::string(rule_id);
}

namespace {

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    size_t p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) return out;
    s.remove_prefix(p + 1);
  }
}

}  // namespace

std::optional<ArnParts> ParseArn(std::string_view arn) {
  std::vector<std::string_view> f = Split(arn, ':');
  if (f.size() != 6 || f[0] != "arn" || f[2] != "elasticloadbalancing") return std::nullopt;
  if (f[1] != "aws" && f[1] != "aws-cn" && f[1] != "aws-us-gov") return std::nullopt;
  ArnParts out{std::string(f[3]), std::string(f[4]), "", "", {}};
  std::vector<std::string_view> r = Split(f[5], '/');
  out.kind = std::string(r[0]);
  size_t name_at = 1;
  size_t ids = 1;
  if (out.kind == "targetgroup" || out.kind == "truststore") {
    name_at = 1;
  } else if (out.kind == "loadbalancer" || out.kind == "listener" || out.kind == "listener-rule") {
    if (r.size() < 2 || (r[1] != "app" && r[1] != "net")) return std::nullopt;
    name_at = 2;
    ids = out.kind == "loadbalancer" ? 1 : out.kind == "listener" ? 2 : 3;
  } else {
    return std::nullopt;
  }
  if (r.size() != name_at + 1 + ids || r[name_at].empty()) return std::nullopt;
  out.name = std::string(r[name_at]);
  for (size_t i = name_at + 1; i < r.size(); ++i) {
    if (r[i].size() != 16) return std::nullopt;
    out.ids.emplace_back(r[i]);
  }
  return out;
}

std::string TrustStoreArn(const AccountSettings& account, std::string_view name) {
  return ArnPrefix("elasticloadbalancing", account) + "truststore/" + std::string(name) + "/" +
         ResourceId("truststore", name);
}

std::string CertificateArn(const AccountSettings& account, std::string_view name) {
  return ArnPrefix("acm", account) + "certificate/" + std::string(name);
}

}  // namespace sluice::config
