#include "api/policy_values.h"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace sluice::api::policy_detail {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Reads exactly n digits at s[pos].
bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return kDays[m - 1] + ((m == 2 && IsLeap(y)) ? 1 : 0);
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian, y >= 1).
int64_t DaysSinceEpoch(int y, int m, int d) {
  static constexpr int kBefore[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  auto leaps_before = [](int64_t year) {
    --year;
    return year / 4 - year / 100 + year / 400;
  };
  int64_t days = 365 * (int64_t{y} - 1970) + leaps_before(y) - leaps_before(1970);
  days += kBefore[m - 1] + (d - 1);
  if (m > 2 && IsLeap(y)) ++days;
  return days;
}

// "Thh:mm[:ss[.fff]]" at s[*pos]; returns seconds into the day.
std::optional<double> ParseClock(std::string_view s, size_t* pos) {
  size_t p = *pos;
  int h = 0, mi = 0, sec = 0;
  if (p >= s.size() || (s[p] != 'T' && s[p] != 't')) return std::nullopt;
  if (!Digits(s, p + 1, 2, &h) || p + 3 >= s.size() || s[p + 3] != ':' ||
      !Digits(s, p + 4, 2, &mi)) {
    return std::nullopt;
  }
  p += 6;
  double frac = 0;
  if (p < s.size() && s[p] == ':') {
    if (!Digits(s, p + 1, 2, &sec)) return std::nullopt;
    p += 3;
    if (p < s.size() && s[p] == '.') {
      size_t start = ++p;
      for (double scale = 0.1; p < s.size() && s[p] >= '0' && s[p] <= '9'; ++p, scale /= 10) {
        frac += (s[p] - '0') * scale;
      }
      if (p == start) return std::nullopt;
    }
  }
  if (h > 23 || mi > 59 || sec > 59) return std::nullopt;
  *pos = p;
  return h * 3600.0 + mi * 60.0 + sec + frac;
}

// "Z", "+hh:mm", "-hhmm" or nothing (UTC) at s[pos], ending the text; returns the offset.
std::optional<int> ParseZone(std::string_view s, size_t pos) {
  if (pos == s.size()) return 0;
  if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) return 0;
  if (s[pos] != '+' && s[pos] != '-') return std::nullopt;
  int sign = s[pos] == '-' ? -1 : 1;
  int h = 0, m = 0;
  if (!Digits(s, pos + 1, 2, &h)) return std::nullopt;
  size_t p = pos + 3;
  if (p < s.size() && s[p] == ':') ++p;
  if (!Digits(s, p, 2, &m) || p + 2 != s.size() || h > 23 || m > 59) return std::nullopt;
  return sign * (h * 3600 + m * 60);
}

}  // namespace

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// Greedy, backtracking to the last star.
bool Glob(std::string_view pattern, std::string_view text, bool ignore_case) {
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t] ||
                                      (ignore_case && Lower(pattern[p]) == Lower(text[t])))) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::optional<double> ParseNumber(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

// ISO 8601 ("2026-12-31", "2026-12-31T23:59:59Z", "...T23:59:59.5+02:00") or epoch seconds.
std::optional<double> ParseTime(std::string_view s) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return s.size() <= 12 ? ParseNumber(s) : std::nullopt;
  }
  int y = 0, m = 0, d = 0;
  if (!Digits(s, 0, 4, &y) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, &m) || s[7] != '-' ||
      !Digits(s, 8, 2, &d)) {
    return std::nullopt;
  }
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m)) return std::nullopt;
  size_t pos = 10;
  double clock = 0;
  if (pos < s.size() && s[pos] != 'Z' && s[pos] != 'z') {
    auto c = ParseClock(s, &pos);
    if (!c) return std::nullopt;
    clock = *c;
  }
  auto zone = ParseZone(s, pos);
  if (!zone) return std::nullopt;
  return static_cast<double>(DaysSinceEpoch(y, m, d)) * 86400.0 + clock - *zone;
}

std::string FormatTime(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  char buf[64];
  if (gmtime_r(&t, &tm) == nullptr || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return std::to_string(unix_seconds);
  }
  return buf;
}

// An address, with IPv4-mapped IPv6 (::ffff:a.b.c.d, as dual-stack sockets report) as IPv4.
std::optional<IpAddress> ParseAddress(std::string_view s) {
  auto ip = IpAddress::Parse(s);
  if (!ip || ip->is_v4) return ip;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped, kMapped + 12, ip->bytes.begin())) ip->is_v4 = true;
  return ip;
}

// A CIDR block, or a plain address meaning /32 or /128.
std::optional<Cidr> ParseBlock(std::string_view s) {
  if (s.find('/') != std::string_view::npos) return Cidr::Parse(s);
  auto ip = ParseAddress(s);
  if (!ip) return std::nullopt;
  return Cidr{*ip, ip->is_v4 ? 32 : 128};
}

}  // namespace sluice::api::policy_detail
