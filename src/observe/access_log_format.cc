#include "observe/access_log_format.h"

namespace sluice::observe {

namespace {

// Writes through a cursor into `out`, grown by the most the write can take.
template <class Write>
void AppendWith(std::string* out, size_t max, Write write) {
  const size_t old = out->size();
  out->resize(old + max);
  LogCursor c(out->data() + old);
  write(c);
  out->resize(static_cast<size_t>(c.position() - out->data()));
}

}  // namespace

void AppendInt(int64_t v, std::string* out) {
  AppendWith(out, kMaxIntChars, [&](LogCursor& c) { c.Int(v); });
}

void AppendPadded(int64_t v, int width, std::string* out) {
  AppendWith(out, static_cast<size_t>(width), [&](LogCursor& c) { c.Padded(v, width); });
}

void AppendSeconds(int64_t ms, std::string* out) {
  AppendWith(out, kMaxSecondsChars, [&](LogCursor& c) { c.Seconds(ms); });
}

void AppendTokenOrDash(std::string_view v, std::string* out) {
  AppendWith(out, 1 + kEscapeGrowth * v.size(), [&](LogCursor& c) { c.TokenOrDash(v); });
}

void AppendTraceId(const uint64_t id[2], std::string* out) {
  AppendWith(out, kTraceIdChars, [&](LogCursor& c) { c.TraceId(id); });
}

void AppendIsoTime(int64_t unix_us, std::string* out) {
  AppendWith(out, kIsoTimeChars, [&](LogCursor& c) { c.IsoTime(unix_us); });
}

void AppendEscaped(std::string_view value, Escaping how, std::string* out) {
  AppendWith(out, kEscapeGrowth * value.size(), [&](LogCursor& c) { c.Escaped(value, how); });
}

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

namespace {

void Quoted(std::string_view v, LogCursor& c) {
  c.Put('"');
  if (v.empty() || v == "-") {
    c.Put('-');
  } else {
    c.Escaped(v, Escaping::kQuoted);
  }
  c.Put('"');
}

void Status(int status, LogCursor& c) {
  if (status <= 0) {
    c.Put('-');
  } else {
    c.Int(status);
  }
}

void Request(const AccessLogEntry& e, LogCursor& c) {
  c.Put('"');
  if (e.method.empty()) {
    c.Put("- - - \"");
    return;
  }
  c.Escaped(e.method, Escaping::kToken);
  c.Put(' ');
  if (!e.request_target.empty() && e.request_target.front() == '/') {
    c.Escaped(e.scheme, Escaping::kToken);
    c.Put("://");
    c.Escaped(e.host, Escaping::kToken);
    c.Put(':');
    c.Int(e.port);
  }
  c.Escaped(e.request_target, Escaping::kToken);
  c.Put(' ');
  c.Escaped(e.version, Escaping::kToken);
  c.Put('"');
}

// Fields 1-12: who, where, how long, what status, how many bytes.
void ExchangeFields(const AccessLogEntry& e, LogCursor& c) {
  c.Put(e.type);
  c.Put(' ');
  c.IsoTime(e.response_unix_us);
  c.Put(' ');
  c.Put(e.elb);
  c.Put(' ');
  c.Address(e.client);
  c.Put(' ');
  if (e.has_target) {
    c.Address(e.target);
  } else {
    c.Put('-');
  }
  c.Put(' ');
  c.Seconds(e.request_processing_ms);
  c.Put(' ');
  c.Seconds(e.target_processing_ms);
  c.Put(' ');
  c.Seconds(e.response_processing_ms);
  c.Put(' ');
  Status(e.elb_status, c);
  c.Put(' ');
  Status(e.target_status, c);
  c.Put(' ');
  c.Int(static_cast<int64_t>(e.received_bytes));
  c.Put(' ');
  c.Int(static_cast<int64_t>(e.sent_bytes));
}

// Fields 13-22: the request, TLS, the target group, the rule.
void RequestFields(const AccessLogEntry& e, LogCursor& c) {
  Request(e, c);
  c.Put(' ');
  Quoted(e.user_agent, c);
  c.Put(' ');
  c.TokenOrDash(e.ssl_cipher);
  c.Put(' ');
  c.TokenOrDash(e.ssl_protocol);
  c.Put(' ');
  c.TokenOrDash(e.target_group_arn);
  c.Put(' ');
  Quoted(e.trace_id, c);
  c.Put(' ');
  Quoted(e.domain_name, c);
  c.Put(' ');
  Quoted(e.chosen_cert_arn, c);
  c.Put(' ');
  if (e.matched_rule_priority < -1) {
    c.Put('-');
  } else {
    c.Int(e.matched_rule_priority);
  }
  c.Put(' ');
  c.IsoTime(e.request_unix_us);
}

// Fields 23-33: what was done, why it failed, classification, connection, transforms.
void OutcomeFields(const AccessLogEntry& e, LogCursor& c) {
  Quoted(e.actions_executed, c);
  c.Put(' ');
  Quoted(e.redirect_url, c);
  c.Put(' ');
  Quoted(e.error_reason, c);
  c.Put(' ');
  // target:port_list and target_status_code_list: one element each today (§5.2 26, 27).
  c.Put('"');
  if (e.has_target) {
    c.Address(e.target);
  } else {
    c.Put('-');
  }
  c.Put("\" \"");
  Status(e.target_status, c);
  c.Put("\" ");
  Quoted(e.classification, c);
  c.Put(' ');
  Quoted(e.classification_reason, c);
  c.Put(' ');
  c.TraceId(e.conn_trace_id);
  c.Put(' ');
  Quoted(e.transformed_host, c);
  c.Put(' ');
  Quoted(e.transformed_uri, c);
  c.Put(' ');
  Quoted(e.request_transform_status, c);
}

}  // namespace

size_t AccessLogLineBound(const AccessLogEntry& e) {
  // Every value a field can take apart from the views: three addresses, two times, three
  // durations, eight integers, the trace id, and fewer than 128 separators, quotes and dashes.
  constexpr size_t kFixed = 3 * kMaxAddressChars + 2 * kIsoTimeChars + 3 * kMaxSecondsChars +
                            8 * kMaxIntChars + kTraceIdChars + 128;
  size_t views = 0;
  for (std::string_view v : {e.type,
                             e.elb,
                             e.method,
                             e.scheme,
                             e.host,
                             e.request_target,
                             e.version,
                             e.user_agent,
                             e.ssl_cipher,
                             e.ssl_protocol,
                             e.target_group_arn,
                             e.trace_id,
                             e.domain_name,
                             e.chosen_cert_arn,
                             e.actions_executed,
                             e.redirect_url,
                             e.error_reason,
                             e.classification,
                             e.classification_reason,
                             e.transformed_host,
                             e.transformed_uri,
                             e.request_transform_status}) {
    views += v.size();
  }
  return kFixed + kEscapeGrowth * views;
}

size_t WriteAccessLogLine(const AccessLogEntry& e, char* out) {
  LogCursor c(out);
  ExchangeFields(e, c);
  c.Put(' ');
  RequestFields(e, c);
  c.Put(' ');
  OutcomeFields(e, c);
  c.Put('\n');
  return static_cast<size_t>(c.position() - out);
}

void AppendAccessLogLine(const AccessLogEntry& e, std::string* out) {
  const size_t old = out->size();
  out->resize(old + AccessLogLineBound(e));
  out->resize(old + WriteAccessLogLine(e, out->data() + old));
}

}  // namespace sluice::observe
