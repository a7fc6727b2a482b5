// Responses the load balancer writes itself: ALB-style error pages, fixed responses and
// redirects. Pure functions that append bytes to an output string (whose capacity the
// caller reuses across requests).
#pragma once

#include <string>
#include <string_view>

#include "config/model.h"

namespace sluice::proxy {

const char* ReasonPhrase(int status);

// Formats an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") for unix time `seconds`
// into out (at least 30 bytes); returns the length.
size_t FormatHttpDate(int64_t seconds, char* out);

struct LocalResponseOptions {
  bool head_request = false;       // HEAD: headers only
  bool close = false;              // add "Connection: close"
  bool http10_keep_alive = false;  // HTTP/1.0 client that asked for keep-alive
  std::string_view date;           // preformatted Date header value
};

// ALB's own error page for `status` (400, 405, 408, 414, 460, 463, 500, 501, 502, 503, 504,
// 505, ...): a small HTML body and "Server: awselb/2.0".
void AppendErrorResponse(int status, const LocalResponseOptions& options, std::string* out);

void AppendFixedResponse(const config::FixedResponseConfig& fixed,
                         const LocalResponseOptions& options, std::string* out);

void AppendRedirectResponse(int status, std::string_view location,
                            const LocalResponseOptions& options, std::string* out);

}  // namespace sluice::proxy
