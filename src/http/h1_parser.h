// HTTP/1.x head parsing (request and response). Pure; no allocation; no I/O.
//
// The parser is deliberately lenient in what it *tokenizes* (odd header names, bare LF line
// ends, obs-fold, lines without a colon) so that the desync classifier sees the request as
// sent and the listener's desync_mitigation_mode decides what to do with it. It is strict
// about sizes: the limits are ALB's (request line 16 KiB, one header 16 KiB, all headers
// 64 KiB; response head 32 KiB).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "http/desync.h"
#include "http/header.h"

namespace sluice::http {

inline constexpr size_t kMaxRequestLine = 16 * 1024;
inline constexpr size_t kMaxRequestHeaderLine = 16 * 1024;
inline constexpr size_t kMaxRequestHeaders = 64 * 1024;  // all header lines together
inline constexpr size_t kMaxRequestHead = kMaxRequestLine + kMaxRequestHeaders + 4;
inline constexpr size_t kMaxResponseHead = 32 * 1024;
// Interim (1xx) heads a proxy relays per response, and the size of each: a target's stream of
// them to a client that does not read must not queue without bound. Later or larger ones are
// dropped (they are informational; the final response still follows).
inline constexpr int kMaxInterimHeads = 4;
inline constexpr size_t kMaxInterimHeadBytes = 8 * 1024;
inline constexpr size_t kMaxHeaderCount = 256;

enum class ParseStatus { kComplete, kIncomplete, kError };

// The head's one scan leaves a summary of its field names: bit min(length, 31) is set for
// every name present. A lookup of a name whose length bit is clear skips the fields (a GET
// carries no 14- or 17-byte name, so its framing needs no pass over them). Heads built by
// hand keep the default, every bit set: every lookup scans.
inline constexpr uint32_t NameLengthBit(size_t length) {
  return uint32_t{1} << (length < 31 ? length : 31);
}
inline constexpr uint32_t kAllNameLengths = ~uint32_t{0};

// Why a head could not be parsed, and the status ALB answers with.
struct ParseError {
  int status = 400;
  const char* reason = "";
  bool too_large = false;  // a size limit was passed (a line, all fields, the whole head)
};

struct RequestHead {
  std::string_view method;
  std::string_view target;   // request-target as received
  std::string_view version;  // "HTTP/1.1"; "" for HTTP/0.9
  int version_minor = 1;     // 0 or 1 (HTTP/1.2..1.9 are treated as 1.1)
  HeaderField headers[kMaxHeaderCount];
  size_t header_count = 0;
  size_t head_length = 0;                   // bytes of the head including the empty line
  uint32_t name_lengths = kAllNameLengths;  // NameLengthBit of every field name
  // Anomalies only the wire shows (bare LF, obs-fold, a line without colon, a version token
  // inside the request target).
  DesyncVerdict wire_verdict;
  // Some field name ends in SP or HTAB ("Name : value"). RFC 9112 §5.1 requires a server to
  // answer 400; the listener's desync mode decides (see DownstreamConnection::HandleRequest).
  bool whitespace_before_colon = false;

  std::span<const HeaderField> header_span() const { return {headers, header_count}; }
};

struct ResponseHead {
  int status = 0;
  std::string_view reason;
  int version_minor = 1;
  HeaderField headers[kMaxHeaderCount];
  size_t header_count = 0;
  size_t head_length = 0;
  uint32_t name_lengths = kAllNameLengths;  // NameLengthBit of every field name

  std::span<const HeaderField> header_span() const { return {headers, header_count}; }
};

// Finds the end of a head in `buf`, resuming the scan at *scan_pos (updated; start at 0).
// Returns the head length including the terminating empty line, or 0 if not yet complete.
size_t FindHeadEnd(std::string_view buf, size_t* scan_pos);

// Parses a complete request head (buf must start at the request line; head_len from
// FindHeadEnd). Views in *out point into buf.
ParseStatus ParseRequestHead(std::string_view buf, size_t head_len, RequestHead* out,
                             ParseError* error);

// Checks the size limits on a head that is not complete yet: returns false (and sets *error)
// if what has arrived already exceeds a limit, so the caller can answer without waiting.
bool CheckPartialRequestHead(std::string_view buf, ParseError* error);

// `max_head`: ALB's limit on a target's head; a reader of heads the load balancer wrote
// itself (the target's plus its own fields) passes a larger one.
ParseStatus ParseResponseHead(std::string_view buf, size_t head_len, ResponseHead* out,
                              ParseError* error, size_t max_head = kMaxResponseHead);

// A status line without its line end, "HTTP/1.x NNN[ reason]": the status (100..999), or -1
// (*why says why). *version_minor and *reason are set on success. ParseResponseHead and the
// health checker's probes both read status lines with it.
int ParseStatusLine(std::string_view line, int* version_minor, std::string_view* reason,
                    const char** why);

}  // namespace sluice::http
