// libFuzzer target: the HTTP/2 ↔ HTTP/1.1 translation (http/h2_translate.h).
//
// Input layout: byte 0 = flags. Bit 0 clear: an HTTP/2 request header block for
// H2RequestHead (bit 1: the HEADERS ended the stream); the rest is one field per line (\n),
// "name\tvalue"; a line "*<c>name\tvalue" repeats the value until it is (c & 0x7f) * 128
// bytes long (large fields from small inputs). Bit 0 set: bytes of an HTTP/1.1 response for
// H1ResponseReader (bit 1: the request was HEAD; bit 7: it was a WebSocket over HTTP/2;
// bits 2-7 seed the piece sizes and the body_room of each Feed).
//
// Asserted (__builtin_trap): the request side refuses exactly the fields over the limits and
// keeps its accounting within them; a block nghttp2 would have let through writes a head the
// HTTP/1.1 request parser accepts with the same method, target, one Host, the cookie crumbs
// joined in lines of at most 8 KiB, and the framing announced. The response side never
// consumes more than it was given nor more body than body_room, the body lies inside the
// consumed bytes, it always progresses while it has room (a stall would hang the stream),
// heads have lower-case names without connection-specific fields, interim heads are 1xx
// but 101, at most kMaxInterimHeads, without Content-Length, errors and the end are final,
// FinishStream always ends it, and the outcome (interim heads included) does not depend on
// how the bytes were split.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../h1_pieces.h"
#include "http/h1_framing.h"
#include "http/h1_parser.h"
#include "http/h2_translate.h"
#include "http/header.h"

namespace {

using namespace sluice;
using sluice::fuzz::Within;
using State = http::H1ResponseReader::State;

bool IsTchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool IsToken(std::string_view s, bool lower_only) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTchar(c) && !(!lower_only && c >= 'A' && c <= 'Z')) return false;
  }
  return true;
}
bool IsVisible(std::string_view s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}
// A field value nghttp2 passes on (RFC 9113 §8.2.1), restricted to what HTTP/1.1 allows.
bool IsCleanValue(std::string_view s) {
  for (char c : s) {
    if (!(c == '\t' || (c >= 0x20 && c <= 0x7e))) return false;
  }
  return s.empty() ||
         (s.front() != ' ' && s.front() != '\t' && s.back() != ' ' && s.back() != '\t');
}
bool IsPseudo(std::string_view n) {
  return n == ":method" || n == ":scheme" || n == ":authority" || n == ":path" ||
         n == ":protocol";  // RFC 8441, where the load balancer enables it
}
bool IsRefusedByNghttp2(std::string_view n, std::string_view v) {
  return n == "connection" || n == "keep-alive" || n == "proxy-connection" ||
         n == "transfer-encoding" || n == "upgrade" || (n == "te" && v != "trailers");
}

// An extended CONNECT for a WebSocket becomes "GET path" with the upgrade's fields, one Host,
// no body framing, and a 24-character key, and parses as HTTP/1.1 when nghttp2 would let the
// block through.
void CheckWebSocketUpgrade(const http::H2RequestHead& head, const std::string& path,
                           const std::string& authority, const std::string& host, bool valid) {
  const uint8_t nonce[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  std::string out;
  head.WriteWebSocketUpgrade(nonce, &out);
  constexpr std::string_view kTail =
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
      "AQIDBAUGBwgJCgsMDQ4PEA==\r\n\r\n";
  CHECK(out.starts_with("GET "));
  CHECK(out.ends_with(kTail));
  if (path.empty() || path[0] != '/' || !IsVisible(path) || !IsVisible(authority) || !valid ||
      !IsVisible(host)) {
    return;
  }
  auto parsed = std::make_unique<http::RequestHead>();
  http::ParseError err;
  size_t scan = 0;
  const size_t len = http::FindHeadEnd(out, &scan);
  CHECK(len == out.size());
  CHECK(http::ParseRequestHead(out, len, parsed.get(), &err) == http::ParseStatus::kComplete);
  CHECK(parsed->method == "GET" && parsed->target == path);
  int keys = 0;
  for (const http::HeaderField& f : parsed->header_span()) {
    if (http::EqualsIgnoreCase(f.name, "sec-websocket-key")) ++keys;
    CHECK(!http::EqualsIgnoreCase(f.name, "transfer-encoding"));  // nghttp2 refuses it
  }
  CHECK(keys == 1);
}

void FuzzRequest(uint8_t flags, std::string_view in) {
  const bool end_stream = (flags & 2) != 0;
  std::vector<std::pair<std::string, std::string>> fields;
  while (!in.empty() && fields.size() < 600) {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    size_t repeat_to = 0;
    if (line.size() >= 2 && line[0] == '*') {
      repeat_to = static_cast<size_t>(static_cast<uint8_t>(line[1]) & 0x7f) * 128;
      line.remove_prefix(2);
    }
    size_t tab = line.find('\t');
    std::string name(line.substr(0, tab));
    std::string value(tab == std::string_view::npos ? std::string_view() : line.substr(tab + 1));
    if (repeat_to != 0 && !value.empty()) {
      std::string unit = value;
      while (value.size() < repeat_to) value += unit;
    }
    fields.emplace_back(std::move(name), std::move(value));
  }

  http::H2RequestHead head;
  size_t accounted = 0;
  std::string method, path, authority, host, protocol;
  bool valid = true;  // a block nghttp2's own checks would let through
  bool regular_seen = false;
  bool has_content_length = false;
  std::string crumbs;
  bool empty_crumb = false;
  for (const auto& [name, value] : fields) {
    const size_t size = name.size() + value.size();
    http::H2FieldError e = head.Add(name, value);
    if (size > http::kH2MaxFieldBytes) {
      CHECK(e == http::H2FieldError::kFieldTooLarge);
      return;  // the session resets the stream
    }
    CHECK(e != http::H2FieldError::kFieldTooLarge);
    accounted += size + 32;
    if (accounted > http::kH2MaxHeaderBytes) {
      CHECK(e == http::H2FieldError::kHeaderTooLarge);
      return;
    }
    CHECK(e != http::H2FieldError::kHeaderTooLarge);
    CHECK(head.header_bytes() == accounted);
    if (e == http::H2FieldError::kDuplicatePseudo) {
      CHECK(IsPseudo(name));
      return;
    }
    if (e == http::H2FieldError::kTooManyFields) {
      CHECK(name[0] != ':' && name != "host");  // a cookie may need a line of its own
      return;
    }
    CHECK(e == http::H2FieldError::kNone);
    if (!name.empty() && name[0] == ':') {
      std::string* slot = name == ":method"      ? &method
                          : name == ":path"      ? &path
                          : name == ":authority" ? &authority
                          : name == ":protocol"  ? &protocol
                                                 : nullptr;
      if (!IsPseudo(name) || regular_seen) valid = false;  // unknown or late: nghttp2 refuses
      if (slot != nullptr) *slot = value;
      continue;
    }
    regular_seen = true;
    if (!IsToken(name, /*lower_only=*/true) || !IsCleanValue(value) ||
        IsRefusedByNghttp2(name, value)) {
      valid = false;
    }
    if (name == "host" && host.empty()) host = value;
    if (name == "cookie") {
      if (!crumbs.empty()) crumbs += "; ";
      crumbs += value;
      empty_crumb |= value.empty();
    }
    if (name == "content-length") {
      // nghttp2 takes one, all digits.
      if (has_content_length || value.empty() || value.size() > 15 ||
          value.find_first_not_of("0123456789") != std::string::npos) {
        valid = false;
      }
      has_content_length = true;
    }
  }
  CHECK(head.has_content_length() == has_content_length);
  CHECK(head.method() == method);
  CHECK(head.websocket() == (method == "CONNECT" && protocol == "websocket"));
  if (head.websocket()) {
    CheckWebSocketUpgrade(head, path, authority, host, valid);
    return;
  }
  std::string out;
  bool chunked = true;
  head.WriteHttp1(end_stream, &out, &chunked);
  CHECK(chunked == (!end_stream && !has_content_length));
  constexpr std::string_view kTail = "Connection: close\r\n\r\n";
  CHECK(out.size() >= kTail.size() && out.substr(out.size() - kTail.size()) == kTail);

  if (!IsToken(method, /*lower_only=*/false) || path.empty() || path[0] != '/' ||
      !IsVisible(path) || !IsVisible(authority) || !valid || !IsVisible(host)) {
    return;
  }
  auto parsed = std::make_unique<http::RequestHead>();
  http::ParseError err;
  size_t scan = 0;
  size_t len = http::FindHeadEnd(out, &scan);
  CHECK(len == out.size());
  CHECK(http::ParseRequestHead(out, len, parsed.get(), &err) == http::ParseStatus::kComplete);
  CHECK(parsed->method == method);
  CHECK(parsed->target == path);
  int hosts = 0;
  std::string cookie_lines;
  for (const http::HeaderField& f : parsed->header_span()) {
    if (http::EqualsIgnoreCase(f.name, "host")) {
      ++hosts;
      CHECK(f.value == (authority.empty() ? host : authority));
    }
    if (f.name == "cookie") {
      CHECK(f.value.size() <= http::kH2MaxFieldBytes);
      if (!cookie_lines.empty()) cookie_lines += "; ";
      cookie_lines.append(f.value);
    }
  }
  CHECK(hosts == ((authority.empty() && host.empty()) ? 0 : 1));
  // The crumbs, joined by "; ", in lines of at most 8 KiB (an empty crumb aside).
  if (!empty_crumb) CHECK(cookie_lines == crumbs);
  if (!has_content_length) {
    http::Framing framing;
    CHECK(http::DetermineRequestFraming(*parsed, &framing, &err));
    CHECK(framing.kind == (chunked ? http::BodyKind::kChunked : http::BodyKind::kNone));
  }
}

// A small deterministic generator for piece sizes and rooms.
struct Lcg {
  uint32_t s;
  uint32_t Next() {
    s = s * 1103515245u + 12345u;
    return s >> 16;
  }
};

struct Outcome {
  State state = State::kHead;
  bool head_seen = false;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;
  // Interim heads given out: status and fields, in order.
  std::vector<std::pair<int, std::vector<std::pair<std::string, std::string>>>> interims;
};

void CheckHead(const http::H1ResponseReader& r, bool interim) {
  if (interim) {
    CHECK(r.status() >= 100 && r.status() <= 199 && r.status() != 101);
  } else {
    CHECK(r.status() >= 200 && r.status() <= 999);
  }
  for (const auto& [name, value] : r.head_fields()) {
    CHECK(!name.empty());
    for (char c : name) CHECK(!(c >= 'A' && c <= 'Z'));
    CHECK(name != "connection" && name != "keep-alive" && name != "proxy-connection" &&
          name != "transfer-encoding" && name != "upgrade");
    if (interim) CHECK(name != "content-length");
  }
}

// Feeds `in` with piece sizes and rooms from `lcg` (or all at once and unbounded if null).
Outcome Read(std::string_view in, bool head_request, bool websocket, Lcg* lcg) {
  http::H1ResponseReader r(head_request, websocket);
  Outcome out;
  size_t at = 0;
  size_t guard = 4 * in.size() + 1000;
  while (guard-- > 0) {
    const State before = r.state();
    size_t piece = in.size() - at;
    size_t room = SIZE_MAX;
    if (lcg != nullptr) {
      uint32_t p = lcg->Next() % 8;
      piece = std::min(piece, p == 0 ? size_t{1} : p < 6 ? size_t{1} + lcg->Next() % 64 : 4096);
      uint32_t q = lcg->Next() % 8;
      room = q == 0 ? 0 : q < 6 ? 1 + lcg->Next() % 64 : q == 6 ? 65536 : SIZE_MAX;
    }
    std::string_view offered = in.substr(at, piece);
    std::string_view body = "not set";
    size_t n = r.Feed(offered, room, &body);
    CHECK(n <= offered.size());
    CHECK(body.size() <= room);
    CHECK(body.size() <= n);
    CHECK(Within(body, offered.substr(0, n)));
    if (before == State::kDone || before == State::kError) {
      CHECK(n == 0 && body.empty() && r.state() == before);
    }
    if (before == State::kHead) CHECK(body.empty());
    // While it has bytes and room it progresses (else the stream's exchange would wait
    // forever for room it already has).
    if ((before == State::kHead || (before == State::kBody && room > 0)) && !offered.empty()) {
      CHECK(n > 0 || r.state() == State::kError);
    }
    if (r.interim_ready()) {
      CHECK(before == State::kHead && r.state() == State::kHead && !r.head_ready());
      CHECK(static_cast<int>(out.interims.size()) < http::kMaxInterimHeads);
      CheckHead(r, true);
      out.interims.emplace_back(r.status(), decltype(out.fields)());
      for (const auto& [n, v] : r.head_fields()) out.interims.back().second.emplace_back(n, v);
      r.TakeInterim();
      CHECK(!r.interim_ready());
    }
    if (r.head_ready()) {
      CHECK(!out.head_seen);  // one final head
      CHECK(before == State::kHead && r.state() != State::kHead);
      CheckHead(r, false);
      // A WebSocket's final head is a 101 read as a 200 (then the tunnel), or 3xx and above.
      if (websocket) CHECK(r.upgraded() ? r.status() == 200 : r.status() >= 300);
      CHECK(!r.upgraded() || websocket);
      out.head_seen = true;
      out.status = r.status();
      out.fields.clear();
      for (const auto& [n, v] : r.head_fields()) out.fields.emplace_back(n, v);
      r.TakeHead();
      CHECK(!r.head_ready());
    } else if (r.state() != State::kError) {
      CHECK(r.state() == before || before == State::kBody);  // a head comes with head_ready
    }
    out.body.append(body);
    at += n;
    if (r.state() == State::kDone || r.state() == State::kError) break;
    if (at == in.size()) break;
  }
  CHECK(guard > 0);
  if (r.state() != State::kDone && r.state() != State::kError) {
    CHECK(at == in.size());
    r.FinishStream();
  }
  CHECK(r.state() == State::kDone || r.state() == State::kError);
  CHECK((r.state() == State::kError) == (r.error() != nullptr));
  if (r.state() == State::kDone) CHECK(out.head_seen);
  std::string_view body;
  CHECK(r.Feed("more", SIZE_MAX, &body) == 0 && body.empty());
  out.state = r.state();
  return out;
}

void FuzzResponse(uint8_t flags, std::string_view in) {
  const bool head_request = (flags & 2) != 0;
  const bool websocket = (flags & 0x80) != 0;
  Lcg lcg{static_cast<uint32_t>(flags >> 2) * 2654435761u + 1};
  Outcome pieces = Read(in, head_request, websocket, &lcg);
  Outcome whole = Read(in, head_request, websocket, nullptr);
  CHECK(pieces.state == whole.state);
  CHECK(pieces.head_seen == whole.head_seen);
  CHECK(pieces.status == whole.status);
  CHECK(pieces.fields == whole.fields);
  CHECK(pieces.body == whole.body);
  CHECK(pieces.interims == whole.interims);
  if (head_request) CHECK(whole.body.empty());
  if (whole.status == 204 || whole.status == 304) CHECK(whole.body.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    FuzzResponse(data[0], in);
  } else {
    FuzzRequest(data[0], in);
  }
  return 0;
}
