// Field rules for rule conditions (reference §1.2, §1.3) and resource names.
#include <re2/re2.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "base/ascii.h"
#include "base/ip_address.h"
#include "config/quote.h"
#include "config/validate.h"

namespace sluice::config::internal {
namespace {

bool IsAlpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsWildcard(char c) { return c == '*' || c == '?'; }
bool IsVisibleOrSpace(char c) { return c >= 0x20 && c <= 0x7e; }

// A character for a message: 'x', or \xNN when it is not printable.
std::string ShowChar(char c) {
  if (c > 0x20 && c < 0x7f) return std::string("'") + c + "'";
  if (c == ' ') return "a space";
  char buf[8];
  std::snprintf(buf, sizeof(buf), "\\x%02X", static_cast<unsigned char>(c));
  return buf;
}

std::string TooLong(std::string_view what, size_t length, size_t limit) {
  return std::string(what) + " is " + std::to_string(length) + " characters long; the limit is " +
         std::to_string(limit);
}

// Returns the first character of `value` for which ok(c) is false, as an error message.
template <class Pred>
std::string CheckChars(std::string_view what, std::string_view value, Pred ok,
                       std::string_view allowed) {
  for (char c : value) {
    if (!ok(c)) {
      return std::string(what) + " " + QuoteValue(value) + " contains " + ShowChar(c) +
             "; allowed characters: " + std::string(allowed);
    }
  }
  return "";
}

}  // namespace

std::string CheckResourceName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 32 && name.front() != '-' && name.back() != '-';
  for (char c : name) ok = ok && (IsAlnum(c) || c == '-');
  if (ok) return "";
  return "name " + QuoteValue(name) +
         " is invalid; use 1..32 letters, digits and hyphens, not starting or ending with a "
         "hyphen";
}

std::string CheckHostPattern(std::string_view value) {
  if (value.empty()) return "host pattern must not be empty";
  if (value.size() > kMaxConditionValueLength) {
    return TooLong("host pattern", value.size(), kMaxConditionValueLength);
  }
  std::string bad = CheckChars(
      "host pattern", value,
      [](char c) { return IsAlnum(c) || c == '-' || c == '.' || IsWildcard(c); },
      "A-Z a-z 0-9 - . * ?");
  if (!bad.empty()) return bad;
  bool wildcards_only = true;
  for (char c : value) wildcards_only = wildcards_only && IsWildcard(c);
  if (wildcards_only) return "";
  size_t dot = value.rfind('.');
  bool tld_ok = dot != std::string_view::npos && dot + 1 < value.size();
  if (tld_ok) {
    for (char c : value.substr(dot + 1)) tld_ok = tld_ok && (IsAlpha(c) || IsWildcard(c));
  }
  if (tld_ok) return "";
  return "host pattern " + QuoteValue(value) +
         " must contain a '.' followed by an alphabetic top-level domain, e.g. example.com";
}

std::string CheckPathPattern(std::string_view value) {
  if (value.empty()) return "path pattern must not be empty";
  if (value.size() > kMaxConditionValueLength) {
    return TooLong("path pattern", value.size(), kMaxConditionValueLength);
  }
  auto ok = [](char c) {
    if (IsAlnum(c) || IsWildcard(c)) return true;
    switch (c) {
      case '_':
      case '-':
      case '.':
      case '$':
      case '/':
      case '~':
      case '"':
      case '\'':
      case '@':
      case ':':
      case '+':
      case '&':
        return true;
      default:
        return false;
    }
  };
  return CheckChars("path pattern", value, ok, "A-Z a-z 0-9 _ - . $ / ~ \" ' @ : + & * ?");
}

std::string CheckHeaderName(std::string_view name) {
  if (name.empty()) return "header name must not be empty";
  if (name.size() > kMaxHeaderNameLength) {
    return TooLong("header name", name.size(), kMaxHeaderNameLength);
  }
  std::string bad = CheckChars(
      "header name", name, [](char c) { return IsTokenChar(c) && c != '*'; },
      "A-Z a-z 0-9 ! # $ % & ' + - . ^ _ ` | ~ (no wildcards)");
  if (!bad.empty()) return bad;
  if (name.size() == 4 && (name[0] | 0x20) == 'h' && (name[1] | 0x20) == 'o' &&
      (name[2] | 0x20) == 's' && (name[3] | 0x20) == 't') {
    return "header name " + QuoteValue(name) + " is not allowed; use a host-header condition";
  }
  return "";
}

std::string CheckHeaderValue(std::string_view value) {
  if (value.empty()) return "header value must not be empty";
  if (value.size() > kMaxConditionValueLength) {
    return TooLong("header value", value.size(), kMaxConditionValueLength);
  }
  return CheckChars("header value", value, IsVisibleOrSpace, "visible ASCII and spaces");
}

std::string CheckMethod(std::string_view value) {
  if (value.empty()) return "method must not be empty";
  if (value.size() > kMaxMethodLength) return TooLong("method", value.size(), kMaxMethodLength);
  return CheckChars(
      "method", value, [](char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; },
      "A-Z - _");
}

std::string CheckQueryPart(std::string_view value, std::string_view what) {
  if (value.empty()) return std::string(what) + " must not be empty";
  if (value.size() > kMaxConditionValueLength) {
    return TooLong(what, value.size(), kMaxConditionValueLength);
  }
  return CheckChars(what, value, IsVisibleOrSpace, "visible ASCII and spaces");
}

std::string CheckSourceCidr(std::string_view value) {
  std::optional<Cidr> cidr = Cidr::Parse(value);
  if (!cidr) {
    return QuoteValue(value) + " is not a CIDR block; expected e.g. 10.0.0.0/8 or " +
           "2001:db8::/32";
  }
  const int first_bit = cidr->base.is_v4 ? 96 : 0;
  IpAddress masked = cidr->base;
  for (int bit = first_bit + cidr->prefix_len; bit < 128; ++bit) {
    masked.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  if (!(masked == cidr->base)) {
    return "CIDR " + QuoteValue(value) + " has host bits set; did you mean " + masked.ToString() +
           "/" + std::to_string(cidr->prefix_len) + "?";
  }
  if (cidr->base.is_v4 && cidr->prefix_len == 32 && cidr->base.bytes[12] == 0xff &&
      cidr->base.bytes[13] == 0xff && cidr->base.bytes[14] == 0xff &&
      cidr->base.bytes[15] == 0xff) {
    return "CIDR 255.255.255.255/32 is not allowed";
  }
  return "";
}

std::string CheckRegex(std::string_view value) {
  if (value.empty()) return "regex must not be empty";
  if (value.size() > kMaxRegexLength) return TooLong("regex", value.size(), kMaxRegexLength);
  return RegexCompileMessage(value, nullptr);
}

std::string RegexCompileMessage(std::string_view value, int* capture_groups) {
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(re2::StringPiece(value.data(), value.size()), options);
  if (capture_groups != nullptr) *capture_groups = re.ok() ? re.NumberOfCapturingGroups() : -1;
  if (re.ok()) return "";
  std::string message = "regex " + QuoteValue(value) + " does not compile: " + re.error();
  bool lookaround =
      value.find("(?=") != std::string_view::npos || value.find("(?!") != std::string_view::npos ||
      value.find("(?<=") != std::string_view::npos || value.find("(?<!") != std::string_view::npos;
  bool backref = false;
  for (size_t i = 0; i + 1 < value.size(); ++i) {
    if (value[i] == '\\') {
      backref = backref || (value[i + 1] >= '1' && value[i + 1] <= '9');
      ++i;
    }
  }
  if (lookaround || backref) message += " (lookaround and backreferences are not supported)";
  return message;
}

int CountWildcards(std::string_view value, bool escapes) {
  int n = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    if (escapes && value[i] == '\\') {
      ++i;
      continue;
    }
    if (IsWildcard(value[i])) ++n;
  }
  return n;
}

}  // namespace sluice::config::internal
