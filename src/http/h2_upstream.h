// HTTP/1.1 ↔ HTTP/2 translation for targets of HTTP2 and GRPC target groups, pure (no I/O,
// no nghttp2): the HTTP/1.1 request the request path writes for a target becomes an HTTP/2
// request (pseudo-header fields, lower-case names, no connection-specific fields; the body
// de-framed for DATA frames), and the target's HTTP/2 response becomes HTTP/1.1 bytes for the
// request path to read (status line, fields, the body chunked when trailers may follow, the
// trailers in the chunked trailer section).
//
// The mirror of h2_translate.h (the client side of HTTP/2): proxy/h2_client_session.h runs
// these at the seam between the exchange, which speaks HTTP/1.1 to its upstream transport,
// and an HTTP/2 connection to the target.
//
// Contract: single-threaded values; string_views passed in are copied before a call returns
// unless a comment says otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/h1_framing.h"
#include "http/h1_parser.h"

namespace sluice::http {

// A field for an HTTP/2 header block: views valid while the reader that made it lives.
using H2Field = std::pair<std::string_view, std::string_view>;

// Reads the HTTP/1.1 request bytes the request path writes for one exchange: its head (as an
// HTTP/2 header block), then the body de-framed (Content-Length or chunked; the request path
// never writes trailers to a target).
class H1RequestReader {
 public:
  enum class State : uint8_t { kHead, kBody, kDone, kError };
  // `scheme`: ":scheme" of the request ("http" for h2c targets, "https" over TLS).
  explicit H1RequestReader(std::string_view scheme) : scheme_(scheme) {}

  // Consumes a prefix of `in` (returns its length). Stops after the head (head_ready():
  // take fields()), after each body piece (*body points into `in`) and at the end of the
  // message; never consumes more than `body_room` bytes of body data.
  size_t Feed(std::string_view in, size_t body_room, std::string_view* body);

  State state() const { return state_; }
  bool head_ready() const { return head_ready_; }
  void TakeHead() { head_ready_ = false; }
  // The header block: :method, :scheme, :authority (from Host), :path, then the fields in
  // order, names lower-case, without Connection, Keep-Alive, Proxy-Connection,
  // Transfer-Encoding, Upgrade, TE, Host and the fields Connection names, plus
  // "te: trailers" (gRPC targets require it; any target may send trailers, which are relayed).
  const std::vector<H2Field>& fields() const { return fields_; }
  // The head said a body follows (its end: state() kDone).
  bool has_body() const { return framing_.kind != BodyKind::kNone; }
  const std::string_view method() const { return method_; }
  const char* error() const { return error_; }

 private:
  size_t FeedHead(std::string_view in);
  bool ApplyHead(const RequestHead& rh);
  State state_ = State::kHead;
  std::string_view scheme_;
  bool head_ready_ = false;
  std::string head_;  // the head (bounded); fields_ view it
  size_t head_scan_ = 0;
  std::string_view method_;
  std::vector<H2Field> fields_;
  Framing framing_;
  uint64_t remaining_ = 0;
  ChunkedDecoder chunks_;
  const char* error_ = nullptr;
};

// Writes a target's HTTP/2 response as HTTP/1.1 bytes for the request path.
class H1ResponseWriter {
 public:
  // `head_request`: the request was HEAD (no body follows whatever the fields say).
  explicit H1ResponseWriter(bool head_request = false) : head_request_(head_request) {}

  // A field of the response header block (HEADERS, or trailers after DATA). False: the
  // block is refused (no :status, a field over the limits, too many fields).
  bool AddField(std::string_view name, std::string_view value);
  // The header block ended. An interim (1xx) head is appended to *out as an HTTP/1.1
  // interim head (without Content-Length; at most kMaxInterimHeads of at most
  // kMaxInterimHeadBytes, later or larger ones dropped) and false is returned: wait for the
  // final one. For a final head: appends the status line (with `reason`) and the fields to
  // *out, with Content-Length when the HEADERS frame ended the stream, else chunked framing
  // unless a content-length was given and the response is not gRPC.
  bool EndHead(bool end_stream, std::string_view reason, std::string* out);
  // A DATA frame's payload.
  void AppendData(std::string_view data, std::string* out);
  // The stream ended (after DATA or trailers): the last chunk and the trailer section.
  void EndMessage(std::string* out);

  void set_head_request(bool head_request) { head_request_ = head_request; }
  int status() const { return status_; }
  bool head_done() const { return head_done_; }
  bool chunked() const { return chunked_; }
  bool failed() const { return failed_; }

 private:
  void AppendInterimHead(std::string_view reason, std::string* out) const;
  bool head_request_;
  bool head_done_ = false;
  bool chunked_ = false;
  bool failed_ = false;
  bool grpc_ = false;
  bool has_content_length_ = false;
  bool status_seen_ = false;
  int status_ = 0;
  int interim_heads_ = 0;  // interim heads written
  size_t field_count_ = 0;
  size_t block_bytes_ = 0;
  std::string fields_;    // "name: value\r\n" lines of the block being read
  std::string trailers_;  // the trailer section's lines, after DATA
};

}  // namespace sluice::http
