// OpenSSL reports failures in a per-thread queue: every caller that turns one into a message
// takes the reason and clears the queue (a stale entry would be misread by the next
// SSL_get_error on this thread).
#pragma once

#include <openssl/err.h>

#include <string>
#include <string_view>

namespace sluice::tls {

// The last failure's text ("error:0A00...:SSL routines::..."), or `none` when the queue was
// empty; the queue is cleared either way.
inline std::string TakeOpenSslError(std::string_view none = "") {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return std::string(none);
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

}  // namespace sluice::tls
