// Host field and absolute-form authority validation (RFC 9112 §3.2, RFC 3986 §3.2.2).
// Pure; no allocation; thread-safe.
#pragma once

#include <span>
#include <string_view>

#include "http/header.h"

namespace sluice::http {

// True when `value` is `uri-host [ ":" port ]`: an IP-literal in brackets, or a reg-name
// (unreserved, pct-encoded and sub-delims characters; IPv4 addresses are reg-names too),
// optionally followed by ':' and at most 5 digits. The empty value is valid (RFC 9112 §3.2:
// a request whose target has no authority sends an empty Host). Userinfo ('@'), spaces,
// a second ':' outside brackets and every other character make it invalid.
bool IsValidHost(std::string_view value);

// True when a request's absolute-form `authority` (empty for origin-form) and every Host
// field among `headers` are valid. `first_host` and `host_count` are what the caller already
// found (the first Host field, or null, and how many there are), so that the usual single
// Host costs no second pass over the fields.
bool RequestHostsValid(std::string_view authority, std::span<const HeaderField> headers,
                       const HeaderField* first_host, int host_count);

}  // namespace sluice::http
