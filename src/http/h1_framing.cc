#include "http/h1_framing.h"

namespace sluice::http {
namespace {

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// Parses a Content-Length value made only of digits. Returns false on anything else.
bool ParseLength(std::string_view v, uint64_t* out) {
  if (v.empty() || v.size() > 18) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = n;
  return true;
}

// Examines Transfer-Encoding and Content-Length across all occurrences.
// Returns 0 on success, or an HTTP status on error.
int ScanFraming(std::span<const HeaderField> headers, bool* chunked, bool* has_length,
                uint64_t* length, int bad_status) {
  *chunked = false;
  *has_length = false;
  bool chunked_seen = false;
  for (const HeaderField& h : headers) {
    if (EqualsIgnoreCase(h.name, "transfer-encoding")) {
      std::string_view rest = h.value;
      while (true) {
        size_t comma = rest.find(',');
        std::string_view coding = Trim(rest.substr(0, comma));
        if (!coding.empty()) {
          if (chunked_seen) return 400;  // chunked must be the final coding, and only once
          if (EqualsIgnoreCase(coding, "chunked")) {
            chunked_seen = true;
          } else if (!EqualsIgnoreCase(coding, "identity")) {
            return bad_status == 502 ? 502 : 501;
          }
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    } else if (EqualsIgnoreCase(h.name, "content-length")) {
      uint64_t n = 0;
      if (!ParseLength(Trim(h.value), &n)) return bad_status;
      if (*has_length && n != *length) return bad_status;
      *has_length = true;
      *length = n;
    }
  }
  *chunked = chunked_seen;
  return 0;
}

}  // namespace

namespace {
constexpr uint32_t kFramingNameLengths =
    NameLengthBit(sizeof("content-length") - 1) | NameLengthBit(sizeof("transfer-encoding") - 1);
}  // namespace

bool DetermineRequestFraming(const RequestHead& head, Framing* framing, ParseError* error) {
  if ((head.name_lengths & kFramingNameLengths) == 0) {  // neither field: no body
    *framing = {BodyKind::kNone, 0};
    return true;
  }
  bool chunked = false, has_length = false;
  uint64_t length = 0;
  int status = ScanFraming(head.header_span(), &chunked, &has_length, &length, 400);
  if (status != 0) {
    *error = {status, status == 501 ? "unsupported transfer coding" : "invalid message framing"};
    return false;
  }
  if (chunked) {
    *framing = {BodyKind::kChunked, 0};
  } else if (has_length && length > 0) {
    *framing = {BodyKind::kContentLength, length};
  } else {
    *framing = {BodyKind::kNone, 0};
  }
  return true;
}

bool DetermineResponseFraming(const ResponseHead& head, std::string_view request_method,
                              Framing* framing, ParseError* error) {
  if (head.status < 200 || head.status == 204 || head.status == 304 || request_method == "HEAD") {
    *framing = {BodyKind::kNone, 0};
    return true;
  }
  if ((head.name_lengths & kFramingNameLengths) == 0) {  // neither field: until close
    *framing = {BodyKind::kUntilClose, 0};
    return true;
  }
  bool chunked = false, has_length = false;
  uint64_t length = 0;
  if (ScanFraming(head.header_span(), &chunked, &has_length, &length, 502) != 0) {
    *error = {502, "invalid response framing"};
    return false;
  }
  if (chunked) {
    *framing = {BodyKind::kChunked, 0};
  } else if (has_length) {
    *framing = {length ? BodyKind::kContentLength : BodyKind::kNone, length};
  } else {
    *framing = {BodyKind::kUntilClose, 0};
  }
  return true;
}

namespace {

constexpr int kMaxSizeDigits = 4096;   // leading zeros included
constexpr size_t kMaxSizeLine = 4096;  // BWS and extension after the size
constexpr size_t kMaxTrailers = 16 * 1024;
constexpr uint64_t kMaxChunkSize = uint64_t{1} << 60;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// The stages of Feed: what one byte does in each state (false: a framing error, state_ is
// then kError). They run for every byte of chunk framing: forced inline, one per state so
// that Feed's switch is the only dispatch, the split costs no instructions.

// kSize: a hex digit of the chunk size, or the CR, ';' or BWS that ends the digits.
[[gnu::always_inline]] inline bool ChunkedDecoder::FeedSize(char c) {
  const int v = HexValue(c);
  if (v >= 0) {
    // Leading zeros are allowed (1*HEXDIG); the value and the line are bounded.
    if (remaining_ >= kMaxChunkSize / 16 || size_digits_ >= kMaxSizeDigits) {
      state_ = State::kError;
      return false;
    }
    ++size_digits_;
    remaining_ = remaining_ * 16 + static_cast<uint64_t>(v);
    return true;
  }
  if (size_digits_ == 0) {
    state_ = State::kError;
    return false;
  }
  if (c == '\r') {
    state_ = State::kSizeLf;
  } else if (c == ';') {
    state_ = State::kSizeExt;
  } else if (c == ' ' || c == '\t') {
    state_ = State::kSizeBws;
  } else {
    state_ = State::kError;
    return false;
  }
  return true;
}

// kSizeBws: more BWS, or the ';' of an extension.
[[gnu::always_inline]] inline bool ChunkedDecoder::FeedSizeBws(char c) {
  // RFC 9112 §7.1.1: BWS is allowed only before ';'. "5 \r\n" is an error.
  if (c == ';') {
    state_ = State::kSizeExt;
  } else if ((c != ' ' && c != '\t') || ++line_bytes_ > kMaxSizeLine) {
    state_ = State::kError;
    return false;
  }
  return true;
}

// kSizeExt: a byte of the chunk extension, or the CR that ends the size line.
[[gnu::always_inline]] inline bool ChunkedDecoder::FeedSizeExt(char c) {
  if (c == '\r') {
    state_ = State::kSizeLf;
    return true;
  }
  if (c == '\n' || c == '\0' || ++line_bytes_ > kMaxSizeLine) {
    state_ = State::kError;
    return false;
  }
  return true;
}

// kSizeLf: the LF that ends the size line; then the data, or the trailer section after the
// last chunk.
[[gnu::always_inline]] inline bool ChunkedDecoder::FeedSizeLf(char c) {
  if (c != '\n') {
    state_ = State::kError;
    return false;
  }
  size_digits_ = 0;
  line_bytes_ = 0;
  state_ = remaining_ == 0 ? State::kTrailerStart : State::kData;
  return true;
}

// kData: the chunk data at the front of `rest`, up to the end of the chunk. Sets *data to it
// and returns its length.
[[gnu::always_inline]] inline size_t ChunkedDecoder::FeedData(std::string_view rest,
                                                              std::string_view* data) {
  size_t take = rest.size();
  if (take > remaining_) take = static_cast<size_t>(remaining_);
  *data = rest.substr(0, take);
  remaining_ -= take;
  if (remaining_ == 0) state_ = State::kDataCr;
  return take;
}

// kDataCr, kDataLf: the CRLF after chunk data.
[[gnu::always_inline]] inline bool ChunkedDecoder::FeedDataCrLf(char c) {
  if (c != (state_ == State::kDataCr ? '\r' : '\n')) {
    state_ = State::kError;
    return false;
  }
  state_ = state_ == State::kDataCr ? State::kDataLf : State::kSize;
  return true;
}

// kTrailerLine: a byte of a trailer field line, or the CR that ends it.
[[gnu::always_inline]] inline bool ChunkedDecoder::FeedTrailerLine(char c) {
  if (c == '\r') {
    state_ = State::kTrailerLf;
    return true;
  }
  if (c == '\n' || c == '\0' || ++trailer_bytes_ > kMaxTrailers) {
    state_ = State::kError;
    return false;
  }
  return true;
}

size_t ChunkedDecoder::Feed(std::string_view in, std::string_view* data) {
  *data = {};
  // A call consumes either trailer field bytes only, or none (see fed_trailer()).
  fed_trailer_ = state_ == State::kTrailerLine || state_ == State::kTrailerLf ||
                 (state_ == State::kTrailerStart && !in.empty() && in[0] != '\r');
  size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    switch (state_) {  // a case that neither returns nor continues consumes c
      case State::kSize:
        if (!FeedSize(c)) return i;
        break;
      case State::kSizeBws:
        if (!FeedSizeBws(c)) return i;
        break;
      case State::kSizeExt:
        if (!FeedSizeExt(c)) return i;
        break;
      case State::kSizeLf:
        if (!FeedSizeLf(c)) return i;
        break;
      case State::kData:
        return i + FeedData(in.substr(i), data);  // stop at the data boundary
      case State::kDataCr:
      case State::kDataLf:
        if (!FeedDataCrLf(c)) return i;
        break;
      case State::kTrailerStart:
        if (c == '\r') {
          if (fed_trailer_) return i;  // the trailer run ends before the final CRLF
          state_ = State::kFinalLf;
          break;
        }
        if (!fed_trailer_) return i;  // a trailer field starts: report it in its own call
        state_ = State::kTrailerLine;
        continue;  // c is the field's first byte
      case State::kTrailerLine:
        if (!FeedTrailerLine(c)) return i;
        break;
      case State::kTrailerLf:
        if (c != '\n') {
          state_ = State::kError;
          return i;
        }
        state_ = State::kTrailerStart;
        break;
      case State::kFinalLf:
        if (c != '\n') {
          state_ = State::kError;
          return i;
        }
        state_ = State::kDone;
        return i + 1;
      case State::kDone:
      case State::kError:
        return i;
    }
    ++i;
  }
  return i;
}

}  // namespace sluice::http
