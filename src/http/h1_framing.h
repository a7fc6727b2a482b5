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

// Streaming decoder for the chunked coding. Feed() consumes bytes and reports where chunk
// data lies so a caller can either forward the bytes verbatim or strip the framing.
// Limits: chunk sizes up to 2^60, chunk-extension lines up to 4 KiB, trailers up to 16 KiB.
class ChunkedDecoder {
 public:
  enum class State {
    kSize,
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

  // Consumes from `in`, stopping after the end of the message or at the boundary of a data
  // segment. Returns the number of bytes consumed; *data is set to the chunk data inside
  // the consumed range (possibly empty).
  size_t Feed(std::string_view in, std::string_view* data);

  bool done() const { return state_ == State::kDone; }
  bool failed() const { return state_ == State::kError; }
  void Reset() { *this = ChunkedDecoder(); }

 private:
  State state_ = State::kSize;
  uint64_t remaining_ = 0;  // data bytes left in the current chunk
  int size_digits_ = 0;
  size_t line_bytes_ = 0;     // bytes in the current extension or trailer line
  size_t trailer_bytes_ = 0;  // all trailer bytes so far
};

}  // namespace sluice::http
