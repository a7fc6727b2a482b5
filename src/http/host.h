// Host field and absolute-form authority validation (RFC 9112 §3.2, RFC 3986 §3.2.2).
// Pure; no allocation; thread-safe.
#pragma once

#include <string_view>

namespace sluice::http {

// True when `value` is `uri-host [ ":" port ]`: an IP-literal in brackets, or a reg-name
// (unreserved, pct-encoded and sub-delims characters; IPv4 addresses are reg-names too),
// optionally followed by ':' and at most 5 digits. The empty value is valid (RFC 9112 §3.2:
// a request whose target has no authority sends an empty Host). Userinfo ('@'), spaces,
// a second ':' outside brackets and every other character make it invalid.
bool IsValidHost(std::string_view value);

}  // namespace sluice::http
