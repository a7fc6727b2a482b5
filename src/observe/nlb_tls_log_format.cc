#include "observe/nlb_tls_log_format.h"

#include "observe/access_log_format.h"

namespace sluice::observe {

namespace {

// "2018-12-20T02:59:40": the access log's ISO time without its fraction and Z (§5.7).
void AppendSecondsTime(int64_t unix_ms, std::string* out) {
  const size_t at = out->size();
  AppendIsoTime(unix_ms * 1000, out);
  out->resize(at + 19);  // "YYYY-MM-DDTHH:MM:SS"
}

void AppendAddress(const SocketAddress& a, std::string* out) {
  char ip[64];
  out->append(ip, a.ip.Format(ip, sizeof(ip)));
  out->push_back(':');
  AppendInt(a.port, out);
}

// RFC 3986 percent-encoding of everything but the unreserved characters.
void AppendUrlEncoded(std::string_view v, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : v) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.' || c == '_' || c == '~';
    if (plain) {
      out->push_back(static_cast<char>(c));
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xf]);
    }
  }
}

}  // namespace

std::string_view NlbTlsProtocolName(std::string_view openssl_name) {
  if (openssl_name == "TLSv1") return "tlsv10";
  if (openssl_name == "TLSv1.1") return "tlsv11";
  if (openssl_name == "TLSv1.2") return "tlsv12";
  if (openssl_name == "TLSv1.3") return "tlsv13";
  return {};
}

void AppendNlbTlsLogLine(const NlbTlsLogEntry& e, std::string* out) {
  out->append("tls 2.0 ");
  AppendSecondsTime(e.end_unix_ms, out);
  out->push_back(' ');
  AppendTokenOrDash(e.elb, out);
  out->push_back(' ');
  AppendTokenOrDash(e.listener_id, out);
  out->push_back(' ');
  AppendAddress(e.client, out);
  out->push_back(' ');
  AppendAddress(e.destination, out);
  out->push_back(' ');
  AppendInt(e.connection_ms, out);
  out->push_back(' ');
  if (e.handshake_ms < 0) {
    out->push_back('-');
  } else {
    AppendInt(e.handshake_ms, out);
  }
  out->push_back(' ');
  AppendInt(static_cast<int64_t>(e.received_bytes), out);
  out->push_back(' ');
  AppendInt(static_cast<int64_t>(e.sent_bytes), out);
  out->append(" - ");  // incoming_tls_alert
  AppendTokenOrDash(e.chosen_cert_arn, out);
  out->append(" - ");  // chosen_cert_serial: reserved
  AppendTokenOrDash(e.tls_cipher, out);
  out->push_back(' ');
  AppendTokenOrDash(NlbTlsProtocolName(e.tls_protocol), out);
  out->append(" - ");  // tls_named_group: reserved
  if (e.server_name.empty()) {
    out->push_back('-');
  } else {
    AppendUrlEncoded(e.server_name, out);
  }
  out->push_back(' ');
  AppendTokenOrDash(e.alpn_front, out);
  out->push_back(' ');
  AppendTokenOrDash(e.alpn_back, out);
  out->append(" - ");  // alpn_client_preference_list
  AppendSecondsTime(e.created_unix_ms, out);
  out->push_back('\n');
}

}  // namespace sluice::observe
