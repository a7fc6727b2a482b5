// libFuzzer target for the access- and connection-log formatters (src/observe/): the input is
// split at 0xFF bytes into the client-controlled values (method, request target, version,
// Host, User-Agent, trace id, SNI name, transformed host and URI, certificate subject), and
// whatever they hold, each formatted line must keep ALB's shape: exactly one newline, at its
// end; only printable ASCII; 33 fields with 15 quoted ones (access log), 13 fields with one
// quoted (connection log), counting spaces outside quotes; the access line stays inside
// AccessLogLineBound. A line a client could split or widen would let it forge entries.
// Traps (abort) on any violation.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "observe/access_log_format.h"
#include "observe/connection_log_format.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

// Fields split on spaces outside double quotes; the number of quoted ones.
void Shape(const std::string& line, size_t* fields, size_t* quoted) {
  Check(!line.empty() && line.back() == '\n');
  *fields = 1;
  *quoted = 0;
  bool in_quotes = false;
  for (size_t i = 0; i + 1 < line.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(line[i]);
    Check(c >= 0x20 && c < 0x7f);  // no newline, no control byte, no high byte
    if (c == '"') {
      in_quotes = !in_quotes;
      if (in_quotes) ++*quoted;
    } else if (c == ' ' && !in_quotes) {
      ++*fields;
    }
  }
  Check(!in_quotes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string_view> parts;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (parts.size() < 10) {
    size_t cut = in.find('\xff');
    parts.push_back(in.substr(0, cut));
    if (cut == std::string_view::npos) break;
    in.remove_prefix(cut + 1);
  }
  parts.resize(10);
  sluice::observe::AccessLogEntry e;
  e.type = "https";
  e.elb = "app/web/0123456789abcdef";
  e.method = parts[0];
  e.scheme = "https";
  e.request_target = parts[1];
  e.version = parts[2];
  e.host = parts[3];
  e.port = 443;
  e.user_agent = parts[4];
  e.trace_id = parts[5];
  e.domain_name = parts[6];
  e.transformed_host = parts[7];
  e.transformed_uri = parts[8];
  e.elb_status = 200;
  // Written as the worker writes it: into a buffer of exactly AccessLogLineBound bytes, so
  // that a bound too small is a heap overflow the sanitizer reports.
  const size_t bound = sluice::observe::AccessLogLineBound(e);
  std::unique_ptr<char[]> buf(new char[bound]);
  const std::string line(buf.get(), sluice::observe::WriteAccessLogLine(e, buf.get()));
  size_t fields = 0, quoted = 0;
  Shape(line, &fields, &quoted);
  // The request's three parts never hold an unescaped space: 33 fields always (an empty
  // method makes the request "- - - ", still one quoted field).
  Check(fields == 33);
  Check(quoted == 15);

  sluice::observe::ConnectionLogEntry c;
  c.cert_subject = parts[9];
  c.tls_protocol = "TLSv1.3";
  std::string conn;
  sluice::observe::AppendConnectionLogLine(c, &conn);
  Shape(conn, &fields, &quoted);
  Check(quoted == 1);
  Check(fields == 13);  // spaces of the subject are inside its quotes
  return 0;
}
