// The elbv2 API's resource shapes in XML (reference §9.3): load balancers, listeners, rules,
// actions, conditions, transforms, target groups and target health, written from the config
// model. Pure; control plane only.
#pragma once

#include <string>
#include <string_view>

#include "api/xml.h"
#include "config/model.h"
#include "health/checker.h"

namespace sluice::api {

// The DNS name Sluice gives a load balancer: <name>-<digits>.<region>.elb.localhost (the
// `.localhost` names resolve to loopback; see docs/alb-compatibility.md).
std::string LoadBalancerDnsName(const config::AccountSettings& account, std::string_view name);

// The load balancer's IpAddressType as Sluice serves it: "dualstack" when it or one of its
// listeners binds an IPv6 address ("::" takes IPv4 too), otherwise "ipv4".
std::string IpAddressTypeOf(const config::LoadBalancer& lb);

// Each writes one `<member>...</member>`.
void WriteLoadBalancer(const config::Config& config, const config::LoadBalancer& lb,
                       std::string_view created_time, XmlWriter* w);
void WriteListener(const config::Config& config, const config::LoadBalancer& lb,
                   const config::Listener& listener, XmlWriter* w);
// `rule` null: the listener's default rule.
void WriteRule(const config::Config& config, const config::LoadBalancer& lb,
               const config::Listener& listener, const config::Rule* rule, XmlWriter* w);
void WriteTargetGroup(const config::Config& config, const config::TargetGroup& tg, XmlWriter* w);
void WriteTargetHealth(const health::TargetHealthRow& row, XmlWriter* w);

// <Actions>/<DefaultActions> lists.
void WriteActions(const config::Config& config, std::string_view tag,
                  const std::vector<config::Action>& actions, XmlWriter* w);

// The load balancer ARNs whose listeners forward to `group` (TargetGroup.LoadBalancerArns).
std::vector<std::string> LoadBalancersOf(const config::Config& config, std::string_view group);

}  // namespace sluice::api
