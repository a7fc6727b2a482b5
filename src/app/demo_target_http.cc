#include "app/demo_target_http.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <utility>

namespace sluice::app::demo {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsTchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool IsToken(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsTchar); }

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

// Calls fn(token) for each comma-separated, trimmed, non-empty element.
template <class Fn>
void ForEachListItem(std::string_view s, Fn fn) {
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view item = Trim(s.substr(0, comma));
    if (!item.empty()) fn(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
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

}  // namespace

const char* ParseRequestHead(std::string_view head, Request* r, HeadResult* result) {
  *result = HeadResult{};
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head.remove_prefix(nl == std::string_view::npos ? head.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    for (char ch : line) {
      auto u = static_cast<unsigned char>(ch);
      if ((u < 0x20 && ch != '\t') || u == 0x7f) return "control character in request head";
    }
    lines.push_back(line);
  }
  if (lines.empty()) return "malformed request line";
  // Request line: method SP request-target SP HTTP-version.
  std::string_view rl = lines.front();
  size_t sp1 = rl.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || rl.find(' ', sp2 + 1) != std::string_view::npos) {
    return "malformed request line";
  }
  std::string_view method = rl.substr(0, sp1);
  std::string_view target = rl.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = rl.substr(sp2 + 1);
  bool bad_target = target.empty() || std::any_of(target.begin(), target.end(), [](char ch) {
                      return ch == '\t' || static_cast<unsigned char>(ch) > 0x7e;
                    });
  if (!IsToken(method) || bad_target || (version != "HTTP/1.1" && version != "HTTP/1.0")) {
    return "malformed request line";
  }
  r->request_line.assign(rl);
  r->method.assign(method);
  r->target.assign(target);
  r->http10 = version == "HTTP/1.0";
  r->keep_alive = !r->http10;

  bool have_length = false, have_te = false, last_chunked = false, expect_continue = false;
  int chunked_count = 0;
  uint64_t length = 0;
  int hosts = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
      return "malformed header line";  // includes obs-fold and "Name :"
    }
    std::string_view name = line.substr(0, colon);
    std::string_view value = Trim(line.substr(colon + 1));
    r->header_lines.emplace_back(line);
    if (EqualsIgnoreCase(name, "host")) {
      ++hosts;
    } else if (EqualsIgnoreCase(name, "content-length")) {
      uint64_t v = 0;
      if (!ParseU64(value, uint64_t{1} << 53, &v) || (have_length && v != length)) {
        return "invalid Content-Length";
      }
      have_length = true;
      length = v;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      have_te = true;
      ForEachListItem(value, [&](std::string_view coding) {
        last_chunked = EqualsIgnoreCase(coding, "chunked");
        if (last_chunked) ++chunked_count;
      });
    } else if (EqualsIgnoreCase(name, "connection")) {
      ForEachListItem(value, [&](std::string_view opt) {
        if (EqualsIgnoreCase(opt, "close")) r->keep_alive = false;
        if (EqualsIgnoreCase(opt, "keep-alive") && r->http10) r->keep_alive = true;
      });
    } else if (EqualsIgnoreCase(name, "expect")) {
      expect_continue = EqualsIgnoreCase(value, "100-continue");
    }
  }
  if (!r->http10 && hosts != 1) {
    return hosts == 0 ? "missing Host header" : "multiple Host headers";
  }
  // Only "...,chunked" with chunked once is accepted; TE with Content-Length is a desync risk.
  bool chunked = have_te && last_chunked && chunked_count == 1;
  if (have_te && (!chunked || have_length || r->http10)) return "unsupported Transfer-Encoding";
  result->chunked = chunked;
  result->content_length = chunked ? 0 : length;
  result->expect_continue = expect_continue;
  return nullptr;
}

bool ParseChunkSize(std::string_view line, uint64_t* size) {
  size_t digits = 0;
  uint64_t v = 0;
  for (; digits < line.size() && digits < 16 &&
         std::isxdigit(static_cast<unsigned char>(line[digits]));
       ++digits) {
    char h = Lower(line[digits]);
    v = v * 16 + static_cast<uint64_t>(h <= '9' ? h - '0' : h - 'a' + 10);
  }
  std::string_view rest = Trim(line.substr(digits));
  if (digits == 0 || digits > 15 || (!rest.empty() && rest.front() != ';')) return false;
  *size = v;
  return true;
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
