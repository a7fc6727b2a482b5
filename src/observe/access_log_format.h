// One ALB access-log entry (reference §5.2): the fields in ALB's order, quoting and "-"
// conventions, times with 6 decimals, durations with 3 decimals or -1. Every value a client
// controls (request line, User-Agent, SNI name, trace id) is escaped so that no entry can be
// forged or split: a byte outside printable ASCII, a double quote or a backslash is written
// as \xHH (and a space too inside the request's three parts).
// Pure; any thread; no allocation beyond growing the output string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/ip_address.h"
#include "observe/log_cursor.h"

namespace sluice::observe {

struct AccessLogEntry {
  std::string_view type;         // "http", "https", "ws", "wss"
  int64_t response_unix_us = 0;  // time: the response ended (field 2)
  int64_t request_unix_us = 0;   // request_creation_time (field 22)
  std::string_view elb;          // "app/<name>/<id>"
  SocketAddress client;
  bool has_target = false;
  SocketAddress target;
  // Durations in ms; negative: "-1" (never dispatched / no response).
  int64_t request_processing_ms = -1;
  int64_t target_processing_ms = -1;
  int64_t response_processing_ms = -1;
  int elb_status = 0;     // 0: "-" (nothing was sent)
  int target_status = 0;  // 0: "-"
  uint64_t received_bytes = 0;
  uint64_t sent_bytes = 0;
  // The request (field 13): empty method: "- - - " (the head did not parse). The URL is
  // logged as scheme://host:port + the request target when it is in origin form, else as
  // received.
  std::string_view method;
  std::string_view scheme;  // "http", "https"
  std::string_view host;    // Host without its port
  int port = 0;             // the listener's
  std::string_view request_target;
  std::string_view version;           // "HTTP/1.1"
  std::string_view user_agent;        // empty: "-"
  std::string_view ssl_cipher;        // empty: -
  std::string_view ssl_protocol;      // empty: -
  std::string_view target_group_arn;  // empty: -
  std::string_view trace_id;          // empty: "-"
  std::string_view domain_name;       // SNI; empty: "-"
  std::string_view chosen_cert_arn;   // empty: "-"
  int matched_rule_priority = -2;     // -2: "-" (not routed)
  std::string_view actions_executed;  // "forward", "redirect", ...; empty: "-"
  std::string_view redirect_url;      // empty: "-"
  std::string_view error_reason;      // empty or "-": "-"
  std::string_view classification;    // empty: "-"
  std::string_view classification_reason;
  uint64_t conn_trace_id[2] = {0, 0};  // TID_ + 32 hex digits
  std::string_view transformed_host;
  std::string_view transformed_uri;
  std::string_view request_transform_status;
};

// Room the entry's line takes at most, newline included.
size_t AccessLogLineBound(const AccessLogEntry& e);
// Writes the line and its newline at `out`, which has room for AccessLogLineBound(e) bytes;
// returns its length. The worker's path: no allocation, no capacity check per piece.
size_t WriteAccessLogLine(const AccessLogEntry& e, char* out);
// Appends the entry and a newline.
void AppendAccessLogLine(const AccessLogEntry& e, std::string* out);

// ---- Pieces the access, connection and file-name formats share ----

// "2018-07-02T22:23:00.186641Z" for a time in µs since the epoch (UTC; no time zone lookup,
// no lock).
void AppendIsoTime(int64_t unix_us, std::string* out);
// How a client-controlled value is escaped: Escaping (observe/log_cursor.h).
void AppendEscaped(std::string_view value, Escaping how, std::string* out);
// An unquoted field: the value as a token, or "-" when empty.
void AppendTokenOrDash(std::string_view value, std::string* out);
void AppendInt(int64_t v, std::string* out);
// `width` digits, zero-padded.
void AppendPadded(int64_t v, int width, std::string* out);
// Seconds with 3 decimals from ms ("0.037"); "-1" for a negative value.
void AppendSeconds(int64_t ms, std::string* out);
// "TID_" and 32 lower-case hex digits.
void AppendTraceId(const uint64_t id[2], std::string* out);

// Civil date of a day count since 1970-01-01.
struct CivilDate {
  int year;
  int month;  // 1..12
  int day;    // 1..31
};
CivilDate CivilFromDays(int64_t days);

}  // namespace sluice::observe
