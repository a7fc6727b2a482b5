// One NLB access-log entry (reference §5.7): network load balancers log their TLS listeners
// only, one line per TLS connection, written when it ends, 22 space-separated fields.
// Pure; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/ip_address.h"

namespace sluice::observe {

struct NlbTlsLogEntry {
  int64_t end_unix_ms = 0;       // the connection ended (field 3)
  int64_t created_unix_ms = 0;   // the TCP connection was accepted (field 22)
  std::string_view elb;          // "net/<name>/<id>"
  std::string_view listener_id;  // 16 hex digits
  SocketAddress client;
  SocketAddress destination;         // the listener's address as the client reached it
  int64_t connection_ms = 0;         // accept to end
  int64_t handshake_ms = -1;         // -1: no completed handshake ("-")
  uint64_t received_bytes = 0;       // from the client, decrypted
  uint64_t sent_bytes = 0;           // to the client, before encryption
  std::string_view chosen_cert_arn;  // empty: "-" (no valid ClientHello)
  std::string_view tls_cipher;       // OpenSSL's name; empty: "-"
  std::string_view tls_protocol;     // "TLSv1.2" as OpenSSL names it; written "tlsv12"
  std::string_view server_name;      // SNI; empty: "-"; URL-encoded when written
  std::string_view alpn_front;       // negotiated with the client; empty: "-"
  std::string_view alpn_back;        // negotiated with a TLS target; empty: "-"
};

// Appends the entry and a newline. Fields NLB reserves (chosen_cert_serial, tls_named_group)
// and those Sluice does not observe (incoming_tls_alert, alpn_client_preference_list) are "-".
void AppendNlbTlsLogLine(const NlbTlsLogEntry& e, std::string* out);

// "tlsv12" for "TLSv1.2" (the log's spelling); empty for anything else.
std::string_view NlbTlsProtocolName(std::string_view openssl_name);

}  // namespace sluice::observe
