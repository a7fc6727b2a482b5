// ExportYaml: the model as the YAML the loader reads (parse_*.cc are the other half of each
// function here). Hand-written rather than YAML::Emitter so that the quoting is exactly ours:
// yaml-cpp's emitter turns bytes that are not valid UTF-8 into U+FFFD.
#include "config/export.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/condition_fields.h"
#include "config/parse.h"
#include "config/yaml_out.h"

namespace sluice::config {
namespace {

using yaml_out::AppendQuoted;
using yaml_out::BoolText;
using yaml_out::FlowStrings;
using yaml_out::Out;
using yaml_out::Quoted;

// "Tags:" with one {Key, Value} item per tag; nothing when there are none.
void WriteTags(Out& o, int indent, const std::vector<Tag>& tags) {
  if (tags.empty()) return;
  o.Open(indent, "Tags");
  for (const Tag& t : tags) {
    o.Item();
    o.Str(indent + 4, "Key", t.key);
    o.Str(indent + 4, "Value", t.value);
  }
}

// ---- Rules ----------------------------------------------------------------------------------

const char* ConditionConfigKey(ConditionField f) {
  switch (f) {
    case ConditionField::kHostHeader:
      return "HostHeaderConfig";
    case ConditionField::kPathPattern:
      return "PathPatternConfig";
    case ConditionField::kHttpHeader:
      return "HttpHeaderConfig";
    case ConditionField::kHttpRequestMethod:
      return "HttpRequestMethodConfig";
    case ConditionField::kQueryString:
      return "QueryStringConfig";
    case ConditionField::kSourceIp:
      return "SourceIpConfig";
  }
  return "?";
}

// [{Key: "k", Value: "v"}, {Value: "w"}]
std::string FlowQueryValues(const std::vector<QueryStringKeyValue>& pairs) {
  std::string out = "[";
  for (size_t i = 0; i < pairs.size(); ++i) {
    out += i > 0 ? ", {" : "{";
    if (pairs[i].key) {
      out += "Key: ";
      AppendQuoted(&out, *pairs[i].key);
      out += ", ";
    }
    out += "Value: ";
    AppendQuoted(&out, pairs[i].value);
    out += "}";
  }
  return out + "]";
}

void WriteCondition(Out& o, int indent, const Condition& c) {
  o.Item();
  o.Str(indent, "Field", InfoOf(c.field).name);
  o.Open(indent, ConditionConfigKey(c.field));
  const int in = indent + 2;
  switch (c.field) {
    case ConditionField::kHttpHeader:
      o.Str(in, "HttpHeaderName", c.http_header_name);
      [[fallthrough]];
    case ConditionField::kHostHeader:
    case ConditionField::kPathPattern:
      // At least one of the two is required; an empty Values says so when both are empty.
      if (!c.values.empty() || c.regex_values.empty()) o.Raw(in, "Values", FlowStrings(c.values));
      if (!c.regex_values.empty()) o.Raw(in, "RegexValues", FlowStrings(c.regex_values));
      break;
    case ConditionField::kHttpRequestMethod:
    case ConditionField::kSourceIp:
      o.Raw(in, "Values", FlowStrings(c.values));
      break;
    case ConditionField::kQueryString:
      o.Raw(in, "Values", FlowQueryValues(c.query_values));
      break;
  }
}

void WriteForward(Out& o, int indent, const ForwardConfig& f) {
  o.Open(indent, "ForwardConfig");
  const int in = indent + 2;
  o.OpenList(in, "TargetGroups", f.target_groups.empty());
  for (const TargetGroupTuple& t : f.target_groups) {
    o.ItemRaw(in + 4, "{TargetGroupName: " + Quoted(t.target_group) +
                          ", Weight: " + std::to_string(t.weight) + "}");
  }
  std::string stickiness = "{Enabled: ";
  stickiness += BoolText(f.stickiness_enabled);
  // DurationSeconds is 1..604800 when given: 0 stands for "not given".
  if (f.stickiness_enabled || f.stickiness_duration_seconds != 0) {
    stickiness += ", DurationSeconds: " + std::to_string(f.stickiness_duration_seconds);
  }
  o.Raw(in, "TargetGroupStickinessConfig", stickiness + "}");
}

void WriteRedirect(Out& o, int indent, const RedirectConfig& r) {
  o.Open(indent, "RedirectConfig");
  const int in = indent + 2;
  o.Str(in, "Protocol", r.protocol);
  o.Str(in, "Port", r.port);
  o.Str(in, "Host", r.host);
  o.Str(in, "Path", r.path);
  o.Str(in, "Query", r.query);
  o.Str(in, "StatusCode", "HTTP_" + std::to_string(r.status_code));
}

void WriteFixedResponse(Out& o, int indent, const FixedResponseConfig& f) {
  o.Open(indent, "FixedResponseConfig");
  const int in = indent + 2;
  o.Str(in, "StatusCode", std::to_string(f.status_code));
  if (!f.content_type.empty()) o.Str(in, "ContentType", f.content_type);
  if (!f.message_body.empty()) o.Str(in, "MessageBody", f.message_body);
}

void WriteActions(Out& o, int indent, std::string_view key, const std::vector<Action>& actions) {
  o.OpenList(indent, key, actions.empty());
  const int in = indent + 4;
  for (const Action& a : actions) {
    o.Item();
    switch (a.type) {
      case ActionType::kForward:
        o.Str(in, "Type", "forward");
        if (a.order != 0) o.Int(in, "Order", a.order);
        WriteForward(o, in, a.forward);
        break;
      case ActionType::kRedirect:
        o.Str(in, "Type", "redirect");
        if (a.order != 0) o.Int(in, "Order", a.order);
        WriteRedirect(o, in, a.redirect);
        break;
      case ActionType::kFixedResponse:
        o.Str(in, "Type", "fixed-response");
        if (a.order != 0) o.Int(in, "Order", a.order);
        WriteFixedResponse(o, in, a.fixed_response);
        break;
    }
  }
}

void WriteTransforms(Out& o, int indent, const std::vector<Transform>& transforms) {
  if (transforms.empty()) return;
  o.Open(indent, "Transforms");
  const int in = indent + 4;
  for (const Transform& t : transforms) {
    const bool host = t.type == TransformType::kHostHeaderRewrite;
    o.Item();
    o.Str(in, "Type", host ? "host-header-rewrite" : "url-rewrite");
    o.Open(in, host ? "HostHeaderRewriteConfig" : "UrlRewriteConfig");
    o.Open(in + 2, "Rewrites");
    o.ItemRaw(in + 6, "{Regex: " + Quoted(t.rewrite.regex) +
                          ", Replace: " + Quoted(t.rewrite.replace) + "}");
  }
}

void WriteRules(Out& o, int indent, const std::vector<Rule>& rules) {
  if (rules.empty()) return;
  o.Open(indent, "Rules");
  const int in = indent + 4;
  for (const Rule& r : rules) {
    o.Item();
    if (!r.id.empty()) o.Str(in, "Id", r.id);
    o.Int(in, "Priority", r.priority);
    WriteTags(o, in, r.tags);
    o.OpenList(in, "Conditions", r.conditions.empty());
    for (const Condition& c : r.conditions) WriteCondition(o, in + 4, c);
    WriteActions(o, in, "Actions", r.actions);
    WriteTransforms(o, in, r.transforms);
  }
}

// ---- Listeners and load balancers ------------------------------------------------------------

// HTTPS and TLS listeners always get the block; others only when it is not the default (which the
// loader then refuses, as it should).
void WriteMutualAuthentication(Out& o, int indent, const Listener& l) {
  const MutualAuthentication& m = l.mutual_authentication;
  const bool verify = m.mode == MutualTlsMode::kVerify;
  const bool options = !m.trust_store.empty() || m.ignore_client_certificate_expiry ||
                       m.advertise_trust_store_ca_names;
  if (l.protocol != "HTTPS" && l.protocol != "TLS" && m.mode == MutualTlsMode::kOff && !options) {
    return;
  }
  o.Open(indent, "MutualAuthentication");
  const int in = indent + 2;
  o.Str(in, "Mode", ToString(m.mode));
  if (!verify && !options) return;
  o.Str(in, "TrustStoreArn", m.trust_store);
  o.Bool(in, "IgnoreClientCertificateExpiry", m.ignore_client_certificate_expiry);
  o.Str(in, "AdvertiseTrustStoreCaNames", m.advertise_trust_store_ca_names ? "on" : "off");
}

void WriteListenerAttributes(Out& o, int indent, const std::string& protocol,
                             const ListenerAttributes& a) {
  o.Open(indent, "Attributes");
  const int in = indent + 2;
  if (a.max_connections != 0) o.Int(in, "sluice.max_connections", a.max_connections);
  if (protocol == "TLS") return;  // nothing of AWS's (its idle timeout is fixed, §8.5)
  if (protocol == "TCP" || protocol == "TCP_UDP") {
    o.Int(in, "tcp.idle_timeout.seconds", a.tcp_idle_timeout_seconds);
    return;
  }
  const std::pair<const char*, const std::string*> keys[] = {
      {"x_amzn_mtls_clientcert", &a.mtls_clientcert},
      {"x_amzn_mtls_clientcert_serial_number", &a.mtls_serial_number},
      {"x_amzn_mtls_clientcert_issuer", &a.mtls_issuer},
      {"x_amzn_mtls_clientcert_subject", &a.mtls_subject},
      {"x_amzn_mtls_clientcert_validity", &a.mtls_validity},
      {"x_amzn_mtls_clientcert_leaf", &a.mtls_leaf},
      {"x_amzn_tls_version", &a.tls_version},
      {"x_amzn_tls_cipher_suite", &a.tls_cipher_suite},
  };
  for (const auto& [name, value] : keys) {
    o.Str(in, "routing.http.request." + std::string(name) + ".header_name", *value);
  }
}

void WriteListener(Out& o, int indent, const Listener& l) {
  o.Item();
  if (!l.id.empty()) o.Str(indent, "Id", l.id);
  o.Str(indent, "Protocol", l.protocol);
  WriteTags(o, indent, l.tags);
  o.Int(indent, "Port", l.port);
  o.Str(indent, "BindAddress", l.bind_address);
  const bool https = l.protocol == "HTTPS" || l.protocol == "TLS";
  if (https || !l.ssl_policy.empty()) o.Str(indent, "SslPolicy", l.ssl_policy);
  if (https || !l.certificates.empty()) {
    std::vector<std::string> names;
    names.reserve(l.certificates.size());
    for (const ListenerCertificate& c : l.certificates) names.push_back(c.name);
    o.Raw(indent, "Certificates", FlowStrings(names));
  }
  WriteMutualAuthentication(o, indent, l);
  if (!l.alpn_policy.empty()) o.Str(indent, "AlpnPolicy", l.alpn_policy);
  // UDP listeners have no attribute, TLS ones only Sluice's connection cap (their idle
  // timeouts are fixed, reference §8.5).
  if (l.protocol != "UDP" && (l.protocol != "TLS" || l.attributes.max_connections != 0)) {
    WriteListenerAttributes(o, indent, l.protocol, l.attributes);
  }
  WriteActions(o, indent, "DefaultActions", l.default_actions);
  WriteRules(o, indent, l.rules);
}

const char* DesyncName(DesyncMitigationMode m) {
  switch (m) {
    case DesyncMitigationMode::kMonitor:
      return "monitor";
    case DesyncMitigationMode::kDefensive:
      return "defensive";
    case DesyncMitigationMode::kStrictest:
      return "strictest";
  }
  return "?";
}

const char* XffName(XffProcessingMode m) {
  switch (m) {
    case XffProcessingMode::kAppend:
      return "append";
    case XffProcessingMode::kPreserve:
      return "preserve";
    case XffProcessingMode::kRemove:
      return "remove";
  }
  return "?";
}

void WriteLogSettings(Out& o, int indent, const std::string& kind,
                      const LoadBalancerAttributes::LogSettings& s) {
  o.Bool(indent, kind + ".s3.enabled", s.enabled);
  o.Str(indent, kind + ".s3.bucket", s.bucket);
  o.Str(indent, kind + ".s3.prefix", s.prefix);
  // The loader refuses an empty path; empty is its default.
  if (!s.directory.empty()) o.Str(indent, "sluice." + kind + ".directory", s.directory);
}

// A network load balancer's are deletion protection and the access log (the loader refuses
// the others there).
void WriteLoadBalancerAttributes(Out& o, int indent, const std::string& type,
                                 const LoadBalancerAttributes& a) {
  o.Open(indent, "Attributes");
  const int in = indent + 2;
  if (type == "network") {
    o.Bool(in, "deletion_protection.enabled", a.deletion_protection);
    WriteLogSettings(o, in, "access_logs", a.access_logs);
    return;
  }
  o.Int(in, "idle_timeout.timeout_seconds", a.idle_timeout_seconds);
  o.Int(in, "client_keep_alive.seconds", a.client_keep_alive_seconds);
  o.Str(in, "routing.http.desync_mitigation_mode", DesyncName(a.desync_mitigation_mode));
  o.Bool(in, "routing.http.drop_invalid_header_fields.enabled", a.drop_invalid_header_fields);
  o.Bool(in, "routing.http.preserve_host_header.enabled", a.preserve_host_header);
  o.Bool(in, "routing.http.xff_client_port.enabled", a.xff_client_port);
  o.Str(in, "routing.http.xff_header_processing.mode", XffName(a.xff_header_processing_mode));
  o.Bool(in, "deletion_protection.enabled", a.deletion_protection);
  o.Bool(in, "routing.http2.enabled", a.http2_enabled);
  if (a.http2_cleartext) o.Bool(in, "sluice.routing.http2.cleartext.enabled", true);
  if (a.http2_websocket) o.Bool(in, "sluice.routing.http2.websocket.enabled", true);
  o.Bool(in, "routing.http.x_amzn_tls_version_and_cipher_suite.enabled",
         a.tls_version_and_cipher_headers);
  WriteLogSettings(o, in, "access_logs", a.access_logs);
  WriteLogSettings(o, in, "connection_logs", a.connection_logs);
  WriteLogSettings(o, in, "health_check_logs", a.health_check_logs);
}

void WriteLoadBalancers(Out& o, const std::vector<LoadBalancer>& lbs) {
  o.OpenList(0, "LoadBalancers", lbs.empty());
  for (const LoadBalancer& lb : lbs) {
    o.Item();
    o.Str(4, "Name", lb.name);
    if (lb.type != "application") o.Str(4, "Type", lb.type);
    if (!lb.bind_address.empty()) o.Str(4, "BindAddress", lb.bind_address);
    WriteTags(o, 4, lb.tags);
    WriteLoadBalancerAttributes(o, 4, lb.type, lb.attributes);
    o.OpenList(4, "Listeners", lb.listeners.empty());
    for (const Listener& l : lb.listeners) WriteListener(o, 8, l);
  }
}

// ---- Target groups ----------------------------------------------------------------------------

// `grpc`: the group's ProtocolVersion is GRPC, whose matcher is GrpcCode (HttpCode is refused
// there, and GrpcCode elsewhere). `network`: a network group's, whose default HttpCode is
// 200-399 (reference §8.7).
void WriteHealthCheck(Out& o, int indent, const HealthCheck& h, bool grpc, bool network) {
  const bool tcp = h.protocol == "TCP";
  HealthCheck defaults;
  if (network) defaults.matcher = kNetworkHealthCheckMatcher;
  o.Bool(indent, "HealthCheckEnabled", h.enabled);
  o.Str(indent, "HealthCheckProtocol", h.protocol);
  o.Str(indent, "HealthCheckPort", h.port);
  // TCP checks take no path or matcher (the loader refuses them); the model keeps defaults.
  if (!tcp || h.path != defaults.path) o.Str(indent, "HealthCheckPath", h.path);
  o.Int(indent, "HealthCheckIntervalSeconds", h.interval_seconds);
  o.Int(indent, "HealthCheckTimeoutSeconds", h.timeout_seconds);
  o.Int(indent, "HealthyThresholdCount", h.healthy_threshold);
  o.Int(indent, "UnhealthyThresholdCount", h.unhealthy_threshold);
  if (grpc) {
    if (!tcp || h.grpc_matcher != defaults.grpc_matcher)
      o.Raw(indent, "Matcher", "{GrpcCode: " + Quoted(h.grpc_matcher) + "}");
  } else if (!tcp || h.matcher != defaults.matcher) {
    o.Raw(indent, "Matcher", "{HttpCode: " + Quoted(h.matcher) + "}");
  }
}

const char* AlgorithmName(LoadBalancingAlgorithm a) {
  switch (a) {
    case LoadBalancingAlgorithm::kRoundRobin:
      return "round_robin";
    case LoadBalancingAlgorithm::kLeastOutstandingRequests:
      return "least_outstanding_requests";
    case LoadBalancingAlgorithm::kWeightedRandom:
      return "weighted_random";
  }
  return "?";
}

void WriteTargetGroupAttributes(Out& o, int indent, const TargetGroup& g) {
  const TargetGroupAttributes& a = g.attributes;
  o.Open(indent, "Attributes");
  const int in = indent + 2;
  o.Int(in, "deregistration_delay.timeout_seconds", a.deregistration_delay_seconds);
  o.Bool(in, "stickiness.enabled", a.stickiness_enabled);
  o.Str(in, "stickiness.type", a.stickiness_type);
  o.Int(in, "stickiness.lb_cookie.duration_seconds", a.stickiness_lb_cookie_duration_seconds);
  o.Str(in, "stickiness.app_cookie.cookie_name", a.stickiness_app_cookie_name);
  o.Int(in, "stickiness.app_cookie.duration_seconds", a.stickiness_app_cookie_duration_seconds);
  o.Str(in, "load_balancing.algorithm.type", AlgorithmName(a.algorithm));
  o.Str(in, "load_balancing.algorithm.anomaly_mitigation", a.anomaly_mitigation ? "on" : "off");
  o.Int(in, "slow_start.duration_seconds", a.slow_start_seconds);
  if (a.proxy_protocol_v2) o.Bool(in, "proxy_protocol_v2.enabled", true);  // TCP groups only
  // Network groups only (the loader refuses them elsewhere), whose defaults differ by
  // protocol: written for every network group.
  if (internal::IsNetworkProtocol(g.protocol)) {
    o.Bool(in, "deregistration_delay.connection_termination.enabled", a.deregistration_termination);
    o.Bool(in, "preserve_client_ip.enabled", a.preserve_client_ip);
  }
  if (!a.unhealthy_termination) {
    o.Bool(in, "target_health_state.unhealthy.connection_termination.enabled", false);
  }
  if (a.unhealthy_draining_interval_seconds != 0) {
    o.Int(in, "target_health_state.unhealthy.draining_interval_seconds",
          a.unhealthy_draining_interval_seconds);
  }
  o.Str(in, "sluice.tls.server_name", a.tls_server_name);
  o.Bool(in, "sluice.tls.verify.enabled", a.tls_verify);
  // The loader refuses an empty path; empty (the system store) is its default.
  if (!a.tls_verify_ca_file.empty()) o.Str(in, "sluice.tls.verify.ca_file", a.tls_verify_ca_file);
}

void WriteTargets(Out& o, int indent, const TargetGroup& g) {
  o.OpenList(indent, "Targets", g.targets.empty());
  std::string item;
  for (const Target& t : g.targets) {
    item = "{Id: ";
    AppendQuoted(&item, t.id);
    // A target's Port defaults to the group's (and an explicit one costs the loader two of
    // its 600,000 YAML nodes per target).
    if (t.port != g.port) item += ", Port: " + std::to_string(t.port);
    item += "}";
    o.ItemRaw(indent + 4, item);
  }
}

void WriteTargetGroups(Out& o, const std::vector<TargetGroup>& groups) {
  o.OpenList(0, "TargetGroups", groups.empty());
  for (const TargetGroup& g : groups) {
    o.Item();
    o.Str(4, "Name", g.name);
    WriteTags(o, 4, g.tags);
    o.Str(4, "Protocol", g.protocol);
    if (g.protocol == "HTTP" || g.protocol == "HTTPS") {
      o.Str(4, "ProtocolVersion", g.protocol_version);
    }
    o.Int(4, "Port", g.port);
    o.Str(4, "TargetType", g.target_type);
    WriteHealthCheck(o, 4, g.health_check, g.protocol_version == "GRPC",
                     internal::IsNetworkProtocol(g.protocol));
    WriteTargetGroupAttributes(o, 4, g);
    WriteTargets(o, 4, g);
  }
}

// ---- The stores and the process settings -------------------------------------------------------

void WriteCertificates(Out& o, const std::vector<CertificateDefinition>& certificates) {
  o.OpenList(0, "Certificates", certificates.empty());
  for (const CertificateDefinition& c : certificates) {
    o.Item();
    o.Str(4, "Name", c.name);
    o.Str(4, "CertificateFile", c.certificate_file);
    o.Str(4, "PrivateKeyFile", c.private_key_file);
  }
}

void WriteTrustStores(Out& o, const std::vector<TrustStoreDefinition>& stores) {
  o.OpenList(0, "TrustStores", stores.empty());
  for (const TrustStoreDefinition& s : stores) {
    o.Item();
    o.Str(4, "Name", s.name);
    if (s.ca_bundle_pem.empty()) {
      o.Str(4, "CaCertificatesBundleFile", s.ca_bundle_file);
    } else {
      o.Str(4, "CaCertificatesBundle", s.ca_bundle_pem);
    }
    if (!s.revocation_files.empty()) o.Raw(4, "RevocationFiles", FlowStrings(s.revocation_files));
    if (s.next_revocation_id > 0) o.Int(4, "NextRevocationId", s.next_revocation_id);
    if (!s.revocations.empty()) {
      o.OpenList(4, "Revocations", false);
      for (const TrustStoreRevocation& rev : s.revocations) {
        o.Item();
        o.Int(8, "RevocationId", rev.id);
        o.Str(8, "Crl", rev.crl_pem);
      }
    }
    WriteTags(o, 4, s.tags);
  }
}

void WriteAlarms(Out& o, const std::vector<AlarmDefinition>& alarms) {
  if (alarms.empty()) return;
  o.Open(0, "Alarms");
  for (const AlarmDefinition& a : alarms) {
    o.Item();
    o.Str(4, "AlarmName", a.name);
    if (!a.description.empty()) o.Str(4, "AlarmDescription", a.description);
    o.Str(4, "Namespace", a.metric_namespace);
    o.Str(4, "MetricName", a.metric);
    if (!a.dimensions.empty()) {
      o.Open(4, "Dimensions");
      for (const AlarmDimension& d : a.dimensions) {
        o.Item();
        o.Str(8, "Name", d.name);
        o.Str(8, "Value", d.value);
      }
    }
    if (!a.statistic.empty()) o.Str(4, "Statistic", a.statistic);
    if (!a.extended_statistic.empty()) o.Str(4, "ExtendedStatistic", a.extended_statistic);
    o.Int(4, "Period", a.period);
    o.Int(4, "EvaluationPeriods", a.evaluation_periods);
    if (a.datapoints_to_alarm != 0) o.Int(4, "DatapointsToAlarm", a.datapoints_to_alarm);
    o.Raw(4, "Threshold", a.threshold);
    o.Str(4, "ComparisonOperator", a.comparison);
    o.Str(4, "TreatMissingData", a.treat_missing_data);
    o.Bool(4, "ActionsEnabled", a.actions_enabled);
    if (!a.alarm_actions.empty()) o.Raw(4, "AlarmActions", FlowStrings(a.alarm_actions));
    if (!a.ok_actions.empty()) o.Raw(4, "OKActions", FlowStrings(a.ok_actions));
    if (!a.insufficient_data_actions.empty()) {
      o.Raw(4, "InsufficientDataActions", FlowStrings(a.insufficient_data_actions));
    }
  }
}

size_t EstimateSize(const Config& config) {
  size_t n = 4096;
  for (const TargetGroup& g : config.target_groups) n += 1024 + 32 * g.targets.size();
  for (const LoadBalancer& lb : config.load_balancers) {
    for (const Listener& l : lb.listeners) n += 2048 + 1024 * l.rules.size();
  }
  return n;
}

}  // namespace

std::string ExportYaml(const Config& config) {
  Out o;
  o.Reserve(EstimateSize(config));
  o.Open(0, "Account");
  o.Str(2, "Id", config.account.id);
  o.Str(2, "Region", config.account.region);
  o.Open(0, "Admin");
  o.Str(2, "Address", config.admin.address);
  o.Int(2, "Port", config.admin.port);
  if (config.admin.metrics_resolution_seconds != AdminSettings().metrics_resolution_seconds) {
    o.Int(2, "MetricsResolutionSeconds", config.admin.metrics_resolution_seconds);
  }
  if (!config.admin.token_file.empty()) o.Str(2, "TokenFile", config.admin.token_file);
  if (config.api.port != 0 || config.api.address != ApiSettings().address ||
      !config.api.certificate.empty()) {
    o.Open(0, "Api");
    o.Str(2, "Address", config.api.address);
    o.Int(2, "Port", config.api.port);
    if (!config.api.certificate.empty()) o.Str(2, "Certificate", config.api.certificate);
  }
  if (!config.s3.endpoint.empty()) {
    o.Open(0, "S3");
    o.Str(2, "Endpoint", config.s3.endpoint);
    if (!config.s3.region.empty()) o.Str(2, "Region", config.s3.region);
    o.Str(2, "CredentialsFile", config.s3.credentials_file);
    if (config.s3.profile != S3Settings().profile) o.Str(2, "Profile", config.s3.profile);
    if (config.s3.keep_local_files) o.Str(2, "KeepLocalFiles", "true");
  }
  WriteCertificates(o, config.certificates);
  WriteTrustStores(o, config.trust_stores);
  WriteLoadBalancers(o, config.load_balancers);
  WriteTargetGroups(o, config.target_groups);
  WriteAlarms(o, config.alarms);
  return o.Take();
}

}  // namespace sluice::config
