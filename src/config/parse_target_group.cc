// Walks TargetGroups: settings, health checks, attributes and targets (reference §2).
#include <algorithm>
#include <map>
#include <string>

#include "config/parse.h"
#include "config/validate.h"

namespace sluice::config::internal {
namespace {

constexpr std::string_view kSupportedAttributes[] = {
    "deregistration_delay.timeout_seconds",
    "stickiness.enabled",
    "stickiness.type",
    "stickiness.lb_cookie.duration_seconds",
    "stickiness.app_cookie.cookie_name",
    "stickiness.app_cookie.duration_seconds",
    "load_balancing.algorithm.type",
    "load_balancing.algorithm.anomaly_mitigation",
    "slow_start.duration_seconds",
    "proxy_protocol_v2.enabled",
    "deregistration_delay.connection_termination.enabled",
    "target_health_state.unhealthy.connection_termination.enabled",
    "target_health_state.unhealthy.draining_interval_seconds",
    "preserve_client_ip.enabled",
    "sluice.tls.server_name",
    "sluice.tls.verify.enabled",
    "sluice.tls.verify.ca_file",
};

// elbv2 target group attributes Sluice knows of but does not implement.
constexpr std::string_view kUnsupportedAttributes[] = {
    "load_balancing.cross_zone.enabled",
    "target_group_health.dns_failover.minimum_healthy_targets.count",
    "target_group_health.dns_failover.minimum_healthy_targets.percentage",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage",
    "lambda.multi_value_headers.enabled",
    "target_failover.on_deregistration",
    "target_failover.on_unhealthy",
};

constexpr int kMaxStickinessSeconds = 604800;

// A DNS host name as SNI carries it (RFC 6066 §3): dot-separated labels of letters, digits
// and '-', each 1..63 bytes, 253 bytes in all; no trailing dot, no IP literal check needed.
bool IsValidServerName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

std::string SupportedList() {
  return JoinNames(std::vector<std::string_view>(std::begin(kSupportedAttributes),
                                                 std::end(kSupportedAttributes)));
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

// Sluice's own sluice.tls.* attributes (TLS to targets); false when `key` is not one.
bool ParseTargetTlsAttribute(Reader& r, const std::string& key, const Field& f,
                             TargetGroupAttributes* out) {
  if (key == "sluice.tls.server_name") {
    if (auto v = ReadString(r, f)) {
      if (!v->empty() && !IsValidServerName(*v)) {
        r.AddError(f, "sluice.tls.server_name " + QuoteValue(*v) +
                          " is not a host name (letters, digits, '-' and '.', 1..253 bytes)");
      } else {
        out->tls_server_name = *v;
      }
    }
  } else if (key == "sluice.tls.verify.enabled") {
    if (auto v = ReadBool(r, f)) out->tls_verify = *v;
  } else if (key == "sluice.tls.verify.ca_file") {
    if (ReadFilePath(r, f, &out->tls_verify_ca_file, &out->tls_verify_ca_file_location)) {
      out->tls_verify_ca_file_path = f.path;
    }
  } else {
    return false;
  }
  return true;
}

// The network load balancer's flow-termination attributes (reference §8.6), each remembered
// in `seen` for the checks that need the group's protocol; false when `key` is not one.
struct NlbAttributesSeen {
  const MapReader::Entry* deregistration_termination = nullptr;
  const MapReader::Entry* unhealthy_termination = nullptr;
  const MapReader::Entry* draining_interval = nullptr;
  const MapReader::Entry* preserve_client_ip = nullptr;
};

bool ParseNlbAttribute(Reader& r, const MapReader::Entry& e, TargetGroupAttributes* out,
                       NlbAttributesSeen* seen) {
  if (e.key == "deregistration_delay.connection_termination.enabled") {
    if (auto v = ReadBool(r, e.value)) out->deregistration_termination = *v;
    seen->deregistration_termination = &e;
  } else if (e.key == "target_health_state.unhealthy.connection_termination.enabled") {
    if (auto v = ReadBool(r, e.value)) out->unhealthy_termination = *v;
    seen->unhealthy_termination = &e;
  } else if (e.key == "target_health_state.unhealthy.draining_interval_seconds") {
    if (auto v = ReadInt(r, e.value, 0, 360000, e.key)) {
      out->unhealthy_draining_interval_seconds = static_cast<int>(*v);
    }
    seen->draining_interval = &e;
  } else if (e.key == "preserve_client_ip.enabled") {
    if (auto v = ReadBool(r, e.value)) out->preserve_client_ip = *v;
    seen->preserve_client_ip = &e;
  } else {
    return false;
  }
  return true;
}

// Those attributes belong to network groups; a UDP or TCP_UDP group resets a deregistered
// target's flows unless told otherwise; a draining interval needs termination off.
void CheckNlbAttributes(Reader& r, const NlbAttributesSeen& seen, const std::string& protocol,
                        TargetGroupAttributes* a) {
  if (!IsNetworkProtocol(protocol)) {
    for (const MapReader::Entry* e : {seen.deregistration_termination, seen.unhealthy_termination,
                                      seen.draining_interval, seen.preserve_client_ip}) {
      if (e == nullptr) continue;
      r.AddError(e->key_mark, e->value.path,
                 QuoteValue(e->key) +
                     " is for network load balancer target groups (TCP, TLS, UDP, TCP_UDP); "
                     "this group's protocol is " +
                     protocol);
    }
    return;
  }
  if (seen.deregistration_termination == nullptr && (protocol == "UDP" || protocol == "TCP_UDP")) {
    a->deregistration_termination = true;
  }
  if (seen.draining_interval != nullptr && a->unhealthy_draining_interval_seconds > 0 &&
      a->unhealthy_termination) {
    r.AddError(seen.draining_interval->value,
               "target_health_state.unhealthy.draining_interval_seconds needs "
               "target_health_state.unhealthy.connection_termination.enabled false");
  }
}

// stickiness.type by load balancer (reference §2.5, §8.2): cookies for ALB's HTTP and HTTPS
// groups, source_ip (the default there) for NLB's, but not TLS groups (TLS listeners).
void CheckStickinessType(Reader& r, const MapReader::Entry* type, const std::string& protocol,
                         TargetGroupAttributes* a) {
  const bool network = IsNetworkProtocol(protocol);
  if (type == nullptr) {
    if (network) a->stickiness_type = "source_ip";
    return;
  }
  const bool source_ip = a->stickiness_type == "source_ip";
  if (network && !source_ip) {
    r.AddError(type->value, "stickiness.type " + QuoteValue(a->stickiness_type) +
                                " is for HTTP and HTTPS target groups; network load balancer "
                                "groups take source_ip");
  } else if (!network && source_ip) {
    r.AddError(type->value,
               "stickiness.type 'source_ip' is for network load balancer target groups (TCP, "
               "UDP, TCP_UDP); this group's protocol is " +
                   protocol);
  } else if (source_ip && protocol == "TLS" && a->stickiness_enabled) {
    r.AddError(type->value, "source_ip stickiness is not supported for TLS target groups");
  }
}

// `protocol`: the group's (some attributes are for network groups only).
void ParseAttributes(Reader& r, const Field& field, const std::string& protocol,
                     TargetGroupAttributes* out) {
  NlbAttributesSeen nlb_seen;  // points into `m`: checked before it goes
  MapReader m = OpenFreeMap(r, field);
  const MapReader::Entry* slow_start = nullptr;
  const MapReader::Entry* anomaly = nullptr;
  const MapReader::Entry* stickiness_type = nullptr;
  for (const MapReader::Entry& e : m.entries()) {
    const std::string& key = e.key;
    const Field& f = e.value;
    if (key == "deregistration_delay.timeout_seconds") {
      if (auto v = ReadInt(r, f, 0, 3600, key)) {
        out->deregistration_delay_seconds = static_cast<int>(*v);
      }
    } else if (key == "stickiness.enabled") {
      if (auto v = ReadBool(r, f)) out->stickiness_enabled = *v;
    } else if (key == "stickiness.type") {
      if (auto v = ReadEnum(r, f, key, {"lb_cookie", "app_cookie", "source_ip"})) {
        out->stickiness_type = *v;
        stickiness_type = &e;
      }
    } else if (key == "stickiness.lb_cookie.duration_seconds") {
      if (auto v = ReadInt(r, f, 1, kMaxStickinessSeconds, key)) {
        out->stickiness_lb_cookie_duration_seconds = static_cast<int>(*v);
      }
    } else if (key == "stickiness.app_cookie.cookie_name") {
      if (auto v = ReadString(r, f)) {
        std::string message = v->empty() ? "" : CheckAppCookieName(*v);
        if (message.empty()) {
          out->stickiness_app_cookie_name = *v;
        } else {
          r.AddError(f, message);
        }
      }
    } else if (key == "stickiness.app_cookie.duration_seconds") {
      if (auto v = ReadInt(r, f, 1, kMaxStickinessSeconds, key)) {
        out->stickiness_app_cookie_duration_seconds = static_cast<int>(*v);
      }
    } else if (key == "load_balancing.algorithm.type") {
      if (auto v = ReadEnum(r, f, key,
                            {"round_robin", "least_outstanding_requests", "weighted_random"})) {
        out->algorithm = *v == "round_robin" ? LoadBalancingAlgorithm::kRoundRobin
                         : *v == "least_outstanding_requests"
                             ? LoadBalancingAlgorithm::kLeastOutstandingRequests
                             : LoadBalancingAlgorithm::kWeightedRandom;
      }
    } else if (key == "load_balancing.algorithm.anomaly_mitigation") {
      if (auto v = ReadEnum(r, f, key, {"on", "off"})) {
        out->anomaly_mitigation = *v == "on";
        anomaly = &e;
      }
    } else if (key == "proxy_protocol_v2.enabled") {
      if (auto b = ReadBool(r, f)) out->proxy_protocol_v2 = *b;
    } else if (key == "slow_start.duration_seconds") {
      if (auto v = ReadInt(r, f, 0, 900, key)) {
        if (*v > 0 && *v < 30) {
          r.AddError(f,
                     key + " " + std::to_string(*v) + " is invalid; allowed: 0 (off) or 30..900");
        } else {
          out->slow_start_seconds = static_cast<int>(*v);
          slow_start = &e;
        }
      }
    } else if (ParseTargetTlsAttribute(r, key, f, out)) {
    } else if (ParseNlbAttribute(r, e, out, &nlb_seen)) {
    } else if (std::find(std::begin(kUnsupportedAttributes), std::end(kUnsupportedAttributes),
                         key) != std::end(kUnsupportedAttributes)) {
      r.AddError(e.key_mark, f.path,
                 "target group attribute " + QuoteValue(key) +
                     " is not supported by Sluice; supported: " + SupportedList());
    } else {
      r.AddError(
          e.key_mark, f.path,
          "unknown target group attribute " + QuoteValue(key) + "; supported: " + SupportedList());
    }
  }
  CheckNlbAttributes(r, nlb_seen, protocol, out);
  CheckStickinessType(r, stickiness_type, protocol, out);
  // Combinations (§2.5).
  if (slow_start != nullptr && out->slow_start_seconds > 0 &&
      out->algorithm != LoadBalancingAlgorithm::kRoundRobin) {
    r.AddError(slow_start->value,
               "slow start cannot be combined with "
               "load_balancing.algorithm.type " +
                   std::string(AlgorithmName(out->algorithm)));
  }
  if (anomaly != nullptr && out->anomaly_mitigation &&
      out->algorithm != LoadBalancingAlgorithm::kWeightedRandom) {
    r.AddError(anomaly->value,
               "anomaly mitigation requires load_balancing.algorithm.type "
               "weighted_random");
  }
  if (stickiness_type != nullptr && out->stickiness_enabled &&
      out->stickiness_type == "app_cookie" && out->stickiness_app_cookie_name.empty()) {
    r.AddError(stickiness_type->value,
               "app_cookie stickiness needs "
               "stickiness.app_cookie.cookie_name");
  }
}

// Matcher: HttpCode, or GrpcCode for a GRPC group (whose checks are judged by grpc-status, so
// HttpCode is refused there, and GrpcCode anywhere else). None for TCP checks.
void ParseMatcher(Reader& r, const Field& matcher, bool tcp, bool grpc, HealthCheck* out) {
  MapReader mm(r, matcher, {"HttpCode", "GrpcCode"});
  if (!mm.ok()) return;
  const char* own = grpc ? "GrpcCode" : "HttpCode";
  if (Field other = mm.Get(grpc ? "HttpCode" : "GrpcCode"); other.present) {
    r.AddError(other, grpc ? "HttpCode is not used by GRPC target groups (their health checks "
                             "are judged by the grpc-status); use GrpcCode"
                           : "GrpcCode is only for target groups of ProtocolVersion GRPC; use "
                             "HttpCode");
    if (!mm.Has(own)) return;
  }
  Field code = mm.Require(own);
  if (auto c = ReadString(r, code)) {
    std::string message = grpc ? CheckGrpcMatcher(*c) : CheckMatcher(*c);
    if (!message.empty()) {
      r.AddError(code, message);
    } else if (tcp) {
      r.AddError(matcher, "Matcher is not used by TCP health checks; remove it");
    } else {
      (grpc ? out->grpc_matcher : out->matcher) = *c;
    }
  }
}

// Health-check settings (§2.3). `m` is the target group's own mapping; `grpc`: the group's
// ProtocolVersion is GRPC (its own default path and matcher).
void ParseHealthCheck(Reader& r, const MapReader& m, bool grpc, HealthCheck* out) {
  if (auto v = ReadBool(r, m.Get("HealthCheckEnabled"))) out->enabled = *v;
  Field protocol = m.Get("HealthCheckProtocol");
  if (auto p = ReadString(r, protocol)) {
    if (*p == "HTTP" || *p == "HTTPS" || *p == "TCP") {
      out->protocol = *p;
    } else {
      r.AddError(protocol, "health check protocol " + QuoteValue(*p) +
                               " is invalid; allowed: HTTP, HTTPS, TCP");
    }
  }
  Field port = m.Get("HealthCheckPort");
  if (auto p = ReadString(r, port)) {
    int64_t n = 0;
    if (*p == "traffic-port" || (ParseInteger(*p, &n) && n >= 1 && n <= 65535)) {
      out->port = *p;
    } else {
      r.AddError(port, "health check port " + QuoteValue(*p) +
                           " is invalid; allowed: traffic-port or "
                           "1..65535");
    }
  }
  const bool tcp = out->protocol == "TCP";
  Field path = m.Get("HealthCheckPath");
  if (auto p = ReadString(r, path)) {
    std::string message = CheckHealthCheckPath(*p);
    if (!message.empty()) {
      r.AddError(path, message);
    } else if (tcp) {
      r.AddError(path, "HealthCheckPath is not used by TCP health checks; remove it");
    } else {
      out->path = *p;
    }
  } else if (grpc && !path.present && !tcp) {
    out->path = kGrpcHealthCheckPath;
  }
  Field interval = m.Get("HealthCheckIntervalSeconds");
  Field timeout = m.Get("HealthCheckTimeoutSeconds");
  auto i = ReadInt(r, interval, 5, 300, "health check interval");
  auto t = ReadInt(r, timeout, 2, 120, "health check timeout");
  if (i) out->interval_seconds = static_cast<int>(*i);
  if (t) out->timeout_seconds = static_cast<int>(*t);
  if (auto v = ReadInt(r, m.Get("HealthyThresholdCount"), 2, 10, "healthy threshold")) {
    out->healthy_threshold = static_cast<int>(*v);
  }
  if (auto v = ReadInt(r, m.Get("UnhealthyThresholdCount"), 2, 10, "unhealthy threshold")) {
    out->unhealthy_threshold = static_cast<int>(*v);
  }
  const bool interval_ok = i || !interval.present;
  const bool timeout_ok = t || !timeout.present;
  if (interval_ok && timeout_ok && out->timeout_seconds >= out->interval_seconds) {
    if (timeout.present) {
      r.AddError(timeout, "health check timeout " + std::to_string(out->timeout_seconds) +
                              " must be smaller than the interval " +
                              std::to_string(out->interval_seconds) +
                              " (HealthCheckIntervalSeconds)");
    } else {
      r.AddError(interval, "health check interval " + std::to_string(out->interval_seconds) +
                               " must be greater than the timeout " +
                               std::to_string(out->timeout_seconds) +
                               " (HealthCheckTimeoutSeconds not set: the default for this "
                               "group's protocol)");
    }
  }
  Field matcher = m.Get("Matcher");
  if (matcher.present) ParseMatcher(r, matcher, tcp, grpc, out);
}

void ParseTargets(Reader& r, const Field& field, bool check_ids, TargetGroup* out) {
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items) return;
  if (items->size() > kMaxTargetsPerGroup) {
    r.AddError(field, "a target group can have at most " + std::to_string(kMaxTargetsPerGroup) +
                          " targets; found " + std::to_string(items->size()));
  }
  std::map<std::pair<std::string, int>, int> seen;  // (canonical ip, port) -> line
  for (const Field& item : *items) {
    Target target;
    target.location = LocationOf(item.mark);
    target.port = out->port;
    MapReader m(r, item, {"Id", "Port"});
    if (!m.ok()) continue;
    Field id = m.Require("Id");
    std::optional<std::string> text = ReadString(r, id);
    std::optional<IpAddress> ip;
    if (text) {
      target.id = *text;
      ip = IpAddress::Parse(*text);
      if (!ip && check_ids) {
        r.AddError(id, "target Id " + QuoteValue(*text) + " is not an IP address (TargetType ip)");
      }
    }
    Field port = m.Get("Port");
    auto p = ReadInt(r, port, 1, 65535, "port");
    if (p) target.port = static_cast<int>(*p);
    if (ip && (p || !port.present) && target.port != 0) {
      auto [it, inserted] =
          seen.emplace(std::make_pair(ip->ToString(), target.port), target.location.line);
      if (!inserted) {
        r.AddError(item, "target " + *text + " port " + std::to_string(target.port) +
                             " is listed twice (first at line " + std::to_string(it->second) + ")");
      }
    }
    out->targets.push_back(std::move(target));
  }
}

void ParseTargetGroup(Reader& r, const Field& item, TargetGroup* out,
                      std::map<std::string, std::pair<std::string, int>>* names) {
  out->location = LocationOf(item.mark);
  MapReader m(r, item,
              {"Name", "Tags", "Protocol", "ProtocolVersion", "Port", "TargetType",
               "HealthCheckEnabled", "HealthCheckProtocol", "HealthCheckPort", "HealthCheckPath",
               "HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds", "HealthyThresholdCount",
               "UnhealthyThresholdCount", "Matcher", "Attributes", "Targets"});
  if (!m.ok()) return;
  ParseTags(r, m.Get("Tags"), &out->tags);
  Field name = m.Require("Name");
  if (std::optional<std::string> n = ReadString(r, name)) {
    std::string message = CheckResourceName(*n);
    if (!message.empty()) r.AddError(name, message);
    out->name = *n;
    auto [it, inserted] = names->emplace(*n, std::make_pair(item.path, LocationOf(name.mark).line));
    if (!inserted) {
      r.AddError(name, "duplicate target group name " + QuoteValue(*n) + "; first defined at " +
                           it->second.first + " (line " + std::to_string(it->second.second) + ")");
    }
  }
  Field protocol = m.Get("Protocol");
  if (auto p = ReadString(r, protocol)) {
    const bool nlb = IsNetworkProtocol(*p);
    if (*p == "HTTP" || *p == "HTTPS" || nlb) {
      out->protocol = *p;
      // ALB's default health-check protocol follows the group's ([infer], see
      // docs/alb-compatibility.md): an HTTPS group is checked over HTTPS. NLB's is TCP for
      // TCP, TLS and UDP groups (a UDP group's checks use TCP, HTTP or HTTPS), with a 10 s
      // timeout (reference §8.7).
      if (!m.Get("HealthCheckProtocol").present) out->health_check.protocol = nlb ? "TCP" : *p;
      if (nlb) {
        out->health_check.timeout_seconds = 10;
        out->health_check.matcher = kNetworkHealthCheckMatcher;  // Matcher overrides it
      }
    } else {
      r.AddError(protocol, "protocol " + QuoteValue(*p) +
                               " is invalid; allowed: HTTP, HTTPS, TCP, TLS, UDP, TCP_UDP");
    }
  }
  Field version = m.Get("ProtocolVersion");
  if (version.present && IsNetworkProtocol(out->protocol)) {
    r.AddError(version, "ProtocolVersion is only for HTTP and HTTPS target groups");
  } else if (auto v = ReadString(r, version)) {
    if (*v == "HTTP1" || *v == "HTTP2" || *v == "GRPC") {
      out->protocol_version = *v;
    } else {
      r.AddError(version,
                 "protocol version " + QuoteValue(*v) + " is invalid; allowed: HTTP1, HTTP2, GRPC");
    }
  }
  if (auto p = ReadInt(r, m.Require("Port"), 1, 65535, "port")) out->port = static_cast<int>(*p);
  bool ip_targets = true;
  Field type = m.Get("TargetType");
  if (auto t = ReadString(r, type)) {
    if (*t == "instance" || *t == "lambda" || *t == "alb") {
      r.AddError(type, "target type " + QuoteValue(*t) + " is not supported yet; use ip");
      ip_targets = false;
    } else if (*t != "ip") {
      r.AddError(type, "target type " + QuoteValue(*t) + " is invalid; allowed: ip");
      ip_targets = false;
    }
  }
  // NLB's HTTP checks time out after 6 s, its TCP and HTTPS checks after 10 (§8.7); set
  // before the checks are read, which compare the timeout with the interval.
  if (Field hp = m.Get("HealthCheckProtocol"); IsNetworkProtocol(out->protocol) && hp.present &&
                                               hp.node.IsScalar() && hp.node.Scalar() == "HTTP") {
    out->health_check.timeout_seconds = 6;
  }
  ParseHealthCheck(r, m, out->protocol_version == "GRPC", &out->health_check);
  Field attributes = m.Get("Attributes");
  ParseAttributes(r, attributes, out->protocol, &out->attributes);
  const TargetGroupAttributes& a = out->attributes;
  bool tls_set = !a.tls_server_name.empty() || a.tls_verify || !a.tls_verify_ca_file.empty();
  if (a.proxy_protocol_v2 && out->protocol != "TCP" && out->protocol != "TLS") {
    r.AddError(attributes,
               "proxy_protocol_v2.enabled is for TCP and TLS target groups (network load "
               "balancers; a UDP or TCP_UDP group keeps the client's address without it); this "
               "group's protocol is " +
                   out->protocol);
  }
  if (tls_set && out->protocol != "HTTPS" && out->protocol != "TLS" &&
      out->health_check.protocol != "HTTPS") {
    r.AddError(attributes,
               "sluice.tls.* attributes need Protocol HTTPS or TLS, or HealthCheckProtocol HTTPS");
  }
  ParseTargets(r, m.Get("Targets"), ip_targets, out);
}

}  // namespace

void ParseTargetGroups(LoadContext& ctx, const Field& field, std::vector<TargetGroup>* out) {
  Reader& r = ctx.reader;
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items) return;
  std::map<std::string, std::pair<std::string, int>> names;  // name -> (path, line)
  for (const Field& item : *items) {
    TargetGroup group;
    ParseTargetGroup(r, item, &group, &names);
    out->push_back(std::move(group));
  }
}

}  // namespace sluice::config::internal
