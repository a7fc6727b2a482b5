// What the admin dashboard draws besides health and metrics: the load balancers, their
// listeners, each listener's rules in priority order (conditions and actions as one line of
// text each) and the target groups, with the CloudWatch dimension values the dashboard
// queries GET /cloudwatch with. Pure; built by the admin endpoint when the dashboard first
// asks for a model published to it (AdminServer::set_model).
#pragma once

#include <string>

#include "config/model.h"

namespace sluice::control {

// {"MetricsResolutionSeconds":10,
//  "LoadBalancers":[{"Name","Type","Namespace","Dimension",
//                    "Listeners":[{"Protocol","Address","Port",
//                                  "Rules":[{"Priority":"1"|"default","Conditions":[".."],
//                                            "Actions":[".."]}]}]}],
//  "TargetGroups":[{"Name","Protocol","Port","Dimension","HealthCheck","LoadBalancers":[..]}]}
// `resolution_s` is the metric history's running resolution (it changes only at restart).
std::string DashboardModelJson(const config::Config& config, int resolution_s);

// One rule condition or action as the dashboard shows it: "path-pattern /auth/*, /login",
// "forward auth (weight 1), blue (weight 3)", "redirect HTTP_301
// https://#{host}:443/#{path}?#{query}", "fixed-response 503 text/plain". Exposed for tests.
std::string DescribeCondition(const config::Condition& condition);
std::string DescribeAction(const config::Action& action);

}  // namespace sluice::control
