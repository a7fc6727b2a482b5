#include "config/alpn_policies.h"

#include <array>

namespace sluice::config {
namespace {

constexpr std::array<std::string_view, 2> kHttp1Only{"http/1.1", "http/1.0"};
constexpr std::array<std::string_view, 1> kHttp2Only{"h2"};
constexpr std::array<std::string_view, 3> kHttp2Optional{"http/1.1", "http/1.0", "h2"};
constexpr std::array<std::string_view, 3> kHttp2Preferred{"h2", "http/1.1", "http/1.0"};

// `name` in the offered list, as a view into it; empty when absent.
std::string_view FindOffered(std::string_view offered, std::string_view name) {
  size_t i = 0;
  while (i < offered.size()) {
    const size_t len = static_cast<unsigned char>(offered[i]);
    if (len == 0 || len > offered.size() - i - 1) break;  // malformed: stop here
    std::string_view protocol = offered.substr(i + 1, len);
    if (protocol == name) return protocol;
    i += 1 + len;
  }
  return {};
}

}  // namespace

std::optional<AlpnPolicy> ParseAlpnPolicy(std::string_view text) {
  if (text == "None") return AlpnPolicy::kNone;
  if (text == "HTTP1Only") return AlpnPolicy::kHttp1Only;
  if (text == "HTTP2Only") return AlpnPolicy::kHttp2Only;
  if (text == "HTTP2Optional") return AlpnPolicy::kHttp2Optional;
  if (text == "HTTP2Preferred") return AlpnPolicy::kHttp2Preferred;
  return std::nullopt;
}

std::string_view ToString(AlpnPolicy policy) {
  switch (policy) {
    case AlpnPolicy::kNone:
      return "None";
    case AlpnPolicy::kHttp1Only:
      return "HTTP1Only";
    case AlpnPolicy::kHttp2Only:
      return "HTTP2Only";
    case AlpnPolicy::kHttp2Optional:
      return "HTTP2Optional";
    case AlpnPolicy::kHttp2Preferred:
      return "HTTP2Preferred";
  }
  return "None";
}

std::string_view AlpnPolicyNames() {
  return "None, HTTP1Only, HTTP2Only, HTTP2Optional, HTTP2Preferred";
}

std::span<const std::string_view> AlpnPreference(AlpnPolicy policy) {
  switch (policy) {
    case AlpnPolicy::kNone:
      return {};
    case AlpnPolicy::kHttp1Only:
      return kHttp1Only;
    case AlpnPolicy::kHttp2Only:
      return kHttp2Only;
    case AlpnPolicy::kHttp2Optional:
      return kHttp2Optional;
    case AlpnPolicy::kHttp2Preferred:
      return kHttp2Preferred;
  }
  return {};
}

std::string_view SelectAlpn(AlpnPolicy policy, std::string_view offered) {
  for (std::string_view preferred : AlpnPreference(policy)) {
    std::string_view found = FindOffered(offered, preferred);
    if (!found.empty()) return found;
  }
  return {};
}

}  // namespace sluice::config
