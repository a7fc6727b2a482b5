// Redirect action: expands #{protocol}, #{host}, #{port}, #{path}, #{query} into a Location.
// Pure; no I/O. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "config/model.h"

namespace sluice::routing {

// The original request's components, as the keywords see them.
struct RedirectInputs {
  std::string_view protocol;  // "http" or "https" (listener protocol, lower case)
  std::string_view host;      // Host header without its port
  std::string_view port;      // listener port, decimal
  std::string_view path;      // original path with its leading '/'
  std::string_view query;     // original query without '?'; empty when none
};

// ALB refuses to redirect when the Location would exceed 8 KiB.
inline constexpr size_t kMaxRedirectLocation = 8192;

// Writes the absolute Location URL into *out (cleared first; capacity is reused).
// "#{path}" expands to the path without its leading slash. The port is always written, as
// ALB does ("https://example.com:443/"). An empty query drops the '?'.
// Returns false when the result would exceed kMaxRedirectLocation.
bool BuildRedirectLocation(const config::RedirectConfig& config, const RedirectInputs& in,
                           std::string* out);

}  // namespace sluice::routing
