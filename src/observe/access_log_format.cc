#include "observe/access_log_format.h"

#include <charconv>

namespace sluice::observe {

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, static_cast<size_t>(end - buf));
}

void AppendPadded(int64_t v, int width, std::string* out) {
  char buf[24];
  int n = 0;
  for (; n < width; ++n) {
    buf[width - 1 - n] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out->append(buf, static_cast<size_t>(width));
}

void AppendSeconds(int64_t ms, std::string* out) {
  if (ms < 0) {
    out->append("-1");
    return;
  }
  AppendInt(ms / 1000, out);
  out->push_back('.');
  AppendPadded(ms % 1000, 3, out);
}

void AppendTokenOrDash(std::string_view v, std::string* out) {
  if (v.empty()) {
    out->push_back('-');
    return;
  }
  AppendEscaped(v, Escaping::kToken, out);
}

void AppendTraceId(const uint64_t id[2], std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->append("TID_");
  for (int w = 0; w < 2; ++w) {
    for (int shift = 60; shift >= 0; shift -= 4) out->push_back(kHex[(id[w] >> shift) & 0xf]);
  }
}

namespace {

void AppendAddress(const SocketAddress& a, std::string* out) {
  char buf[64];
  size_t n = a.ip.Format(buf, sizeof(buf));
  out->append(buf, n);
  out->push_back(':');
  AppendInt(a.port, out);
}

void AppendQuoted(std::string_view v, std::string* out) {
  out->push_back('"');
  if (v.empty() || v == "-") {
    out->push_back('-');
  } else {
    AppendEscaped(v, Escaping::kQuoted, out);
  }
  out->push_back('"');
}

void AppendStatus(int status, std::string* out) {
  if (status <= 0) {
    out->push_back('-');
  } else {
    AppendInt(status, out);
  }
}

void AppendRequest(const AccessLogEntry& e, std::string* out) {
  out->push_back('"');
  if (e.method.empty()) {
    out->append("- - - \"");
    return;
  }
  AppendEscaped(e.method, Escaping::kToken, out);
  out->push_back(' ');
  if (!e.request_target.empty() && e.request_target.front() == '/') {
    AppendEscaped(e.scheme, Escaping::kToken, out);
    out->append("://");
    AppendEscaped(e.host, Escaping::kToken, out);
    out->push_back(':');
    AppendInt(e.port, out);
  }
  AppendEscaped(e.request_target, Escaping::kToken, out);
  out->push_back(' ');
  AppendEscaped(e.version, Escaping::kToken, out);
  out->push_back('"');
}

}  // namespace

CivilDate CivilFromDays(int64_t days) {
  // Days to (year, month, day) in the proleptic Gregorian calendar, counting 400-year eras
  // from 0000-03-01 so that the leap day ends each year.
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;                                    // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int year = static_cast<int>(yoe + era * 400 + (month <= 2 ? 1 : 0));
  return {year, month, day};
}

void AppendIsoTime(int64_t unix_us, std::string* out) {
  int64_t secs = unix_us >= 0 ? unix_us / 1000000 : (unix_us - 999999) / 1000000;
  const int64_t micros = unix_us - secs * 1000000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  const int64_t in_day = secs - days * 86400;
  const CivilDate d = CivilFromDays(days);
  AppendPadded(d.year, 4, out);
  out->push_back('-');
  AppendPadded(d.month, 2, out);
  out->push_back('-');
  AppendPadded(d.day, 2, out);
  out->push_back('T');
  AppendPadded(in_day / 3600, 2, out);
  out->push_back(':');
  AppendPadded(in_day / 60 % 60, 2, out);
  out->push_back(':');
  AppendPadded(in_day % 60, 2, out);
  out->push_back('.');
  AppendPadded(micros, 6, out);
  out->push_back('Z');
}

void AppendEscaped(std::string_view value, Escaping how, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const bool keep_space = how != Escaping::kToken;
  const bool keep_backslash = how == Escaping::kDistinguishedName;
  size_t start = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    const bool plain = c > 0x20 ? (c < 0x7f && c != '"' && (c != '\\' || keep_backslash))
                                : (c == ' ' && keep_space);
    if (plain) continue;
    out->append(value.substr(start, i - start));
    const char esc[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
    out->append(esc, 4);
    start = i + 1;
  }
  out->append(value.substr(start));
}

namespace {

// Fields 1-12: who, where, how long, what status, how many bytes.
void AppendExchangeFields(const AccessLogEntry& e, std::string* out) {
  out->append(e.type);
  out->push_back(' ');
  AppendIsoTime(e.response_unix_us, out);
  out->push_back(' ');
  out->append(e.elb);
  out->push_back(' ');
  AppendAddress(e.client, out);
  out->push_back(' ');
  if (e.has_target) {
    AppendAddress(e.target, out);
  } else {
    out->push_back('-');
  }
  out->push_back(' ');
  AppendSeconds(e.request_processing_ms, out);
  out->push_back(' ');
  AppendSeconds(e.target_processing_ms, out);
  out->push_back(' ');
  AppendSeconds(e.response_processing_ms, out);
  out->push_back(' ');
  AppendStatus(e.elb_status, out);
  out->push_back(' ');
  AppendStatus(e.target_status, out);
  out->push_back(' ');
  AppendInt(static_cast<int64_t>(e.received_bytes), out);
  out->push_back(' ');
  AppendInt(static_cast<int64_t>(e.sent_bytes), out);
}

// Fields 13-22: the request, TLS, the target group, the rule.
void AppendRequestFields(const AccessLogEntry& e, std::string* out) {
  AppendRequest(e, out);
  out->push_back(' ');
  AppendQuoted(e.user_agent, out);
  out->push_back(' ');
  AppendTokenOrDash(e.ssl_cipher, out);
  out->push_back(' ');
  AppendTokenOrDash(e.ssl_protocol, out);
  out->push_back(' ');
  AppendTokenOrDash(e.target_group_arn, out);
  out->push_back(' ');
  AppendQuoted(e.trace_id, out);
  out->push_back(' ');
  AppendQuoted(e.domain_name, out);
  out->push_back(' ');
  AppendQuoted(e.chosen_cert_arn, out);
  out->push_back(' ');
  if (e.matched_rule_priority < -1) {
    out->push_back('-');
  } else {
    AppendInt(e.matched_rule_priority, out);
  }
  out->push_back(' ');
  AppendIsoTime(e.request_unix_us, out);
}

// Fields 23-33: what was done, why it failed, classification, connection, transforms.
void AppendOutcomeFields(const AccessLogEntry& e, std::string* out) {
  AppendQuoted(e.actions_executed, out);
  out->push_back(' ');
  AppendQuoted(e.redirect_url, out);
  out->push_back(' ');
  AppendQuoted(e.error_reason, out);
  out->push_back(' ');
  // target:port_list and target_status_code_list: one element each today (§5.2 26, 27).
  out->push_back('"');
  if (e.has_target) {
    AppendAddress(e.target, out);
  } else {
    out->push_back('-');
  }
  out->append("\" \"");
  AppendStatus(e.target_status, out);
  out->append("\" ");
  AppendQuoted(e.classification, out);
  out->push_back(' ');
  AppendQuoted(e.classification_reason, out);
  out->push_back(' ');
  AppendTraceId(e.conn_trace_id, out);
  out->push_back(' ');
  AppendQuoted(e.transformed_host, out);
  out->push_back(' ');
  AppendQuoted(e.transformed_uri, out);
  out->push_back(' ');
  AppendQuoted(e.request_transform_status, out);
}

}  // namespace

void AppendAccessLogLine(const AccessLogEntry& e, std::string* out) {
  AppendExchangeFields(e, out);
  out->push_back(' ');
  AppendRequestFields(e, out);
  out->push_back(' ');
  AppendOutcomeFields(e, out);
  out->push_back('\n');
}

}  // namespace sluice::observe
