// CloudWatch's percentile statistic names ("p99", "p99.9"): shared by the alarm loader
// (config/) and the metric history (observe/). Pure.
#pragma once

#include <charconv>
#include <string_view>

namespace sluice {

// "p99.9" → 99.9; false for anything that is not 'p', a digit, then a plain decimal in
// [0, 100] (no sign, exponent or leading '.').
inline bool ParsePercentile(std::string_view name, double* percentile) {
  if (name.size() < 2 || name[0] != 'p' || name[1] < '0' || name[1] > '9') return false;
  const char* end = name.data() + name.size();
  double v = 0;
  auto [ptr, ec] = std::from_chars(name.data() + 1, end, v, std::chars_format::fixed);
  if (ec != std::errc() || ptr != end || v < 0 || v > 100) return false;
  *percentile = v;
  return true;
}

}  // namespace sluice
