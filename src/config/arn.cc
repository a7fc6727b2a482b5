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

std::string LoadBalancerLogName(std::string_view name) {
  std::string out = "app/";
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

std::string LoadBalancerArn(const AccountSettings& account, std::string_view name) {
  return ArnPrefix("elasticloadbalancing", account) + "loadbalancer/" + LoadBalancerLogName(name);
}

std::string TargetGroupDimension(std::string_view name) {
  return "targetgroup/" + std::string(name) + "/" + ResourceId("targetgroup", name);
}

std::string TargetGroupArn(const AccountSettings& account, std::string_view name) {
  return ArnPrefix("elasticloadbalancing", account) + TargetGroupDimension(name);
}

std::string CertificateArn(const AccountSettings& account, std::string_view name) {
  return ArnPrefix("acm", account) + "certificate/" + std::string(name);
}

}  // namespace sluice::config
