#include "app/demo_target_http.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

#include "base/ascii.h"
#include "http/h1_framing.h"
#include "http/h1_parser.h"
#include "http/header.h"

namespace sluice::app::demo {
namespace {

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return IsTokenChar(c); });
}

// Decimal digits only, no sign, at most `max`.
bool ParseU64(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

const char* Reason(int status) {
  // clang-format off
  static constexpr std::pair<int, const char*> kReasons[] = {
      {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
      {301, "Moved Permanently"}, {302, "Found"}, {304, "Not Modified"},
      {307, "Temporary Redirect"}, {308, "Permanent Redirect"}, {400, "Bad Request"},
      {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"}, {405, "Method Not Allowed"},
      {408, "Request Timeout"}, {409, "Conflict"}, {413, "Content Too Large"},
      {429, "Too Many Requests"}, {500, "Internal Server Error"}, {501, "Not Implemented"},
      {502, "Bad Gateway"}, {503, "Service Unavailable"}, {504, "Gateway Timeout"}};
  // clang-format on
  for (const auto& [code, text] : kReasons) {
    if (code == status) return text;
  }
  return "Status";
}

std::string Hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// What this strict target refuses beyond the parser's grammar: control characters, a
// version other than 1.0 or 1.1, a target with a tab or a non-ASCII byte, a folded line, a
// line without a colon, a field name that is not a token or ends in whitespace.
const char* CheckStrictHead(std::string_view head, const http::RequestHead& h) {
  for (char ch : head) {
    auto u = static_cast<unsigned char>(ch);
    if ((u < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || u == 0x7f) {
      return "control character in request head";
    }
  }
  bool bad_target = std::any_of(h.target.begin(), h.target.end(), [](char ch) {
    return ch == '\t' || static_cast<unsigned char>(ch) > 0x7e;
  });
  if (bad_target || (h.version != "HTTP/1.1" && h.version != "HTTP/1.0")) {
    return "malformed request line";
  }
  if (h.wire_verdict.reason == http::DesyncReason::kMultilineHeader ||
      h.wire_verdict.reason == http::DesyncReason::kMissingHeaderColon ||
      h.whitespace_before_colon) {
    return "malformed header line";
  }
  for (const http::HeaderField& f : h.header_span()) {
    if (!IsToken(f.name)) return "malformed header line";
  }
  return nullptr;
}

// The header lines as received (for the echo), without their line endings.
void AppendHeaderLines(std::string_view head, Request* r) {
  size_t nl = head.find('\n');
  head.remove_prefix(nl == std::string_view::npos ? head.size() : nl + 1);
  while (!head.empty()) {
    nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head.remove_prefix(nl == std::string_view::npos ? head.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    r->header_lines.emplace_back(line);
  }
}

// Body framing by the data plane's rules (http::DetermineRequestFraming), then this target's
// stricter ones: Transfer-Encoding beside Content-Length, or in HTTP/1.0, is refused.
const char* ReadFraming(const http::RequestHead& h, bool http10, HeadResult* result) {
  bool has_te = false, has_cl = false;
  for (const http::HeaderField& f : h.header_span()) {
    has_te = has_te || http::EqualsIgnoreCase(f.name, "transfer-encoding");
    has_cl = has_cl || http::EqualsIgnoreCase(f.name, "content-length");
  }
  http::Framing framing;
  http::ParseError error;
  if (!http::DetermineRequestFraming(h, &framing, &error)) {
    return has_te ? "unsupported Transfer-Encoding" : "invalid Content-Length";
  }
  if (has_te && (framing.kind != http::BodyKind::kChunked || has_cl || http10)) {
    return "unsupported Transfer-Encoding";
  }
  result->chunked = framing.kind == http::BodyKind::kChunked;
  result->content_length = framing.kind == http::BodyKind::kContentLength ? framing.length : 0;
  return nullptr;
}

}  // namespace

const char* ParseRequestHead(std::string_view head, Request* r, HeadResult* result) {
  *result = HeadResult{};
  // The data plane's parser (http/), held per thread: 256 fields are too large for a stack.
  thread_local std::unique_ptr<http::RequestHead> parsed = std::make_unique<http::RequestHead>();
  http::RequestHead& h = *parsed;
  http::ParseError error;
  if (http::ParseRequestHead(head, head.size(), &h, &error) != http::ParseStatus::kComplete) {
    return error.reason;
  }
  if (const char* strict = CheckStrictHead(head, h)) return strict;
  r->request_line.assign(head.substr(0, head.find_first_of("\r\n")));
  r->method.assign(h.method);
  r->target.assign(h.target);
  r->http10 = h.version == "HTTP/1.0";
  r->keep_alive = !r->http10;
  AppendHeaderLines(head, r);
  int hosts = 0;
  for (const http::HeaderField& f : h.header_span()) {
    if (http::EqualsIgnoreCase(f.name, "host")) {
      ++hosts;
    } else if (http::EqualsIgnoreCase(f.name, "connection")) {
      if (http::HeaderHasToken(f.value, "close")) r->keep_alive = false;
      if (http::HeaderHasToken(f.value, "keep-alive") && r->http10) r->keep_alive = true;
    } else if (http::EqualsIgnoreCase(f.name, "expect")) {
      result->expect_continue = http::EqualsIgnoreCase(f.value, "100-continue");
    }
  }
  if (!r->http10 && hosts != 1) {
    return hosts == 0 ? "missing Host header" : "multiple Host headers";
  }
  return ReadFraming(h, r->http10, result);
}

const char* ApplyQueryParameters(Request* r, bool* close_after) {
  std::string_view target = r->target;
  size_t q = target.find('?');
  std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    size_t eq = kv.find('=');
    std::string_view key = kv.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : kv.substr(eq + 1);
    bool flag = value == "1" || value == "true";
    uint64_t v = 0;
    if (key == "status") {
      if (!ParseU64(value, 599, &v) || v < 200) return "invalid status parameter (200..599)";
      r->status = static_cast<int>(v);
    } else if (key == "delay_ms") {
      if (!ParseU64(value, kMaxDelayMs, &r->delay_ms)) return "invalid delay_ms parameter";
    } else if (key == "bytes") {
      r->have_bytes = true;
      if (!ParseU64(value, uint64_t{1} << 50, &r->bytes)) return "invalid bytes parameter";
    } else if (key == "chunked") {
      r->chunked = flag;
    } else if (key == "close") {
      *close_after = *close_after || flag;
    }
  }
  return nullptr;
}

std::string_view RequestPath(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (size_t scheme = path.find("://"); scheme != std::string_view::npos && path[0] != '/') {
    size_t slash = path.find('/', scheme + 3);  // absolute-form: drop scheme and authority
    path = slash == std::string_view::npos ? "/" : path.substr(slash);
  }
  return path;
}

std::string EchoBody(std::string_view name, std::string_view addr, std::string_view peer,
                     const Request& r) {
  std::string body = "target: ";
  body.append(name);
  body += "\naddr: ";
  body.append(addr);
  body += "\nclient: ";
  body.append(peer);
  body += "\n\n";
  body += r.request_line;
  body += '\n';
  for (const std::string& line : r.header_lines) {
    body += line;
    body += '\n';
  }
  body += "body-bytes: " + std::to_string(r.body_bytes) + "\n";
  return body;
}

StreamState BuildResponse(const ResponseSpec& spec, std::string_view body, uint64_t stream_bytes,
                          std::string* out) {
  const int status = spec.status;
  bool no_body = status == 204 || status == 304;
  bool chunked = spec.chunked && !spec.http10 && !no_body;
  uint64_t length = stream_bytes > 0 ? stream_bytes : body.size();
  out->clear();
  *out += "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) + "\r\n";
  *out += "Content-Type: text/plain\r\nX-Sluice-Target: ";
  out->append(spec.server_name);
  *out += "\r\n";
  if (chunked) {
    *out += "Transfer-Encoding: chunked\r\n";
  } else if (!no_body) {
    *out += "Content-Length: " + std::to_string(length) + "\r\n";
  }
  if (spec.close) {
    *out += "Connection: close\r\n";
  } else if (spec.http10) {
    *out += "Connection: keep-alive\r\n";
  }
  *out += "\r\n";
  StreamState stream;
  stream.chunked = chunked;
  if (!spec.head_request && !no_body) {
    if (stream_bytes > 0) {
      stream.left = stream_bytes;
    } else if (chunked) {
      if (!body.empty()) {
        *out += Hex(body.size()) + "\r\n";
        out->append(body);
        *out += "\r\n";
      }
      *out += "0\r\n\r\n";
    } else {
      out->append(body);
    }
  }
  return stream;
}

void AppendStreamPiece(StreamState* stream, std::string* out) {
  size_t n = static_cast<size_t>(std::min<uint64_t>(stream->left, kStreamPiece));
  if (stream->chunked) *out += Hex(n) + "\r\n";
  out->append(n, 'x');
  if (stream->chunked) *out += "\r\n";
  stream->left -= n;
  if (stream->left == 0 && stream->chunked) *out += "0\r\n\r\n";
}

}  // namespace sluice::app::demo
