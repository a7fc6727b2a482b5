#include "proxy/access_log_sink.h"

#include "snapshot/snapshot.h"

namespace sluice::proxy {

namespace {

// The three durations of §5.2 (fields 6-8) in ms, -1 where ALB logs -1: a request never
// dispatched to a target or without a response from it. Answers of the rule itself (fixed
// response, redirect) have no target and count as processed at once.
void SetDurations(const ExchangeRecord& r, observe::AccessLogEntry* e) {
  const bool rule_answer = r.cause == Cause::kFixedResponse || r.cause == Cause::kRedirect;
  if (rule_answer) {
    e->request_processing_ms = r.done_ms - r.received_ms;
    e->target_processing_ms = 0;
    e->response_processing_ms = 0;
    return;
  }
  if (r.sent_ms != 0) e->request_processing_ms = r.sent_ms - r.received_ms;
  if (r.first_byte_ms != 0 && r.sent_ms != 0) {
    e->target_processing_ms = r.first_byte_ms - r.sent_ms;
    e->response_processing_ms = 0;
  }
}

std::string_view ActionsExecuted(const ExchangeRecord& r) {
  if (r.rule_priority < 0) return {};
  switch (r.cause) {
    case Cause::kFixedResponse:
      return "fixed-response";
    case Cause::kRedirect:
      return "redirect";
    case Cause::kInternalError:
      return {};
    default:
      return "forward";
  }
}

// "METHOD target VERSION": the method ends at the first space, the version starts after the
// last (a target may hold spaces when the listener's mode accepts them).
void SplitRequestLine(std::string_view line, observe::AccessLogEntry* e) {
  const size_t first = line.find(' ');
  const size_t last = line.rfind(' ');
  if (first == std::string_view::npos || last == first) return;
  e->method = line.substr(0, first);
  e->request_target = line.substr(first + 1, last - first - 1);
  e->version = line.substr(last + 1);
}

}  // namespace

observe::AccessLogEntry ToAccessLogEntry(const ExchangeRecord& r) {
  observe::AccessLogEntry e;
  const snapshot::ListenerRuntime* l = r.listener;
  const bool https = l != nullptr && l->protocol == snapshot::ListenerProtocol::kHttps;
  e.scheme = https ? "https" : "http";
  // Reference §5.2 field 1.
  // gRPC over TLS is "grpcs" (reference §5.2); cleartext HTTP/2 (beyond ALB) is logged "h2".
  e.type = r.websocket ? (https ? "wss" : "ws")
           : r.http2   ? (r.grpc && https ? "grpcs" : "h2")
                       : e.scheme;
  e.response_unix_us = (r.received_unix_ms + (r.done_ms - r.received_ms)) * 1000;
  e.request_unix_us = r.received_unix_ms * 1000;
  if (l != nullptr) {
    e.elb = l->elb_log_name;
    e.port = l->address.port;
  }
  e.client = r.client;
  e.has_target = r.has_target;
  e.target = r.target;
  SetDurations(r, &e);
  e.elb_status = r.elb_status;
  e.target_status = r.target_status;
  e.received_bytes = r.received_bytes;
  e.sent_bytes = r.sent_bytes;
  SplitRequestLine(r.request_line, &e);
  e.host = r.host;
  e.user_agent = r.user_agent;
  e.ssl_cipher = r.tls_cipher;
  e.ssl_protocol = r.tls_protocol;
  e.target_group_arn = r.target_group_arn;
  e.trace_id = r.trace_id;
  e.domain_name = r.tls_server_name;
  e.matched_rule_priority = r.rule_priority;
  e.actions_executed = ActionsExecuted(r);
  e.redirect_url = r.redirect_url;
  e.error_reason = Describe(r.cause).error_reason;
  if (r.verdict.tier != http::DesyncTier::kCompliant) {
    e.classification = http::ToString(r.verdict.tier);
    e.classification_reason = http::ToString(r.verdict.reason);
  }
  e.conn_trace_id[0] = r.conn_trace_id[0];
  e.conn_trace_id[1] = r.conn_trace_id[1];
  e.transformed_host = r.transformed_host;
  e.transformed_uri = r.transformed_uri;
  e.request_transform_status = r.request_transform_status;
  return e;
}

void AccessLogSink::OnExchangeDone(const ExchangeRecord& record) {
  if (record.listener == nullptr || record.listener->access_log_key == 0) return;
  const observe::AccessLogEntry entry = ToAccessLogEntry(record);
  const size_t bound = observe::AccessLogLineBound(entry);
  // Grown to the longest entry seen, never per entry (resize would clear what it keeps).
  if (line_.size() < bound) line_.resize(bound);
  const size_t n = observe::WriteAccessLogLine(entry, line_.data());
  ring_->Push(record.listener->access_log_key, std::string_view(line_.data(), n));
  // An entry of a huge request head does not pin its buffer for the worker's life.
  if (line_.size() > kKeptLineBytes) std::string().swap(line_);
}

}  // namespace sluice::proxy
