// Tests for the dashboard's model: rules in the listener's order with the default last, each
// condition and action as one line, network load balancers in their namespace, and which
// load balancers use each target group.
#include "control/dashboard_model.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config/arn.h"

namespace sluice::control {
namespace {

config::Condition Path(std::vector<std::string> values) {
  config::Condition c;
  c.field = config::ConditionField::kPathPattern;
  c.values = std::move(values);
  return c;
}

config::Action Forward(std::vector<std::pair<std::string, int>> groups) {
  config::Action a;
  a.type = config::ActionType::kForward;
  for (auto& [name, weight] : groups) a.forward.target_groups.push_back({name, weight, -1});
  return a;
}

config::Config Sample() {
  config::Config c;
  config::LoadBalancer web;
  web.name = "web";
  config::Listener http;
  http.port = 80;
  config::Rule auth;
  auth.priority = 10;
  auth.conditions = {Path({"/auth/*", "/login"})};
  auth.actions = {Forward({{"auth", 1}})};
  config::Rule split;
  split.priority = 20;
  config::Condition header;
  header.field = config::ConditionField::kHttpHeader;
  header.http_header_name = "X-Canary";
  header.values = {"1"};
  split.conditions = {header};
  split.actions = {Forward({{"blue", 1}, {"green", 3}})};
  http.rules = {auth, split};
  config::Action fixed;
  fixed.type = config::ActionType::kFixedResponse;
  fixed.fixed_response.status_code = 404;
  fixed.fixed_response.content_type = "text/plain";
  http.default_actions = {fixed};
  web.listeners = {http};
  config::LoadBalancer db;
  db.name = "db";
  db.type = "network";
  config::Listener tcp;
  tcp.protocol = "TCP";
  tcp.port = 5432;
  tcp.default_actions = {Forward({{"pg", 1}})};
  db.listeners = {tcp};
  c.load_balancers = {web, db};
  for (const char* name : {"auth", "blue", "green", "pg", "spare"}) {
    config::TargetGroup tg;
    tg.name = name;
    tg.port = 8080;
    c.target_groups.push_back(tg);
  }
  c.target_groups[3].protocol = "TCP";
  c.target_groups[3].health_check.protocol = "TCP";
  c.target_groups[4].health_check.enabled = false;
  return c;
}

TEST(DashboardModelTest, ListsRulesInOrderWithTheDefaultLast) {
  auto doc = nlohmann::json::parse(DashboardModelJson(Sample(), 10));
  EXPECT_EQ(doc["MetricsResolutionSeconds"], 10);
  const auto& web = doc["LoadBalancers"][0];
  EXPECT_EQ(web["Name"], "web");
  EXPECT_EQ(web["Namespace"], "AWS/ApplicationELB");
  EXPECT_EQ(web["Dimension"], config::LoadBalancerLogName("web"));
  const auto& rules = web["Listeners"][0]["Rules"];
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0]["Priority"], "10");
  EXPECT_EQ(rules[0]["Conditions"][0], "path-pattern /auth/*, /login");
  EXPECT_EQ(rules[0]["Actions"][0], "forward auth (weight 1)");
  EXPECT_EQ(rules[1]["Conditions"][0], "http-header X-Canary 1");
  EXPECT_EQ(rules[1]["Actions"][0], "forward blue (weight 1), green (weight 3)");
  EXPECT_EQ(rules[2]["Priority"], "default");
  EXPECT_TRUE(rules[2]["Conditions"].empty());
  EXPECT_EQ(rules[2]["Actions"][0], "fixed-response 404 text/plain");
  const auto& db = doc["LoadBalancers"][1];
  EXPECT_EQ(db["Namespace"], "AWS/NetworkELB");
  EXPECT_EQ(db["Dimension"], config::LoadBalancerLogName("db", "network"));
  EXPECT_EQ(db["Listeners"][0]["Protocol"], "TCP");
}

TEST(DashboardModelTest, TargetGroupsNameTheirLoadBalancersAndHealthChecks) {
  auto doc = nlohmann::json::parse(DashboardModelJson(Sample(), 1));
  const auto& tgs = doc["TargetGroups"];
  ASSERT_EQ(tgs.size(), 5u);
  EXPECT_EQ(tgs[0]["Dimension"], config::TargetGroupDimension("auth"));
  EXPECT_EQ(tgs[0]["LoadBalancers"], nlohmann::json::array({"web"}));
  EXPECT_EQ(tgs[0]["HealthCheck"], "HTTP / every 30 s");
  EXPECT_EQ(tgs[2]["LoadBalancers"], nlohmann::json::array({"web"}));
  EXPECT_EQ(tgs[3]["LoadBalancers"], nlohmann::json::array({"db"}));
  EXPECT_EQ(tgs[3]["HealthCheck"], "TCP every 30 s");
  EXPECT_TRUE(tgs[4]["LoadBalancers"].empty());
  EXPECT_EQ(tgs[4]["HealthCheck"], "off");
}

TEST(DashboardModelTest, ActionsAndConditionsReadAsOneLine) {
  config::Action redirect;
  redirect.type = config::ActionType::kRedirect;
  redirect.redirect.protocol = "HTTPS";
  redirect.redirect.port = "443";
  EXPECT_EQ(DescribeAction(redirect), "redirect HTTP_301 HTTPS://#{host}:443/#{path}?#{query}");
  config::Condition query;
  query.field = config::ConditionField::kQueryString;
  query.query_values = {{std::string("v"), "2"}, {std::nullopt, "beta"}};
  EXPECT_EQ(DescribeCondition(query), "query-string v=2, beta");
  config::Condition host;
  host.field = config::ConditionField::kHostHeader;
  host.values = {"a.example"};
  host.regex_values = {"^b\\..*$"};
  EXPECT_EQ(DescribeCondition(host), "host-header a.example, ~^b\\..*$");
}

TEST(DashboardModelTest, NonUtf8ValuesAreReplacedNotThrown) {
  config::Config c = Sample();
  c.load_balancers[0].listeners[0].rules[0].conditions[0].values = {"/caf\xe9"};
  std::string json = DashboardModelJson(c, 10);
  EXPECT_TRUE(nlohmann::json::accept(json));
}

}  // namespace
}  // namespace sluice::control
