#include "http/h2_translate.h"

#include <algorithm>

#include "base/ascii.h"
#include "http/header.h"

namespace sluice::http {
namespace {

// A response head the request path writes is bounded by ALB's 32 KiB response-head limit
// plus the fields the load balancer adds (cookies); beyond this it is not one we wrote.
constexpr size_t kMaxTranslatedHead = 96 * 1024;

// The parse target for response heads: 256 field slots (8 KiB) are too many to initialize
// per response, so each thread reuses one (the reader uses it only inside FeedHead).
ResponseHead& ScratchHead() {
  thread_local ResponseHead head;
  return head;
}

// A trailer field an HTTP/2 peer accepts: a token name, a value without control bytes.
bool IsTrailerField(std::string_view name, std::string_view value) {
  for (char c : name) {
    if (!IsTokenChar(c)) return false;
  }
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

// Standard base64 with padding (RFC 4648 §4).
void AppendBase64(const uint8_t* in, size_t n, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (i + 1 < n ? uint32_t{in[i + 1]} << 8 : 0) |
                       (i + 2 < n ? uint32_t{in[i + 2]} : 0);
    out->push_back(kAlphabet[(v >> 18) & 63]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=');
    out->push_back(i + 2 < n ? kAlphabet[v & 63] : '=');
  }
}

void AppendHex(uint64_t v, std::string* out) {
  char buf[16];
  int n = 0;
  do {
    buf[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v != 0);
  while (n > 0) out->push_back(buf[--n]);
}

}  // namespace

H2FieldError H2RequestHead::Add(std::string_view name, std::string_view value) {
  const size_t size = name.size() + value.size();
  if (size > kH2MaxFieldBytes) return H2FieldError::kFieldTooLarge;
  header_bytes_ += size + 32;  // RFC 9113 §6.5.2's accounting of a field's size
  if (header_bytes_ > kH2MaxHeaderBytes) return H2FieldError::kHeaderTooLarge;
  if (!name.empty() && name[0] == ':') {
    std::string* slot = name == ":method"      ? &method_
                        : name == ":scheme"    ? &scheme_
                        : name == ":authority" ? &authority_
                        : name == ":path"      ? &path_
                        : name == ":protocol"  ? &protocol_
                                               : nullptr;
    if (slot == nullptr) return H2FieldError::kNone;  // nghttp2 refuses unknown ones first
    if (!slot->empty()) return H2FieldError::kDuplicatePseudo;
    slot->assign(value);
    return H2FieldError::kNone;
  }
  if (name == "cookie") {
    // Crumbs are joined by "; " (RFC 9113 §8.2.3), into lines of at most 8 KiB: one line
    // per request in practice, and never one over the HTTP/1.1 path's 16 KiB line limit
    // (http::kMaxRequestHeaderLine), which a valid HTTP/2 request must not meet.
    const bool new_line = cookie_.empty() || cookie_line_ + 2 + value.size() > kH2MaxFieldBytes;
    if (new_line && !LineFits()) return H2FieldError::kTooManyFields;
    if (cookie_.empty()) {
      cookie_line_ = 0;
      cookie_lines_ = 1;
    } else if (new_line) {
      cookie_.append("\r\ncookie: ");
      cookie_line_ = 0;
      ++cookie_lines_;
    } else {
      cookie_.append("; ");
      cookie_line_ += 2;
    }
    cookie_.append(value);
    cookie_line_ += value.size();
    return H2FieldError::kNone;
  }
  if (name == "host") {
    if (host_.empty()) host_.assign(value);
    return H2FieldError::kNone;
  }
  if (!LineFits()) return H2FieldError::kTooManyFields;
  if (name == "content-length") has_content_length_ = true;
  fields_.emplace_back(std::string(name), std::string(value));
  return H2FieldError::kNone;
}

void H2RequestHead::AppendFields(std::string_view skip, std::string* out) const {
  const std::string& host = authority_.empty() ? host_ : authority_;
  if (!host.empty() || !authority_.empty()) {
    out->append("Host: ");
    out->append(host);
    out->append("\r\n");
  }
  for (const auto& [name, value] : fields_) {
    if (name == skip) continue;
    out->append(name);
    out->append(": ");
    out->append(value);
    out->append("\r\n");
  }
  if (!cookie_.empty()) {
    out->append("cookie: ");
    out->append(cookie_);
    out->append("\r\n");
  }
}

void H2RequestHead::WriteHttp1(bool end_stream, std::string* out, bool* chunked) const {
  *chunked = false;
  out->append(method_);
  out->push_back(' ');
  // CONNECT has no :path; its target is the authority (the request path refuses it).
  out->append(path_.empty() && method_ == "CONNECT" ? authority_ : path_);
  out->append(" HTTP/1.1\r\n");
  AppendFields({}, out);
  if (!end_stream && !has_content_length_) {
    out->append("Transfer-Encoding: chunked\r\n");
    *chunked = true;
  }
  out->append("Connection: close\r\n\r\n");
}

void H2RequestHead::WriteWebSocketUpgrade(const uint8_t (&nonce)[16], std::string* out) const {
  out->append("GET ");
  out->append(path_);
  out->append(" HTTP/1.1\r\n");
  AppendFields("sec-websocket-key", out);
  out->append("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
  AppendBase64(nonce, sizeof(nonce), out);
  out->append("\r\n\r\n");
}

void AppendChunk(std::string_view data, std::string* out) {
  if (data.empty()) return;  // an empty chunk would end the body
  AppendHex(data.size(), out);
  out->append("\r\n");
  out->append(data);
  out->append("\r\n");
}

void AppendLastChunk(std::string* out) { out->append("0\r\n\r\n"); }

size_t H1ResponseReader::Feed(std::string_view in, size_t body_room, std::string_view* body) {
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
    // Chunk data lies inside the bytes consumed: at most body_room of them.
    size_t used = chunks_.Feed(in.substr(0, std::min(in.size(), body_room)), body);
    if (chunks_.failed()) {
      state_ = State::kError;
      error_ = "bad chunked framing";
      return 0;
    }
    if (chunks_.fed_trailer()) trailer_text_.append(in.substr(0, used));
    if (chunks_.done()) {
      state_ = State::kDone;
      if (!trailer_text_.empty()) ParseTrailers();
    }
    return used;
  }
  size_t n = std::min(in.size(), body_room);
  if (framing_.kind == BodyKind::kContentLength) n = std::min<uint64_t>(n, remaining_);
  *body = in.substr(0, n);
  if (framing_.kind == BodyKind::kContentLength) {
    remaining_ -= n;
    if (remaining_ == 0) state_ = State::kDone;
  }
  return n;
}

size_t H1ResponseReader::FeedHead(std::string_view in) {
  if (status_ != 0 && status_ < 200) {  // an interim head given out before: done with
    head_.clear();
    fields_.clear();
    status_ = 0;
    interim_ready_ = false;
  }
  const size_t before = head_.size();
  size_t take = std::min(in.size(), kMaxTranslatedHead - std::min(before, kMaxTranslatedHead));
  head_.append(in.substr(0, take));
  size_t end = FindHeadEnd(head_, &head_scan_);
  if (end == 0) {
    if (head_.size() >= kMaxTranslatedHead) {
      state_ = State::kError;
      error_ = "response head too large";
    }
    return take;
  }
  ResponseHead& rh = ScratchHead();
  rh.header_count = 0;
  ParseError err;
  if (ParseResponseHead(head_, end, &rh, &err, kMaxTranslatedHead) != ParseStatus::kComplete) {
    state_ = State::kError;
    error_ = err.reason;
    return take;
  }
  const size_t used = end - before;  // bytes of `in` that belong to this head
  head_.resize(end);                 // body bytes read with it are fed again (no reallocation)
  head_scan_ = 0;
  if (rh.status == 101 && websocket_) {
    AcceptUpgrade(rh);
    return used;
  }
  if (rh.status < 200) {
    if (rh.status == 101 || interim_heads_ == kMaxInterimHeads || end > kMaxInterimHeadBytes) {
      head_.clear();
      return used;
    }
    ++interim_heads_;
    status_ = rh.status;
    TakeFields(rh, true);  // fields_ view head_, kept until the next FeedHead
    interim_ready_ = true;
    return used;
  }
  if (websocket_ && rh.status < 300) {
    // A target that ignored the upgrade: to an HTTP/2 client a 2xx would say the WebSocket
    // is open (RFC 8441 §5) and its body would be read as frames. The stream is reset.
    state_ = State::kError;
    error_ = "a 2xx without a 101 to a WebSocket upgrade";
    return used;
  }
  ApplyHead(rh);  // fields_ view head_, which is kept until a next head (there is none)
  return used;
}

bool H1ResponseReader::ApplyHead(const ResponseHead& rh) {
  ParseError err;
  if (!DetermineResponseFraming(rh, head_request_ ? "HEAD" : "GET", &framing_, &err)) {
    state_ = State::kError;
    error_ = err.reason;
    return false;
  }
  status_ = rh.status;
  TakeFields(rh, false);
  head_ready_ = true;
  remaining_ = framing_.length;
  switch (framing_.kind) {
    case BodyKind::kNone:
      state_ = State::kDone;
      break;
    case BodyKind::kContentLength:
      state_ = remaining_ == 0 ? State::kDone : State::kBody;
      break;
    default:
      state_ = State::kBody;
      break;
  }
  return true;
}

void H1ResponseReader::AcceptUpgrade(const ResponseHead& rh) {
  status_ = 200;  // RFC 8441 §5: a 2xx ends the extended CONNECT's handshake
  TakeFields(rh, true);
  std::erase_if(fields_, [](const auto& f) { return f.first == "sec-websocket-accept"; });
  framing_ = Framing{};
  framing_.kind = BodyKind::kUntilClose;
  state_ = State::kBody;
  head_ready_ = true;
  upgraded_ = true;
}

void H1ResponseReader::TakeFields(const ResponseHead& rh, bool interim) {
  fields_.clear();
  fields_.reserve(rh.header_count);
  std::string_view connection;
  for (const HeaderField& f : rh.header_span()) {
    if (EqualsIgnoreCase(f.name, "connection")) connection = f.value;
  }
  for (const HeaderField& f : rh.header_span()) {
    if (IsConnectionSpecificField(f.name)) continue;
    if (!connection.empty() && HeaderHasToken(connection, f.name)) continue;
    if (interim && EqualsIgnoreCase(f.name, "content-length")) continue;
    fields_.emplace_back(LowerInPlace(f.name), f.value);
  }
}

void H1ResponseReader::ParseTrailers() {
  std::string_view rest = trailer_text_;
  while (!rest.empty()) {
    size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon), value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (IsConnectionSpecificField(name) || EqualsIgnoreCase(name, "content-length") ||
        EqualsIgnoreCase(name, "te") || EqualsIgnoreCase(name, "host") ||
        EqualsIgnoreCase(name, "trailer") || !IsTrailerField(name, value)) {
      continue;
    }
    trailers_.emplace_back(LowerInPlace(name), value);
  }
}

void H1ResponseReader::FinishStream() {
  if (state_ == State::kDone || state_ == State::kError) return;
  if (state_ == State::kBody && framing_.kind != BodyKind::kContentLength &&
      framing_.kind != BodyKind::kChunked) {
    state_ = State::kDone;
    return;
  }
  error_ = state_ == State::kHead ? "no response" : "response ended early";
  state_ = State::kError;
}

}  // namespace sluice::http
