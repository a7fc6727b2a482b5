// Describe/Modify attributes of load balancers, target groups and listeners.
#include "api/attributes.h"
#include "api/decode.h"
#include "api/service.h"
#include "api/xml.h"

namespace sluice::api {
namespace {

std::string AttributesXml(const AttributePairs& pairs) {
  XmlWriter w;
  w.Open("Attributes");
  for (const auto& [k, v] : pairs) {
    w.Open("member").Leaf("Key", k).Leaf("Value", v).Close("member");
  }
  w.Close("Attributes");
  return std::move(w.str());
}

// `Attributes.member.N.{Key,Value}`, at most `max` of them.
ApiResult<AttributePairs> DecodeAttributes(const QueryParams& params, size_t max) {
  auto items = params.StructList("Attributes");
  if (!items) return Validation("", "attributes", "Member must not be null", true);
  if (items->size() > max) {
    return Validation("", "attributes",
                      "Member must have length less than or equal to " + std::to_string(max));
  }
  AttributePairs out;
  for (size_t i = 0; i < items->size(); ++i) {
    std::string path = "attributes.member." + std::to_string(i + 1);
    auto key = RequireString((*items)[i], "Key", path + ".key");
    if (!key.ok()) return key.error();
    const std::string* value = (*items)[i].Get("Value");
    out.emplace_back(key.value(), value ? *value : std::string());
  }
  return out;
}

ApiResult<OperationOutput> DescribeLoadBalancerAttributes(const CallContext& c) {
  auto arn = RequireString(c.params, "LoadBalancerArn", "loadBalancerArn");
  if (!arn.ok()) return arn.error();
  auto i = FindLoadBalancer(c.config, arn.value());
  if (!i.ok()) return i.error();
  return OperationOutput{
      AttributesXml(LoadBalancerAttributePairs(c.config, c.config.load_balancers[i.value()])),
      std::nullopt};
}

ApiResult<OperationOutput> ModifyLoadBalancerAttributes(const CallContext& c) {
  auto arn = RequireString(c.params, "LoadBalancerArn", "loadBalancerArn");
  if (!arn.ok()) return arn.error();
  auto i = FindLoadBalancer(c.config, arn.value());
  if (!i.ok()) return i.error();
  auto changes = DecodeAttributes(c.params, 20);
  if (!changes.ok()) return changes.error();
  // All or nothing: one invalid attribute refuses the call (as AWS).
  auto attrs = ApplyLoadBalancerAttributes(c.config, c.config.load_balancers[i.value()],
                                           changes.value(), c.hooks.document_label);
  if (!attrs.ok()) return attrs.error();
  config::Config next = c.config;
  next.load_balancers[i.value()].attributes = attrs.value();
  std::string xml = AttributesXml(LoadBalancerAttributePairs(next, next.load_balancers[i.value()]));
  // HTTP/2 cleartext decides what the load balancer's HTTP listeners may forward to: their
  // rules are checked again, with the whole document.
  const bool rules_unaffected = attrs.value().http2_cleartext ==
                                c.config.load_balancers[i.value()].attributes.http2_cleartext;
  return OperationOutput{std::move(xml), std::move(next), {.outside_rules = rules_unaffected}};
}

ApiResult<OperationOutput> DescribeTargetGroupAttributes(const CallContext& c) {
  auto arn = RequireString(c.params, "TargetGroupArn", "targetGroupArn");
  if (!arn.ok()) return arn.error();
  auto i = FindTargetGroup(c.config, arn.value());
  if (!i.ok()) return i.error();
  return OperationOutput{
      AttributesXml(TargetGroupAttributePairs(c.config, c.config.target_groups[i.value()])),
      std::nullopt};
}

ApiResult<OperationOutput> ModifyTargetGroupAttributes(const CallContext& c) {
  auto arn = RequireString(c.params, "TargetGroupArn", "targetGroupArn");
  if (!arn.ok()) return arn.error();
  auto i = FindTargetGroup(c.config, arn.value());
  if (!i.ok()) return i.error();
  auto changes = DecodeAttributes(c.params, 100);
  if (!changes.ok()) return changes.error();
  auto attrs = ApplyTargetGroupAttributes(c.config, c.config.target_groups[i.value()],
                                          changes.value(), c.hooks.document_label);
  if (!attrs.ok()) return attrs.error();
  config::Config next = c.config;
  next.target_groups[i.value()].attributes = attrs.value();
  std::string xml = AttributesXml(TargetGroupAttributePairs(next, next.target_groups[i.value()]));
  return OperationOutput{
      std::move(xml), std::move(next), {.settings_of_group = static_cast<int>(i.value())}};
}

ApiResult<OperationOutput> DescribeListenerAttributes(const CallContext& c) {
  auto arn = RequireString(c.params, "ListenerArn", "listenerArn");
  if (!arn.ok()) return arn.error();
  auto ref = FindListener(c.config, arn.value());
  if (!ref.ok()) return ref.error();
  const config::Listener& l =
      c.config.load_balancers[ref.value().lb].listeners[ref.value().listener];
  return OperationOutput{AttributesXml(ListenerAttributePairs(c.config, l)), std::nullopt};
}

ApiResult<OperationOutput> ModifyListenerAttributes(const CallContext& c) {
  auto arn = RequireString(c.params, "ListenerArn", "listenerArn");
  if (!arn.ok()) return arn.error();
  auto ref = FindListener(c.config, arn.value());
  if (!ref.ok()) return ref.error();
  auto changes = DecodeAttributes(c.params, 100);
  if (!changes.ok()) return changes.error();
  config::Config next = c.config;
  FreezeIds(&next);
  config::Listener& l = next.load_balancers[ref.value().lb].listeners[ref.value().listener];
  auto attrs = ApplyListenerAttributes(next, l, changes.value(), c.hooks.document_label);
  if (!attrs.ok()) return attrs.error();
  l.attributes = attrs.value();
  std::string xml = AttributesXml(ListenerAttributePairs(next, l));
  return OperationOutput{std::move(xml), std::move(next), {.outside_rules = true}};
}

}  // namespace

Handler FindAttributeHandler(std::string_view action, bool* mutating) {
  static const std::tuple<std::string_view, Handler, bool> kHandlers[] = {
      {"DescribeLoadBalancerAttributes", DescribeLoadBalancerAttributes, false},
      {"ModifyLoadBalancerAttributes", ModifyLoadBalancerAttributes, true},
      {"DescribeTargetGroupAttributes", DescribeTargetGroupAttributes, false},
      {"ModifyTargetGroupAttributes", ModifyTargetGroupAttributes, true},
      {"DescribeListenerAttributes", DescribeListenerAttributes, false},
      {"ModifyListenerAttributes", ModifyListenerAttributes, true},
  };
  for (const auto& [name, h, m] : kHandlers) {
    if (name == action) {
      *mutating = m;
      return h;
    }
  }
  return nullptr;
}

}  // namespace sluice::api
