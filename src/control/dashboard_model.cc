#include "control/dashboard_model.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "config/arn.h"
#include "config/condition_fields.h"
#include "config/forwards.h"

namespace sluice::control {
namespace {

using Json = nlohmann::ordered_json;

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

Json Rule(std::string priority, const std::vector<config::Condition>& conditions,
          const std::vector<config::Action>& actions) {
  Json rule;
  rule["Priority"] = std::move(priority);
  rule["Conditions"] = Json::array();
  for (const config::Condition& c : conditions) rule["Conditions"].push_back(DescribeCondition(c));
  rule["Actions"] = Json::array();
  for (const config::Action& a : actions) rule["Actions"].push_back(DescribeAction(a));
  return rule;
}

Json Listener(const config::Listener& listener) {
  Json out;
  out["Protocol"] = listener.protocol;
  out["Address"] = listener.bind_address;
  out["Port"] = listener.port;
  out["Rules"] = Json::array();
  for (const config::Rule& r : listener.rules) {  // sorted by priority by the loader
    out["Rules"].push_back(Rule(std::to_string(r.priority), r.conditions, r.actions));
  }
  out["Rules"].push_back(Rule("default", {}, listener.default_actions));
  return out;
}

std::string HealthCheckText(const config::HealthCheck& hc) {
  if (!hc.enabled) return "off";
  std::string out = hc.protocol;
  if (hc.protocol == "HTTP" || hc.protocol == "HTTPS") out += " " + hc.path;
  if (hc.port != "traffic-port") out += " port " + hc.port;
  return out + " every " + std::to_string(hc.interval_seconds) + " s";
}

// Target group name → the load balancers whose listeners forward to it.
std::map<std::string, std::set<std::string>> GroupUsers(const config::Config& config) {
  std::map<std::string, std::set<std::string>> users;
  config::ForEachForward(
      config, [&](const config::LoadBalancer& lb, const config::Listener&,
                  const config::TargetGroupTuple& t) { users[t.target_group].insert(lb.name); });
  return users;
}

}  // namespace

std::string DescribeCondition(const config::Condition& c) {
  std::string out = config::InfoOf(c.field).name;
  if (c.field == config::ConditionField::kHttpHeader) out += " " + c.http_header_name;
  std::vector<std::string> values = c.values;
  for (const std::string& r : c.regex_values) values.push_back("~" + r);
  for (const config::QueryStringKeyValue& kv : c.query_values) {
    values.push_back(kv.key ? *kv.key + "=" + kv.value : kv.value);
  }
  return out + " " + Joined(values);
}

std::string DescribeAction(const config::Action& a) {
  switch (a.type) {
    case config::ActionType::kForward: {
      std::vector<std::string> groups;
      for (const config::TargetGroupTuple& t : a.forward.target_groups) {
        groups.push_back(t.target_group + " (weight " + std::to_string(t.weight) + ")");
      }
      std::string out = "forward " + Joined(groups);
      if (a.forward.stickiness_enabled) {
        out += ", group stickiness " + std::to_string(a.forward.stickiness_duration_seconds) + " s";
      }
      return out;
    }
    case config::ActionType::kRedirect: {
      const config::RedirectConfig& r = a.redirect;
      return "redirect HTTP_" + std::to_string(r.status_code) + " " + r.protocol + "://" + r.host +
             ":" + r.port + r.path + "?" + r.query;
    }
    case config::ActionType::kFixedResponse: {
      const config::FixedResponseConfig& f = a.fixed_response;
      return "fixed-response " + std::to_string(f.status_code) +
             (f.content_type.empty() ? "" : " " + f.content_type);
    }
  }
  return "";
}

std::string DashboardModelJson(const config::Config& config, int resolution_s) {
  Json out;
  out["MetricsResolutionSeconds"] = resolution_s;
  out["LoadBalancers"] = Json::array();
  for (const config::LoadBalancer& lb : config.load_balancers) {
    const bool network = lb.type == "network";
    Json j;
    j["Name"] = lb.name;
    j["Type"] = lb.type;
    j["Namespace"] = network ? "AWS/NetworkELB" : "AWS/ApplicationELB";
    j["Dimension"] = config::LoadBalancerLogName(lb.name, lb.type);
    j["Listeners"] = Json::array();
    for (const config::Listener& l : lb.listeners) j["Listeners"].push_back(Listener(l));
    out["LoadBalancers"].push_back(std::move(j));
  }
  out["TargetGroups"] = Json::array();
  std::map<std::string, std::set<std::string>> users = GroupUsers(config);
  for (const config::TargetGroup& tg : config.target_groups) {
    Json j;
    j["Name"] = tg.name;
    j["Protocol"] = tg.protocol;
    j["Port"] = tg.port;
    j["Dimension"] = config::TargetGroupDimension(tg.name);
    j["HealthCheck"] = HealthCheckText(tg.health_check);
    j["LoadBalancers"] = Json::array();
    for (const std::string& lb : users[tg.name]) j["LoadBalancers"].push_back(lb);
    out["TargetGroups"].push_back(std::move(j));
  }
  // Replace, not throw, should a value not be UTF-8 (the API and the loader check names, but
  // condition values are the user's).
  return out.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace sluice::control
