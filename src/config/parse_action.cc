// Walks action lists (Rules[i].Actions, Listeners[i].DefaultActions): forward, redirect and
// fixed-response, with the rules of reference §1.5.
#include <algorithm>
#include <map>
#include <string>

#include "config/parse.h"
#include "config/validate.h"

namespace sluice::config::internal {
namespace {

constexpr int kMaxOrder = 50000;
constexpr int kMaxWeight = 999;
constexpr int kMaxStickinessSeconds = 604800;

// All action types Sluice implements end request processing; authentication actions (which
// do not) arrive with HTTPS listeners.
bool IsTerminal(ActionType) { return true; }

const char* TypeName(ActionType t) {
  switch (t) {
    case ActionType::kForward:
      return "forward";
    case ActionType::kRedirect:
      return "redirect";
    case ActionType::kFixedResponse:
      return "fixed-response";
  }
  return "?";
}

std::optional<ActionType> ReadActionType(Reader& r, const Field& f) {
  std::optional<std::string> s = ReadString(r, f);
  if (!s) return std::nullopt;
  if (*s == "forward") return ActionType::kForward;
  if (*s == "redirect") return ActionType::kRedirect;
  if (*s == "fixed-response") return ActionType::kFixedResponse;
  if (*s == "authenticate-oidc" || *s == "authenticate-cognito" || *s == "jwt-validation") {
    r.AddError(f, "action type " + QuoteValue(*s) +
                      " is not supported yet (it needs HTTPS listeners); allowed: forward, "
                      "redirect, fixed-response");
  } else {
    r.AddError(f, "action type " + QuoteValue(*s) +
                      " is invalid; allowed: forward, redirect, fixed-response");
  }
  return std::nullopt;
}

void ParseStickiness(Reader& r, const Field& f, ForwardConfig* out) {
  MapReader m(r, f, {"Enabled", "DurationSeconds"});
  if (!m.ok()) return;
  if (auto enabled = ReadBool(r, m.Get("Enabled"))) out->stickiness_enabled = *enabled;
  Field duration = m.Get("DurationSeconds");
  if (auto d = ReadInt(r, duration, 1, kMaxStickinessSeconds, "duration")) {
    out->stickiness_duration_seconds = static_cast<int>(*d);
  }
  if (out->stickiness_enabled && !duration.present) {
    r.AddError(m.mark(), duration.path,
               "missing required field 'DurationSeconds' (required when Enabled is true)");
  }
}

// Reads ForwardConfig into *out and records a reference for each target group.
void ParseForwardConfig(LoadContext& ctx, const Field& f, ForwardConfig* out) {
  Reader& r = ctx.reader;
  MapReader m(r, f, {"TargetGroups", "TargetGroupStickinessConfig"});
  if (!m.ok()) return;
  Field groups_field = m.Require("TargetGroups");
  std::optional<std::vector<Field>> groups = ReadList(r, groups_field);
  if (groups && groups_field.present) {
    if (groups->empty()) {
      r.AddError(groups_field, "at least one target group is required");
    } else if (groups->size() > static_cast<size_t>(kMaxTargetGroupsPerAction)) {
      r.AddError(groups_field, "a forward action can have at most " +
                                   std::to_string(kMaxTargetGroupsPerAction) +
                                   " target groups; found " + std::to_string(groups->size()));
    }
    std::map<std::string, int> seen;  // name -> line
    bool any_weight = false;
    bool all_weights_read = true;
    for (const Field& item : *groups) {
      MapReader g(r, item, {"TargetGroupName", "Weight"});
      if (!g.ok()) continue;
      TargetGroupTuple tuple;
      Field name_field = g.Require("TargetGroupName");
      std::optional<std::string> name = ReadString(r, name_field);
      Field weight_field = g.Get("Weight");
      std::optional<int64_t> weight = ReadInt(r, weight_field, 0, kMaxWeight, "weight");
      if (weight) tuple.weight = static_cast<int>(*weight);
      if (weight_field.present && !weight) all_weights_read = false;
      any_weight = any_weight || tuple.weight > 0;
      if (!name) continue;
      tuple.target_group = *name;
      auto [it, inserted] = seen.emplace(*name, LocationOf(name_field.mark).line);
      if (!inserted) {
        r.AddError(name_field, "target group " + QuoteValue(*name) +
                                   " is listed twice in this forward action (first at line " +
                                   std::to_string(it->second) + ")");
      }
      ctx.refs.push_back(TargetGroupRef{*name, name_field.mark, name_field.path,
                                        ctx.current_load_balancer, ctx.current_listener_protocol});
      out->target_groups.push_back(std::move(tuple));
    }
    if (!groups->empty() && !any_weight && all_weights_read) {
      r.AddError(groups_field,
                 "every target group has weight 0, so nothing would be forwarded; "
                 "give at least one a weight of 1..999");
    }
  }
  Field stickiness = m.Get("TargetGroupStickinessConfig");
  if (stickiness.present) ParseStickiness(r, stickiness, out);
}

void ParseForward(LoadContext& ctx, const MapReader& m, Action* out) {
  Reader& r = ctx.reader;
  Field short_field = m.Get("TargetGroupName");
  Field long_field = m.Get("ForwardConfig");
  std::optional<std::string> short_name = ReadString(r, short_field);
  if (long_field.present) ParseForwardConfig(ctx, long_field, &out->forward);
  if (!short_field.present && !long_field.present) {
    r.AddError(m.mark(), JoinPath(m.path(), "TargetGroupName"),
               "a forward action needs TargetGroupName or ForwardConfig");
    return;
  }
  if (!short_name) return;
  if (!long_field.present) {
    out->forward.target_groups.push_back(TargetGroupTuple{*short_name, 1});
    ctx.refs.push_back(TargetGroupRef{*short_name, short_field.mark, short_field.path,
                                      ctx.current_load_balancer, ctx.current_listener_protocol});
    return;
  }
  // Both forms: the API allows it only when ForwardConfig names just that one group.
  const auto& groups = out->forward.target_groups;
  if (groups.size() != 1 || groups[0].target_group != *short_name) {
    r.AddError(short_field,
               "with both TargetGroupName and ForwardConfig, ForwardConfig must list "
               "only target group " +
                   QuoteValue(*short_name));
  }
}

void ParseRedirect(Reader& r, const Field& f, RedirectConfig* out) {
  MapReader m(r, f, {"Protocol", "Port", "Host", "Path", "Query", "StatusCode"});
  if (!m.ok()) return;
  bool all_ok = true;
  auto component = [&](std::string_view key, std::string (*check)(std::string_view),
                       std::string* target) {
    Field field = m.Get(key);
    if (!field.present) return;
    std::optional<std::string> value = ReadString(r, field);
    if (!value) {
      all_ok = false;
      return;
    }
    std::string message = check(*value);
    if (!message.empty()) {
      r.AddError(field, message);
      all_ok = false;
      return;
    }
    *target = *value;
  };
  component("Protocol", CheckRedirectProtocol, &out->protocol);
  component("Port", CheckRedirectPort, &out->port);
  component("Host", CheckRedirectHost, &out->host);
  component("Path", CheckRedirectPath, &out->path);
  component("Query", CheckRedirectQuery, &out->query);
  Field status_field = m.Require("StatusCode");
  if (std::optional<std::string> status = ReadString(r, status_field)) {
    out->status_code = ParseRedirectStatus(*status);
    if (out->status_code == 0) {
      r.AddError(status_field, "redirect status code " + QuoteValue(*status) +
                                   " is invalid; allowed: HTTP_301, HTTP_302");
    }
  }
  const RedirectConfig defaults;
  if (all_ok && out->protocol == defaults.protocol && out->port == defaults.port &&
      out->host == defaults.host && out->path == defaults.path) {
    r.AddError(m.mark(), m.path(),
               "redirect keeps the original protocol, host, port and path, so it would loop; "
               "change at least one of Protocol, Host, Port or Path");
  }
}

void ParseFixedResponse(Reader& r, const Field& f, FixedResponseConfig* out) {
  MapReader m(r, f, {"StatusCode", "ContentType", "MessageBody"});
  if (!m.ok()) return;
  Field status_field = m.Require("StatusCode");
  if (std::optional<std::string> status = ReadString(r, status_field)) {
    out->status_code = ParseFixedResponseStatus(*status);
    if (out->status_code == 0) {
      r.AddError(status_field, "status code " + QuoteValue(*status) +
                                   " is invalid; allowed: 2XX, 4XX or 5XX (three digits)");
    }
  }
  Field type_field = m.Get("ContentType");
  if (std::optional<std::string> type = ReadString(r, type_field)) {
    std::string message = CheckContentType(*type);
    if (message.empty()) {
      out->content_type = *type;
    } else {
      r.AddError(type_field, message);
    }
  }
  Field body_field = m.Get("MessageBody");
  if (std::optional<std::string> body = ReadString(r, body_field)) {
    std::string message = CheckMessageBody(*body);
    if (message.empty()) {
      out->message_body = *body;
    } else {
      r.AddError(body_field, message);
    }
  }
}

// Parses one action; false when its Type could not be read (the rest is skipped then).
// *mapped tells whether the item was a mapping at all.
bool ParseAction(LoadContext& ctx, const Field& item, Action* out, Field* order_field,
                 bool* mapped) {
  Reader& r = ctx.reader;
  out->location = LocationOf(item.mark);
  MapReader m(r, item,
              {"Type", "Order", "TargetGroupName", "TargetGroupArn", "ForwardConfig",
               "RedirectConfig", "FixedResponseConfig"});
  *mapped = m.ok();
  if (!m.ok()) return false;
  *order_field = m.Get("Order");
  if (auto order = ReadInt(r, *order_field, 1, kMaxOrder, "order")) {
    out->order = static_cast<int>(*order);
  }
  Field arn = m.Get("TargetGroupArn");
  if (arn.present) {
    r.AddError(arn,
               "TargetGroupArn is not supported; name the target group with "
               "TargetGroupName");
  }
  std::optional<ActionType> type = ReadActionType(r, m.Require("Type"));
  if (!type) return false;
  out->type = *type;
  // Blocks that belong to another action type.
  const std::pair<const char*, ActionType> owners[] = {
      {"TargetGroupName", ActionType::kForward},
      {"ForwardConfig", ActionType::kForward},
      {"RedirectConfig", ActionType::kRedirect},
      {"FixedResponseConfig", ActionType::kFixedResponse}};
  for (const auto& [key, owner] : owners) {
    Field f = m.Get(key);
    if (f.present && owner != *type) {
      r.AddError(f, std::string(key) + " is not allowed in a " + TypeName(*type) + " action");
    }
  }
  switch (*type) {
    case ActionType::kForward:
      ParseForward(ctx, m, out);
      break;
    case ActionType::kRedirect: {
      Field f = m.Require("RedirectConfig");
      if (f.present) ParseRedirect(r, f, &out->redirect);
      break;
    }
    case ActionType::kFixedResponse: {
      Field f = m.Require("FixedResponseConfig");
      if (f.present) ParseFixedResponse(r, f, &out->fixed_response);
      break;
    }
  }
  return true;
}

}  // namespace

void ParseActions(LoadContext& ctx, const Field& field, std::vector<Action>* out) {
  Reader& r = ctx.reader;
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items || !field.present) return;
  if (items->empty()) {
    r.AddError(field, "at least one action is required");
    return;
  }
  struct Seen {
    Action action;
    Field order_field;
    bool mapped = false;
    bool typed = false;
  };
  std::vector<Seen> seen;
  for (const Field& item : *items) {
    Seen s;
    s.typed = ParseAction(ctx, item, &s.action, &s.order_field, &s.mapped);
    seen.push_back(std::move(s));
  }
  // Exactly one terminal action (checked once every Type was readable) ...
  int terminals = 0;
  for (const Seen& s : seen) terminals += s.typed && IsTerminal(s.action.type) ? 1 : 0;
  const bool all_typed =
      std::all_of(seen.begin(), seen.end(), [](const Seen& s) { return s.typed; });
  if (all_typed && terminals != 1) {
    r.AddError(field, "exactly one forward, redirect or fixed-response action is allowed; found " +
                          std::to_string(terminals));
  }
  // ... Order tells several actions apart, so it is then required and unique ...
  std::map<int, const Seen*> by_order;
  for (const Seen& s : seen) {
    if (!s.mapped) continue;
    if (seen.size() > 1 && terminals == 1 && !s.order_field.present) {
      r.AddError(s.order_field.mark, s.order_field.path,
                 "missing required field 'Order' (required when there is more than one "
                 "action)");
    }
    if (s.action.order == 0) continue;
    auto [it, inserted] = by_order.emplace(s.action.order, &s);
    if (!inserted) {
      const Field& first = it->second->order_field;
      r.AddError(s.order_field, "order " + std::to_string(s.action.order) + " is already used by " +
                                    first.path + " (line " +
                                    std::to_string(LocationOf(first.mark).line) + ")");
    }
  }
  for (Seen& s : seen) out->push_back(std::move(s.action));
  std::stable_sort(out->begin(), out->end(),
                   [](const Action& a, const Action& b) { return a.order < b.order; });
  // ... and the terminal action runs last.
  if (all_typed && terminals == 1 && !IsTerminal(out->back().type)) {
    r.AddError(field, "the forward, redirect or fixed-response action must be the last by Order");
  }
}

}  // namespace sluice::config::internal
