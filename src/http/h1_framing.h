// HTTP/1.x message body framing (RFC 9112 §6): which body a message has, and a streaming
// chunked-coding decoder. Pure; no allocation; no I/O.
#pragma once

#include <cstdint>
#include <string_view>

#include "http/h1_parser.h"

namespace sluice::http {

enum class BodyKind {
  kNone,           // no body
  kContentLength,  // exactly `length` bytes
  kChunked,        // chunked transfer coding, ends with the last chunk and trailers
  kUntilClose,     // response only: body ends when the target closes
};

struct Framing {
  BodyKind kind = BodyKind::kNone;
  uint64_t length = 0;  // kContentLength only
};

// Request framing. Transfer-Encoding wins over Content-Length (the classifier has already
// flagged the combination); codings other than chunked/identity give 501; a chunked that is
// not the final coding, or bad/conflicting Content-Length values, give 400.
bool DetermineRequestFraming(const RequestHead& head, Framing* framing, ParseError* error);

// Response framing for a request with method `request_method`. 1xx, 204, 304 and responses
// to HEAD have no body. Bad framing gives a 502 error.
bool DetermineResponseFraming(const ResponseHead& head, std::string_view request_method,
                              Framing* framing, ParseError* error);

// Streaming decoder for the chunked coding (RFC 9112 §7.1). Feed() consumes bytes and reports
// where chunk data lies so a caller can either forward the bytes verbatim or strip the framing.
// Grammar: 1*HEXDIG (leading zeros allowed, value below 2^60), then optionally BWS ";" and an
// extension, then CRLF; whitespace after the size that is not followed by ';' is an error.
// Limits: 4 KiB of size digits, 4 KiB of BWS and extension per size line, trailer section up
// to 16 KiB.
// Trailer fields are reported separately (fed_trailer()) so that a proxy can drop them: a
// field in the trailer section must never reach a target as framing or routing input.
class ChunkedDecoder {
 public:
  enum class State {
    kSize,
    kSizeBws,  // SP/HTAB after the size: only ';' (after more BWS) may follow
    kSizeExt,
    kSizeLf,
    kData,
    kDataCr,
    kDataLf,
    kTrailerStart,
    kTrailerLine,
    kTrailerLf,
    kFinalLf,
    kDone,
    kError
  };

  // Consumes from `in`, stopping after the end of the message, at the boundary of a data
  // segment, and before and after each trailer field line. Returns the number of bytes
  // consumed; *data is set to the chunk data inside the consumed range (possibly empty).
  size_t Feed(std::string_view in, std::string_view* data);

  // True when the bytes the last Feed() consumed were trailer field bytes (and nothing else):
  // a forwarding caller drops them; the rest of the message stays well framed without them.
  bool fed_trailer() const { return fed_trailer_; }
  bool done() const { return state_ == State::kDone; }
  bool failed() const { return state_ == State::kError; }
  void Reset() { *this = ChunkedDecoder(); }

 private:
  // Stages of Feed (h1_framing.cc): what one byte does in the state of the name (false: a
  // framing error), and the chunk data at the front of `rest` (returns its length).
  bool FeedSize(char c);
  bool FeedSizeBws(char c);
  bool FeedSizeExt(char c);
  bool FeedSizeLf(char c);
  size_t FeedData(std::string_view rest, std::string_view* data);
  bool FeedDataCrLf(char c);
  bool FeedTrailerLine(char c);

  State state_ = State::kSize;
  uint64_t remaining_ = 0;  // data bytes left in the current chunk
  int size_digits_ = 0;
  bool fed_trailer_ = false;
  size_t line_bytes_ = 0;     // BWS and extension bytes of the current size line
  size_t trailer_bytes_ = 0;  // all trailer bytes so far
};

}  // namespace sluice::http
