// The Describe* operations: read the model and the health checker's report; and the
// pagination (Marker/PageSize) every paginated Describe* shares (service.h).
#include <algorithm>
#include <charconv>

#include "api/decode.h"
#include "api/render.h"
#include "api/service.h"
#include "config/arn.h"
#include "config/ssl_policies.h"
#include "config/validate.h"

namespace sluice::api {

ApiResult<Page> PageOf(const QueryParams& p, size_t total) {
  auto size = ReadInteger(p, "PageSize", "pageSize", 1, 400);
  if (!size.ok()) return size.error();
  size_t begin = 0;
  if (const std::string* m = p.Get("Marker")) {
    auto [end, ec] = std::from_chars(m->data(), m->data() + m->size(), begin);
    if (ec != std::errc() || end != m->data() + m->size() || begin > total) {
      return SenderError("ValidationError", "Invalid value for parameter Marker: " + *m);
    }
  }
  size_t n = static_cast<size_t>(size.value().value_or(400));
  return Page{begin, std::min(total, begin + n)};
}

void NextMarker(const Page& page, size_t total, XmlWriter* w) {
  if (page.end < total) w->Leaf("NextMarker", std::to_string(page.end));
}

namespace {

ApiResult<OperationOutput> DescribeLoadBalancers(const CallContext& c) {
  std::vector<size_t> picked;
  auto arns = c.params.List("LoadBalancerArns");
  auto names = c.params.List("Names");
  if (arns && arns->size() > 20) {
    return Validation("", "loadBalancerArns", "Member must have length less than or equal to 20");
  }
  if (arns && !arns->empty()) {
    for (const std::string& arn : *arns) {
      auto i = FindLoadBalancer(c.config, arn);
      if (!i.ok()) return i.error();
      picked.push_back(i.value());
    }
  } else if (names && !names->empty()) {
    for (const std::string& name : *names) {
      auto it = std::find_if(c.config.load_balancers.begin(), c.config.load_balancers.end(),
                             [&](const config::LoadBalancer& lb) { return lb.name == name; });
      if (it == c.config.load_balancers.end()) {
        return SenderError("LoadBalancerNotFound", "Load balancers '[" + name + "]' not found");
      }
      picked.push_back(static_cast<size_t>(it - c.config.load_balancers.begin()));
    }
  } else {
    for (size_t i = 0; i < c.config.load_balancers.size(); ++i) picked.push_back(i);
  }
  auto page = PageOf(c.params, picked.size());
  if (!page.ok()) return page.error();
  XmlWriter w;
  w.Open("LoadBalancers");
  for (size_t i = page.value().begin; i < page.value().end; ++i) {
    WriteLoadBalancer(c.config, c.config.load_balancers[picked[i]], c.hooks.created_time, &w);
  }
  w.Close("LoadBalancers");
  NextMarker(page.value(), picked.size(), &w);
  return OperationOutput{std::move(w.str()), std::nullopt};
}

ApiResult<OperationOutput> DescribeListeners(const CallContext& c) {
  std::vector<ListenerRef> picked;
  auto arns = c.params.List("ListenerArns");
  if (const std::string* lb_arn = c.params.Get("LoadBalancerArn")) {
    auto lb = FindLoadBalancer(c.config, *lb_arn);
    if (!lb.ok()) return lb.error();
    for (size_t k = 0; k < c.config.load_balancers[lb.value()].listeners.size(); ++k) {
      picked.push_back({lb.value(), k});
    }
  } else if (arns && !arns->empty()) {
    for (const std::string& arn : *arns) {
      auto ref = FindListener(c.config, arn);
      if (!ref.ok()) return ref.error();
      picked.push_back(ref.value());
    }
  } else {
    return SenderError("ValidationError",
                       "You must specify either listener ARNs or a load balancer ARN");
  }
  auto page = PageOf(c.params, picked.size());
  if (!page.ok()) return page.error();
  XmlWriter w;
  w.Open("Listeners");
  for (size_t i = page.value().begin; i < page.value().end; ++i) {
    const config::LoadBalancer& lb = c.config.load_balancers[picked[i].lb];
    WriteListener(c.config, lb, lb.listeners[picked[i].listener], &w);
  }
  w.Close("Listeners");
  NextMarker(page.value(), picked.size(), &w);
  return OperationOutput{std::move(w.str()), std::nullopt};
}

ApiResult<OperationOutput> DescribeRules(const CallContext& c) {
  std::vector<RuleRef> picked;
  auto arns = c.params.List("RuleArns");
  if (const std::string* l_arn = c.params.Get("ListenerArn")) {
    auto ref = FindListener(c.config, *l_arn);
    if (!ref.ok()) return ref.error();
    const config::Listener& l =
        c.config.load_balancers[ref.value().lb].listeners[ref.value().listener];
    // In priority order, the default rule last (as AWS lists them).
    for (size_t r = 0; r < l.rules.size(); ++r) {
      picked.push_back({ref.value().lb, ref.value().listener, static_cast<int>(r)});
    }
    picked.push_back({ref.value().lb, ref.value().listener, -1});
  } else if (arns && !arns->empty()) {
    for (const std::string& arn : *arns) {
      auto ref = FindRule(c.config, arn);
      if (!ref.ok()) return ref.error();
      picked.push_back(ref.value());
    }
  } else {
    return SenderError("ValidationError",
                       "You must specify either listener rule ARNs or a listener ARN");
  }
  auto page = PageOf(c.params, picked.size());
  if (!page.ok()) return page.error();
  XmlWriter w;
  w.Open("Rules");
  for (size_t i = page.value().begin; i < page.value().end; ++i) {
    const config::LoadBalancer& lb = c.config.load_balancers[picked[i].lb];
    const config::Listener& l = lb.listeners[picked[i].listener];
    WriteRule(c.config, lb, l, picked[i].rule < 0 ? nullptr : &l.rules[picked[i].rule], &w);
  }
  w.Close("Rules");
  NextMarker(page.value(), picked.size(), &w);
  return OperationOutput{std::move(w.str()), std::nullopt};
}

ApiResult<OperationOutput> DescribeTargetGroups(const CallContext& c) {
  std::vector<size_t> picked;
  auto arns = c.params.List("TargetGroupArns");
  auto names = c.params.List("Names");
  const auto& groups = c.config.target_groups;
  if (const std::string* lb_arn = c.params.Get("LoadBalancerArn")) {
    auto lb = FindLoadBalancer(c.config, *lb_arn);
    if (!lb.ok()) return lb.error();
    for (size_t i = 0; i < groups.size(); ++i) {
      for (const std::string& a : LoadBalancersOf(c.config, groups[i].name)) {
        if (a == *lb_arn) picked.push_back(i);
      }
    }
  } else if (arns && !arns->empty()) {
    for (const std::string& arn : *arns) {
      auto i = FindTargetGroup(c.config, arn);
      if (!i.ok()) return i.error();
      picked.push_back(i.value());
    }
  } else if (names && !names->empty()) {
    for (const std::string& name : *names) {
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](const config::TargetGroup& g) { return g.name == name; });
      if (it == groups.end()) {
        return SenderError("TargetGroupNotFound", "One or more target groups not found");
      }
      picked.push_back(static_cast<size_t>(it - groups.begin()));
    }
  } else {
    for (size_t i = 0; i < groups.size(); ++i) picked.push_back(i);
  }
  auto page = PageOf(c.params, picked.size());
  if (!page.ok()) return page.error();
  XmlWriter w;
  w.Open("TargetGroups");
  for (size_t i = page.value().begin; i < page.value().end; ++i) {
    WriteTargetGroup(c.config, groups[picked[i]], &w);
  }
  w.Close("TargetGroups");
  NextMarker(page.value(), picked.size(), &w);
  return OperationOutput{std::move(w.str()), std::nullopt};
}

ApiResult<OperationOutput> DescribeTargetHealth(const CallContext& c) {
  auto arn = RequireString(c.params, "TargetGroupArn", "targetGroupArn");
  if (!arn.ok()) return arn.error();
  auto g = FindTargetGroup(c.config, arn.value());
  if (!g.ok()) return g.error();
  const config::TargetGroup& tg = c.config.target_groups[g.value()];
  std::vector<health::TargetHealthRow> rows;
  for (health::TargetGroupHealth& h : c.hooks.health()) {
    if (h.group == tg.name) rows = std::move(h.targets);
  }
  XmlWriter w;
  w.Open("TargetHealthDescriptions");
  if (auto wanted = c.params.StructList("Targets"); wanted && !wanted->empty()) {
    auto targets = DecodeTargets(c.params, 0);
    if (!targets.ok()) return targets.error();
    for (const config::Target& t : targets.value()) {
      bool found = false;
      for (const health::TargetHealthRow& row : rows) {
        if (row.id == t.id && (t.port == 0 || row.port == t.port)) {
          WriteTargetHealth(row, &w);
          found = true;
        }
      }
      if (!found) {
        // Named but not registered: `unused`, Target.NotRegistered (the TargetDeregistered
        // waiter's success condition).
        health::TargetHealthRow row{t.id,
                                    t.port ? t.port : tg.port,
                                    t.port ? t.port : tg.port,
                                    health::TargetState::kUnused,
                                    health::Reason::kTargetNotRegistered,
                                    0};
        WriteTargetHealth(row, &w);
      }
    }
  } else {
    for (const health::TargetHealthRow& row : rows) WriteTargetHealth(row, &w);
  }
  w.Close("TargetHealthDescriptions");
  return OperationOutput{std::move(w.str()), std::nullopt};
}

ApiResult<OperationOutput> DescribeAccountLimits(const CallContext& c) {
  // Sluice's own limits: what the loader enforces (config/validate.h), not AWS's quotas.
  static const std::pair<const char*, long> kLimits[] = {
      {"application-load-balancers", 1000},
      {"condition-values-per-alb-rule", config::internal::kMaxValuesPerRule},
      {"condition-wildcards-per-alb-rule", config::internal::kMaxWildcardsPerRule},
      {"listeners-per-application-load-balancer", 50},
      {"rules-per-application-load-balancer", 10000},
      {"target-groups", 10000},
      {"target-groups-per-action-on-application-load-balancer",
       config::internal::kMaxTargetGroupsPerAction},
      {"target-groups-per-application-load-balancer", 10000},
      {"targets-per-application-load-balancer",
       static_cast<long>(config::internal::kMaxTargetsPerGroup)},
  };
  XmlWriter w;
  w.Open("Limits");
  for (const auto& [name, max] : kLimits) {
    w.Open("member").Leaf("Name", name).Leaf("Max", std::to_string(max)).Close("member");
  }
  w.Close("Limits");
  return OperationOutput{std::move(w.str()), std::nullopt};
}

ApiResult<OperationOutput> DescribeSSLPolicies(const CallContext& c) {
  auto names = c.params.List("Names");
  XmlWriter w;
  w.Open("SslPolicies");
  for (const config::SslPolicy& p : config::SslPolicies()) {
    if (names && !names->empty() &&
        std::find(names->begin(), names->end(), p.name) == names->end()) {
      continue;
    }
    w.Open("member").Leaf("Name", p.name).Open("Ciphers");
    int priority = 1;
    for (std::string_view cipher : p.ciphers) {
      w.Open("member").Leaf("Name", cipher).Leaf("Priority", priority++).Close("member");
    }
    w.Close("Ciphers").Open("SupportedLoadBalancerTypes").Leaf("member", "application");
    w.Close("SupportedLoadBalancerTypes").Close("member");
  }
  w.Close("SslPolicies");
  if (names) {
    for (const std::string& n : *names) {
      if (config::FindSslPolicy(n) == nullptr) {
        return SenderError("SSLPolicyNotFound", "One or more SSL policies not found");
      }
    }
  }
  return OperationOutput{std::move(w.str()), std::nullopt};
}

}  // namespace

Handler FindReadHandler(std::string_view action) {
  static const std::pair<std::string_view, Handler> kHandlers[] = {
      {"DescribeLoadBalancers", DescribeLoadBalancers},
      {"DescribeListeners", DescribeListeners},
      {"DescribeRules", DescribeRules},
      {"DescribeTargetGroups", DescribeTargetGroups},
      {"DescribeTargetHealth", DescribeTargetHealth},
      {"DescribeAccountLimits", DescribeAccountLimits},
      {"DescribeSSLPolicies", DescribeSSLPolicies},
  };
  for (const auto& [name, h] : kHandlers) {
    if (name == action) return h;
  }
  return nullptr;
}

}  // namespace sluice::api
