// Field rules for rule transforms (reference §1.4).
#include <cstdio>
#include <string>
#include <string_view>

#include "config/quote.h"
#include "config/rewrite_template.h"
#include "config/validate.h"

namespace sluice::config::internal {
namespace {

std::string TooLong(std::string_view what, size_t length, size_t limit) {
  return std::string(what) + " is " + std::to_string(length) + " characters long; the limit is " +
         std::to_string(limit);
}

// A character for a message: 'x', or \xNN when it is not printable.
std::string ShowChar(char c) {
  if (c > 0x20 && c < 0x7f) return std::string("'") + c + "'";
  if (c == ' ') return "a space";
  char buf[8];
  std::snprintf(buf, sizeof(buf), "\\x%02X", static_cast<unsigned char>(c));
  return buf;
}

bool IsAlnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Characters of a host name (RFC 3986 reg-name: unreserved, sub-delims, '%') or of an IP
// literal ('[', ']', ':'); '$' is a sub-delim, so references are allowed too.
bool IsHostChar(char c) {
  if (IsAlnum(c)) return true;
  return std::string_view("-._~!$&'()*+,;=%[]:").find(c) != std::string_view::npos;
}

// Visible ASCII except '#': a fragment never belongs to a request target.
bool IsTargetChar(char c) { return c > 0x20 && c < 0x7f && c != '#'; }

}  // namespace

std::string CheckTransformRegex(std::string_view value, int* capture_groups) {
  *capture_groups = -1;
  if (value.empty()) return "regex must not be empty";
  if (value.size() > kMaxTransformRegexLength) {
    return TooLong("regex", value.size(), kMaxTransformRegexLength);
  }
  return RegexCompileMessage(value, capture_groups);
}

std::string CheckTransformReplace(std::string_view value, bool host, int capture_groups) {
  if (value.size() > kMaxTransformReplaceLength) {
    return TooLong("replacement", value.size(), kMaxTransformReplaceLength);
  }
  for (char c : value) {
    if (host ? IsHostChar(c) : IsTargetChar(c)) continue;
    return "replacement " + QuoteValue(value) + " contains " + ShowChar(c) +
           (host ? "; a host-header-rewrite replacement may contain A-Z a-z 0-9 - . _ ~ ! $ & ' "
                   "( ) * + , ; = % [ ] :"
                 : "; a url-rewrite replacement may contain visible ASCII characters except '#'");
  }
  const int max_group = ParseReplaceTemplate(value).max_group;
  if (capture_groups >= 0 && max_group > capture_groups) {
    return "replacement " + QuoteValue(value) + " refers to $" + std::to_string(max_group) +
           " but the regex has " +
           (capture_groups == 0   ? std::string("no capture groups")
            : capture_groups == 1 ? std::string("1 capture group")
                                  : std::to_string(capture_groups) + " capture groups") +
           " (write $$ for a literal '$')";
  }
  return "";
}

}  // namespace sluice::config::internal
