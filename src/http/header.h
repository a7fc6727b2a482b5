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

}  // namespace sluice::http
