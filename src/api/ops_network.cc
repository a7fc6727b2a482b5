// A load balancer's network settings and reserved capacity (reference §9.6): SetIpAddressType,
// SetSubnets, SetSecurityGroups, ModifyIpPools, DescribeCapacityReservation and
// ModifyCapacityReservation. A Sluice load balancer is one host's addresses: it has no
// subnets, security groups, IPAM pools or reserved capacity, and its IP address type follows
// the addresses its listeners bind. Each operation answers what AWS answers for a load
// balancer without these (the choices are in docs/alb-compatibility.md); none changes the
// model, so each echoes what the model has.
#include "api/decode.h"
#include "api/render.h"
#include "api/service.h"
#include "base/ip_address.h"

namespace sluice::api {
namespace {

// The load balancer `LoadBalancerArn` names (required).
ApiResult<const config::LoadBalancer*> LoadBalancerOf(const CallContext& c) {
  auto arn = RequireString(c.params, "LoadBalancerArn", "loadBalancerArn");
  if (!arn.ok()) return arn.error();
  auto i = FindLoadBalancer(c.config, arn.value());
  if (!i.ok()) return i.error();
  return &c.config.load_balancers[i.value()];
}

std::string BindAddressText(const config::LoadBalancer& lb) {
  return lb.bind_address.empty() ? std::string("0.0.0.0") : lb.bind_address;
}

// A requested IpAddressType: an enum value, and the one the load balancer's bind addresses
// give it (Sluice cannot add or remove a family without changing the address it binds).
std::optional<ApiError> CheckIpAddressType(const config::LoadBalancer& lb, const std::string& want,
                                           std::string_view path) {
  if (want != "ipv4" && want != "dualstack" && want != "dualstack-without-public-ipv4") {
    return Validation(want, path,
                      "Member must satisfy enum value set: [ipv4, dualstack, "
                      "dualstack-without-public-ipv4]");
  }
  std::string have = IpAddressTypeOf(lb);
  if (want == have) return std::nullopt;
  std::string how = want == "dualstack" ? "bind an IPv6 address (:: takes IPv4 too)"
                    : want == "ipv4"    ? "bind IPv4 addresses only"
                                        : "an internal load balancer has no public addresses";
  return SenderError("InvalidConfigurationRequest",
                     "Load balancer '" + lb.name + "' is " + have +
                         ": its IP address type follows the addresses its listeners bind (" +
                         BindAddressText(lb) + "); for " + want + ", " + how);
}

ApiResult<OperationOutput> SetIpAddressType(const CallContext& c) {
  auto want = RequireString(c.params, "IpAddressType", "ipAddressType");
  if (!want.ok()) return want.error();
  auto lb = LoadBalancerOf(c);
  if (!lb.ok()) return lb.error();
  if (auto e = CheckIpAddressType(*lb.value(), want.value(), "ipAddressType")) return *e;
  XmlWriter w;
  w.Leaf("IpAddressType", want.value());
  return OperationOutput{std::move(w.str()), std::nullopt};
}

// SetSubnets: no zones to change. A PrivateIPv4Address must be the load balancer's own bind
// address (moving listeners to another address is not done here).
ApiResult<OperationOutput> SetSubnets(const CallContext& c) {
  auto lb = LoadBalancerOf(c);
  if (!lb.ok()) return lb.error();
  const config::LoadBalancer& b = *lb.value();
  if (const std::string* t = c.params.Get("IpAddressType")) {
    if (auto e = CheckIpAddressType(b, *t, "ipAddressType")) return *e;
  }
  if (c.params.Has("EnablePrefixForIpv6SourceNat")) {
    return SenderError("InvalidConfigurationRequest",
                       "EnablePrefixForIpv6SourceNat applies to Network Load Balancers only");
  }
  for (const QueryParams& m :
       c.params.StructList("SubnetMappings").value_or(std::vector<QueryParams>{})) {
    const std::string* ip = m.Get("PrivateIPv4Address");
    if (ip == nullptr) continue;
    std::optional<IpAddress> want = IpAddress::Parse(*ip);
    std::optional<IpAddress> have = IpAddress::Parse(BindAddressText(b));
    if (!want || !have || !(*want == *have)) {
      return SenderError("InvalidConfigurationRequest",
                         "PrivateIPv4Address '" + *ip + "' is not the address load balancer '" +
                             b.name + "' binds (" + BindAddressText(b) +
                             "); Sluice does not move a load balancer to another address");
    }
  }
  XmlWriter w;
  w.Empty("AvailabilityZones").Leaf("IpAddressType", IpAddressTypeOf(b));
  return OperationOutput{std::move(w.str()), std::nullopt};
}

// SetSecurityGroups: accepted; Sluice keeps no security groups (the host's firewall is the
// place for such rules), so the answer lists the groups the load balancer has: none.
ApiResult<OperationOutput> SetSecurityGroups(const CallContext& c) {
  if (!c.params.List("SecurityGroups")) {
    return Validation("", "securityGroups", "Member must not be null", true);
  }
  auto lb = LoadBalancerOf(c);
  if (!lb.ok()) return lb.error();
  const std::string* enforce = c.params.Get("EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic");
  if (enforce != nullptr && *enforce != "on" && *enforce != "off") {
    return Validation(*enforce, "enforceSecurityGroupInboundRulesOnPrivateLinkTraffic",
                      "Member must satisfy enum value set: [on, off]");
  }
  XmlWriter w;
  w.Empty("SecurityGroupIds");
  return OperationOutput{std::move(w.str()), std::nullopt};
}

// ModifyIpPools: the load balancer has no IPAM pool; removing it is a no-op, and there is
// none to attach.
ApiResult<OperationOutput> ModifyIpPools(const CallContext& c) {
  auto lb = LoadBalancerOf(c);
  if (!lb.ok()) return lb.error();
  for (const std::string& r :
       c.params.List("RemoveIpamPools").value_or(std::vector<std::string>{})) {
    if (r != "ipv4") {
      return Validation(r, "removeIpamPools.member", "Member must satisfy enum value set: [ipv4]");
    }
  }
  if (const std::string* pool = c.params.Get("IpamPools.Ipv4IpamPoolId")) {
    return SenderError("ValidationError",
                       "The IPAM pool '" + *pool + "' does not exist: Sluice has no IPAM pools");
  }
  return OperationOutput{"", std::nullopt};
}

// No reservation: an empty CapacityReservationState and no MinimumLoadBalancerCapacity.
ApiResult<OperationOutput> DescribeCapacityReservation(const CallContext& c) {
  auto lb = LoadBalancerOf(c);
  if (!lb.ok()) return lb.error();
  XmlWriter w;
  w.Empty("CapacityReservationState");
  return OperationOutput{std::move(w.str()), std::nullopt};
}

// A reset is a no-op; a reservation exceeds Sluice's limit of 0 capacity units.
ApiResult<OperationOutput> ModifyCapacityReservation(const CallContext& c) {
  auto lb = LoadBalancerOf(c);
  if (!lb.ok()) return lb.error();
  auto reset = ReadBoolean(c.params, "ResetCapacityReservation", "resetCapacityReservation");
  if (!reset.ok()) return reset.error();
  auto units = ReadInteger(c.params, "MinimumLoadBalancerCapacity.CapacityUnits",
                           "minimumLoadBalancerCapacity.capacityUnits", 0, 2147483647);
  if (!units.ok()) return units.error();
  bool resetting = reset.value().value_or(false);
  if (resetting == units.value().has_value()) {
    return SenderError("ValidationError",
                       "Exactly one of MinimumLoadBalancerCapacity and ResetCapacityReservation "
                       "must be specified");
  }
  if (units.value()) {
    return SenderError("CapacityUnitsLimitExceeded",
                       "You've exceeded the capacity units limit: Sluice reserves no load "
                       "balancer capacity units (its limit is 0)");
  }
  XmlWriter w;
  w.Empty("CapacityReservationState");
  return OperationOutput{std::move(w.str()), std::nullopt};
}

}  // namespace

Handler FindNetworkHandler(std::string_view action, bool* mutating) {
  static const std::pair<std::string_view, Handler> kHandlers[] = {
      {"SetIpAddressType", SetIpAddressType},
      {"SetSubnets", SetSubnets},
      {"SetSecurityGroups", SetSecurityGroups},
      {"ModifyIpPools", ModifyIpPools},
      {"DescribeCapacityReservation", DescribeCapacityReservation},
      {"ModifyCapacityReservation", ModifyCapacityReservation},
  };
  for (const auto& [name, h] : kHandlers) {
    if (name == action) {
      *mutating = action.rfind("Describe", 0) != 0;  // refused for a file-managed config
      return h;
    }
  }
  return nullptr;
}

}  // namespace sluice::api
