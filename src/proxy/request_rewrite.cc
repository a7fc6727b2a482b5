#include "proxy/request_rewrite.h"

#include <cstring>

namespace sluice::proxy {
namespace {

using http::EqualsIgnoreCase;

constexpr char kHex[] = "0123456789abcdef";

// Writes `digits` lower-case hex digits of v at p.
void WriteHex(uint64_t v, int digits, char* p) {
  for (int i = digits - 1; i >= 0; --i) {
    p[i] = kHex[v & 0xf];
    v >>= 4;
  }
}

// "1-<8 hex epoch seconds>-<24 hex random>", built in place and appended once (this runs for
// every forwarded request).
void AppendTraceValue(int64_t unix_seconds, balancer::Rng& rng, std::string* out) {
  char buf[35];
  buf[0] = '1';
  buf[1] = '-';
  WriteHex(static_cast<uint64_t>(unix_seconds) & 0xffffffffULL, 8, buf + 2);
  buf[10] = '-';
  WriteHex(rng.Next() & 0xffffffffULL, 8, buf + 11);
  WriteHex(rng.Next(), 16, buf + 19);
  out->append(buf, 35);
}

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool IsValidHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

// True when `name` is listed in any Connection header of the request.
bool NamedByConnection(const http::RequestHead& head, std::string_view name) {
  for (const http::HeaderField& h : head.header_span()) {
    if (EqualsIgnoreCase(h.name, "connection") && http::HeaderHasToken(h.value, name)) {
      return true;
    }
  }
  return false;
}

bool IsHopByHopOrManaged(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "connection",        "keep-alive",        "proxy-connection", "te",   "upgrade",
      "trailer",           "transfer-encoding", "content-length",   "host", "x-forwarded-for",
      "x-forwarded-proto", "x-forwarded-port",  "x-amzn-trace-id"};
  for (std::string_view n : kNames) {
    if (EqualsIgnoreCase(name, n)) return true;
  }
  return false;
}

// Appends a value, turning the line breaks of an unfolded obs-fold into spaces.
void AppendValue(std::string_view v, std::string* out) {
  if (std::memchr(v.data(), '\r', v.size()) == nullptr &&
      std::memchr(v.data(), '\n', v.size()) == nullptr) {  // the common case: one copy
    out->append(v);
    return;
  }
  for (char c : v) out->push_back(c == '\r' || c == '\n' ? ' ' : c);
}

}  // namespace

bool SplitRequestTarget(std::string_view target, RequestTarget* out) {
  *out = {};
  if (size_t hash = target.find('#'); hash != std::string_view::npos) {
    target = target.substr(0, hash);  // a fragment is never sent (RFC 9112 §3.2)
  }
  if (target == "*") {
    out->path = target;
    out->path_and_query = target;
    return true;
  }
  if (target.empty()) return false;
  if (target[0] != '/') {
    size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return false;
    std::string_view scheme = target.substr(0, scheme_end);
    if (!EqualsIgnoreCase(scheme, "http") && !EqualsIgnoreCase(scheme, "https")) return false;
    std::string_view rest = target.substr(scheme_end + 3);
    size_t slash = rest.find_first_of("/?");
    out->authority = rest.substr(0, slash);
    if (out->authority.empty()) return false;
    target = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
    if (target[0] == '?') {
      // "http://host?x": the path is "/" and the query follows; send "/?x".
      out->path = "/";
      out->query = target.substr(1);
      out->path_and_query = target;  // caller prefixes '/' when path_and_query starts with '?'
      return true;
    }
  }
  out->path_and_query = target;
  size_t q = target.find('?');
  out->path = target.substr(0, q);
  if (q != std::string_view::npos) out->query = target.substr(q + 1);
  return true;
}

int CountForwardedFor(const http::RequestHead& head) {
  int count = 0;
  for (const http::HeaderField& h : head.header_span()) {
    if (!EqualsIgnoreCase(h.name, "x-forwarded-for")) continue;
    std::string_view rest = h.value;
    while (true) {
      size_t comma = rest.find(',');
      if (!Trim(rest.substr(0, comma)).empty()) ++count;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return count;
}

void AppendTraceId(std::string_view incoming, int64_t unix_seconds, balancer::Rng& rng,
                   std::string* out) {
  bool has_root = false;
  {
    std::string_view rest = incoming;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view field = Trim(rest.substr(0, semi));
      if (field.substr(0, 5) == "Root=") has_root = true;
      if (semi == std::string_view::npos) break;
      rest.remove_prefix(semi + 1);
    }
  }
  if (!has_root) {
    out->append("Root=");
    AppendTraceValue(unix_seconds, rng, out);
    return;
  }
  out->append("Self=");
  AppendTraceValue(unix_seconds, rng, out);
  std::string_view rest = incoming;
  while (!rest.empty()) {
    size_t semi = rest.find(';');
    std::string_view field = Trim(rest.substr(0, semi));
    if (!field.empty() && field.substr(0, 5) != "Self=") {
      out->push_back(';');
      out->append(field);
    }
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
}

int AppendUpstreamRequestHead(const http::RequestHead& head, const RequestTarget& target,
                              const http::Framing& framing, const ForwardContext& ctx,
                              std::string* out) {
  const config::LoadBalancerAttributes& attrs = *ctx.attributes;
  if (attrs.xff_header_processing_mode != config::XffProcessingMode::kRemove &&
      CountForwardedFor(head) > 30) {
    return 463;
  }
  out->append(head.method);
  out->push_back(' ');
  if (!target.path_and_query.empty() && target.path_and_query[0] == '?') out->push_back('/');
  out->append(target.path_and_query);
  out->append(" HTTP/1.1\r\n");

  // Host (reference §3.1 table).
  std::string_view host;
  const http::HeaderField* host_header = nullptr;
  size_t total_header_bytes = 0;
  bool had_content_length = false;
  for (const http::HeaderField& h : head.header_span()) {
    total_header_bytes += h.name.size() + h.value.size() + 4;
    if (host_header == nullptr && EqualsIgnoreCase(h.name, "host")) host_header = &h;
    if (EqualsIgnoreCase(h.name, "content-length")) had_content_length = true;
  }
  if (attrs.preserve_host_header) {
    for (const http::HeaderField& h : head.header_span()) {
      if (EqualsIgnoreCase(h.name, "host")) {
        out->append("Host: ");
        AppendValue(h.value, out);
        out->append("\r\n");
      }
    }
    if (host_header == nullptr) {
      out->append("Host: ");
      out->append(ctx.fallback_host);
      out->append("\r\n");
    }
  } else {
    host = !target.authority.empty() ? target.authority
           : host_header             ? host_header->value
                                     : ctx.fallback_host;
    std::string_view default_port = ctx.listener_https ? "443" : "80";
    std::string_view bare = HostWithoutPort(host);
    bool has_port = bare.size() < host.size();
    out->append("Host: ");
    if (has_port && host.substr(bare.size() + 1) == default_port) {
      AppendValue(bare, out);
    } else {
      AppendValue(host, out);
      if (!has_port && ctx.listener_port != default_port) {
        out->push_back(':');
        out->append(ctx.listener_port);
      }
    }
    out->append("\r\n");
  }

  auto append_peer = [&] {
    char ip[64];
    size_t n = ctx.client_ip.Format(ip, sizeof(ip));
    bool bracket = attrs.xff_client_port && !ctx.client_ip.is_v4;
    if (bracket) out->push_back('[');
    out->append(ip, n);
    if (bracket) out->push_back(']');
    if (attrs.xff_client_port) {
      out->push_back(':');
      out->append(std::to_string(ctx.client_port));
    }
    out->append("\r\n");
  };

  std::string_view trace_in;
  bool xff_written = false;
  bool has_connection_header = false;  // only then can a header be hop-by-hop by name
  for (const http::HeaderField& h : head.header_span()) {
    if (EqualsIgnoreCase(h.name, "connection")) has_connection_header = true;
  }
  for (const http::HeaderField& h : head.header_span()) {
    if (EqualsIgnoreCase(h.name, "x-amzn-trace-id") && trace_in.empty()) trace_in = h.value;
    if (EqualsIgnoreCase(h.name, "x-forwarded-for")) {
      if (attrs.xff_header_processing_mode == config::XffProcessingMode::kPreserve) {
        out->append("X-Forwarded-For: ");
        AppendValue(h.value, out);
        out->append("\r\n");
      } else if (attrs.xff_header_processing_mode == config::XffProcessingMode::kAppend &&
                 !xff_written) {
        // All incoming occurrences become one comma-joined list with the peer appended.
        out->append("X-Forwarded-For: ");
        for (const http::HeaderField& x : head.header_span()) {
          if (!EqualsIgnoreCase(x.name, "x-forwarded-for") || Trim(x.value).empty()) continue;
          AppendValue(Trim(x.value), out);
          out->append(", ");
        }
        append_peer();
        xff_written = true;
      }
      continue;
    }
    if (IsHopByHopOrManaged(h.name)) continue;
    if (attrs.drop_invalid_header_fields && !IsValidHeaderName(h.name)) continue;
    if (has_connection_header && NamedByConnection(head, h.name)) continue;
    out->append(h.name);
    out->append(": ");
    AppendValue(h.value, out);
    out->append("\r\n");
  }
  if (attrs.xff_header_processing_mode == config::XffProcessingMode::kAppend && !xff_written) {
    out->append("X-Forwarded-For: ");
    append_peer();
  }
  out->append(ctx.listener_https ? "X-Forwarded-Proto: https\r\n" : "X-Forwarded-Proto: http\r\n");
  out->append("X-Forwarded-Port: ");
  out->append(ctx.listener_port);
  out->append("\r\nX-Amzn-Trace-Id: ");
  // Above 7 KB of request headers ALB replaces the header with a fresh Root.
  size_t trace_start = out->size();
  AppendTraceId(total_header_bytes > 7 * 1024 ? std::string_view() : trace_in, ctx.unix_seconds,
                *ctx.rng, out);
  for (size_t i = trace_start; i < out->size(); ++i) {
    if ((*out)[i] == '\r' || (*out)[i] == '\n') (*out)[i] = ' ';  // unfold an obs-fold
  }
  out->append("\r\n");
  if (framing.kind == http::BodyKind::kChunked) {
    out->append("Transfer-Encoding: chunked\r\n");
  } else if (framing.kind == http::BodyKind::kContentLength) {
    out->append("Content-Length: ");
    out->append(std::to_string(framing.length));
    out->append("\r\n");
  } else if (had_content_length) {
    out->append("Content-Length: 0\r\n");
  }
  out->append("\r\n");
  return 0;
}

}  // namespace sluice::proxy
