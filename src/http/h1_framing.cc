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

bool DetermineRequestFraming(const RequestHead& head, Framing* framing, ParseError* error) {
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

size_t ChunkedDecoder::Feed(std::string_view in, std::string_view* data) {
  *data = {};
  size_t i = 0;
  constexpr size_t kMaxExtLine = 4096;
  constexpr size_t kMaxTrailers = 16 * 1024;
  while (i < in.size()) {
    char c = in[i];
    switch (state_) {
      case State::kSize: {
        int v = -1;
        if (c >= '0' && c <= '9')
          v = c - '0';
        else if (c >= 'a' && c <= 'f')
          v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
          v = c - 'A' + 10;
        if (v >= 0) {
          if (++size_digits_ > 15) {
            state_ = State::kError;
            return i;
          }
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(v);
          ++i;
          break;
        }
        if (size_digits_ == 0) {
          state_ = State::kError;
          return i;
        }
        if (c == '\r') {
          state_ = State::kSizeLf;
          ++i;
          break;
        }
        if (c == ';' || c == ' ' || c == '\t') {
          state_ = State::kSizeExt;
          line_bytes_ = 0;
          ++i;
          break;
        }
        state_ = State::kError;
        return i;
      }
      case State::kSizeExt:
        if (c == '\r') {
          state_ = State::kSizeLf;
          ++i;
          break;
        }
        if (c == '\n' || c == '\0' || ++line_bytes_ > kMaxExtLine) {
          state_ = State::kError;
          return i;
        }
        ++i;
        break;
      case State::kSizeLf:
        if (c != '\n') {
          state_ = State::kError;
          return i;
        }
        ++i;
        size_digits_ = 0;
        if (remaining_ == 0) {
          state_ = State::kTrailerStart;
        } else {
          state_ = State::kData;
        }
        break;
      case State::kData: {
        size_t take = in.size() - i;
        if (take > remaining_) take = static_cast<size_t>(remaining_);
        *data = in.substr(i, take);
        remaining_ -= take;
        i += take;
        if (remaining_ == 0) state_ = State::kDataCr;
        return i;  // stop at the data boundary so the caller can handle it
      }
      case State::kDataCr:
        if (c != '\r') {
          state_ = State::kError;
          return i;
        }
        state_ = State::kDataLf;
        ++i;
        break;
      case State::kDataLf:
        if (c != '\n') {
          state_ = State::kError;
          return i;
        }
        state_ = State::kSize;
        ++i;
        break;
      case State::kTrailerStart:
        if (c == '\r') {
          state_ = State::kFinalLf;
          ++i;
          break;
        }
        state_ = State::kTrailerLine;
        line_bytes_ = 0;
        break;
      case State::kTrailerLine:
        if (c == '\r') {
          state_ = State::kTrailerLf;
          ++i;
          break;
        }
        if (c == '\n' || c == '\0' || ++trailer_bytes_ > kMaxTrailers) {
          state_ = State::kError;
          return i;
        }
        ++i;
        break;
      case State::kTrailerLf:
        if (c != '\n') {
          state_ = State::kError;
          return i;
        }
        state_ = State::kTrailerStart;
        ++i;
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
  }
  return i;
}

}  // namespace sluice::http
