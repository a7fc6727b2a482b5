// Internal to the demo target (app/demo_target.cc): the HTTP/1.1 side without any sockets.
// Parsing a complete request head, chunk-size lines and the query parameters, and producing
// responses (head, echo body, streamed bytes= pieces). The connection state machine and the
// event loop stay in demo_target.cc; everything here is pure and testable on strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::app::demo {

constexpr size_t kMaxHeadBytes = 64 * 1024;  // request head and trailer section cap
constexpr size_t kStreamPiece = 64 * 1024;   // bytes= responses are produced in these pieces
constexpr int64_t kMaxDelayMs = 3'600'000;

struct Request {
  std::string request_line;
  std::vector<std::string> header_lines;  // as received, without line endings
  std::string method;
  std::string target;
  bool http10 = false;
  bool keep_alive = true;
  uint64_t body_bytes = 0;
  // Query parameters, parsed once the request is complete.
  int status = 200;
  uint64_t delay_ms = 0;
  uint64_t bytes = 0;
  bool have_bytes = false;
  bool chunked = false;
};

// How the body of a parsed request head is framed.
struct HeadResult {
  bool chunked = false;
  uint64_t content_length = 0;  // 0 when chunked or absent
  bool expect_continue = false;
};

// Parses a complete request head (request line, header lines and the terminating empty line;
// CRLF or bare LF) into *r and *result. Returns nullptr on success, or the reason for a 400.
// *r is filled as far as parsing got, also on failure (the method decides whether a 400 has a
// body).
const char* ParseRequestHead(std::string_view head, Request* r, HeadResult* result);

// Applies the query parameters of r->target (status, delay_ms, bytes, chunked, close) to *r;
// close=1 sets *close_after. Returns nullptr on success, or the reason for a 400 (parameters
// after the bad one are not applied).
const char* ApplyQueryParameters(Request* r, bool* close_after);

// The path of a request target: without the query, and for absolute-form without scheme and
// authority.
std::string_view RequestPath(std::string_view target);

// The echo body: target name, addresses, the request line and header lines, body size.
std::string EchoBody(std::string_view name, std::string_view addr, std::string_view peer,
                     const Request& r);

struct ResponseSpec {
  int status = 200;
  bool chunked = false;       // requested chunked framing (ignored for HTTP/1.0, 204, 304)
  bool head_request = false;  // HEAD: no body is sent
  bool http10 = false;        // HTTP/1.0 client: no chunked framing, explicit keep-alive
  bool close = false;         // "Connection: close"
  std::string_view server_name;
};

// What remains to be produced by AppendStreamPiece after BuildResponse.
struct StreamState {
  uint64_t left = 0;  // 'x' bytes still to produce
  bool chunked = false;
};

// Replaces *out with a response: its head and either `body`, or (when stream_bytes > 0) a
// body of stream_bytes 'x' characters left to AppendStreamPiece.
StreamState BuildResponse(const ResponseSpec& spec, std::string_view body, uint64_t stream_bytes,
                          std::string* out);

// Appends the next piece (at most kStreamPiece bytes) of a streamed body to *out, with chunk
// framing when chunked; the final chunked piece carries the terminator.
void AppendStreamPiece(StreamState* stream, std::string* out);

}  // namespace sluice::app::demo
