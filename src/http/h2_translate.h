// HTTP/2 ↔ HTTP/1.1 message translation, pure (no I/O, no nghttp2): an HTTP/2 request's
// header block becomes an HTTP/1.1 request head (and its DATA the body, chunked when no
// content-length was given), and an HTTP/1.1 response byte stream becomes a response head
// for HTTP/2 (lower-case names, no connection-specific fields) followed by body pieces.
//
// The HTTP/2 downstream (proxy/h2_session.h) runs each stream's exchange through the same
// HTTP/1.1 request path as any client connection (rules, actions, stickiness, X-Forwarded-*,
// access log); these are the two conversions at the seam. Reference §4.1: header names
// arrive lower-case and stay so, except the seven names ALB re-cases, all of which the
// request path writes itself (Host, X-Forwarded-For/Proto/Port, X-Amzn-Trace-Id, Connection;
// Upgrade never comes over HTTP/2).
//
// Contract: single-threaded values; string_views passed in are copied before the call returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/h1_framing.h"
#include "http/h1_parser.h"

namespace sluice::http {

// HTTP/2 header limits (reference §4.1: 8 KiB request line / single header, 64 KiB in all).
inline constexpr size_t kH2MaxFieldBytes = 8 * 1024;
inline constexpr size_t kH2MaxHeaderBytes = 64 * 1024;

enum class H2FieldError : uint8_t {
  kNone,
  kFieldTooLarge,   // one field (name + value) over 8 KiB, or :path over 8 KiB
  kHeaderTooLarge,  // the whole header block over 64 KiB
  kDuplicatePseudo,
  kTooManyFields,  // more fields than an HTTP/1.1 head may carry (kMaxHeaderCount)
};

// Collects one HTTP/2 request header block (after HPACK and nghttp2's checks of pseudo-header
// order and field syntax) and writes it as an HTTP/1.1 request head.
class H2RequestHead {
 public:
  // One decoded field, in the order received. Returns kNone or why the block is refused.
  H2FieldError Add(std::string_view name, std::string_view value);
  // Writes "METHOD path HTTP/1.1", Host (from :authority, else the host field), the other
  // fields as received, the cookie fields joined by "; " (RFC 9113 §8.2.3) into one line, or
  // into lines of at most 8 KiB when they are longer than that, the body
  // framing, and "Connection: close" (the HTTP/1.1 side serves this one request). A request
  // whose header block ended the stream has no body; one with a content-length keeps it;
  // any other gets "Transfer-Encoding: chunked" (*chunked true: wrap DATA with AppendChunk).
  void WriteHttp1(bool end_stream, std::string* out, bool* chunked) const;
  // An extended CONNECT (RFC 8441) for a WebSocket: :method CONNECT, :protocol websocket.
  bool websocket() const { return method_ == "CONNECT" && protocol_ == "websocket"; }
  // Writes a websocket() request as the HTTP/1.1 upgrade request of RFC 6455 §4.1: "GET
  // path", Host, the fields as received but any sec-websocket-key (HTTP/2 has none), the
  // cookie lines, "Upgrade: websocket", "Connection: Upgrade" and "Sec-WebSocket-Key: "
  // with the base64 of `nonce` (16 random bytes). No body framing: after the target's 101
  // the stream's DATA are the WebSocket's bytes, relayed as they are.
  void WriteWebSocketUpgrade(const uint8_t (&nonce)[16], std::string* out) const;

  std::string_view method() const { return method_; }
  bool has_content_length() const { return has_content_length_; }
  size_t header_bytes() const { return header_bytes_; }
  void Clear() { *this = H2RequestHead(); }

 private:
  // Host and the fields after the request line (cookies last); `skip`: a name left out.
  void AppendFields(std::string_view skip, std::string* out) const;
  std::string method_, scheme_, authority_, path_, host_, protocol_;
  std::vector<std::pair<std::string, std::string>> fields_;
  // One more field line still fits the HTTP/1.1 head (kMaxHeaderCount lines), with Host,
  // Transfer-Encoding and Connection, which WriteHttp1 may add. (WriteWebSocketUpgrade adds
  // one line more: a WebSocket at exactly the limit gets the request path's 400.)
  bool LineFits() const { return fields_.size() + cookie_lines_ + 1 + 3 <= kMaxHeaderCount; }
  std::string cookie_;      // the cookie lines' values, "\r\ncookie: " between lines
  size_t cookie_line_ = 0;  // length of the last cookie line's value
  size_t cookie_lines_ = 0;
  bool has_content_length_ = false;
  size_t header_bytes_ = 0;
};

// Chunked framing for a request body whose length the client did not declare.
void AppendChunk(std::string_view data, std::string* out);
void AppendLastChunk(std::string* out);

// Reads the HTTP/1.1 response the request path writes for one stream: its head (status and
// fields for HTTP/2), then the body, de-framed (Content-Length, chunked, or until the end).
// 1xx interim responses (100 Continue, 103 Early Hints, ...) come out one by one for non-final
// HEADERS frames: at most kMaxInterimHeads per response, each at most kMaxInterimHeadBytes
// (h1_parser.h); later or larger ones and any 101 (which HTTP/2 forbids, RFC 9113 §8.6) are
// skipped.
class H1ResponseReader {
 public:
  enum class State : uint8_t { kHead, kBody, kDone, kError };
  // `head_request`: the request was HEAD (the response has no body whatever it says).
  // `websocket`: the request was a WebSocket over HTTP/2 (RFC 8441): a 101 is its success, read
  // as a 200 without Sec-WebSocket-Accept whose body is every byte after it (until the end);
  // any other 2xx is an error (the client would take it for success); 3xx-5xx are relayed.
  explicit H1ResponseReader(bool head_request = false, bool websocket = false)
      : head_request_(head_request), websocket_(websocket) {}

  // Consumes a prefix of `in` (returns its length). Stops after a complete interim or final
  // head (so the caller can take head_fields()), after each body piece (*body points into
  // `in`), and at the end of the message. Never consumes more body than `body_room` bytes of
  // data.
  size_t Feed(std::string_view in, size_t body_room, std::string_view* body);
  // The byte stream ended (the request path closed it): an until-close body is complete;
  // anything else unfinished is an error.
  void FinishStream();

  State state() const { return state_; }
  bool head_ready() const { return head_ready_; }
  // An interim head was read: status() and head_fields() describe it until the next Feed
  // (TakeInterim() says it was sent; a head not taken is lost, nothing else).
  bool interim_ready() const { return interim_ready_; }
  void TakeInterim() { interim_ready_ = false; }
  // After an interim or the final head: the status and the fields to send, names lower-case,
  // without Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade and the
  // fields the Connection field names (an interim head also without Content-Length). Views
  // into the reader's copy of the head: valid until the next head is fed (the final head is
  // the last one) or the reader is destroyed.
  int status() const { return status_; }
  const std::vector<std::pair<std::string_view, std::string_view>>& head_fields() const {
    return fields_;
  }
  // A WebSocket's 101 was read (as a 200): the body is the tunnel's bytes.
  bool upgraded() const { return upgraded_; }
  // Clears head_ready() once the caller has sent the head.
  void TakeHead() { head_ready_ = false; }
  // Once state() is kDone: the chunked body's trailer fields (names lower-case, without
  // connection-specific and framing fields), for a trailing HEADERS frame. Views into the
  // reader's copy.
  const std::vector<std::pair<std::string_view, std::string_view>>& trailers() const {
    return trailers_;
  }
  const char* error() const { return error_; }

 private:
  size_t FeedHead(std::string_view in);
  bool ApplyHead(const ResponseHead& rh);
  void TakeFields(const ResponseHead& rh, bool interim);
  void AcceptUpgrade(const ResponseHead& rh);
  State state_ = State::kHead;
  bool head_request_;
  bool websocket_;
  bool upgraded_ = false;
  bool head_ready_ = false;
  bool interim_ready_ = false;
  int interim_heads_ = 0;  // interim heads given out
  int status_ = 0;
  std::string head_;  // the head being read (bounded by kMaxTranslatedHead); fields_ view it
  size_t head_scan_ = 0;
  std::vector<std::pair<std::string_view, std::string_view>> fields_;
  Framing framing_;
  uint64_t remaining_ = 0;
  ChunkedDecoder chunks_;
  std::string trailer_text_;  // the trailer section as received (ChunkedDecoder bounds it)
  std::vector<std::pair<std::string_view, std::string_view>> trailers_;
  void ParseTrailers();
  const char* error_ = nullptr;
};

}  // namespace sluice::http
