// Field rules for actions (reference §1.5).
#include <string>
#include <string_view>

#include "config/quote.h"
#include "config/validate.h"

namespace sluice::config::internal {
namespace {

constexpr std::string_view kKeywords[] = {"#{protocol}", "#{host}", "#{port}", "#{path}",
                                          "#{query}"};

std::string TooLong(std::string_view what, size_t length, size_t limit) {
  return std::string(what) + " is " + std::to_string(length) + " characters long; the limit is " +
         std::to_string(limit);
}

// Checks the #{...} keywords in a redirect component against `allowed`, and every character
// outside keywords with `literal_ok`. `field` is the RedirectConfig member name.
template <class Pred>
std::string CheckTemplate(std::string_view field, std::string_view value,
                          std::initializer_list<std::string_view> allowed, Pred literal_ok) {
  std::string allowed_text;
  for (std::string_view a : allowed) {
    if (!allowed_text.empty()) allowed_text += ", ";
    allowed_text += a;
  }
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '#' && i + 1 < value.size() && value[i + 1] == '{') {
      size_t end = value.find('}', i);
      if (end == std::string_view::npos) {
        return "redirect " + std::string(field) + " " + QuoteValue(value) +
               " has an unterminated keyword; keywords: #{protocol}, #{host}, #{port}, "
               "#{path}, #{query}";
      }
      std::string_view keyword = value.substr(i, end - i + 1);
      bool known = false;
      for (std::string_view k : kKeywords) known = known || k == keyword;
      if (!known) {
        return "redirect " + std::string(field) + " has unknown keyword " + QuoteValue(keyword) +
               "; keywords: #{protocol}, #{host}, #{port}, #{path}, " + "#{query}";
      }
      bool ok = false;
      for (std::string_view a : allowed) ok = ok || a == keyword;
      if (!ok) {
        return "keyword " + std::string(keyword) + " is not allowed in redirect " +
               std::string(field) +
               (allowed.size() == 0 ? std::string("; it takes no keywords")
                                    : "; allowed: " + allowed_text);
      }
      i = end;
      continue;
    }
    if (!literal_ok(value[i])) {
      char c = value[i];
      std::string shown = (c > 0x20 && c < 0x7f) ? std::string("'") + c + "'"
                                                 : std::string("a control character or space");
      return "redirect " + std::string(field) + " " + QuoteValue(value) + " contains " + shown;
    }
  }
  return "";
}

bool IsVisible(char c) { return c > 0x20 && c < 0x7f; }

}  // namespace

std::string CheckRedirectProtocol(std::string_view value) {
  if (value == "HTTP" || value == "HTTPS" || value == "#{protocol}") return "";
  return "redirect Protocol " + QuoteValue(value) + " is invalid; allowed: HTTP, HTTPS, " +
         "#{protocol}";
}

std::string CheckRedirectPort(std::string_view value) {
  if (value == "#{port}") return "";
  bool digits = !value.empty() && value.size() <= 5;
  int port = 0;
  for (char c : value) {
    digits = digits && c >= '0' && c <= '9';
    if (digits) port = port * 10 + (c - '0');
  }
  if (digits && port >= 1 && port <= 65535) return "";
  return "redirect Port " + QuoteValue(value) + " is invalid; allowed: 1..65535 or #{port}";
}

std::string CheckRedirectHost(std::string_view value) {
  if (value.empty()) return "redirect Host must not be empty";
  if (value.size() > kMaxRedirectComponent) {
    return TooLong("redirect Host", value.size(), kMaxRedirectComponent);
  }
  auto ok = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  };
  return CheckTemplate("Host", value, {"#{host}"}, ok);
}

std::string CheckRedirectPath(std::string_view value) {
  if (value.empty()) return "redirect Path must not be empty";
  if (value.size() > kMaxRedirectComponent) {
    return TooLong("redirect Path", value.size(), kMaxRedirectComponent);
  }
  if (value.front() != '/') {
    return "redirect Path " + QuoteValue(value) + " must start with '/'";
  }
  auto ok = [](char c) { return IsVisible(c) && c != '?' && c != '#'; };
  return CheckTemplate("Path", value, {"#{path}", "#{host}", "#{port}"}, ok);
}

std::string CheckRedirectQuery(std::string_view value) {
  if (value.size() > kMaxRedirectComponent) {
    return TooLong("redirect Query", value.size(), kMaxRedirectComponent);
  }
  if (!value.empty() && value.front() == '?') {
    return "redirect Query must not start with '?'; it is added automatically";
  }
  auto ok = [](char c) { return IsVisible(c) && c != '#'; };
  return CheckTemplate("Query", value, {"#{protocol}", "#{host}", "#{port}", "#{path}", "#{query}"},
                       ok);
}

int ParseRedirectStatus(std::string_view value) {
  if (value == "HTTP_301") return 301;
  if (value == "HTTP_302") return 302;
  return 0;
}

int ParseFixedResponseStatus(std::string_view value) {
  if (value.size() != 3) return 0;
  if (value[0] != '2' && value[0] != '4' && value[0] != '5') return 0;
  if (value[1] < '0' || value[1] > '9' || value[2] < '0' || value[2] > '9') return 0;
  return (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
}

std::string CheckContentType(std::string_view value) {
  if (value == "text/plain" || value == "text/css" || value == "text/html" ||
      value == "application/javascript" || value == "application/json") {
    return "";
  }
  return "content type " + QuoteValue(value) +
         " is invalid; allowed: text/plain, text/css, text/html, application/javascript, "
         "application/json";
}

std::string CheckMessageBody(std::string_view value) {
  // Characters, not bytes: count UTF-8 lead bytes.
  size_t chars = 0;
  for (char c : value) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;
  }
  if (chars <= kMaxMessageBody) return "";
  return TooLong("message body", chars, kMaxMessageBody);
}

}  // namespace sluice::config::internal
