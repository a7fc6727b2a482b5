// One ALB connection-log entry (reference §5.5): the 13 documented fields, one line per
// client connection (when its TLS handshake finished or failed; at accept for plain HTTP).
// Pure; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/ip_address.h"

namespace sluice::observe {

struct ConnectionLogEntry {
  int64_t unix_us = 0;  // established or failed
  SocketAddress client;
  int listener_port = 0;
  std::string_view tls_protocol;  // empty: - (plain HTTP)
  std::string_view tls_cipher;
  int64_t handshake_ms = -1;           // -1: - (plain, or the handshake failed)
  std::string_view cert_subject;       // RFC 2253; empty: "-"
  std::string_view cert_validity;      // NotBefore=...;NotAfter=...; empty: -
  std::string_view cert_serial;        // hex; empty: -
  std::string_view tls_verify_status;  // Success, Failed:<code>; empty: -
  uint64_t conn_trace_id[2] = {0, 0};
  std::string_view tls_keyexchange;  // secp256r1, X25519...; empty: -
};

// Appends the entry and a newline. The certificate subject (a client chose it) keeps its
// RFC 2253 backslashes; a double quote or a byte outside printable ASCII in it is \xHH.
void AppendConnectionLogLine(const ConnectionLogEntry& e, std::string* out);

}  // namespace sluice::observe
