// The mutating operations: each returns the next model (and what to answer); the Service
// applies it (validated like a config file, persisted, published) before answering. Here:
// targets and target groups, and FindHandler over every operation; a listener's settings and
// rules are in ops_listener_rules.cc, load balancers and listeners made and deleted in
// ops_create.cc.
#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "api/decode.h"
#include "api/render.h"
#include "api/service.h"
#include "base/ip_address.h"
#include "config/arn.h"
#include "config/validate.h"

namespace sluice::api {

Handler FindReadHandler(std::string_view action);
Handler FindAttributeHandler(std::string_view action, bool* mutating);
Handler FindCreateHandler(std::string_view action);
Handler FindListenerRulesHandler(std::string_view action);
Handler FindTagHandler(std::string_view action, bool* mutating);
Handler FindNetworkHandler(std::string_view action, bool* mutating);
Handler FindTrustStoreHandler(std::string_view action, bool* mutating);
Handler FindRevocationHandler(std::string_view action, bool* mutating);
Handler FindTrustStoreContentHandler(std::string_view action, bool* mutating);
Handler FindCertificateHandler(std::string_view action, bool* mutating);

namespace {

// A registered target's identity: its address in canonical form ("::1" for "0::1") and port.
std::pair<std::string, int> TargetKey(const config::Target& t) {
  std::optional<IpAddress> ip = IpAddress::Parse(t.id);
  return {ip ? ip->ToString() : t.id, t.port};
}

// A change to one group's Targets and nothing else: applied without loading the whole model
// again (ChangeScope), after the checks the loader makes of a target list.
ApiResult<OperationOutput> TargetsMutation(config::Config next, size_t group) {
  if (std::string why = config::internal::CheckTargets(next.target_groups[group]); !why.empty()) {
    return SenderError("ValidationError", why);
  }
  return OperationOutput{"", std::move(next), {.targets_of_group = static_cast<int>(group)}};
}

// A change to one group's settings (or a new group) and nothing else: applied with
// config::CheckTargetGroupChange, on a document with only the rules forwarding to it.
ApiResult<OperationOutput> GroupMutation(config::Config next, size_t group, std::string xml) {
  return OperationOutput{
      std::move(xml), std::move(next), {.settings_of_group = static_cast<int>(group)}};
}

ApiResult<OperationOutput> RegisterTargets(const CallContext& c) {
  auto arn = RequireString(c.params, "TargetGroupArn", "targetGroupArn");
  if (!arn.ok()) return arn.error();
  auto g = FindTargetGroup(c.config, arn.value());
  if (!g.ok()) return g.error();
  config::Config next = c.config;
  config::TargetGroup& tg = next.target_groups[g.value()];
  auto targets = DecodeTargets(c.params, tg.port);
  if (!targets.ok()) return targets.error();
  std::set<std::pair<std::string, int>> present;
  for (const config::Target& t : tg.targets) present.insert(TargetKey(t));
  for (config::Target& t : targets.value()) {
    if (!IpAddress::Parse(t.id)) {
      return SenderError("InvalidTarget",
                         "The following targets are not valid IP addresses: '" + t.id + "'");
    }
    if (present.insert(TargetKey(t)).second) tg.targets.push_back(std::move(t));
  }
  if (tg.targets.size() > config::internal::kMaxTargetsPerGroup) {
    return SenderError("TooManyTargets",
                       "You've reached the limit on the number of targets: a target group has "
                       "at most " +
                           std::to_string(config::internal::kMaxTargetsPerGroup) + " (" +
                           std::to_string(tg.targets.size()) + " with this call)");
  }
  return TargetsMutation(std::move(next), g.value());
}

ApiResult<OperationOutput> DeregisterTargets(const CallContext& c) {
  auto arn = RequireString(c.params, "TargetGroupArn", "targetGroupArn");
  if (!arn.ok()) return arn.error();
  auto g = FindTargetGroup(c.config, arn.value());
  if (!g.ok()) return g.error();
  config::Config next = c.config;
  config::TargetGroup& tg = next.target_groups[g.value()];
  auto targets = DecodeTargets(c.params, tg.port);
  if (!targets.ok()) return targets.error();
  // An unknown target is no error (AWS answers success).
  std::set<std::pair<std::string, int>> leaving;
  for (const config::Target& t : targets.value()) leaving.insert(TargetKey(t));
  std::erase_if(tg.targets, [&](const config::Target& x) { return leaving.count(TargetKey(x)); });
  return TargetsMutation(std::move(next), g.value());
}

// Matcher.HttpCode, or Matcher.GrpcCode for a GRPC group (`grpc`): the other one, or a
// GrpcCode that is not a list of codes 0..99, is a ValidationError naming the member (as the
// config loader's messages, which also judge HttpCode when the change is applied).
ApiResult<bool> ReadMatcher(const QueryParams& p, bool grpc, config::HealthCheck* hc) {
  const char* own = grpc ? "Matcher.GrpcCode" : "Matcher.HttpCode";
  const char* other = grpc ? "Matcher.HttpCode" : "Matcher.GrpcCode";
  if (p.Get(other) != nullptr) {
    return SenderError("ValidationError",
                       std::string(other) + ": " +
                           (grpc ? "HttpCode is not used by GRPC target groups (their health "
                                   "checks are judged by the grpc-status); use GrpcCode"
                                 : "GrpcCode is only for target groups of ProtocolVersion "
                                   "GRPC; use HttpCode"));
  }
  const std::string* v = p.Get(own);
  if (v == nullptr) return true;
  if (grpc) {
    std::string message = config::internal::CheckGrpcMatcher(*v);
    if (!message.empty()) return SenderError("ValidationError", std::string(own) + ": " + message);
    hc->grpc_matcher = *v;
  } else {
    hc->matcher = *v;
  }
  return true;
}

// Applies the health-check members of CreateTargetGroup / ModifyTargetGroup; `grpc`: the
// group's ProtocolVersion is GRPC.
ApiResult<bool> ReadHealthCheck(const QueryParams& p, bool grpc, config::HealthCheck* hc) {
  if (const std::string* v = p.Get("HealthCheckProtocol")) hc->protocol = *v;
  if (const std::string* v = p.Get("HealthCheckPort")) hc->port = *v;
  if (const std::string* v = p.Get("HealthCheckPath")) hc->path = *v;
  auto matcher = ReadMatcher(p, grpc, hc);
  if (!matcher.ok()) return matcher.error();
  auto enabled = ReadBoolean(p, "HealthCheckEnabled", "healthCheckEnabled");
  if (!enabled.ok()) return enabled.error();
  if (enabled.value()) hc->enabled = *enabled.value();
  struct IntField {
    const char* name;
    const char* path;
    long min, max;
    int* field;
  };
  const IntField ints[] = {
      {"HealthCheckIntervalSeconds", "healthCheckIntervalSeconds", 5, 300, &hc->interval_seconds},
      {"HealthCheckTimeoutSeconds", "healthCheckTimeoutSeconds", 2, 120, &hc->timeout_seconds},
      {"HealthyThresholdCount", "healthyThresholdCount", 2, 10, &hc->healthy_threshold},
      {"UnhealthyThresholdCount", "unhealthyThresholdCount", 2, 10, &hc->unhealthy_threshold},
  };
  for (const IntField& f : ints) {
    auto v = ReadInteger(p, f.name, f.path, f.min, f.max);
    if (!v.ok()) return v.error();
    if (v.value()) *f.field = *v.value();
  }
  return true;
}

ApiResult<OperationOutput> CreateTargetGroup(const CallContext& c) {
  auto name = RequireString(c.params, "Name", "name");
  if (!name.ok()) return name.error();
  if (std::string m = config::internal::CheckResourceName(name.value()); !m.empty()) {
    return SenderError("ValidationError", "Target group name '" + name.value() + "': " + m);
  }
  config::TargetGroup tg;
  tg.name = name.value();
  if (const std::string* v = c.params.Get("Protocol")) tg.protocol = *v;
  if (const std::string* v = c.params.Get("ProtocolVersion")) tg.protocol_version = *v;
  if (const std::string* v = c.params.Get("TargetType")) tg.target_type = *v;
  auto port = ReadInteger(c.params, "Port", "port", 1, 65535);
  if (!port.ok()) return port.error();
  if (!port.value()) return SenderError("ValidationError", "A port must be specified");
  tg.port = *port.value();
  tg.health_check.protocol = tg.protocol;
  const bool network = tg.protocol == "TCP" || tg.protocol == "TLS" || tg.protocol == "UDP" ||
                       tg.protocol == "TCP_UDP";
  if (network && c.params.Get("ProtocolVersion") != nullptr) {
    // The loader refuses it too; the export would drop it, so it must not reach the model.
    return SenderError("ValidationError",
                       "ProtocolVersion is only for HTTP and HTTPS target groups");
  }
  if (network) {
    // A network load balancer's group, with NLB's defaults as the config file gives them
    // (reference §8.7, §8.6, §8.2): TCP checks with a 10 s timeout, source-IP stickiness
    // type, and a UDP group's deregistered flows terminated.
    tg.health_check.protocol = "TCP";
    tg.health_check.timeout_seconds = 10;
    tg.health_check.matcher = config::kNetworkHealthCheckMatcher;
    tg.attributes.stickiness_type = "source_ip";
    tg.attributes.deregistration_termination = tg.protocol == "UDP" || tg.protocol == "TCP_UDP";
  }
  const bool grpc = tg.protocol_version == "GRPC";
  if (grpc) tg.health_check.path = config::kGrpcHealthCheckPath;
  auto hc = ReadHealthCheck(c.params, grpc, &tg.health_check);
  if (!hc.ok()) return hc.error();
  if (network && tg.health_check.protocol == "HTTP" &&
      c.params.Get("HealthCheckTimeoutSeconds") == nullptr) {
    tg.health_check.timeout_seconds = 6;  // NLB's default for HTTP checks (reference §8.7)
  }
  auto it = std::find_if(c.config.target_groups.begin(), c.config.target_groups.end(),
                         [&](const config::TargetGroup& g) { return g.name == tg.name; });
  XmlWriter w;
  w.Open("TargetGroups");
  if (it != c.config.target_groups.end()) {
    // Idempotent for the same settings (targets and attributes aside).
    config::TargetGroup same = *it;
    same.targets.clear();
    same.attributes = tg.attributes;
    same.location = tg.location;
    bool equal = same.protocol == tg.protocol && same.port == tg.port &&
                 same.protocol_version == tg.protocol_version &&
                 same.target_type == tg.target_type &&
                 same.health_check.path == tg.health_check.path &&
                 same.health_check.port == tg.health_check.port &&
                 same.health_check.protocol == tg.health_check.protocol &&
                 same.health_check.matcher == tg.health_check.matcher &&
                 same.health_check.grpc_matcher == tg.health_check.grpc_matcher &&
                 same.health_check.interval_seconds == tg.health_check.interval_seconds &&
                 same.health_check.timeout_seconds == tg.health_check.timeout_seconds &&
                 same.health_check.healthy_threshold == tg.health_check.healthy_threshold &&
                 same.health_check.unhealthy_threshold == tg.health_check.unhealthy_threshold &&
                 same.health_check.enabled == tg.health_check.enabled;
    if (!equal) {
      return SenderError("DuplicateTargetGroupName", "A target group with the same name '" +
                                                         tg.name +
                                                         "' exists, but with different settings");
    }
    WriteTargetGroup(c.config, *it, &w);
    w.Close("TargetGroups");
    return OperationOutput{std::move(w.str()), std::nullopt};
  }
  auto tags = DecodeTags(c.params);
  if (!tags.ok()) return tags.error();
  tg.tags = std::move(tags.value());
  config::Config next = c.config;
  next.target_groups.push_back(tg);
  WriteTargetGroup(next, next.target_groups.back(), &w);
  w.Close("TargetGroups");
  const size_t created = next.target_groups.size() - 1;
  return GroupMutation(std::move(next), created, std::move(w.str()));
}

ApiResult<OperationOutput> DeleteTargetGroup(const CallContext& c) {
  auto arn = RequireString(c.params, "TargetGroupArn", "targetGroupArn");
  if (!arn.ok()) return arn.error();
  auto g = FindTargetGroup(c.config, arn.value());
  if (!g.ok()) return OperationOutput{};  // already gone: success, as AWS
  const std::string& name = c.config.target_groups[g.value()].name;
  if (!LoadBalancersOf(c.config, name).empty()) {
    return SenderError("ResourceInUse", "Target group '" + arn.value() +
                                            "' is currently in use by a listener or a rule");
  }
  config::Config next = c.config;
  next.target_groups.erase(next.target_groups.begin() + static_cast<long>(g.value()));
  // Nothing forwarded to it: nothing else can break.
  return OperationOutput{"", std::move(next), {.checked_by_handler = true}};
}

ApiResult<OperationOutput> ModifyTargetGroup(const CallContext& c) {
  auto arn = RequireString(c.params, "TargetGroupArn", "targetGroupArn");
  if (!arn.ok()) return arn.error();
  auto g = FindTargetGroup(c.config, arn.value());
  if (!g.ok()) return g.error();
  config::Config next = c.config;
  config::TargetGroup& tg = next.target_groups[g.value()];
  auto hc = ReadHealthCheck(c.params, tg.protocol_version == "GRPC", &tg.health_check);
  if (!hc.ok()) return hc.error();
  XmlWriter w;
  w.Open("TargetGroups");
  WriteTargetGroup(next, next.target_groups[g.value()], &w);
  w.Close("TargetGroups");
  return GroupMutation(std::move(next), g.value(), std::move(w.str()));
}

}  // namespace

Handler FindHandler(std::string_view action, bool* mutating) {
  static const std::pair<std::string_view, Handler> kWrites[] = {
      {"RegisterTargets", RegisterTargets},     {"DeregisterTargets", DeregisterTargets},
      {"CreateTargetGroup", CreateTargetGroup}, {"DeleteTargetGroup", DeleteTargetGroup},
      {"ModifyTargetGroup", ModifyTargetGroup},
  };
  *mutating = false;
  if (Handler h = FindReadHandler(action)) return h;
  if (Handler h = FindAttributeHandler(action, mutating)) return h;
  if (Handler h = FindTagHandler(action, mutating)) return h;
  if (Handler h = FindNetworkHandler(action, mutating)) return h;
  if (Handler h = FindTrustStoreHandler(action, mutating)) return h;
  if (Handler h = FindRevocationHandler(action, mutating)) return h;
  if (Handler h = FindTrustStoreContentHandler(action, mutating)) return h;
  if (Handler h = FindCertificateHandler(action, mutating)) return h;
  if (Handler h = FindCreateHandler(action)) {
    *mutating = true;
    return h;
  }
  if (Handler h = FindListenerRulesHandler(action)) {
    *mutating = true;
    return h;
  }
  for (const auto& [name, h] : kWrites) {
    if (name == action) {
      *mutating = true;
      return h;
    }
  }
  return nullptr;
}

std::vector<std::string> ImplementedOperations() {
  return {"DescribeLoadBalancers",
          "DescribeListeners",
          "DescribeRules",
          "DescribeTargetGroups",
          "DescribeTargetHealth",
          "DescribeAccountLimits",
          "DescribeSSLPolicies",
          "RegisterTargets",
          "DeregisterTargets",
          "CreateTargetGroup",
          "DeleteTargetGroup",
          "ModifyTargetGroup",
          "ModifyListener",
          "CreateRule",
          "ModifyRule",
          "DeleteRule",
          "SetRulePriorities",
          "DescribeLoadBalancerAttributes",
          "ModifyLoadBalancerAttributes",
          "DescribeTargetGroupAttributes",
          "ModifyTargetGroupAttributes",
          "DescribeListenerAttributes",
          "ModifyListenerAttributes",
          "CreateLoadBalancer",
          "DeleteLoadBalancer",
          "CreateListener",
          "DeleteListener",
          "AddTags",
          "RemoveTags",
          "DescribeTags",
          "SetIpAddressType",
          "SetSubnets",
          "SetSecurityGroups",
          "ModifyIpPools",
          "DescribeCapacityReservation",
          "ModifyCapacityReservation",
          "DescribeTrustStores",
          "CreateTrustStore",
          "ModifyTrustStore",
          "DeleteTrustStore",
          "DescribeTrustStoreAssociations",
          "AddTrustStoreRevocations",
          "RemoveTrustStoreRevocations",
          "DescribeTrustStoreRevocations",
          "GetTrustStoreCaCertificatesBundle",
          "GetTrustStoreRevocationContent",
          "DeleteSharedTrustStoreAssociation",
          "DescribeListenerCertificates",
          "AddListenerCertificates",
          "RemoveListenerCertificates",
          "GetResourcePolicy"};
}

}  // namespace sluice::api
