#include "observe/connection_log_format.h"

#include "observe/access_log_format.h"

namespace sluice::observe {

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
  AppendTokenOrDash(e.tls_protocol, out);
  out->push_back(' ');
  AppendTokenOrDash(e.tls_cipher, out);
  out->push_back(' ');
  if (e.handshake_ms < 0) {
    out->push_back('-');  // ALB's "-" here, not the access log's -1
  } else {
    AppendSeconds(e.handshake_ms, out);
  }
  out->append(" \"");
  if (e.cert_subject.empty()) {
    out->push_back('-');
  } else {
    AppendEscaped(e.cert_subject, Escaping::kDistinguishedName, out);
  }
  out->append("\" ");
  AppendTokenOrDash(e.cert_validity, out);
  out->push_back(' ');
  AppendTokenOrDash(e.cert_serial, out);
  out->push_back(' ');
  AppendTokenOrDash(e.tls_verify_status, out);
  out->push_back(' ');
  AppendTraceId(e.conn_trace_id, out);
  out->push_back(' ');
  AppendTokenOrDash(e.tls_keyexchange, out);
  out->push_back('\n');
}

}  // namespace sluice::observe
