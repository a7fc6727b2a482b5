#include "observe/connection_log_format.h"

#include <charconv>

#include "observe/access_log_format.h"

namespace sluice::observe {

namespace {

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, static_cast<size_t>(end - buf));
}

void AppendOrDash(std::string_view v, std::string* out) {
  if (v.empty()) {
    out->push_back('-');
  } else {
    AppendEscaped(v, true, out);
  }
}

// A distinguished name keeps RFC 2253's backslash escapes ("O=Example\\, Inc.") as ALB
// writes them; a double quote or a byte outside printable ASCII becomes \xHH.
void AppendDn(std::string_view dn, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : dn) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '"') {
      out->push_back(ch);
    } else {
      const char esc[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
      out->append(esc, 4);
    }
  }
}

}  // namespace

void AppendConnectionLogLine(const ConnectionLogEntry& e, std::string* out) {
  AppendIsoTime(e.unix_us, out);
  out->push_back(' ');
  char ip[64];
  out->append(ip, e.client.ip.Format(ip, sizeof(ip)));
  out->push_back(' ');
  AppendInt(e.client.port, out);
  out->push_back(' ');
  AppendInt(e.listener_port, out);
  out->push_back(' ');
  AppendOrDash(e.tls_protocol, out);
  out->push_back(' ');
  AppendOrDash(e.tls_cipher, out);
  out->push_back(' ');
  if (e.handshake_ms < 0) {
    out->push_back('-');
  } else {
    AppendInt(e.handshake_ms / 1000, out);
    out->push_back('.');
    const int64_t ms = e.handshake_ms % 1000;
    out->push_back(static_cast<char>('0' + ms / 100));
    out->push_back(static_cast<char>('0' + ms / 10 % 10));
    out->push_back(static_cast<char>('0' + ms % 10));
  }
  out->append(" \"");
  if (e.cert_subject.empty()) {
    out->push_back('-');
  } else {
    AppendDn(e.cert_subject, out);
  }
  out->append("\" ");
  AppendOrDash(e.cert_validity, out);
  out->push_back(' ');
  AppendOrDash(e.cert_serial, out);
  out->push_back(' ');
  AppendOrDash(e.tls_verify_status, out);
  out->append(" TID_");
  static constexpr char kHex[] = "0123456789abcdef";
  for (uint64_t w : e.conn_trace_id) {
    for (int shift = 60; shift >= 0; shift -= 4) out->push_back(kHex[(w >> shift) & 0xf]);
  }
  out->push_back(' ');
  AppendOrDash(e.tls_keyexchange, out);
  out->push_back('\n');
}

}  // namespace sluice::observe
