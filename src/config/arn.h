// The names AWS gives resources, made for Sluice's (reference §9.5): 16-hex-digit ids that
// depend only on the resource's name (so they survive restarts and reloads), ARNs and the
// `app/<name>/<id>` form access logs use. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace sluice::config {

// 16 lower-case hex digits naming `name` among resources of `kind` ("loadbalancer",
// "targetgroup", ...): stable for a name.
std::string ResourceId(std::string_view kind, std::string_view name);

// "app/<name>/<id>" ("net/<name>/<id>" for a network load balancer): the access log's elb
// field, CloudWatch's LoadBalancer dimension, and the tail of the load balancer's ARN.
std::string LoadBalancerLogName(std::string_view name, std::string_view type = "application");
// arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>
// (loadbalancer/net/... for `type` "network")
std::string LoadBalancerArn(const AccountSettings& account, std::string_view name,
                            std::string_view type = "application");
// "targetgroup/<name>/<id>": CloudWatch's TargetGroup dimension and the tail of the ARN.
std::string TargetGroupDimension(std::string_view name);
// arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>
std::string TargetGroupArn(const AccountSettings& account, std::string_view name);
// A listener's id: its `Id` when set, otherwise derived from the load balancer and port.
std::string ListenerId(std::string_view load_balancer, const Listener& listener);
// A rule's id: its `Id` when set, otherwise derived from the listener's id and priority.
std::string RuleId(std::string_view listener_id, const Rule& rule);
// The default rule's id (a listener's DefaultActions as a rule): derived from the listener's.
std::string DefaultRuleId(std::string_view listener_id);
// arn:aws:elasticloadbalancing:<region>:<account>:listener/app/<lb>/<lb-id>/<listener-id>
// (listener/net/... for `type` "network")
std::string ListenerArn(const AccountSettings& account, std::string_view load_balancer,
                        std::string_view listener_id, std::string_view type = "application");
// ...:listener-rule/app/<lb>/<lb-id>/<listener-id>/<rule-id>
std::string RuleArn(const AccountSettings& account, std::string_view load_balancer,
                    std::string_view listener_id, std::string_view rule_id,
                    std::string_view type = "application");

// The parts of an elbv2 ARN: `kind` is "loadbalancer", "listener", "listener-rule" or
// "targetgroup"; `name` the load balancer's or target group's name; `ids` the ids after it.
struct ArnParts {
  std::string region;
  std::string account;
  std::string kind;
  std::string name;
  std::vector<std::string> ids;
};
// Parses `arn` (partition aws, aws-cn or aws-us-gov; service elasticloadbalancing);
// nullopt when it is not such an ARN.
std::optional<ArnParts> ParseArn(std::string_view arn);

// arn:aws:elasticloadbalancing:<region>:<account>:truststore/<name>/<id> (TrustStores)
std::string TrustStoreArn(const AccountSettings& account, std::string_view name);

// arn:aws:acm:<region>:<account>:certificate/<name> (the store's certificates by name)
std::string CertificateArn(const AccountSettings& account, std::string_view name);

}  // namespace sluice::config
