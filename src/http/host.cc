#include "http/host.h"

#include <array>

namespace sluice::http {
namespace {

// unreserved / sub-delims (RFC 3986 §2.2, §2.3); '%' is handled separately.
constexpr std::array<bool, 256> MakeRegNameTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<size_t>(c)] = true;
  for (char c : std::string_view("-._~!$&'()*+,;=")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kRegName = MakeRegNameTable();

constexpr bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// reg-name: returns the length of the longest valid prefix.
size_t RegNameLength(std::string_view v) {
  size_t i = 0;
  while (i < v.size()) {
    const char c = v[i];
    if (kRegName[static_cast<unsigned char>(c)]) {
      ++i;
    } else if (c == '%' && i + 2 < v.size() && IsHexDigit(v[i + 1]) && IsHexDigit(v[i + 2])) {
      i += 3;
    } else {
      break;
    }
  }
  return i;
}

// "[...]": IPv6address or IPvFuture, checked for their character set (hex digits, ':', '.'
// and, for IPvFuture, unreserved / sub-delims). Returns the length including the brackets, or
// 0 when there is no well-formed literal.
size_t IpLiteralLength(std::string_view v) {
  if (v.empty() || v[0] != '[') return 0;
  size_t close = v.find(']');
  if (close == std::string_view::npos || close == 1) return 0;
  for (size_t i = 1; i < close; ++i) {
    const char c = v[i];
    if (c != ':' && !kRegName[static_cast<unsigned char>(c)]) return 0;
  }
  return close + 1;
}

}  // namespace

bool IsValidHost(std::string_view value) {
  size_t host_len =
      !value.empty() && value[0] == '[' ? IpLiteralLength(value) : RegNameLength(value);
  if (!value.empty() && value[0] == '[' && host_len == 0) return false;
  std::string_view rest = value.substr(host_len);
  if (rest.empty()) return true;
  if (rest[0] != ':' || host_len == 0) return false;
  std::string_view port = rest.substr(1);
  if (port.size() > 5) return false;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool RequestHostsValid(std::string_view authority, std::span<const HeaderField> headers,
                       const HeaderField* first_host, int host_count) {
  if (!authority.empty() && !IsValidHost(authority)) return false;
  if (first_host == nullptr) return true;
  if (host_count == 1) return IsValidHost(first_host->value);
  for (const HeaderField& h : headers) {
    if (EqualsIgnoreCase(h.name, "host") && !IsValidHost(h.value)) return false;
  }
  return true;
}

}  // namespace sluice::http
