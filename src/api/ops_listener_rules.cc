// A listener's settings, rules and default actions: ModifyListener, CreateRule, ModifyRule,
// DeleteRule and SetRulePriorities. Each returns the next model; a change within one listener
// is checked with its rules only (config::CheckListenerRulesChange, decision 0030).
#include <algorithm>
#include <numeric>
#include <optional>
#include <utility>

#include "api/decode.h"
#include "api/render.h"
#include "api/service.h"
#include "config/arn.h"
#include "config/ssl_policies.h"
#include "config/validate.h"

namespace sluice::api {
namespace {

ApiResult<OperationOutput> Mutation(config::Config next, std::string xml = "") {
  return OperationOutput{std::move(xml), std::move(next)};
}

// A change to the rules (or default actions) of one listener and nothing else: applied with
// config::CheckListenerRulesChange, which checks `changed` (indices into the listener's
// sorted rules) and the listener's priorities rather than loading the whole model again.
ApiResult<OperationOutput> RulesMutation(config::Config next, size_t lb, size_t listener,
                                         std::vector<size_t> changed, std::string xml = "") {
  return OperationOutput{
      std::move(xml),
      std::move(next),
      {.rules_of_listener = config::ListenerRulesChange{lb, listener, std::move(changed)}}};
}

ApiResult<OperationOutput> ModifyListener(const CallContext& c) {
  auto arn = RequireString(c.params, "ListenerArn", "listenerArn");
  if (!arn.ok()) return arn.error();
  auto ref = FindListener(c.config, arn.value());
  if (!ref.ok()) return ref.error();
  config::Config next = c.config;
  FreezeIds(&next);  // the ARN survives a change of port
  config::LoadBalancer& lb = next.load_balancers[ref.value().lb];
  config::Listener& l = lb.listeners[ref.value().listener];
  auto port = ReadInteger(c.params, "Port", "port", 1, 65535);
  if (!port.ok()) return port.error();
  if (port.value()) l.port = *port.value();
  if (const std::string* p = c.params.Get("Protocol")) {
    if (std::optional<ApiError> e = UnsupportedListenerProtocol(lb, *p)) return *e;
    l.protocol = *p;
  }
  const bool takes_tls = l.protocol == "HTTPS" || l.protocol == "TLS";
  if (!takes_tls) {
    // As AWS: a listener made HTTP or TCP drops its certificates and TLS settings.
    l.ssl_policy.clear();
    l.certificates.clear();
    l.mutual_authentication = {};
  } else if (l.ssl_policy.empty()) {
    l.ssl_policy = std::string(config::kDefaultSslPolicy);
  }
  if (l.protocol != "TLS") {
    l.alpn_policy.clear();
  } else if (l.alpn_policy.empty()) {
    l.alpn_policy = "None";
  }
  if (const std::string* p = c.params.Get("SslPolicy")) l.ssl_policy = *p;
  if (c.params.HasAny("DefaultActions")) {
    auto actions = DecodeActions(c.config, c.params, "DefaultActions", "defaultActions");
    if (!actions.ok()) return actions.error();
    l.default_actions = std::move(actions.value());
  }
  auto alpn = DecodeAlpnPolicy(c.params, l.protocol);
  if (!alpn.ok()) return alpn.error();
  if (alpn.value()) l.alpn_policy = std::move(*alpn.value());
  auto mutual = DecodeMutualAuthentication(c, l);
  if (!mutual.ok()) return mutual.error();
  if (mutual.value()) l.mutual_authentication = std::move(*mutual.value());
  if (c.params.HasAny("Certificates")) {  // the default certificate; the list stays
    auto certs = DecodeCertificates(c);
    if (!certs.ok()) return certs.error();
    if (certs.value().size() != 1) {
      return Validation("", "certificates", "A listener has exactly one default certificate");
    }
    if (l.certificates.empty()) {
      l.certificates.push_back(std::move(certs.value().front()));
    } else {
      l.certificates.front() = std::move(certs.value().front());
    }
  }
  XmlWriter w;
  w.Open("Listeners");
  WriteListener(next, lb, l, &w);
  w.Close("Listeners");
  // The rules' checks depend on the listener's protocol (a network listener has none; an
  // HTTP one forwards no HTTP/2): with it unchanged, the rules need no check again; with a new
  // one, all of them are checked again (no other listener's rule reads it).
  const config::Listener& was =
      c.config.load_balancers[ref.value().lb].listeners[ref.value().listener];
  std::vector<size_t> recheck;
  if (l.protocol != was.protocol) {
    recheck.resize(l.rules.size());
    std::iota(recheck.begin(), recheck.end(), size_t{0});
  }
  return RulesMutation(std::move(next), ref.value().lb, ref.value().listener, std::move(recheck),
                       std::move(w.str()));
}

void WriteOneRule(const config::Config& config, const RuleRef& ref, XmlWriter* w) {
  const config::LoadBalancer& lb = config.load_balancers[ref.lb];
  const config::Listener& l = lb.listeners[ref.listener];
  WriteRule(config, lb, l, ref.rule < 0 ? nullptr : &l.rules[static_cast<size_t>(ref.rule)], w);
}

// The rule with `priority` in `l`, as a RuleRef (after the rules were re-sorted).
RuleRef RefOfPriority(const ListenerRef& lr, const config::Listener& l, int priority) {
  for (size_t r = 0; r < l.rules.size(); ++r) {
    if (l.rules[r].priority == priority) return {lr.lb, lr.listener, static_cast<int>(r)};
  }
  return {lr.lb, lr.listener, -1};
}

void SortRules(config::Listener* l) {
  std::stable_sort(
      l->rules.begin(), l->rules.end(),
      [](const config::Rule& a, const config::Rule& b) { return a.priority < b.priority; });
}

ApiResult<OperationOutput> CreateRule(const CallContext& c) {
  auto arn = RequireString(c.params, "ListenerArn", "listenerArn");
  if (!arn.ok()) return arn.error();
  auto ref = FindListener(c.config, arn.value());
  if (!ref.ok()) return ref.error();
  auto priority = ReadInteger(c.params, "Priority", "priority", 1, 50000);
  if (!priority.ok()) return priority.error();
  if (!priority.value()) return Validation("", "priority", "Member must not be null", true);
  config::Rule rule;
  rule.priority = *priority.value();
  auto conditions = DecodeConditions(c.params, "Conditions");
  if (!conditions.ok()) return conditions.error();
  auto actions = DecodeActions(c.config, c.params, "Actions", "actions");
  if (!actions.ok()) return actions.error();
  auto transforms = DecodeTransforms(c.params, "Transforms");
  if (!transforms.ok()) return transforms.error();
  rule.conditions = std::move(conditions.value());
  rule.actions = std::move(actions.value());
  rule.transforms = std::move(transforms.value());
  auto tags = DecodeTags(c.params);
  if (!tags.ok()) return tags.error();
  rule.tags = std::move(tags.value());
  config::Config next = c.config;
  FreezeIds(&next);
  config::Listener& l = next.load_balancers[ref.value().lb].listeners[ref.value().listener];
  for (const config::Rule& r : l.rules) {
    if (r.priority == rule.priority) {
      return SenderError("PriorityInUse",
                         "Priority '" + std::to_string(rule.priority) + "' is currently in use");
    }
  }
  rule.id = config::ResourceId("listener-rule",
                               l.id + ":" + std::to_string(rule.priority) + ":" + NewRequestId());
  l.rules.push_back(std::move(rule));
  SortRules(&l);
  const RuleRef created = RefOfPriority(ref.value(), l, *priority.value());
  XmlWriter w;
  w.Open("Rules");
  WriteOneRule(next, created, &w);
  w.Close("Rules");
  if (created.rule < 0) return Mutation(std::move(next), std::move(w.str()));
  return RulesMutation(std::move(next), created.lb, created.listener,
                       {static_cast<size_t>(created.rule)}, std::move(w.str()));
}

ApiResult<OperationOutput> ModifyRule(const CallContext& c) {
  auto arn = RequireString(c.params, "RuleArn", "ruleArn");
  if (!arn.ok()) return arn.error();
  auto ref = FindRule(c.config, arn.value());
  if (!ref.ok()) return ref.error();
  config::Config next = c.config;
  FreezeIds(&next);
  config::Listener& l = next.load_balancers[ref.value().lb].listeners[ref.value().listener];
  bool is_default = ref.value().rule < 0;
  if (is_default && (c.params.HasAny("Conditions") || c.params.HasAny("Transforms"))) {
    return SenderError("OperationNotPermitted",
                       "Conditions and transforms cannot be set on a default rule");
  }
  if (c.params.HasAny("Actions")) {
    auto actions = DecodeActions(c.config, c.params, "Actions", "actions");
    if (!actions.ok()) return actions.error();
    (is_default ? l.default_actions : l.rules[ref.value().rule].actions) =
        std::move(actions.value());
  }
  if (!is_default && c.params.HasAny("Conditions")) {
    auto conditions = DecodeConditions(c.params, "Conditions");
    if (!conditions.ok()) return conditions.error();
    l.rules[ref.value().rule].conditions = std::move(conditions.value());
  }
  if (!is_default && c.params.HasAny("Transforms")) {
    auto transforms = DecodeTransforms(c.params, "Transforms");
    if (!transforms.ok()) return transforms.error();
    l.rules[ref.value().rule].transforms = std::move(transforms.value());
  }
  auto reset = ReadBoolean(c.params, "ResetTransforms", "resetTransforms");
  if (!reset.ok()) return reset.error();
  if (!is_default && reset.value().value_or(false)) l.rules[ref.value().rule].transforms.clear();
  XmlWriter w;
  w.Open("Rules");
  WriteOneRule(next, ref.value(), &w);
  w.Close("Rules");
  std::vector<size_t> changed;
  if (!is_default) changed.push_back(static_cast<size_t>(ref.value().rule));
  return RulesMutation(std::move(next), ref.value().lb, ref.value().listener, std::move(changed),
                       std::move(w.str()));
}

ApiResult<OperationOutput> DeleteRule(const CallContext& c) {
  auto arn = RequireString(c.params, "RuleArn", "ruleArn");
  if (!arn.ok()) return arn.error();
  auto ref = FindRule(c.config, arn.value());
  if (!ref.ok()) return ref.error();
  if (ref.value().rule < 0) {
    return SenderError("OperationNotPermitted",
                       "Default rule '" + arn.value() + "' cannot be deleted");
  }
  config::Config next = c.config;
  FreezeIds(&next);
  auto& rules = next.load_balancers[ref.value().lb].listeners[ref.value().listener].rules;
  rules.erase(rules.begin() + ref.value().rule);
  return RulesMutation(std::move(next), ref.value().lb, ref.value().listener, {});
}

ApiResult<OperationOutput> SetRulePriorities(const CallContext& c) {
  auto items = c.params.StructList("RulePriorities");
  if (!items) return Validation("", "rulePriorities", "Member must not be null", true);
  config::Config next = c.config;
  FreezeIds(&next);
  std::vector<std::pair<RuleRef, int>> changes;
  for (size_t i = 0; i < items->size(); ++i) {
    std::string path = "rulePriorities.member." + std::to_string(i + 1);
    auto arn = RequireString((*items)[i], "RuleArn", path + ".ruleArn");
    if (!arn.ok()) return arn.error();
    auto ref = FindRule(c.config, arn.value());
    if (!ref.ok()) return ref.error();
    if (ref.value().rule < 0) {
      return SenderError("OperationNotPermitted", "The default rule's priority cannot be changed");
    }
    auto priority = ReadInteger((*items)[i], "Priority", path + ".priority", 1, 50000);
    if (!priority.ok()) return priority.error();
    if (!priority.value())
      return Validation("", path + ".priority", "Member must not be null", true);
    for (const auto& [other, p] : changes) {
      if (other.lb == ref.value().lb && other.listener == ref.value().listener &&
          other.rule == ref.value().rule) {
        return SenderError("ValidationError",
                           "Rule '" + arn.value() + "' was provided multiple times");
      }
      if (p == *priority.value()) {
        return SenderError("ValidationError",
                           "Priority '" + std::to_string(p) + "' was provided multiple times");
      }
    }
    changes.push_back({ref.value(), *priority.value()});
  }
  for (const auto& [ref, p] : changes) {
    next.load_balancers[ref.lb].listeners[ref.listener].rules[ref.rule].priority = p;
  }
  XmlWriter w;
  w.Open("Rules");
  std::vector<std::string> arns;
  for (const auto& [ref, p] : changes) {
    config::Listener& l = next.load_balancers[ref.lb].listeners[ref.listener];
    const config::Rule& r = l.rules[ref.rule];
    config::LoadBalancer& lb = next.load_balancers[ref.lb];
    WriteRule(next, lb, l, &r, &w);
  }
  w.Close("Rules");
  for (config::LoadBalancer& lb : next.load_balancers) {
    for (config::Listener& l : lb.listeners) {
      SortRules(&l);
      for (size_t k = 1; k < l.rules.size(); ++k) {
        if (l.rules[k].priority == l.rules[k - 1].priority) {
          return SenderError("PriorityInUse", "Priority '" + std::to_string(l.rules[k].priority) +
                                                  "' is currently in use");
        }
      }
    }
  }
  // New priorities of one listener's rules: its priorities are what to check.
  bool one_listener = !changes.empty();
  const RuleRef first = one_listener ? changes.front().first : RuleRef{};
  for (const auto& [ref, p] : changes) {
    one_listener = one_listener && ref.lb == first.lb && ref.listener == first.listener;
  }
  if (!one_listener) return Mutation(std::move(next), std::move(w.str()));
  return RulesMutation(std::move(next), first.lb, first.listener, {}, std::move(w.str()));
}

}  // namespace

Handler FindListenerRulesHandler(std::string_view action) {
  static const std::pair<std::string_view, Handler> kHandlers[] = {
      {"ModifyListener", ModifyListener},
      {"CreateRule", CreateRule},
      {"ModifyRule", ModifyRule},
      {"DeleteRule", DeleteRule},
      {"SetRulePriorities", SetRulePriorities},
  };
  for (const auto& [name, h] : kHandlers) {
    if (name == action) return h;
  }
  return nullptr;
}

}  // namespace sluice::api
