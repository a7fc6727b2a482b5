#include "http/h2_upstream.h"

#include <algorithm>

#include "base/ascii.h"
#include "http/h2_translate.h"
#include "http/header.h"

namespace sluice::http {
namespace {

// The request path writes heads within the HTTP/1.1 request limits plus its own fields.
constexpr size_t kMaxRequestHeadBytes = 96 * 1024;
// The response head the request path reads from us is held to ALB's limit on a target's head
// (kMaxResponseHead, fields counted at RFC 9113's size, which is more than their line), less
// room for the status line and framing; the trailer section it relays likewise
// (ChunkedDecoder refuses more than 16 KiB of trailers).
constexpr size_t kMaxResponseBlockBytes = kMaxResponseHead - 256;
constexpr size_t kMaxTrailerBytes = 15 * 1024;
constexpr size_t kMaxResponseFields = kMaxHeaderCount - 8;

// Fields HTTP/2 forbids (RFC 9113 §8.2.2), and those the pseudo-header fields carry.
bool DroppedForH2(std::string_view name) {
  return IsConnectionSpecificField(name) || EqualsIgnoreCase(name, "te") ||
         EqualsIgnoreCase(name, "host");
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// :path for a request target: an absolute-form target's path and query (RFC 9113 §8.3.1:
// the authority travels in :authority), otherwise the target as written.
std::string_view OriginForm(std::string_view target) {
  if (target.empty() || target[0] == '/' || target == "*") return target;
  const size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos) return target;
  const size_t path = target.find('/', scheme_end + 3);
  return path == std::string_view::npos ? std::string_view("/") : target.substr(path);
}

RequestHead& ScratchRequestHead() {
  thread_local RequestHead head;
  return head;
}

void AppendLine(std::string_view name, std::string_view value, std::string* out) {
  out->append(name);
  out->append(": ");
  out->append(value);
  out->append("\r\n");
}

}  // namespace

size_t H1RequestReader::Feed(std::string_view in, size_t body_room, std::string_view* body) {
  *body = {};
  switch (state_) {
    case State::kHead:
      return FeedHead(in);
    case State::kBody:
      break;
    case State::kDone:
    case State::kError:
      return 0;
  }
  if (framing_.kind == BodyKind::kChunked) {
    size_t used = chunks_.Feed(in.substr(0, std::min(in.size(), body_room)), body);
    if (chunks_.failed()) {
      state_ = State::kError;
      error_ = "bad chunked framing";
      return 0;
    }
    if (chunks_.fed_trailer()) *body = {};  // never written by the request path; dropped
    if (chunks_.done()) state_ = State::kDone;
    return used;
  }
  size_t n = std::min<uint64_t>(std::min(in.size(), body_room), remaining_);
  *body = in.substr(0, n);
  remaining_ -= n;
  if (remaining_ == 0) state_ = State::kDone;
  return n;
}

size_t H1RequestReader::FeedHead(std::string_view in) {
  const size_t before = head_.size();
  size_t take = std::min(in.size(), kMaxRequestHeadBytes - std::min(before, kMaxRequestHeadBytes));
  if (head_.empty()) head_.reserve(take);  // the request path writes a head in one piece
  head_.append(in.substr(0, take));
  size_t end = FindHeadEnd(head_, &head_scan_);
  if (end == 0) {
    if (head_.size() >= kMaxRequestHeadBytes) {
      state_ = State::kError;
      error_ = "request head too large";
    }
    return take;
  }
  RequestHead& rh = ScratchRequestHead();
  rh.header_count = 0;
  ParseError err;
  if (ParseRequestHead(head_, end, &rh, &err) != ParseStatus::kComplete) {
    state_ = State::kError;
    error_ = err.reason;
    return take;
  }
  head_.resize(end);  // body bytes read with the head are fed again
  if (!ApplyHead(rh)) return take;
  return end - before;
}

bool H1RequestReader::ApplyHead(const RequestHead& rh) {
  ParseError err;
  if (!DetermineRequestFraming(rh, &framing_, &err)) {
    state_ = State::kError;
    error_ = err.reason;
    return false;
  }
  std::string_view connection, host;
  for (const HeaderField& f : rh.header_span()) {
    if (EqualsIgnoreCase(f.name, "connection")) connection = f.value;
    if (host.empty() && EqualsIgnoreCase(f.name, "host")) host = f.value;
  }
  method_ = rh.method;
  fields_.clear();
  fields_.reserve(rh.header_count + 5);  // one allocation: pseudo-fields, fields, te
  fields_.emplace_back(":method", rh.method);
  fields_.emplace_back(":scheme", scheme_);
  if (!host.empty()) fields_.emplace_back(":authority", host);
  fields_.emplace_back(":path", OriginForm(rh.target));
  for (const HeaderField& f : rh.header_span()) {
    if (DroppedForH2(f.name) || !IsToken(f.name)) continue;  // HTTP/2 names are tokens
    if (!connection.empty() && HeaderHasToken(connection, f.name)) continue;
    fields_.emplace_back(LowerInPlace(f.name), f.value);
  }
  fields_.emplace_back("te", "trailers");
  head_ready_ = true;
  remaining_ = framing_.length;
  const bool empty = framing_.kind == BodyKind::kNone ||
                     (framing_.kind == BodyKind::kContentLength && remaining_ == 0);
  if (empty) framing_.kind = BodyKind::kNone;
  state_ = empty ? State::kDone : State::kBody;
  return true;
}

bool H1ResponseWriter::AddField(std::string_view name, std::string_view value) {
  if (failed_) return false;
  block_bytes_ += name.size() + value.size() + 32;
  if (head_done_) {  // trailers
    if (name.empty() || name[0] == ':' ||
        trailers_.size() + name.size() + value.size() + 4 > kMaxTrailerBytes) {
      failed_ = true;
      return false;
    }
    if (DroppedForH2(name) || name == "content-length") return true;
    AppendLine(name, value, &trailers_);
    return true;
  }
  if (block_bytes_ > kMaxResponseBlockBytes || ++field_count_ > kMaxResponseFields) {
    failed_ = true;
    return false;
  }
  if (!name.empty() && name[0] == ':') {
    if (name != ":status" || value.size() != 3 || status_seen_) {
      failed_ = true;
      return false;
    }
    int code = 0;
    for (char c : value) {
      if (c < '0' || c > '9') {
        failed_ = true;
        return false;
      }
      code = code * 10 + (c - '0');
    }
    status_ = code;
    status_seen_ = true;
    return true;
  }
  if (DroppedForH2(name)) return true;
  if (name == "content-length") {
    if (has_content_length_) return true;  // nghttp2 has checked they agree
    has_content_length_ = true;
  }
  if (name == "content-type" && value.starts_with("application/grpc")) grpc_ = true;
  if (fields_.empty()) fields_.reserve(256);  // most heads: one allocation
  AppendLine(name, value, &fields_);
  return true;
}

namespace {

void AppendStatusLine(int status, std::string_view reason, std::string* out) {
  out->append("HTTP/1.1 ");
  out->push_back(static_cast<char>('0' + status / 100));
  out->push_back(static_cast<char>('0' + status / 10 % 10));
  out->push_back(static_cast<char>('0' + status % 10));
  out->push_back(' ');
  out->append(reason);
  out->append("\r\n");
}

// Appends the "name: value\r\n" lines of `lines` but those of content-length.
void AppendLinesButContentLength(std::string_view lines, std::string* out) {
  while (!lines.empty()) {
    size_t eol = lines.find("\r\n");
    std::string_view line = lines.substr(0, eol + 2);
    lines.remove_prefix(eol + 2);
    if (!line.starts_with("content-length:")) out->append(line);
  }
}

}  // namespace

void H1ResponseWriter::AppendInterimHead(std::string_view reason, std::string* out) const {
  AppendStatusLine(status_, reason, out);
  AppendLinesButContentLength(fields_, out);
  out->append("\r\n");
}

bool H1ResponseWriter::EndHead(bool end_stream, std::string_view reason, std::string* out) {
  if (failed_ || !status_seen_ || status_ < 100) {
    failed_ = true;
    return false;
  }
  if (status_ < 200) {  // interim: relayed as one, then wait for the final head
    if (status_ != 101 && interim_heads_ < kMaxInterimHeads &&
        fields_.size() + reason.size() + 17 <= kMaxInterimHeadBytes) {  // 17: line, CRLFs
      ++interim_heads_;
      AppendInterimHead(reason, out);
    }
    status_ = 0;
    status_seen_ = false;
    field_count_ = 0;
    block_bytes_ = 0;
    fields_.clear();
    has_content_length_ = grpc_ = false;
    return false;
  }
  head_done_ = true;
  block_bytes_ = 0;
  out->reserve(out->size() + fields_.size() + reason.size() + 64);
  AppendStatusLine(status_, reason, out);
  const bool bodiless = head_request_ || status_ == 204 || status_ == 304;
  if (bodiless || (has_content_length_ && !grpc_ && !end_stream)) {
    out->append(fields_);
  } else if (end_stream) {
    // The whole response was the head: say so in the framing the request path reads.
    out->append(fields_);
    if (!has_content_length_) out->append("content-length: 0\r\n");
  } else {
    // Chunked, so that trailers can follow: any content-length line goes.
    AppendLinesButContentLength(fields_, out);
    out->append("transfer-encoding: chunked\r\n");
    chunked_ = true;
  }
  out->append("\r\n");
  fields_.clear();
  return true;
}

void H1ResponseWriter::AppendData(std::string_view data, std::string* out) {
  if (data.empty()) return;
  if (!chunked_) {
    out->append(data);
    return;
  }
  AppendChunk(data, out);
}

void H1ResponseWriter::EndMessage(std::string* out) {
  if (!chunked_) return;
  out->append("0\r\n");
  out->append(trailers_);
  out->append("\r\n");
}

}  // namespace sluice::http
