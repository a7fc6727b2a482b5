// "ADDRESS:PORT" as given on the command line (--admin, --listen): parsed and checked, with a
// message that says what is expected when it is not acceptable. Pure; any thread.
#pragma once

#include <string>
#include <string_view>

namespace sluice::config {

struct HostPort {
  std::string host;  // an IP address without brackets, or a host name when allowed
  int port = 0;
};

struct HostPortRules {
  bool allow_host_name = false;   // else the host must be an IPv4 or IPv6 address
  int min_port = 1;               // 0 allows "pick a free port"
  std::string default_host = "";  // used for a bare "PORT"; empty: the host is required
};

// Parses "HOST:PORT", "[IPV6]:PORT" or, with a default host, "PORT". Returns "" and fills *out,
// or returns why `text` is not acceptable (the text quoted and escaped, see QuoteValue).
std::string ParseHostPort(std::string_view text, const HostPortRules& rules, HostPort* out);

// "1.2.3.4:80" or "[::1]:80".
std::string FormatHostPort(const HostPort& hp);

}  // namespace sluice::config
