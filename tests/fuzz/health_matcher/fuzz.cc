// libFuzzer target for the health check success-code matcher (Matcher.HttpCode,
// health::StatusMatcher in src/health/target_health.h). The input is the matcher text; it is
// parsed under several [min_code, max_code] bounds and compared with a simple reference
// parser: both must accept or reject the same texts, and for an accepted text Matches(code)
// must hold exactly for the codes inside one of the reference ranges (checked for 100..599,
// every range endpoint +-1 and the extremes). Traps (abort) on any mismatch.
//
// Reference grammar: codes ("200") or ranges ("200-299") separated by ',' with nothing else
// (no spaces, no empty items); a code is decimal without sign or leading zeros ("0" itself
// is fine); every code lies in [min_code, max_code] and a range's low <= high.
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "health/target_health.h"

namespace {

using sluice::health::StatusMatcher;
using Ranges = std::vector<std::pair<int64_t, int64_t>>;

void Check(bool ok) {
  if (!ok) std::abort();
}

// A decimal code in [min, max]; nullopt otherwise.
std::optional<int64_t> RefCode(std::string_view s, int64_t min, int64_t max) {
  if (s.empty() || s.size() > 12) return std::nullopt;  // 12 digits exceed any int max
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < min || v > max) return std::nullopt;
  return v;
}

std::optional<Ranges> RefParse(std::string_view text, int64_t min, int64_t max) {
  if (text.empty() || min < 0 || min > max) return std::nullopt;
  Ranges ranges;
  size_t begin = 0;
  for (;;) {
    size_t end = text.find(',', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(begin, end - begin);
    size_t dash = item.find('-');
    std::optional<int64_t> low, high;
    if (dash == std::string_view::npos) {
      low = high = RefCode(item, min, max);
    } else {
      low = RefCode(item.substr(0, dash), min, max);
      high = RefCode(item.substr(dash + 1), min, max);  // a second '-' fails here
    }
    if (!low || !high || *low > *high) return std::nullopt;
    ranges.emplace_back(*low, *high);
    if (end == text.size()) break;
    begin = end + 1;
  }
  return ranges;
}

bool RefMatches(const Ranges& ranges, int64_t code) {
  for (const auto& [low, high] : ranges) {
    if (code >= low && code <= high) return true;
  }
  return false;
}

void CheckCode(const StatusMatcher& m, const Ranges& ranges, int64_t code) {
  if (code < std::numeric_limits<int>::min() || code > std::numeric_limits<int>::max()) return;
  Check(m.Matches(static_cast<int>(code)) == RefMatches(ranges, code));
}

void CheckBounds(std::string_view text, int min_code, int max_code) {
  std::optional<StatusMatcher> m = StatusMatcher::Parse(text, min_code, max_code);
  std::optional<Ranges> ref = RefParse(text, min_code, max_code);
  Check(m.has_value() == ref.has_value());
  if (!m) return;
  for (int code = 100; code <= 599; ++code) CheckCode(*m, *ref, code);
  for (const auto& [low, high] : *ref) {
    for (int64_t d = -1; d <= 1; ++d) {
      CheckCode(*m, *ref, low + d);
      CheckCode(*m, *ref, high + d);
    }
  }
  for (int64_t code :
       {int64_t{min_code} - 1, int64_t{max_code} + 1, int64_t{0}, int64_t{-1},
        int64_t{std::numeric_limits<int>::min()}, int64_t{std::numeric_limits<int>::max()}}) {
    CheckCode(*m, *ref, code);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckBounds(text, 200, 499);  // the defaults (ALB health checks)
  CheckBounds(text, 100, 599);
  CheckBounds(text, 0, 999);
  CheckBounds(text, 302, 302);
  CheckBounds(text, 0, std::numeric_limits<int>::max());
  CheckBounds(text, 500, 400);  // min > max: nothing parses
  return 0;
}
