// Rewrites a downstream request head into the head sent upstream, as ALB does (reference
// §4): X-Forwarded-For/Proto/Port, X-Amzn-Trace-Id, Host, hop-by-hop headers removed,
// framing headers regenerated. Pure; appends to a caller-owned string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "balancer/picker.h"
#include "base/ip_address.h"
#include "config/model.h"
#include "http/h1_framing.h"
#include "http/h1_parser.h"
#include "routing/rule_table.h"

namespace sluice::proxy {

// The request target split into its parts (origin-form or absolute-form).
struct RequestTarget {
  std::string_view authority;       // absolute-form only
  std::string_view path;            // begins with '/', or "*" for OPTIONS *
  std::string_view query;           // without '?'
  std::string_view path_and_query;  // what is sent upstream
};

// Splits the target; false when it is neither origin-form, absolute-form http(s), nor "*".
bool SplitRequestTarget(std::string_view target, RequestTarget* out);

// Strips ":port" from a Host value (IPv6 literals keep their brackets): the rule matcher's
// function, so that matching, redirects and the Host sent upstream agree.
using routing::HostWithoutPort;

// "<version name>: <version>\r\n<cipher name>: <cipher>\r\n" under the listener's names for
// X-Amzn-Tls-Version / X-Amzn-Tls-Cipher-Suite (§4.5, §3.3).
void AppendTlsFactLines(const config::ListenerAttributes& names, std::string_view version,
                        std::string_view cipher, std::string* out);

struct ForwardContext {
  const config::LoadBalancerAttributes* attributes = nullptr;
  std::string_view listener_port;  // decimal
  bool listener_https = false;
  // The TLS header lines of the connection ("Name: value\r\n" each, made once per connection
  // by AppendTlsFactLines and tls::AppendClientCertHeaders): X-Amzn-Tls-Version /
  // -Cipher-Suite, then the mutual-TLS client-certificate headers; empty on plain HTTP.
  std::string_view tls_header_lines;
  // With routing.http.x_amzn_tls_version_and_cipher_suite.enabled on an HTTPS listener: the
  // listener's names for those two headers (§3.3 renames); client copies are dropped under
  // them and under the default names. Null otherwise (the client's fields pass).
  const config::ListenerAttributes* tls_names = nullptr;
  // On a listener with mutual TLS (passthrough or verify): the names of the client-
  // certificate headers, whose copies from the client are dropped. Null otherwise.
  const config::ListenerAttributes* mtls_names = nullptr;
  IpAddress client_ip;
  uint16_t client_port = 0;
  // Host for an HTTP/1.0 request without one: fallback_host, else fallback_ip formatted
  // (only then: most requests carry a Host, and formatting costs).
  std::string_view fallback_host;
  const IpAddress* fallback_ip = nullptr;
  // True only when no header value holds CR or LF: the caller's desync verdict is below
  // kSevere (a CR, LF or NUL in any field grades the request kSevere). Values are then
  // copied without looking for an obs-fold's line breaks.
  bool values_without_line_breaks = false;
  // True when the desync verdict is Ambiguous or worse: only then can a field that is not
  // exactly Transfer-Encoding / Content-Length look like one (SuspiciousHeader is Ambiguous),
  // or a field name hold CR/LF/NUL (BadHeader is Severe). Such fields are dropped so that the
  // target sees only the framing Sluice chose, whatever the desync mode.
  bool drop_framing_lookalikes = false;
  // True when the desync verdict is not Compliant: only then can the target hold SP or
  // control characters, which are then percent-encoded.
  bool escape_target = false;
  // The host of a host-header-rewrite transform (routing/transform.h; never with a port), or
  // empty. It replaces the host part of the Host sent; the port part is chosen as usual.
  std::string_view transformed_host;
  // A WebSocket upgrade request's Upgrade value, or empty. When set the target gets
  // "Connection: Upgrade" and this Upgrade field (both hop-by-hop, dropped otherwise).
  std::string_view upgrade;
  int64_t unix_seconds = 0;      // for X-Amzn-Trace-Id
  balancer::Rng* rng = nullptr;  // for X-Amzn-Trace-Id
};

// Sets the context's flags that follow from the request's desync verdict (wire anomalies and
// ClassifyRequest combined): values_without_line_breaks, drop_framing_lookalikes,
// escape_target.
void ApplyDesyncVerdict(http::DesyncVerdict verdict, ForwardContext* context);

// Counts the addresses in all X-Forwarded-For headers of `head`.
int CountForwardedFor(const http::RequestHead& head);

// Appends the upstream head. Returns 0, or the ALB status to answer instead (463 when
// X-Forwarded-For holds more than 30 addresses).
int AppendUpstreamRequestHead(const http::RequestHead& head, const RequestTarget& target,
                              const http::Framing& framing, const ForwardContext& context,
                              std::string* out);

// X-Amzn-Trace-Id: a fresh "Root=1-<8 hex time>-<24 hex random>" when `incoming` is empty;
// with an incoming Root, "Self=1-...;" in front of the other fields (replacing any Self).
void AppendTraceId(std::string_view incoming, int64_t unix_seconds, balancer::Rng& rng,
                   std::string* out);

}  // namespace sluice::proxy
