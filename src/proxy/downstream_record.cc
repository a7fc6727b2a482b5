// The exchange record of a downstream connection: what access logs and metrics read about
// each request (proxy/outcome.h). Loop thread only.
#include "config/arn.h"
#include "observe/connection_log_format.h"
#include "observe/nlb_tls_log_format.h"
#include "proxy/downstream_connection.h"
#include "proxy/worker.h"
#include "tls/connection_facts.h"
#include "tls/server_context.h"

namespace sluice::proxy {

namespace {

// ALB logs User-Agent truncated at 8 KB (reference §5.2, field 14).
constexpr size_t kMaxUserAgent = 8 * 1024;

}  // namespace

bool DownstreamConnection::OpenExchange(uint64_t received_bytes) {
  exchange_open_ = true;
  cause_ = Cause::kNone;
  elb_status_ = 0;
  target_status_ = 0;
  rule_priority_ = -2;
  target_group_ = -1;
  tg_metrics_slot_ = -1;
  routed_ms_ = sent_ms_ = first_byte_ms_ = 0;
  received_bytes_ = received_bytes;
  sent_bytes_ = 0;
  request_line_len_ = user_agent_len_ = host_len_ = 0;
  record_redirect_ = false;
  if (worker_->ExchangeSinkFor(listener_) == nullptr) return false;  // nobody reads the text
  worker_->TakeString(record_text_);
  record_text_.clear();
  DrawConnTraceId();
  return true;
}

void DownstreamConnection::BeginExchange(const http::RequestHead& head) {
  if (!OpenExchange(head.head_length)) return;
  record_text_.append(head.method);
  record_text_.push_back(' ');
  record_text_.append(head.target);
  record_text_.push_back(' ');
  // An HTTP/2 stream's request reached the request path as HTTP/1.1; ALB logs HTTP/2.0.
  record_text_.append(h2_stream_ ? std::string_view("HTTP/2.0") : head.version);
  request_line_len_ = static_cast<uint32_t>(record_text_.size());
  std::string_view host;
  for (const http::HeaderField& h : head.header_span()) {
    if (user_agent_len_ == 0 && http::EqualsIgnoreCase(h.name, "user-agent")) {
      std::string_view ua = h.value.substr(0, kMaxUserAgent);
      record_text_.append(ua);
      user_agent_len_ = static_cast<uint32_t>(ua.size());
    } else if (host.empty() && http::EqualsIgnoreCase(h.name, "host")) {
      host = routing::HostWithoutPort(h.value);
    }
  }
  record_text_.append(host);
  host_len_ = static_cast<uint32_t>(host.size());
}

void DownstreamConnection::DrawConnTraceId() {
  if ((conn_trace_[0] | conn_trace_[1]) != 0) return;
  conn_trace_[0] = worker_->rng().Next();
  conn_trace_[1] = worker_->rng().Next() | 1;
}

void DownstreamConnection::LogConnection(bool handshake_done) {
  observe::LogRing* ring = worker_->log_ring();
  const uint64_t key = listener_->connection_log_key;
  if (key == 0 || ring == nullptr) return;
  DrawConnTraceId();
  observe::ConnectionLogEntry e;
  e.unix_us = worker_->loop().unix_ms() * 1000;
  e.client = peer_;
  e.listener_port = listener_address_.port;
  e.conn_trace_id[0] = conn_trace_[0];
  e.conn_trace_id[1] = conn_trace_[1];
  tls::ConnectionFacts facts;
  if (listener_->tls != nullptr) {
    facts = tls::DescribeConnection(transport_->TlsSession(), handshake_done);
    if (handshake_done) {
      e.tls_protocol = transport_->TlsVersion();
      e.tls_cipher = transport_->TlsCipher();
      e.handshake_ms = handshake_ms_;
    }
    e.cert_subject = facts.cert_subject;
    e.cert_validity = facts.cert_validity;
    e.cert_serial = facts.cert_serial;
    e.tls_verify_status = facts.verify_status;
    e.tls_keyexchange = facts.key_exchange;
  }
  std::string& line = worker_->log_line();
  line.clear();
  observe::AppendConnectionLogLine(e, &line);
  ring->Push(key, line);
}

void DownstreamConnection::LogTlsFlow() {
  observe::LogRing* ring = worker_->log_ring();
  const uint64_t key = listener_->access_log_key;
  if (key == 0 || ring == nullptr) return;
  observe::NlbTlsLogEntry e;
  const int64_t now_ms = worker_->now_ms();
  e.end_unix_ms = worker_->loop().unix_ms();
  e.created_unix_ms = e.end_unix_ms - (now_ms - created_ms_);
  e.elb = listener_->elb_log_name;
  e.listener_id = listener_->listener_id;
  e.client = peer_;
  e.destination = transport_->LocalAddress();
  if (e.destination.port == 0) e.destination = listener_address_;
  e.connection_ms = now_ms - created_ms_;
  e.handshake_ms = handshake_ms_;
  e.received_bytes = received_bytes_;
  e.sent_bytes = sent_bytes_;
  std::string arn;
  if (listener_->tls != nullptr && handshake_ms_ >= 0) {
    const std::string_view cert = listener_->tls->ChosenCertificate(transport_->TlsSession());
    if (!cert.empty()) arn = config::CertificateArn(snapshot_->config.account, cert);
    e.tls_cipher = transport_->TlsCipher();
    e.tls_protocol = transport_->TlsVersion();
    e.server_name = transport_->TlsServerName();
    e.alpn_front = transport_->ApplicationProtocol();
    if (upstream_ != nullptr) e.alpn_back = upstream_->transport().ApplicationProtocol();
  }
  e.chosen_cert_arn = arn;
  std::string& line = worker_->log_line();
  line.clear();
  observe::AppendNlbTlsLogLine(e, &line);
  ring->Push(key, line);
}

void DownstreamConnection::RecordRedirect(std::string_view location) {
  if (!exchange_open_ || worker_->ExchangeSinkFor(listener_) == nullptr) return;
  record_text_.resize(request_line_len_ + user_agent_len_ + host_len_);
  record_text_.append(location);
  record_redirect_ = true;
}

void DownstreamConnection::SetOutcome(Cause cause, int elb_status) {
  if (!exchange_open_) {
    // The head did not parse or did not arrive whole: an exchange with no request line
    // (ALB logs "- - - ").
    OpenExchange(in_.size());
    verdict_ = {};
  }
  cause_ = cause;
  elb_status_ = static_cast<uint16_t>(elb_status);
}

void DownstreamConnection::EndExchange() {
  if (!exchange_open_) return;
  exchange_open_ = false;
  if (cause_ == Cause::kNone) {
    // Ended without an answer: the client went away (ALB logs 460 when it was waiting for
    // the target), or left in the middle of the response.
    cause_ = Cause::kClientClosed;
    if (elb_status_ == 0) elb_status_ = 460;
  }
  CountExchange();
  ExchangeSink* sink = worker_->ExchangeSinkFor(listener_);
  if (sink == nullptr) return;
  const ExchangeRecord record = BuildRecord();
  sink->OnExchangeDone(record);
}

void DownstreamConnection::CountExchange() {
  using observe::LbMetric;
  using observe::TgMetric;
  using Metrics = observe::WorkerMetrics;
  Metrics& m = worker_->metrics();
  Metrics::LbRow& lb = *lb_metrics_;
  const int tg_slot = tg_metrics_slot_;
  Metrics::TgRow& tg = m.Tg(tg_slot);
  Metrics::Add(lb, LbMetric::kProcessedBytes, received_bytes_ + sent_bytes_);
  if (rule_priority_ >= 0) Metrics::Add(lb, LbMetric::kRequestCount);
  if (verdict_.tier != http::DesyncTier::kCompliant) {
    Metrics::Add(lb, LbMetric::kDesyncNonCompliantRequestCount);
  }
  // A response from a target: its class, per load balancer and per group, and how long the
  // target took to start answering.
  const unsigned cls = static_cast<unsigned>(target_status_ / 100) - 2u;
  if (cls < 4u) {
    Metrics::Add(lb,
                 static_cast<LbMetric>(static_cast<unsigned>(LbMetric::kHttpCodeTarget2xx) + cls));
    Metrics::Add(tg,
                 static_cast<TgMetric>(static_cast<unsigned>(TgMetric::kHttpCodeTarget2xx) + cls));
  }
  Metrics::Add(tg, TgMetric::kRequestCount);  // the spare row when no group was chosen
  // (A target may answer before the whole request is sent: no time then.)
  if (first_byte_ms_ != 0 && sent_ms_ != 0) {
    Metrics::ObserveResponseTime(tg, first_byte_ms_ - sent_ms_);
  }
  if (cause_ != Cause::kTargetResponse) CountLoadBalancerAnswer(tg_slot);
}

void DownstreamConnection::CountLoadBalancerAnswer(int tg_slot) {
  using observe::LbMetric;
  observe::WorkerMetrics& m = worker_->metrics();
  observe::WorkerMetrics::LbRow& lb = *lb_metrics_;
  if (cause_ == Cause::kTargetConnectFailed || cause_ == Cause::kTargetConnectTimeout) {
    m.Add(lb, LbMetric::kTargetConnectionErrorCount);
    m.Add(tg_slot, observe::TgMetric::kTargetConnectionErrorCount);
  }
  if (cause_ == Cause::kFixedResponse) m.Add(lb, LbMetric::kHttpFixedResponseCount);
  if (cause_ == Cause::kRedirect) m.Add(lb, LbMetric::kHttpRedirectCount);
  // Statuses the load balancer sent itself (460 is never sent: the client had gone).
  const int status = cause_ == Cause::kClientClosed ? 0 : elb_status_;
  switch (status / 100) {
    case 3:
      m.Add(lb, LbMetric::kHttpCodeElb3xx);
      break;
    case 4:
      m.Add(lb, LbMetric::kHttpCodeElb4xx);
      break;
    case 5:
      m.Add(lb, LbMetric::kHttpCodeElb5xx);
      if (status == 500) m.Add(lb, LbMetric::kHttpCodeElb500);
      if (status == 502) m.Add(lb, LbMetric::kHttpCodeElb502);
      if (status == 503) m.Add(lb, LbMetric::kHttpCodeElb503);
      if (status == 504) m.Add(lb, LbMetric::kHttpCodeElb504);
      break;
    default:
      break;
  }
}

void DownstreamConnection::RecordTraceId() {
  // The value sent to the target: the client's, or the one generated for it (trace_id).
  constexpr std::string_view kField = "\r\nX-Amzn-Trace-Id: ";
  const std::string_view head = upstream_out_;
  size_t at = head.rfind(kField);
  if (at == std::string_view::npos) return;
  at += kField.size();
  size_t end = head.find('\r', at);
  if (end == std::string_view::npos) return;
  record_text_.resize(request_line_len_ + user_agent_len_ + host_len_);
  record_text_.append(head.substr(at, end - at));
}

ExchangeRecord DownstreamConnection::BuildRecord() const {
  ExchangeRecord r;
  r.received_ms = head_started_ms_;
  r.received_unix_ms = head_started_ms_ + (worker_->loop().unix_ms() - worker_->now_ms());
  r.routed_ms = routed_ms_;
  r.sent_ms = sent_ms_;
  r.first_byte_ms = first_byte_ms_;
  r.done_ms = worker_->now_ms();
  r.received_bytes = received_bytes_;
  r.sent_bytes = sent_bytes_;
  r.rule_priority = rule_priority_;
  r.has_target = target_group_ >= 0 && routed_ms_ != 0;
  if (r.has_target) r.target = upstream_key_.address;
  r.target_group = target_group_;
  if (snapshot_ != nullptr && target_group_ >= 0 &&
      static_cast<size_t>(target_group_) < snapshot_->target_groups.size()) {
    r.target_group_arn = snapshot_->target_groups[static_cast<size_t>(target_group_)].arn;
  }
  r.elb_status = elb_status_;
  r.target_status = target_status_;
  r.cause = cause_;
  r.verdict = verdict_;
  r.retried = retried_;
  r.websocket = phase_ == Phase::kTunnel;
  r.http2 = h2_stream_;
  r.grpc = grpc_request_;
  const std::string_view text = record_text_;
  r.request_line = text.substr(0, request_line_len_);
  r.user_agent = text.substr(request_line_len_, user_agent_len_);
  r.host = text.substr(request_line_len_ + user_agent_len_, host_len_);
  const std::string_view tail = text.substr(request_line_len_ + user_agent_len_ + host_len_);
  (record_redirect_ ? r.redirect_url : r.trace_id) = tail;
  r.listener = listener_;
  r.client = peer_;
  r.conn_trace_id[0] = conn_trace_[0];
  r.conn_trace_id[1] = conn_trace_[1];
  r.request_transform_status = routing::TransformStatusName(routing::TransformStatus::kNone);
  if (transform_ != nullptr) {
    r.transformed_host = transform_->transformed_host;
    r.transformed_uri = transform_->transformed_uri;
    r.request_transform_status = routing::TransformStatusName(transform_->status);
  }
  if (handshake_ms_ >= 0) {
    r.tls_protocol = transport_->TlsVersion();
    r.tls_cipher = transport_->TlsCipher();
    r.tls_server_name = transport_->TlsServerName();
    r.tls_handshake_ms = handshake_ms_;
  }
  return r;
}

}  // namespace sluice::proxy
