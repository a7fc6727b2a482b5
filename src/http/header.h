// Version-neutral header views. The views point into a connection's receive buffer and live
// as long as the head they were parsed from (until the connection compacts its buffer).
#pragma once

#include <string_view>

namespace sluice::http {

struct HeaderField {
  std::string_view name;   // as received (no case folding)
  std::string_view value;  // optional whitespace around the value already removed
};

// ASCII case-insensitive equality, for header names and tokens.
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

// Fields that are about one HTTP/1.1 connection, never forwarded across HTTP/2 (RFC 9113
// §8.2.2): the HTTP/2 ↔ HTTP/1.1 translations drop them both ways.
inline bool IsConnectionSpecificField(std::string_view name) {
  return EqualsIgnoreCase(name, "connection") || EqualsIgnoreCase(name, "keep-alive") ||
         EqualsIgnoreCase(name, "proxy-connection") ||
         EqualsIgnoreCase(name, "transfer-encoding") || EqualsIgnoreCase(name, "upgrade");
}

// Lower-cases `s` in place and returns it: `s` must view memory the caller owns (a
// translator's own copy of a head), as HTTP/2 names are lower-case.
inline std::string_view LowerInPlace(std::string_view s) {
  char* p = const_cast<char*>(s.data());
  for (size_t i = 0; i < s.size(); ++i) {
    if (p[i] >= 'A' && p[i] <= 'Z') p[i] = static_cast<char>(p[i] + 32);
  }
  return s;
}

// True when the comma-separated `list` (e.g. a Connection header value) contains `token`,
// compared case-insensitively with surrounding whitespace ignored.
inline bool HeaderHasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view t = list.substr(0, comma);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (EqualsIgnoreCase(t, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace sluice::http
