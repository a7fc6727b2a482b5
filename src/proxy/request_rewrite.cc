#include "proxy/request_rewrite.h"

#include <array>
#include <cstring>
#include <span>

#include "http/desync.h"

namespace sluice::proxy {
namespace {

using http::EqualsIgnoreCase;
using namespace std::string_view_literals;

// Two lower-case hex digits per byte value: one lookup per byte instead of one per digit.
constexpr std::array<char, 512> MakeHexPairs() {
  constexpr char kHex[] = "0123456789abcdef";
  std::array<char, 512> t{};
  for (size_t i = 0; i < 256; ++i) {
    t[2 * i] = kHex[i >> 4];
    t[2 * i + 1] = kHex[i & 0xf];
  }
  return t;
}
constexpr std::array<char, 512> kHexPairs = MakeHexPairs();

// Writes the low `bytes` bytes of v as 2 * bytes lower-case hex digits at p.
void WriteHex(uint64_t v, int bytes, char* p) {
  for (int i = bytes - 1; i >= 0; --i) {
    std::memcpy(p + 2 * i, &kHexPairs[(v & 0xff) * 2], 2);
    v >>= 8;
  }
}

// "1-<8 hex epoch seconds>-<24 hex random>", built in place and appended once (this runs for
// every forwarded request).
void AppendTraceValue(int64_t unix_seconds, balancer::Rng& rng, std::string* out) {
  char buf[35];
  buf[0] = '1';
  buf[1] = '-';
  WriteHex(static_cast<uint64_t>(unix_seconds), 4, buf + 2);
  buf[10] = '-';
  WriteHex(rng.Next(), 4, buf + 11);
  WriteHex(rng.Next(), 8, buf + 19);
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

// The fields the rewrite treats specially. Everything but kNone is dropped from the copied
// fields (hop-by-hop, or regenerated); X-Forwarded-For is then written per the XFF mode.
enum class ManagedField : uint8_t {
  kNone,
  kHopByHop,  // keep-alive, proxy-connection, te, upgrade, trailer, transfer-encoding
  kConnection,
  kContentLength,
  kHost,
  kForwardedFor,
  kForwardedProtoOrPort,
  kTraceId,
  kTlsFact,  // X-Amzn-Tls-Version / -Cipher-Suite: replaced only when Sluice writes its own
};

// Classifies a field name by its length first, so most names cost one switch.
ManagedField ClassifyField(std::string_view name) {
  switch (name.size()) {
    case 2:
      return EqualsIgnoreCase(name, "te"sv) ? ManagedField::kHopByHop : ManagedField::kNone;
    case 4:
      return EqualsIgnoreCase(name, "host"sv) ? ManagedField::kHost : ManagedField::kNone;
    case 7:
      return EqualsIgnoreCase(name, "upgrade"sv) || EqualsIgnoreCase(name, "trailer"sv)
                 ? ManagedField::kHopByHop
                 : ManagedField::kNone;
    case 10:
      if (EqualsIgnoreCase(name, "connection"sv)) return ManagedField::kConnection;
      return EqualsIgnoreCase(name, "keep-alive"sv) ? ManagedField::kHopByHop : ManagedField::kNone;
    case 14:
      return EqualsIgnoreCase(name, "content-length"sv) ? ManagedField::kContentLength
                                                        : ManagedField::kNone;
    case 15:
      if (EqualsIgnoreCase(name, "x-forwarded-for"sv)) return ManagedField::kForwardedFor;
      return EqualsIgnoreCase(name, "x-amzn-trace-id"sv) ? ManagedField::kTraceId
                                                         : ManagedField::kNone;
    case 16:
      if (EqualsIgnoreCase(name, "proxy-connection"sv)) return ManagedField::kHopByHop;
      return EqualsIgnoreCase(name, "x-forwarded-port"sv) ? ManagedField::kForwardedProtoOrPort
                                                          : ManagedField::kNone;
    case 17:
      if (EqualsIgnoreCase(name, "transfer-encoding"sv)) return ManagedField::kHopByHop;
      return EqualsIgnoreCase(name, "x-forwarded-proto"sv) ? ManagedField::kForwardedProtoOrPort
                                                           : ManagedField::kNone;
    case 18:
      return EqualsIgnoreCase(name, "x-amzn-tls-version"sv) ? ManagedField::kTlsFact
                                                            : ManagedField::kNone;
    case 23:
      return EqualsIgnoreCase(name, "x-amzn-tls-cipher-suite"sv) ? ManagedField::kTlsFact
                                                                 : ManagedField::kNone;
    default:
      return ManagedField::kNone;
  }
}

// The TLS header lines after the current line (which has no line end yet); kept out of line
// so that the plain path's appends stay inlined.
[[gnu::noinline, gnu::cold]] void AppendTlsHeaderLines(std::string_view lines, std::string* out) {
  out->append("\r\n"sv);
  out->append(lines.substr(0, lines.size() - 2));  // without its own final CRLF
}

// Whether `name` is one of the mutual-TLS header names of the listener, or one of ALB's
// default names (any case): a target behind listeners with and without renames must never
// see a client's copy under either.
[[gnu::noinline, gnu::cold]] bool IsClientCertHeader(const config::ListenerAttributes& n,
                                                     std::string_view name) {
  if (name.size() >= 22 && EqualsIgnoreCase(name.substr(0, 22), "x-amzn-mtls-clientcert"sv)) {
    static const config::ListenerAttributes kDefaults;
    for (const std::string* s :
         {&kDefaults.mtls_clientcert, &kDefaults.mtls_serial_number, &kDefaults.mtls_issuer,
          &kDefaults.mtls_subject, &kDefaults.mtls_validity, &kDefaults.mtls_leaf}) {
      if (EqualsIgnoreCase(name, *s)) return true;
    }
  }
  for (const std::string* s : {&n.mtls_clientcert, &n.mtls_serial_number, &n.mtls_issuer,
                               &n.mtls_subject, &n.mtls_validity, &n.mtls_leaf}) {
    if (EqualsIgnoreCase(name, *s)) return true;
  }
  return false;
}

// A client field under a client-certificate header name (mTLS listeners), or under a renamed
// X-Amzn-Tls-Version / -Cipher-Suite (the default names are ManagedField::kTlsFact).
[[gnu::noinline, gnu::cold]] bool IsLoadBalancersTlsHeader(const ForwardContext& ctx,
                                                           std::string_view name) {
  if (ctx.mtls_names != nullptr && IsClientCertHeader(*ctx.mtls_names, name)) return true;
  const config::ListenerAttributes* n = ctx.tls_names;
  return n != nullptr &&
         (EqualsIgnoreCase(name, n->tls_version) || EqualsIgnoreCase(name, n->tls_cipher_suite));
}

// Appends the decimal digits of v.
void AppendDecimal(uint64_t v, std::string* out) {
  char buf[20];
  size_t n = sizeof(buf);
  do {
    buf[--n] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  out->append(buf + n, sizeof(buf) - n);
}

// Appends a value, turning the line breaks of an unfolded obs-fold into spaces. With
// `scan` false the caller vouches that `v` holds none, and it is copied as is.
// A CR, LF or NUL inside a field name (only a Severe request has one).
bool HasLineBreak(std::string_view name) {
  for (char c : name) {
    if (c == '\r' || c == '\n' || c == '\0') return true;
  }
  return false;
}

void AppendValue(std::string_view v, bool scan, std::string* out) {
  if (!scan || (std::memchr(v.data(), '\r', v.size()) == nullptr &&
                std::memchr(v.data(), '\n', v.size()) == nullptr)) {  // the common case
    out->append(v);
    return;
  }
  for (char c : v) out->push_back(c == '\r' || c == '\n' ? ' ' : c);
}

}  // namespace

void ApplyDesyncVerdict(http::DesyncVerdict verdict, ForwardContext* ctx) {
  ctx->values_without_line_breaks = verdict.tier != http::DesyncTier::kSevere;
  ctx->drop_framing_lookalikes = verdict.tier >= http::DesyncTier::kAmbiguous;
  ctx->escape_target = verdict.tier != http::DesyncTier::kCompliant;
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

namespace {

// The request target as sent upstream. When `escape` (the desync verdict is not Compliant),
// control characters, SP and DEL inside it (SpaceInUri, AmbiguousUri, and BadUri in monitor
// mode) go out percent-encoded, so that no target can split the request line elsewhere.
// Out of line and cold: only a non-Compliant request takes it, and inlined it costs the
// compliant path its inlined appends (callgrind: +135 instructions per request).
[[gnu::noinline, gnu::cold]] void AppendEscapedTarget(std::string_view target, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      out->push_back('%');
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 0xf]);
    } else {
      out->push_back(c);
    }
  }
}

// The Host of a host-header-rewrite transform. Out of line and cold for the same reason as
// AppendEscapedTarget: inlined, the rare branches cost every request its inlined appends.
[[gnu::noinline, gnu::cold]] void AppendTransformedHost(std::string_view name,
                                                        std::string_view port_part, bool scan,
                                                        std::string* out) {
  AppendValue(name, scan, out);
  AppendValue(port_part, scan, out);
}

// preserve_host_header with a rewritten host: one Host field with the rewritten host and the
// first field's port as received.
[[gnu::noinline, gnu::cold]] void AppendTransformedHostField(std::string_view transformed,
                                                             std::string_view received, bool scan,
                                                             std::string* out) {
  out->append("Host: ");
  out->append(transformed);
  AppendValue(received.substr(HostWithoutPort(received).size()), scan, out);
  out->append("\r\n");
}

inline void AppendRequestTarget(std::string_view target, bool escape, std::string* out) {
  if (escape) {
    AppendEscapedTarget(target, out);
  } else {
    out->append(target);
  }
}

// A field a target could read as framing, or split at a CR/LF/NUL in its name. Cold: only
// asked for an Ambiguous or Severe request.
[[gnu::noinline, gnu::cold]] bool IsFramingLookalike(std::string_view name) {
  return http::IsFramingFieldName(name) || HasLineBreak(name);
}

std::string_view FallbackHost(const ForwardContext& ctx, char (&buf)[64]) {
  if (!ctx.fallback_host.empty() || ctx.fallback_ip == nullptr) return ctx.fallback_host;
  return std::string_view(buf, ctx.fallback_ip->Format(buf, sizeof(buf)));
}

// What the classifying pass found besides each field's kind.
struct FieldSummary {
  const http::HeaderField* host_header = nullptr;  // the first Host field
  std::string_view trace_in;                       // the first X-Amzn-Trace-Id value
  size_t total_header_bytes = 0;
  bool had_content_length = false;
  bool has_connection_header = false;  // only then can a header be hop-by-hop by name
  bool has_forwarded_for = false;
};

// The stages of AppendUpstreamRequestHead. They run for every forwarded request: forced
// inline so that the split costs no instructions (callgrind).

// Names every downstream field (kinds[i]) and sums up what the later stages need.
[[gnu::always_inline]] inline void ClassifyFields(std::span<const http::HeaderField> fields,
                                                  ManagedField* kinds, FieldSummary* seen) {
  for (size_t i = 0; i < fields.size(); ++i) {
    const http::HeaderField& h = fields[i];
    seen->total_header_bytes += h.name.size() + h.value.size() + 4;
    kinds[i] = ClassifyField(h.name);
    switch (kinds[i]) {
      case ManagedField::kHost:
        if (seen->host_header == nullptr) seen->host_header = &h;
        break;
      case ManagedField::kContentLength:
        seen->had_content_length = true;
        break;
      case ManagedField::kConnection:
        seen->has_connection_header = true;
        break;
      case ManagedField::kForwardedFor:
        seen->has_forwarded_for = true;
        break;
      case ManagedField::kTraceId:
        if (seen->trace_in.empty()) seen->trace_in = h.value;
        break;
      default:
        break;
    }
  }
}

// The upstream request line: method, target (escaped unless Compliant), HTTP/1.1.
[[gnu::always_inline]] inline void AppendRequestLine(std::string_view method,
                                                     const RequestTarget& target, bool escape,
                                                     std::string* out) {
  out->append(method);
  out->push_back(' ');
  if (!target.path_and_query.empty() && target.path_and_query[0] == '?') out->push_back('/');
  AppendRequestTarget(target.path_and_query, escape, out);
  out->append(" HTTP/1.1\r\n"sv);
}

// Host with preserve_host_header and no transform: every downstream Host field as received,
// or the fallback host when there is none.
[[gnu::always_inline]] inline void AppendPreservedHost(std::span<const http::HeaderField> fields,
                                                       const ManagedField* kinds,
                                                       const http::HeaderField* host_header,
                                                       const ForwardContext& ctx, bool scan,
                                                       std::string* out) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (kinds[i] != ManagedField::kHost) continue;
    out->append("Host: "sv);
    AppendValue(fields[i].value, scan, out);
    out->append("\r\n"sv);
  }
  if (host_header == nullptr) {
    char buf[64];
    out->append("Host: "sv);
    out->append(FallbackHost(ctx, buf));
    out->append("\r\n"sv);
  }
}

// Host without preserve_host_header: the authority, else the first Host field, else the
// fallback host; the listener's port is added unless it is the scheme's default, and a
// default port received is dropped.
[[gnu::always_inline]] inline void AppendRewrittenHost(const RequestTarget& target,
                                                       const http::HeaderField* host_header,
                                                       const ForwardContext& ctx, bool scan,
                                                       std::string* out) {
  char buf[64];
  std::string_view host = !target.authority.empty() ? target.authority
                          : host_header             ? host_header->value
                                                    : FallbackHost(ctx, buf);
  std::string_view default_port = ctx.listener_https ? "443"sv : "80"sv;
  std::string_view bare = HostWithoutPort(host);
  std::string_view port_part = host.substr(bare.size());  // ":8080", or empty
  std::string_view name = ctx.transformed_host.empty() ? bare : ctx.transformed_host;
  bool has_port = !port_part.empty();
  // The verdict covers header values only; an absolute-form authority is always scanned.
  const bool scan_host = scan || !target.authority.empty() || host_header == nullptr;
  out->append("Host: "sv);
  if (has_port && port_part.substr(1) == default_port) {
    AppendValue(name, scan_host, out);
  } else {
    if (ctx.transformed_host.empty()) {
      AppendValue(host, scan_host, out);  // the common case: one copy
    } else {
      AppendTransformedHost(name, port_part, scan_host, out);
    }
    if (!has_port && ctx.listener_port != default_port) {
      out->push_back(':');
      out->append(ctx.listener_port);
    }
  }
  out->append("\r\n"sv);
}

// The downstream peer as the last X-Forwarded-For entry ("[ip]:port" with the client port
// for IPv6), and the line end.
[[gnu::always_inline]] inline void AppendForwardedForPeer(const ForwardContext& ctx,
                                                          std::string* out) {
  const config::LoadBalancerAttributes& attrs = *ctx.attributes;
  char ip[64];
  size_t n = ctx.client_ip.Format(ip, sizeof(ip));
  bool bracket = attrs.xff_client_port && !ctx.client_ip.is_v4;
  if (bracket) out->push_back('[');
  out->append(ip, n);
  if (bracket) out->push_back(']');
  if (attrs.xff_client_port) {
    out->push_back(':');
    AppendDecimal(ctx.client_port, out);
  }
  out->append("\r\n"sv);
}

// X-Forwarded-For for downstream field i, one of that name: preserve copies it; append
// writes, at the first one, all of them joined into one list with the peer appended.
// Returns whether the append-mode field has been written.
[[gnu::always_inline]] inline bool AppendForwardedFor(std::span<const http::HeaderField> fields,
                                                      const ManagedField* kinds, size_t i,
                                                      bool xff_written, const ForwardContext& ctx,
                                                      bool scan, std::string* out) {
  const config::XffProcessingMode mode = ctx.attributes->xff_header_processing_mode;
  if (mode == config::XffProcessingMode::kPreserve) {
    out->append("X-Forwarded-For: "sv);
    AppendValue(fields[i].value, scan, out);
    out->append("\r\n"sv);
  } else if (mode == config::XffProcessingMode::kAppend && !xff_written) {
    // All incoming occurrences become one comma-joined list with the peer appended.
    out->append("X-Forwarded-For: "sv);
    for (size_t j = i; j < fields.size(); ++j) {
      if (kinds[j] != ManagedField::kForwardedFor || Trim(fields[j].value).empty()) continue;
      AppendValue(Trim(fields[j].value), scan, out);
      out->append(", "sv);
    }
    AppendForwardedForPeer(ctx, out);
    return true;
  }
  return xff_written;
}

// The downstream fields that go upstream unchanged, and X-Forwarded-For per the XFF mode.
[[gnu::always_inline]] inline void AppendCopiedFields(const http::RequestHead& head,
                                                      const ManagedField* kinds,
                                                      bool has_connection_header,
                                                      const ForwardContext& ctx, bool scan,
                                                      std::string* out) {
  const config::LoadBalancerAttributes& attrs = *ctx.attributes;
  // One test per field for both kinds of TLS header only the load balancer may send.
  const bool tls_headers_owned = ctx.mtls_names != nullptr || ctx.tls_names != nullptr;
  const std::span<const http::HeaderField> fields = head.header_span();
  bool xff_written = false;
  for (size_t i = 0; i < fields.size(); ++i) {
    const http::HeaderField& h = fields[i];
    if (kinds[i] == ManagedField::kForwardedFor) {
      xff_written = AppendForwardedFor(fields, kinds, i, xff_written, ctx, scan, out);
      continue;
    }
    if (kinds[i] != ManagedField::kNone &&
        (kinds[i] != ManagedField::kTlsFact || ctx.tls_names != nullptr)) {
      continue;  // hop-by-hop, or regenerated below
    }
    if (tls_headers_owned && IsLoadBalancersTlsHeader(ctx, h.name)) [[unlikely]] {
      continue;  // only the load balancer speaks for the client's certificate and the cipher
    }
    if (ctx.drop_framing_lookalikes && IsFramingLookalike(h.name)) {
      continue;  // a target could read it as framing, or split the line at its CR
    }
    if (attrs.drop_invalid_header_fields && !IsValidHeaderName(h.name)) continue;
    if (has_connection_header && NamedByConnection(head, h.name)) continue;
    out->append(h.name);
    out->append(": "sv);
    AppendValue(h.value, scan, out);
    out->append("\r\n"sv);
  }
  if (attrs.xff_header_processing_mode == config::XffProcessingMode::kAppend && !xff_written) {
    out->append("X-Forwarded-For: "sv);
    AppendForwardedForPeer(ctx, out);
  }
}

// X-Forwarded-Proto, X-Forwarded-Port and X-Amzn-Trace-Id (the downstream one extended, or a
// fresh Root).
[[gnu::always_inline]] inline void AppendForwardedProtoAndTrace(const FieldSummary& seen,
                                                                const ForwardContext& ctx,
                                                                bool scan, std::string* out) {
  out->append(ctx.listener_https ? "X-Forwarded-Proto: https\r\nX-Forwarded-Port: "sv
                                 : "X-Forwarded-Proto: http\r\nX-Forwarded-Port: "sv);
  out->append(ctx.listener_port);
  if (!ctx.tls_header_lines.empty()) [[unlikely]]
    AppendTlsHeaderLines(ctx.tls_header_lines, out);
  out->append("\r\nX-Amzn-Trace-Id: "sv);
  // Above 7 KB of request headers ALB replaces the header with a fresh Root.
  std::string_view trace_in =
      seen.total_header_bytes > 7 * 1024 ? std::string_view() : seen.trace_in;
  size_t trace_start = out->size();
  AppendTraceId(trace_in, ctx.unix_seconds, *ctx.rng, out);
  if (!trace_in.empty() && scan) {  // unfold an obs-fold
    for (size_t i = trace_start; i < out->size(); ++i) {
      if ((*out)[i] == '\r' || (*out)[i] == '\n') (*out)[i] = ' ';
    }
  }
  out->append("\r\n"sv);
}

// A WebSocket upgrade: the two hop-by-hop fields the target needs to switch protocols.
[[gnu::noinline, gnu::cold]] void AppendUpgradeFields(std::string_view upgrade, std::string* out) {
  out->append("Connection: Upgrade\r\nUpgrade: "sv);
  out->append(upgrade);
  out->append("\r\n"sv);
}

// The upstream body framing: chunked, the decoded length, or a zero length when the
// downstream request had a Content-Length but no body.
[[gnu::always_inline]] inline void AppendFramingField(const http::Framing& framing,
                                                      bool had_content_length, std::string* out) {
  if (framing.kind == http::BodyKind::kChunked) {
    out->append("Transfer-Encoding: chunked\r\n"sv);
  } else if (framing.kind == http::BodyKind::kContentLength) {
    out->append("Content-Length: "sv);
    AppendDecimal(framing.length, out);
    out->append("\r\n"sv);
  } else if (had_content_length) {
    out->append("Content-Length: 0\r\n"sv);
  }
}

}  // namespace

int AppendUpstreamRequestHead(const http::RequestHead& head, const RequestTarget& target,
                              const http::Framing& framing, const ForwardContext& ctx,
                              std::string* out) {
  const config::LoadBalancerAttributes& attrs = *ctx.attributes;
  const std::span<const http::HeaderField> fields = head.header_span();
  const bool scan = !ctx.values_without_line_breaks;

  // One pass names every field; the passes below compare bytes, not strings.
  ManagedField kinds[http::kMaxHeaderCount];
  FieldSummary seen;
  ClassifyFields(fields, kinds, &seen);
  if (seen.has_forwarded_for &&
      attrs.xff_header_processing_mode != config::XffProcessingMode::kRemove &&
      CountForwardedFor(head) > 30) {
    return 463;
  }
  AppendRequestLine(head.method, target, ctx.escape_target, out);

  // Host (reference §3.1 table). A host-header-rewrite transform replaces the host part.
  if (attrs.preserve_host_header && !ctx.transformed_host.empty() && seen.host_header != nullptr) {
    AppendTransformedHostField(ctx.transformed_host, seen.host_header->value, scan, out);
  } else if (attrs.preserve_host_header) {
    AppendPreservedHost(fields, kinds, seen.host_header, ctx, scan, out);
  } else {
    AppendRewrittenHost(target, seen.host_header, ctx, scan, out);
  }

  AppendCopiedFields(head, kinds, seen.has_connection_header, ctx, scan, out);
  if (!ctx.upgrade.empty()) [[unlikely]]
    AppendUpgradeFields(ctx.upgrade, out);
  AppendForwardedProtoAndTrace(seen, ctx, scan, out);
  AppendFramingField(framing, seen.had_content_length, out);
  out->append("\r\n"sv);
  return 0;
}

void AppendTlsFactLines(const config::ListenerAttributes& names, std::string_view version,
                        std::string_view cipher, std::string* out) {
  out->append(names.tls_version);
  out->append(": "sv);
  out->append(version);
  out->append("\r\n"sv);
  out->append(names.tls_cipher_suite);
  out->append(": "sv);
  out->append(cipher);
  out->append("\r\n"sv);
}

}  // namespace sluice::proxy
