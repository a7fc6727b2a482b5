// The names AWS gives resources, made for Sluice's (reference §9.5): 16-hex-digit ids that
// depend only on the resource's name (so they survive restarts and reloads), ARNs and the
// `app/<name>/<id>` form access logs use. Pure.
#pragma once

#include <string>
#include <string_view>

#include "config/model.h"

namespace sluice::config {

// 16 lower-case hex digits naming `name` among resources of `kind` ("loadbalancer",
// "targetgroup", ...): stable for a name.
std::string ResourceId(std::string_view kind, std::string_view name);

// "app/<name>/<id>": the access log's elb field and the tail of the load balancer's ARN.
std::string LoadBalancerLogName(std::string_view name);
// arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>
std::string LoadBalancerArn(const AccountSettings& account, std::string_view name);
// "targetgroup/<name>/<id>": CloudWatch's TargetGroup dimension and the tail of the ARN.
std::string TargetGroupDimension(std::string_view name);
// arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>
std::string TargetGroupArn(const AccountSettings& account, std::string_view name);
// arn:aws:acm:<region>:<account>:certificate/<name> (the store's certificates by name)
std::string CertificateArn(const AccountSettings& account, std::string_view name);

}  // namespace sluice::config
