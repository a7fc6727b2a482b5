// SameModel (declared in config/export.h): two models compared field by field, stopping at the
// first difference. Every field of model.h is compared here except Location fields, `path`
// strings, source_file, TargetGroupTuple::index, and the members of a Condition or an Action
// that do not belong to its field or type. A field added to the model must be added here and
// to ExportYaml (export_model_test.cc's list of changes checks both).
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "config/export.h"
#include "config/quote.h"

namespace sluice::config {
namespace {

std::string Show(const std::string& s) { return QuoteValue(s); }
std::string Show(bool b) { return b ? "true" : "false"; }
std::string Show(int v) { return std::to_string(v); }
std::string Show(int64_t v) { return std::to_string(v); }
std::string Show(const std::optional<std::string>& s) { return s ? QuoteValue(*s) : "(none)"; }
template <class E, class = std::enable_if_t<std::is_enum_v<E>>>
std::string Show(E e) {
  return "enum " + std::to_string(static_cast<int>(e));
}

class Diff {
 public:
  explicit Diff(std::string* out) : out_(out) {}

  template <class T>
  bool Eq(const std::string& at, std::string_view field, const T& a, const T& b) {
    if (a == b) return true;
    return Fail(at, field, Show(a) + " vs " + Show(b));
  }

  // Same size, then `same(diff, where, x, y)` for each pair of elements.
  template <class T, class Same>
  bool List(const std::string& at, std::string_view field, const std::vector<T>& a,
            const std::vector<T>& b, Same same) {
    if (a.size() != b.size()) {
      return Fail(at, field,
                  std::to_string(a.size()) + " vs " + std::to_string(b.size()) + " elements");
    }
    const std::string where = Join(at, field);
    for (size_t i = 0; i < a.size(); ++i) {
      if (!same(*this, where + "[" + std::to_string(i) + "]", a[i], b[i])) return false;
    }
    return true;
  }

  bool Strings(const std::string& at, std::string_view field, const std::vector<std::string>& a,
               const std::vector<std::string>& b) {
    return List(at, field, a, b,
                [](Diff& d, const std::string& w, const std::string& x, const std::string& y) {
                  return d.Eq(w, "", x, y);
                });
  }

 private:
  static std::string Join(const std::string& at, std::string_view field) {
    if (field.empty()) return at;
    return at.empty() ? std::string(field) : at + "." + std::string(field);
  }
  bool Fail(const std::string& at, std::string_view field, const std::string& what) {
    if (out_ != nullptr) *out_ = Join(at, field) + ": " + what;
    return false;
  }

  std::string* out_;
};

using S = const std::string&;

// ---- Rules ----------------------------------------------------------------------------------

bool SameQuery(Diff& d, S at, const QueryStringKeyValue& a, const QueryStringKeyValue& b) {
  return d.Eq(at, "key", a.key, b.key) && d.Eq(at, "value", a.value, b.value);
}

bool SameCondition(Diff& d, S at, const Condition& a, const Condition& b) {
  if (!d.Eq(at, "field", a.field, b.field)) return false;
  // Only the members that belong to the field (the others have no place in the YAML).
  switch (a.field) {
    case ConditionField::kHttpHeader:
      if (!d.Eq(at, "http_header_name", a.http_header_name, b.http_header_name)) return false;
      [[fallthrough]];
    case ConditionField::kHostHeader:
    case ConditionField::kPathPattern:
      return d.Strings(at, "values", a.values, b.values) &&
             d.Strings(at, "regex_values", a.regex_values, b.regex_values);
    case ConditionField::kHttpRequestMethod:
    case ConditionField::kSourceIp:
      return d.Strings(at, "values", a.values, b.values);
    case ConditionField::kQueryString:
      return d.List(at, "query_values", a.query_values, b.query_values, SameQuery);
  }
  return true;
}

bool SameTuple(Diff& d, S at, const TargetGroupTuple& a, const TargetGroupTuple& b) {
  // `index` is resolved when the config is compiled: not part of the configuration.
  return d.Eq(at, "target_group", a.target_group, b.target_group) &&
         d.Eq(at, "weight", a.weight, b.weight);
}

bool SameForward(Diff& d, S at, const ForwardConfig& a, const ForwardConfig& b) {
  return d.List(at, "target_groups", a.target_groups, b.target_groups, SameTuple) &&
         d.Eq(at, "stickiness_enabled", a.stickiness_enabled, b.stickiness_enabled) &&
         d.Eq(at, "stickiness_duration_seconds", a.stickiness_duration_seconds,
              b.stickiness_duration_seconds);
}

bool SameRedirect(Diff& d, S at, const RedirectConfig& a, const RedirectConfig& b) {
  return d.Eq(at, "protocol", a.protocol, b.protocol) && d.Eq(at, "port", a.port, b.port) &&
         d.Eq(at, "host", a.host, b.host) && d.Eq(at, "path", a.path, b.path) &&
         d.Eq(at, "query", a.query, b.query) &&
         d.Eq(at, "status_code", a.status_code, b.status_code);
}

bool SameFixed(Diff& d, S at, const FixedResponseConfig& a, const FixedResponseConfig& b) {
  return d.Eq(at, "status_code", a.status_code, b.status_code) &&
         d.Eq(at, "content_type", a.content_type, b.content_type) &&
         d.Eq(at, "message_body", a.message_body, b.message_body);
}

bool SameAction(Diff& d, S at, const Action& a, const Action& b) {
  if (!d.Eq(at, "type", a.type, b.type) || !d.Eq(at, "order", a.order, b.order)) return false;
  // Only the configuration of the action's type.
  switch (a.type) {
    case ActionType::kForward:
      return SameForward(d, at + ".forward", a.forward, b.forward);
    case ActionType::kRedirect:
      return SameRedirect(d, at + ".redirect", a.redirect, b.redirect);
    case ActionType::kFixedResponse:
      return SameFixed(d, at + ".fixed_response", a.fixed_response, b.fixed_response);
  }
  return true;
}

bool SameTransform(Diff& d, S at, const Transform& a, const Transform& b) {
  return d.Eq(at, "type", a.type, b.type) &&
         d.Eq(at, "rewrite.regex", a.rewrite.regex, b.rewrite.regex) &&
         d.Eq(at, "rewrite.replace", a.rewrite.replace, b.rewrite.replace);
}

bool SameTag(Diff& d, S at, const Tag& a, const Tag& b) {
  return d.Eq(at, "key", a.key, b.key) && d.Eq(at, "value", a.value, b.value);
}

bool SameRule(Diff& d, S at, const Rule& a, const Rule& b) {
  return d.Eq(at, "id", a.id, b.id) && d.List(at, "tags", a.tags, b.tags, SameTag) &&
         d.Eq(at, "priority", a.priority, b.priority) &&
         d.List(at, "conditions", a.conditions, b.conditions, SameCondition) &&
         d.List(at, "actions", a.actions, b.actions, SameAction) &&
         d.List(at, "transforms", a.transforms, b.transforms, SameTransform);
}

// ---- Listeners and load balancers ------------------------------------------------------------

bool SameLogs(Diff& d, S at, const LoadBalancerAttributes::LogSettings& a,
              const LoadBalancerAttributes::LogSettings& b) {
  return d.Eq(at, "enabled", a.enabled, b.enabled) && d.Eq(at, "bucket", a.bucket, b.bucket) &&
         d.Eq(at, "prefix", a.prefix, b.prefix) && d.Eq(at, "directory", a.directory, b.directory);
}

bool SameLbAttributes(Diff& d, S at, const LoadBalancerAttributes& a,
                      const LoadBalancerAttributes& b) {
  return d.Eq(at, "idle_timeout_seconds", a.idle_timeout_seconds, b.idle_timeout_seconds) &&
         d.Eq(at, "client_keep_alive_seconds", a.client_keep_alive_seconds,
              b.client_keep_alive_seconds) &&
         d.Eq(at, "desync_mitigation_mode", a.desync_mitigation_mode, b.desync_mitigation_mode) &&
         d.Eq(at, "drop_invalid_header_fields", a.drop_invalid_header_fields,
              b.drop_invalid_header_fields) &&
         d.Eq(at, "preserve_host_header", a.preserve_host_header, b.preserve_host_header) &&
         d.Eq(at, "xff_client_port", a.xff_client_port, b.xff_client_port) &&
         d.Eq(at, "xff_header_processing_mode", a.xff_header_processing_mode,
              b.xff_header_processing_mode) &&
         d.Eq(at, "deletion_protection", a.deletion_protection, b.deletion_protection) &&
         d.Eq(at, "http2_enabled", a.http2_enabled, b.http2_enabled) &&
         d.Eq(at, "http2_cleartext", a.http2_cleartext, b.http2_cleartext) &&
         d.Eq(at, "http2_websocket", a.http2_websocket, b.http2_websocket) &&
         d.Eq(at, "tls_version_and_cipher_headers", a.tls_version_and_cipher_headers,
              b.tls_version_and_cipher_headers) &&
         SameLogs(d, at + ".access_logs", a.access_logs, b.access_logs) &&
         SameLogs(d, at + ".connection_logs", a.connection_logs, b.connection_logs) &&
         SameLogs(d, at + ".health_check_logs", a.health_check_logs, b.health_check_logs);
}

bool SameListenerCertificate(Diff& d, S at, const ListenerCertificate& a,
                             const ListenerCertificate& b) {
  return d.Eq(at, "name", a.name, b.name);
}

bool SameMutual(Diff& d, S at, const MutualAuthentication& a, const MutualAuthentication& b) {
  return d.Eq(at, "mode", a.mode, b.mode) &&
         d.Eq(at, "trust_store", a.trust_store, b.trust_store) &&
         d.Eq(at, "ignore_client_certificate_expiry", a.ignore_client_certificate_expiry,
              b.ignore_client_certificate_expiry) &&
         d.Eq(at, "advertise_trust_store_ca_names", a.advertise_trust_store_ca_names,
              b.advertise_trust_store_ca_names);
}

bool SameListenerAttributes(Diff& d, S at, const ListenerAttributes& a,
                            const ListenerAttributes& b) {
  return d.Eq(at, "tcp_idle_timeout_seconds", a.tcp_idle_timeout_seconds,
              b.tcp_idle_timeout_seconds) &&
         d.Eq(at, "max_connections", a.max_connections, b.max_connections) &&
         d.Eq(at, "mtls_clientcert", a.mtls_clientcert, b.mtls_clientcert) &&
         d.Eq(at, "mtls_serial_number", a.mtls_serial_number, b.mtls_serial_number) &&
         d.Eq(at, "mtls_issuer", a.mtls_issuer, b.mtls_issuer) &&
         d.Eq(at, "mtls_subject", a.mtls_subject, b.mtls_subject) &&
         d.Eq(at, "mtls_validity", a.mtls_validity, b.mtls_validity) &&
         d.Eq(at, "mtls_leaf", a.mtls_leaf, b.mtls_leaf) &&
         d.Eq(at, "tls_version", a.tls_version, b.tls_version) &&
         d.Eq(at, "tls_cipher_suite", a.tls_cipher_suite, b.tls_cipher_suite);
}

bool SameListener(Diff& d, S at, const Listener& a, const Listener& b) {
  return d.Eq(at, "id", a.id, b.id) && d.List(at, "tags", a.tags, b.tags, SameTag) &&
         d.Eq(at, "protocol", a.protocol, b.protocol) &&
         d.Eq(at, "bind_address", a.bind_address, b.bind_address) &&
         d.Eq(at, "port", a.port, b.port) && d.Eq(at, "ssl_policy", a.ssl_policy, b.ssl_policy) &&
         d.List(at, "certificates", a.certificates, b.certificates, SameListenerCertificate) &&
         SameMutual(d, at + ".mutual_authentication", a.mutual_authentication,
                    b.mutual_authentication) &&
         d.Eq(at, "alpn_policy", a.alpn_policy, b.alpn_policy) &&
         SameListenerAttributes(d, at + ".attributes", a.attributes, b.attributes) &&
         d.List(at, "default_actions", a.default_actions, b.default_actions, SameAction) &&
         d.List(at, "rules", a.rules, b.rules, SameRule);
}

bool SameLoadBalancer(Diff& d, S at, const LoadBalancer& a, const LoadBalancer& b) {
  return d.Eq(at, "name", a.name, b.name) && d.Eq(at, "type", a.type, b.type) &&
         d.Eq(at, "bind_address", a.bind_address, b.bind_address) &&
         d.List(at, "tags", a.tags, b.tags, SameTag) &&
         SameLbAttributes(d, at + ".attributes", a.attributes, b.attributes) &&
         d.List(at, "listeners", a.listeners, b.listeners, SameListener);
}

// ---- Target groups, stores, settings ----------------------------------------------------------

bool SameHealthCheck(Diff& d, S at, const HealthCheck& a, const HealthCheck& b) {
  return d.Eq(at, "enabled", a.enabled, b.enabled) &&
         d.Eq(at, "protocol", a.protocol, b.protocol) && d.Eq(at, "port", a.port, b.port) &&
         d.Eq(at, "path", a.path, b.path) &&
         d.Eq(at, "interval_seconds", a.interval_seconds, b.interval_seconds) &&
         d.Eq(at, "timeout_seconds", a.timeout_seconds, b.timeout_seconds) &&
         d.Eq(at, "healthy_threshold", a.healthy_threshold, b.healthy_threshold) &&
         d.Eq(at, "unhealthy_threshold", a.unhealthy_threshold, b.unhealthy_threshold) &&
         d.Eq(at, "matcher", a.matcher, b.matcher) &&
         d.Eq(at, "grpc_matcher", a.grpc_matcher, b.grpc_matcher);
}

bool SameTgAttributes(Diff& d, S at, const TargetGroupAttributes& a,
                      const TargetGroupAttributes& b) {
  return d.Eq(at, "deregistration_delay_seconds", a.deregistration_delay_seconds,
              b.deregistration_delay_seconds) &&
         d.Eq(at, "algorithm", a.algorithm, b.algorithm) &&
         d.Eq(at, "anomaly_mitigation", a.anomaly_mitigation, b.anomaly_mitigation) &&
         d.Eq(at, "slow_start_seconds", a.slow_start_seconds, b.slow_start_seconds) &&
         d.Eq(at, "proxy_protocol_v2", a.proxy_protocol_v2, b.proxy_protocol_v2) &&
         d.Eq(at, "deregistration_termination", a.deregistration_termination,
              b.deregistration_termination) &&
         d.Eq(at, "unhealthy_termination", a.unhealthy_termination, b.unhealthy_termination) &&
         d.Eq(at, "preserve_client_ip", a.preserve_client_ip, b.preserve_client_ip) &&
         d.Eq(at, "unhealthy_draining_interval_seconds", a.unhealthy_draining_interval_seconds,
              b.unhealthy_draining_interval_seconds) &&
         d.Eq(at, "stickiness_enabled", a.stickiness_enabled, b.stickiness_enabled) &&
         d.Eq(at, "stickiness_type", a.stickiness_type, b.stickiness_type) &&
         d.Eq(at, "stickiness_lb_cookie_duration_seconds", a.stickiness_lb_cookie_duration_seconds,
              b.stickiness_lb_cookie_duration_seconds) &&
         d.Eq(at, "stickiness_app_cookie_name", a.stickiness_app_cookie_name,
              b.stickiness_app_cookie_name) &&
         d.Eq(at, "stickiness_app_cookie_duration_seconds",
              a.stickiness_app_cookie_duration_seconds, b.stickiness_app_cookie_duration_seconds) &&
         d.Eq(at, "tls_server_name", a.tls_server_name, b.tls_server_name) &&
         d.Eq(at, "tls_verify", a.tls_verify, b.tls_verify) &&
         d.Eq(at, "tls_verify_ca_file", a.tls_verify_ca_file, b.tls_verify_ca_file);
}

bool SameTarget(Diff& d, S at, const Target& a, const Target& b) {
  return d.Eq(at, "id", a.id, b.id) && d.Eq(at, "port", a.port, b.port);
}

bool SameTargetGroup(Diff& d, S at, const TargetGroup& a, const TargetGroup& b) {
  return d.Eq(at, "name", a.name, b.name) && d.List(at, "tags", a.tags, b.tags, SameTag) &&
         d.Eq(at, "protocol", a.protocol, b.protocol) &&
         d.Eq(at, "protocol_version", a.protocol_version, b.protocol_version) &&
         d.Eq(at, "port", a.port, b.port) &&
         d.Eq(at, "target_type", a.target_type, b.target_type) &&
         SameHealthCheck(d, at + ".health_check", a.health_check, b.health_check) &&
         SameTgAttributes(d, at + ".attributes", a.attributes, b.attributes) &&
         d.List(at, "targets", a.targets, b.targets, SameTarget);
}

bool SameCertificate(Diff& d, S at, const CertificateDefinition& a,
                     const CertificateDefinition& b) {
  return d.Eq(at, "name", a.name, b.name) &&
         d.Eq(at, "certificate_file", a.certificate_file, b.certificate_file) &&
         d.Eq(at, "private_key_file", a.private_key_file, b.private_key_file);
}

bool SameRevocation(Diff& d, S at, const TrustStoreRevocation& a, const TrustStoreRevocation& b) {
  return d.Eq(at, "id", a.id, b.id) && d.Eq(at, "crl_pem", a.crl_pem, b.crl_pem);
}

bool SameTrustStore(Diff& d, S at, const TrustStoreDefinition& a, const TrustStoreDefinition& b) {
  return d.Eq(at, "name", a.name, b.name) &&
         d.Eq(at, "ca_bundle_file", a.ca_bundle_file, b.ca_bundle_file) &&
         d.Eq(at, "ca_bundle_pem", a.ca_bundle_pem, b.ca_bundle_pem) &&
         d.Strings(at, "revocation_files", a.revocation_files, b.revocation_files) &&
         d.List(at, "revocations", a.revocations, b.revocations, SameRevocation) &&
         d.Eq(at, "next_revocation_id", a.next_revocation_id, b.next_revocation_id) &&
         d.List(at, "tags", a.tags, b.tags, SameTag);
}

bool SameDimension(Diff& d, S at, const AlarmDimension& a, const AlarmDimension& b) {
  return d.Eq(at, "name", a.name, b.name) && d.Eq(at, "value", a.value, b.value);
}

bool SameAlarm(Diff& d, S at, const AlarmDefinition& a, const AlarmDefinition& b) {
  return d.Eq(at, "name", a.name, b.name) &&
         d.Eq(at, "description", a.description, b.description) &&
         d.Eq(at, "metric_namespace", a.metric_namespace, b.metric_namespace) &&
         d.Eq(at, "metric", a.metric, b.metric) &&
         d.List(at, "dimensions", a.dimensions, b.dimensions, SameDimension) &&
         d.Eq(at, "statistic", a.statistic, b.statistic) &&
         d.Eq(at, "extended_statistic", a.extended_statistic, b.extended_statistic) &&
         d.Eq(at, "period", a.period, b.period) &&
         d.Eq(at, "evaluation_periods", a.evaluation_periods, b.evaluation_periods) &&
         d.Eq(at, "datapoints_to_alarm", a.datapoints_to_alarm, b.datapoints_to_alarm) &&
         d.Eq(at, "threshold", a.threshold, b.threshold) &&
         d.Eq(at, "comparison", a.comparison, b.comparison) &&
         d.Eq(at, "treat_missing_data", a.treat_missing_data, b.treat_missing_data) &&
         d.Eq(at, "actions_enabled", a.actions_enabled, b.actions_enabled) &&
         d.Strings(at, "alarm_actions", a.alarm_actions, b.alarm_actions) &&
         d.Strings(at, "ok_actions", a.ok_actions, b.ok_actions) &&
         d.Strings(at, "insufficient_data_actions", a.insufficient_data_actions,
                   b.insufficient_data_actions);
}

}  // namespace

bool SameAlarmDefinition(const AlarmDefinition& a, const AlarmDefinition& b) {
  Diff d(nullptr);
  return SameAlarm(d, "", a, b);
}

bool SameModel(const Config& a, const Config& b, std::string* first_difference) {
  Diff d(first_difference);
  const std::string top;
  return d.Eq(top, "account.id", a.account.id, b.account.id) &&
         d.Eq(top, "account.region", a.account.region, b.account.region) &&
         d.Eq(top, "admin.address", a.admin.address, b.admin.address) &&
         d.Eq(top, "admin.port", a.admin.port, b.admin.port) &&
         d.Eq(top, "admin.metrics_resolution_seconds", a.admin.metrics_resolution_seconds,
              b.admin.metrics_resolution_seconds) &&
         d.Eq(top, "admin.token_file", a.admin.token_file, b.admin.token_file) &&
         d.Eq(top, "api.address", a.api.address, b.api.address) &&
         d.Eq(top, "api.port", a.api.port, b.api.port) &&
         d.Eq(top, "api.certificate", a.api.certificate, b.api.certificate) &&
         d.Eq(top, "s3.endpoint", a.s3.endpoint, b.s3.endpoint) &&
         d.Eq(top, "s3.region", a.s3.region, b.s3.region) &&
         d.Eq(top, "s3.credentials_file", a.s3.credentials_file, b.s3.credentials_file) &&
         d.Eq(top, "s3.profile", a.s3.profile, b.s3.profile) &&
         d.Eq(top, "s3.keep_local_files", a.s3.keep_local_files, b.s3.keep_local_files) &&
         d.List(top, "certificates", a.certificates, b.certificates, SameCertificate) &&
         d.List(top, "trust_stores", a.trust_stores, b.trust_stores, SameTrustStore) &&
         d.List(top, "load_balancers", a.load_balancers, b.load_balancers, SameLoadBalancer) &&
         d.List(top, "target_groups", a.target_groups, b.target_groups, SameTargetGroup) &&
         d.List(top, "alarms", a.alarms, b.alarms, SameAlarm);
}

}  // namespace sluice::config
