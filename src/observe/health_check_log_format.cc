#include "observe/health_check_log_format.h"

#include "observe/access_log_format.h"

namespace sluice::observe {

void AppendHealthCheckLogLine(const HealthCheckLogEntry& e, std::string* out) {
  out->append(e.connection ? "connection " : "request ");
  AppendIsoTime(e.unix_us, out);
  out->push_back(' ');
  AppendTokenOrDash(e.elb, out);
  out->push_back(' ');
  AppendTokenOrDash(e.group_id, out);
  out->push_back(' ');
  char ip[64];
  out->append(ip, e.target.ip.Format(ip, sizeof(ip)));
  out->push_back(':');
  AppendInt(e.target.port, out);
  out->push_back(' ');
  if (e.latency_ms < 0) {
    out->push_back('-');
  } else {
    AppendSeconds(e.latency_ms, out);
  }
  out->append(e.healthy ? " healthy " : " unhealthy ");
  if (e.status_code > 0) {
    AppendInt(e.status_code, out);
  } else {
    out->push_back('-');
  }
  out->push_back(' ');
  AppendTokenOrDash(e.reason, out);
  out->push_back('\n');
}

}  // namespace sluice::observe
