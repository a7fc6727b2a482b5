#include "config/host_port.h"

#include <optional>

#include "base/ip_address.h"
#include "config/quote.h"

namespace sluice::config {
namespace {

constexpr size_t kMaxHostName = 253;

bool IsHostNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

// The port number of `text` (saturating above 65535), or -1 when it is not decimal digits.
int ParsePortDigits(std::string_view text) {
  if (text.empty()) return -1;
  int port = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    if (port <= 65535) port = port * 10 + (c - '0');
  }
  return port;
}

// Splits off the host: "[v6]:p", "h:p" or "p" (host empty). False when brackets do not match
// or an IPv6 address comes without them.
bool SplitHost(std::string_view text, std::string_view* host, std::string_view* port,
               bool* bracketed) {
  *bracketed = !text.empty() && text.front() == '[';
  if (*bracketed) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    *host = text.substr(1, close - 1);
    *port = text.substr(close + 2);
    return true;
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    *host = {};
    *port = text;
    return true;
  }
  *host = text.substr(0, colon);
  *port = text.substr(colon + 1);
  return host->find(':') == std::string_view::npos;  // "::1:80" needs brackets
}

std::string CheckHost(std::string_view host, bool bracketed, const HostPortRules& rules) {
  const std::optional<IpAddress> ip = IpAddress::Parse(host);
  if (bracketed && (!ip || ip->is_v4)) return QuoteValue(host) + " is not an IPv6 address";
  if (ip || !rules.allow_host_name) {
    return ip ? "" : QuoteValue(host) + " is not an IP address";
  }
  if (host.size() > kMaxHostName) return "host name " + QuoteValue(host) + " is too long";
  for (char c : host) {
    if (!IsHostNameChar(c)) return QuoteValue(host) + " is not an IP address or host name";
  }
  return "";
}

}  // namespace

std::string ParseHostPort(std::string_view text, const HostPortRules& rules, HostPort* out) {
  const std::string expected =
      rules.default_host.empty()
          ? "expected ADDRESS:PORT, e.g. 127.0.0.1:9901 or [::1]:9901"
          : "expected [ADDRESS:]PORT, e.g. 127.0.0.1:9901, [::1]:9901 or 9901";
  std::string_view host;
  std::string_view port_text;
  bool bracketed = false;
  if (!SplitHost(text, &host, &port_text, &bracketed)) {
    return QuoteValue(text) + ": " + expected;
  }
  const bool bare_port = host.empty() && !bracketed && text.find(':') == std::string_view::npos;
  if (host.empty() && !(bare_port && !rules.default_host.empty())) {
    return QuoteValue(text) + ": " + expected;
  }
  const int port = ParsePortDigits(port_text);
  if (port < 0) return QuoteValue(text) + ": port " + QuoteValue(port_text) + " is not a number";
  if (port < rules.min_port || port > 65535) {
    return QuoteValue(text) + ": port " + QuoteValue(port_text) + " is out of range " +
           std::to_string(rules.min_port) + "..65535";
  }
  const std::string_view chosen = bare_port ? std::string_view(rules.default_host) : host;
  const std::string problem = CheckHost(chosen, bracketed, rules);
  if (!problem.empty()) return QuoteValue(text) + ": " + problem;
  out->host = std::string(chosen);
  out->port = port;
  return "";
}

std::string FormatHostPort(const HostPort& hp) {
  const bool v6 = hp.host.find(':') != std::string::npos;
  return (v6 ? "[" + hp.host + "]" : hp.host) + ":" + std::to_string(hp.port);
}

}  // namespace sluice::config
