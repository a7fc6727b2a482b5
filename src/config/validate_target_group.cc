// Field rules for target groups (reference §2.3, §2.5).
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "base/ip_address.h"
#include "config/model.h"
#include "config/quote.h"
#include "config/validate.h"

namespace sluice::config::internal {
namespace {

constexpr int kMinMatcherCode = 200;
constexpr int kMaxMatcherCode = 499;
constexpr int kMinGrpcCode = 0;
constexpr int kMaxGrpcCode = 99;

// Parses 1..3 decimal digits without a leading zero ("0" itself aside); -1 when `s` is
// anything else.
int ParseCode(std::string_view s) {
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return -1;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

// A matcher's list of codes and ranges, each code within [min_code, max_code]; `examples`
// completes "expected codes like ...".
std::string CheckCodeList(std::string_view value, int min_code, int max_code,
                          std::string_view examples) {
  const std::string prefix = "matcher " + QuoteValue(value) + " is invalid: ";
  const std::string expected = "; expected codes like " + std::string(examples);
  if (value.empty()) return "matcher must not be empty" + expected;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view token = value.substr(start, comma - start);
    size_t dash = token.find('-');
    int low = ParseCode(token.substr(0, dash));
    int high = dash == std::string_view::npos ? low : ParseCode(token.substr(dash + 1));
    if (low < 0 || high < 0) {
      return prefix + QuoteValue(token) + " is not a code or range" + expected;
    }
    for (int code : {low, high}) {
      if (code < min_code || code > max_code) {
        return prefix + "code " + std::to_string(code) + " is out of range " +
               std::to_string(min_code) + ".." + std::to_string(max_code);
      }
    }
    if (low > high) return prefix + "range " + std::string(token) + " ends before it starts";
    start = comma + 1;
  }
  return "";
}

}  // namespace

std::string CheckMatcher(std::string_view value) {
  return CheckCodeList(value, kMinMatcherCode, kMaxMatcherCode, "200, 200-299 or 200,202,301");
}

std::string CheckGrpcMatcher(std::string_view value) {
  return CheckCodeList(value, kMinGrpcCode, kMaxGrpcCode, "0, 0-5 or 0,1,12");
}

std::string CheckHealthCheckPath(std::string_view value) {
  if (value.empty() || value.front() != '/') {
    return "health check path " + QuoteValue(value) + " must start with '/'";
  }
  if (value.size() > kMaxHealthCheckPath) {
    return "health check path is " + std::to_string(value.size()) +
           " characters long; the limit is " + std::to_string(kMaxHealthCheckPath);
  }
  for (char c : value) {
    if (c <= 0x20 || c >= 0x7f) {
      return "health check path " + QuoteValue(value) + " contains a space or control character";
    }
  }
  return "";
}

std::string CheckAppCookieName(std::string_view value) {
  if (value.empty()) return "cookie name must not be empty";
  for (char c : value) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    ok = ok || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) {
      return "cookie name " + QuoteValue(value) +
             " may contain only letters, digits and ! # $ % & ' * + - . ^ _ ` | ~";
    }
  }
  if (value.substr(0, 6) == "AWSALB") {
    return "cookie name " + QuoteValue(value) +
           " is reserved; names starting with AWSALB belong to the load balancer";
  }
  return "";
}

std::string CheckTargets(const TargetGroup& group) {
  if (group.targets.size() > kMaxTargetsPerGroup) {
    return "a target group can have at most " + std::to_string(kMaxTargetsPerGroup) +
           " targets; found " + std::to_string(group.targets.size());
  }
  std::set<std::pair<std::string, int>> seen;  // (canonical address, port)
  for (const Target& t : group.targets) {
    std::optional<IpAddress> ip = IpAddress::Parse(t.id);
    if (!ip) return "target Id " + QuoteValue(t.id) + " is not an IP address (TargetType ip)";
    if (t.port < 1 || t.port > 65535) {
      return "target " + t.id + " port " + std::to_string(t.port) + " is out of range 1..65535";
    }
    if (!seen.emplace(ip->ToString(), t.port).second) {
      return "target " + t.id + " port " + std::to_string(t.port) + " is listed twice";
    }
  }
  return "";
}

}  // namespace sluice::config::internal
