// Load balancers and listeners: create (idempotent for the same settings) and delete.
#include <algorithm>

#include "api/decode.h"
#include "api/render.h"
#include "api/service.h"
#include "base/ip_address.h"
#include "config/alpn_policies.h"
#include "config/arn.h"
#include "config/ssl_policies.h"
#include "config/validate.h"

namespace sluice::api {
namespace {

// The local address from SubnetMappings.member.1.PrivateIPv4Address ("" when not given).
ApiResult<std::string> BindAddressOf(const QueryParams& params) {
  auto mappings = params.StructList("SubnetMappings");
  if (!mappings || mappings->empty()) return std::string();
  const std::string* ip = (*mappings)[0].Get("PrivateIPv4Address");
  if (ip == nullptr) return std::string();
  if (!IpAddress::Parse(*ip)) {
    return SenderError("InvalidConfigurationRequest",
                       "PrivateIPv4Address '" + *ip + "' is not an IP address");
  }
  return *ip;
}

ApiResult<OperationOutput> CreateLoadBalancer(const CallContext& c) {
  auto name = RequireString(c.params, "Name", "name");
  if (!name.ok()) return name.error();
  if (std::string m = config::internal::CheckResourceName(name.value()); !m.empty()) {
    return SenderError("ValidationError", "Load balancer name '" + name.value() + "': " + m);
  }
  if (name.value().rfind("internal-", 0) == 0) {
    return SenderError("ValidationError", "Load balancer name cannot start with 'internal-'");
  }
  const std::string* type = c.params.Get("Type");
  if (type != nullptr && *type != "application" && *type != "network") {
    return SenderError("ValidationError", "Load balancer type '" + *type +
                                              "' is not served by Sluice; 'application' and "
                                              "'network' are ('gateway' is not)");
  }
  const std::string lb_type = type != nullptr ? *type : "application";
  auto address = BindAddressOf(c.params);
  if (!address.ok()) return address.error();
  XmlWriter w;
  w.Open("LoadBalancers");
  for (const config::LoadBalancer& lb : c.config.load_balancers) {
    if (lb.name != name.value()) continue;
    if (lb.bind_address != address.value() || lb.type != lb_type) {
      return SenderError("DuplicateLoadBalancerName",
                         "A load balancer with the specified name already exists.");
    }
    WriteLoadBalancer(c.config, lb, c.hooks.created_time, &w);  // idempotent
    w.Close("LoadBalancers");
    return OperationOutput{std::move(w.str()), std::nullopt};
  }
  config::Config next = c.config;
  config::LoadBalancer lb;
  lb.name = name.value();
  lb.type = lb_type;
  lb.bind_address = address.value();
  auto tags = DecodeTags(c.params);
  if (!tags.ok()) return tags.error();
  lb.tags = std::move(tags.value());
  next.load_balancers.push_back(lb);
  WriteLoadBalancer(next, next.load_balancers.back(), c.hooks.created_time, &w);
  w.Close("LoadBalancers");
  // A new load balancer has no listener yet: no rule reads it and it forwards nowhere, so a
  // document without rules checks all it adds (its name, address, tags).
  return OperationOutput{std::move(w.str()), std::move(next), {.outside_rules = true}};
}

// A listener or load balancer deleted, with its rules: what remains forwards to fewer groups
// and no remaining rule reads what went, so a document without rules checks what can fail
// (config::CheckOutsideRules).
ApiResult<OperationOutput> DeletionMutation(config::Config next) {
  return OperationOutput{"", std::move(next), {.outside_rules = true}};
}

ApiResult<OperationOutput> DeleteLoadBalancer(const CallContext& c) {
  auto arn = RequireString(c.params, "LoadBalancerArn", "loadBalancerArn");
  if (!arn.ok()) return arn.error();
  auto i = FindLoadBalancer(c.config, arn.value());
  if (!i.ok()) return OperationOutput{};  // already gone: success, as AWS
  if (c.config.load_balancers[i.value()].attributes.deletion_protection) {
    return SenderError("OperationNotPermitted",
                       "Load balancer '" + arn.value() +
                           "' cannot be deleted because deletion protection is enabled");
  }
  config::Config next = c.config;
  FreezeIds(&next);
  next.load_balancers.erase(next.load_balancers.begin() + static_cast<long>(i.value()));
  return DeletionMutation(std::move(next));
}

}  // namespace

std::optional<ApiError> UnsupportedListenerProtocol(const config::LoadBalancer& lb,
                                                    const std::string& protocol) {
  const bool network = lb.type == "network";
  const bool known = network ? (protocol == "TCP" || protocol == "TLS" || protocol == "UDP" ||
                                protocol == "TCP_UDP")
                             : (protocol == "HTTP" || protocol == "HTTPS");
  if (known) return std::nullopt;
  return SenderError("UnsupportedProtocol",
                     "Listener protocol '" + protocol + "' must be one of " +
                         (network ? "'TCP, TLS, UDP, TCP_UDP'" : "'HTTP, HTTPS'"));
}

ApiResult<std::optional<std::string>> DecodeAlpnPolicy(const QueryParams& params,
                                                       const std::string& protocol) {
  auto alpn = params.List("AlpnPolicy");
  if (!alpn || alpn->empty()) return std::optional<std::string>();
  if (protocol != "TLS") {
    return SenderError("ValidationError", "AlpnPolicy is only for TLS listeners");
  }
  if (alpn->size() != 1 || !config::ParseAlpnPolicy(alpn->front())) {
    return SenderError("ALPNPolicyNotFound", "ALPN policy '" + alpn->front() + "' not found");
  }
  return std::optional<std::string>(alpn->front());
}

namespace {

ApiResult<config::Listener> DecodeListener(const CallContext& c, const config::LoadBalancer& lb) {
  config::Listener l;
  const bool network = lb.type == "network";
  l.protocol = c.params.Get("Protocol") ? *c.params.Get("Protocol") : (network ? "TCP" : "HTTP");
  if (std::optional<ApiError> e = UnsupportedListenerProtocol(lb, l.protocol)) return *e;
  auto port = ReadInteger(c.params, "Port", "port", 1, 65535);
  if (!port.ok()) return port.error();
  if (!port.value()) return SenderError("ValidationError", "A listener port must be specified");
  l.port = *port.value();
  l.bind_address = lb.bind_address.empty() ? "0.0.0.0" : lb.bind_address;
  auto actions = DecodeActions(c.config, c.params, "DefaultActions", "defaultActions");
  if (!actions.ok()) return actions.error();
  l.default_actions = std::move(actions.value());
  auto certs = DecodeCertificates(c);
  if (!certs.ok()) return certs.error();
  l.certificates = std::move(certs.value());
  auto mutual = DecodeMutualAuthentication(c, l);
  if (!mutual.ok()) return mutual.error();
  if (mutual.value()) l.mutual_authentication = std::move(*mutual.value());
  auto tags = DecodeTags(c.params);
  if (!tags.ok()) return tags.error();
  l.tags = std::move(tags.value());
  if (l.protocol == "HTTPS" || l.protocol == "TLS") {
    const std::string* policy = c.params.Get("SslPolicy");
    l.ssl_policy = policy ? *policy : std::string(config::kDefaultSslPolicy);
    if (config::FindSslPolicy(l.ssl_policy) == nullptr) {
      return SenderError("SSLPolicyNotFound", "SSL policy '" + l.ssl_policy + "' not found");
    }
  }
  auto alpn = DecodeAlpnPolicy(c.params, l.protocol);
  if (!alpn.ok()) return alpn.error();
  if (alpn.value()) {
    l.alpn_policy = std::move(*alpn.value());
  } else if (l.protocol == "TLS") {
    l.alpn_policy = "None";
  }
  return l;
}

// Whether CreateListener's `asked` is the listener `existing` already is: the same address,
// and the same protocol, default certificate, policies, default actions and mutual
// authentication as DescribeListeners shows them (the certificate list beyond the default,
// which AddListenerCertificates grows, and tags do not count). AWS answers a repeated call
// with the listener, and other settings on the same port with DuplicateListener.
bool SameAtCreation(const config::Config& config, const config::LoadBalancer& lb,
                    const config::Listener& existing, const config::Listener& asked) {
  if (existing.bind_address != asked.bind_address) return false;
  config::Listener shown = existing;
  if (shown.certificates.size() > 1) shown.certificates.resize(1);
  config::Listener probe = asked;
  probe.id = existing.id;
  XmlWriter have;
  XmlWriter want;
  WriteListener(config, lb, shown, &have);
  WriteListener(config, lb, probe, &want);
  return have.str() == want.str();
}

ApiResult<OperationOutput> CreateListener(const CallContext& c) {
  auto arn = RequireString(c.params, "LoadBalancerArn", "loadBalancerArn");
  if (!arn.ok()) return arn.error();
  auto i = FindLoadBalancer(c.config, arn.value());
  if (!i.ok()) return i.error();
  const config::LoadBalancer& lb = c.config.load_balancers[i.value()];
  auto listener = DecodeListener(c, lb);
  if (!listener.ok()) return listener.error();
  config::Listener& l = listener.value();
  XmlWriter w;
  w.Open("Listeners");
  for (const config::Listener& existing : lb.listeners) {
    if (existing.port != l.port) continue;
    if (!SameAtCreation(c.config, lb, existing, l)) {
      return SenderError("DuplicateListener", "A listener with the specified port already exists.");
    }
    WriteListener(c.config, lb, existing, &w);
    w.Close("Listeners");
    return OperationOutput{std::move(w.str()), std::nullopt};
  }
  config::Config next = c.config;
  FreezeIds(&next);
  config::LoadBalancer& next_lb = next.load_balancers[i.value()];
  l.id =
      config::ResourceId("listener", lb.name + ":" + std::to_string(l.port) + ":" + NewRequestId());
  next_lb.listeners.push_back(std::move(l));
  WriteListener(next, next_lb, next_lb.listeners.back(), &w);
  w.Close("Listeners");
  const auto added = std::make_pair(i.value(), next_lb.listeners.size() - 1);
  return OperationOutput{std::move(w.str()), std::move(next), {.added_listener = added}};
}

ApiResult<OperationOutput> DeleteListener(const CallContext& c) {
  auto arn = RequireString(c.params, "ListenerArn", "listenerArn");
  if (!arn.ok()) return arn.error();
  auto ref = FindListener(c.config, arn.value());
  if (!ref.ok()) return ref.error();
  config::Config next = c.config;
  FreezeIds(&next);
  auto& listeners = next.load_balancers[ref.value().lb].listeners;
  listeners.erase(listeners.begin() + static_cast<long>(ref.value().listener));
  return DeletionMutation(std::move(next));
}

}  // namespace

Handler FindCreateHandler(std::string_view action) {
  static const std::pair<std::string_view, Handler> kHandlers[] = {
      {"CreateLoadBalancer", CreateLoadBalancer},
      {"DeleteLoadBalancer", DeleteLoadBalancer},
      {"CreateListener", CreateListener},
      {"DeleteListener", DeleteListener},
  };
  for (const auto& [name, h] : kHandlers) {
    if (name == action) return h;
  }
  return nullptr;
}

}  // namespace sluice::api
