#include "api/decode.h"

#include <charconv>

#include "config/arn.h"
#include "config/condition_fields.h"
#include "config/validate.h"

namespace sluice::api {
namespace {

// The target group an ARN names, or TargetGroupNotFound.
ApiResult<std::string> TargetGroupName(const config::Config& config, std::string_view arn) {
  for (const config::TargetGroup& tg : config.target_groups) {
    if (config::TargetGroupArn(config.account, tg.name) == arn) return tg.name;
  }
  return SenderError("TargetGroupNotFound", "Target group '" + std::string(arn) + "' not found");
}

std::string Member(std::string_view path, size_t i) {
  return std::string(path) + ".member." + std::to_string(i + 1);
}

ApiResult<config::ForwardConfig> DecodeForward(const config::Config& config, const QueryParams& a,
                                               std::string_view path) {
  config::ForwardConfig f;
  QueryParams fc = a.Struct("ForwardConfig");
  if (auto tgs = fc.StructList("TargetGroups")) {
    for (size_t i = 0; i < tgs->size(); ++i) {
      const QueryParams& t = (*tgs)[i];
      auto arn = RequireString(
          t, "TargetGroupArn",
          Member(std::string(path) + ".forwardConfig.targetGroups", i) + ".targetGroupArn");
      if (!arn.ok()) return arn.error();
      auto name = TargetGroupName(config, arn.value());
      if (!name.ok()) return name.error();
      auto weight = ReadInteger(t, "Weight", "weight", 0, 999);
      if (!weight.ok()) return weight.error();
      f.target_groups.push_back({name.value(), weight.value().value_or(1), -1});
    }
    QueryParams st = fc.Struct("TargetGroupStickinessConfig");
    auto enabled = ReadBoolean(st, "Enabled", "enabled");
    if (!enabled.ok()) return enabled.error();
    auto duration = ReadInteger(st, "DurationSeconds", "durationSeconds", 1, 604800);
    if (!duration.ok()) return duration.error();
    f.stickiness_enabled = enabled.value().value_or(false);
    f.stickiness_duration_seconds = duration.value().value_or(0);
  }
  if (const std::string* arn = a.Get("TargetGroupArn")) {
    auto name = TargetGroupName(config, *arn);
    if (!name.ok()) return name.error();
    if (f.target_groups.empty()) {
      f.target_groups.push_back({name.value(), 1, -1});
    } else if (f.target_groups.size() != 1 || f.target_groups[0].target_group != name.value()) {
      return SenderError("ValidationError",
                         "You cannot specify both a target group ARN and a forward config with "
                         "different target groups");
    }
  }
  if (f.target_groups.empty()) {
    return SenderError("ValidationError",
                       "A target group ARN must be specified for a forward action");
  }
  return f;
}

ApiResult<config::Action> DecodeAction(const config::Config& config, const QueryParams& a,
                                       std::string_view path) {
  config::Action out;
  auto type = RequireString(a, "Type", std::string(path) + ".type");
  if (!type.ok()) return type.error();
  auto order = ReadInteger(a, "Order", std::string(path) + ".order", 1, 50000);
  if (!order.ok()) return order.error();
  out.order = order.value().value_or(0);
  if (type.value() == "forward") {
    out.type = config::ActionType::kForward;
    auto f = DecodeForward(config, a, path);
    if (!f.ok()) return f.error();
    out.forward = std::move(f.value());
  } else if (type.value() == "redirect") {
    out.type = config::ActionType::kRedirect;
    QueryParams r = a.Struct("RedirectConfig");
    auto put = [&r](const char* key, std::string* field) {
      if (const std::string* v = r.Get(key)) *field = *v;
    };
    put("Protocol", &out.redirect.protocol);
    put("Port", &out.redirect.port);
    put("Host", &out.redirect.host);
    put("Path", &out.redirect.path);
    put("Query", &out.redirect.query);
    auto code = RequireString(r, "StatusCode", std::string(path) + ".redirectConfig.statusCode");
    if (!code.ok()) return code.error();
    if (code.value() != "HTTP_301" && code.value() != "HTTP_302") {
      return Validation(code.value(), std::string(path) + ".redirectConfig.statusCode",
                        "Member must satisfy enum value set: [HTTP_301, HTTP_302]");
    }
    out.redirect.status_code = code.value() == "HTTP_301" ? 301 : 302;
  } else if (type.value() == "fixed-response") {
    out.type = config::ActionType::kFixedResponse;
    QueryParams r = a.Struct("FixedResponseConfig");
    auto code =
        RequireString(r, "StatusCode", std::string(path) + ".fixedResponseConfig.statusCode");
    if (!code.ok()) return code.error();
    // AWS's pattern, as the loader reads it: three digits, the first 2, 4 or 5 ("0200" and
    // "20" are refused, not read as numbers).
    const int status = config::internal::ParseFixedResponseStatus(code.value());
    if (status == 0) {
      return Validation(code.value(), std::string(path) + ".fixedResponseConfig.statusCode",
                        "Member must satisfy regular expression pattern: ^(2|4|5)\\d\\d$");
    }
    out.fixed_response.status_code = status;
    if (const std::string* v = r.Get("ContentType")) out.fixed_response.content_type = *v;
    if (const std::string* v = r.Get("MessageBody")) out.fixed_response.message_body = *v;
  } else {
    return Validation(type.value(), std::string(path) + ".type",
                      "Member must satisfy enum value set: [forward, redirect, fixed-response]");
  }
  return out;
}

}  // namespace

ApiError Validation(std::string_view value, std::string_view path, std::string_view constraint,
                    bool null_value) {
  std::string v = null_value ? "null" : "'" + std::string(value) + "'";
  return SenderError("ValidationError",
                     "1 validation error detected: Value " + v + " at '" + std::string(path) +
                         "' failed to satisfy constraint: " + std::string(constraint));
}

ApiResult<std::string> RequireString(const QueryParams& params, std::string_view name,
                                     std::string_view path) {
  const std::string* v = params.Get(name);
  if (v == nullptr) return Validation("", path, "Member must not be null", true);
  return *v;
}

ApiResult<std::optional<int>> ReadInteger(const QueryParams& params, std::string_view name,
                                          std::string_view path, long min, long max) {
  const std::string* v = params.Get(name);
  if (v == nullptr) return std::optional<int>();
  long n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size()) {
    return SenderError("ValidationError", "Value '" + *v + "' for parameter " + std::string(name) +
                                              " is invalid. It must be an integer.");
  }
  if (n < min) {
    return Validation(*v, path,
                      "Member must have value greater than or equal to " + std::to_string(min));
  }
  if (n > max) {
    return Validation(*v, path,
                      "Member must have value less than or equal to " + std::to_string(max));
  }
  return std::optional<int>(static_cast<int>(n));
}

ApiResult<std::optional<bool>> ReadBoolean(const QueryParams& params, std::string_view name,
                                           std::string_view path) {
  const std::string* v = params.Get(name);
  if (v == nullptr) return std::optional<bool>();
  if (*v == "true") return std::optional<bool>(true);
  if (*v == "false") return std::optional<bool>(false);
  return SenderError("ValidationError", "Value '" + *v + "' for parameter " + std::string(name) +
                                            " is invalid. It must be true or false.");
}

ApiResult<std::vector<config::Action>> DecodeActions(const config::Config& config,
                                                     const QueryParams& params,
                                                     std::string_view name, std::string_view path) {
  std::vector<config::Action> out;
  auto items = params.StructList(name);
  if (!items) return Validation("", path, "Member must not be null", true);
  for (size_t i = 0; i < items->size(); ++i) {
    auto a = DecodeAction(config, (*items)[i], Member(path, i));
    if (!a.ok()) return a.error();
    out.push_back(std::move(a.value()));
  }
  return out;
}

ApiResult<std::vector<config::Condition>> DecodeConditions(const QueryParams& params,
                                                           std::string_view name) {
  std::vector<config::Condition> out;
  auto items = params.StructList(name);
  if (!items) return Validation("", "conditions", "Member must not be null", true);
  for (size_t i = 0; i < items->size(); ++i) {
    const QueryParams& c = (*items)[i];
    std::string path = Member("conditions", i);
    auto field = RequireString(c, "Field", path + ".field");
    if (!field.ok()) return field.error();
    const config::ConditionFieldInfo* info = config::FindConditionField(field.value());
    if (info == nullptr) {
      return SenderError("ValidationError",
                         "Condition field '" + field.value() +
                             "' must be one of '[path-pattern, host-header, http-header, "
                             "http-request-method, query-string, source-ip]'");
    }
    config::Condition cond;
    cond.field = info->field;
    QueryParams cfg = c.Struct(info->config_key);
    // The legacy top-level Values (host-header, path-pattern) or the field's own config.
    if (auto v = c.List("Values")) cond.values = *v;
    if (auto v = cfg.List("Values"); v && cond.field != config::ConditionField::kQueryString) {
      cond.values = *v;
    }
    if (auto v = cfg.List("RegexValues")) cond.regex_values = *v;
    if (const std::string* h = cfg.Get("HttpHeaderName")) cond.http_header_name = *h;
    if (cond.field == config::ConditionField::kQueryString) {
      for (const QueryParams& kv : cfg.StructList("Values").value_or(std::vector<QueryParams>{})) {
        config::QueryStringKeyValue q;
        if (const std::string* k = kv.Get("Key")) q.key = *k;
        if (const std::string* v = kv.Get("Value")) q.value = *v;
        cond.query_values.push_back(std::move(q));
      }
    }
    out.push_back(std::move(cond));
  }
  return out;
}

ApiResult<std::vector<config::Transform>> DecodeTransforms(const QueryParams& params,
                                                           std::string_view name) {
  std::vector<config::Transform> out;
  auto items = params.StructList(name);
  if (!items) return out;
  for (size_t i = 0; i < items->size(); ++i) {
    const QueryParams& t = (*items)[i];
    std::string path = Member("transforms", i);
    auto type = RequireString(t, "Type", path + ".type");
    if (!type.ok()) return type.error();
    config::Transform out_t;
    const char* tag = nullptr;
    if (type.value() == "host-header-rewrite") {
      out_t.type = config::TransformType::kHostHeaderRewrite;
      tag = "HostHeaderRewriteConfig";
    } else if (type.value() == "url-rewrite") {
      out_t.type = config::TransformType::kUrlRewrite;
      tag = "UrlRewriteConfig";
    } else {
      return Validation(type.value(), path + ".type",
                        "Member must satisfy enum value set: [host-header-rewrite, url-rewrite]");
    }
    auto rewrites = t.Struct(tag).StructList("Rewrites");
    if (!rewrites || rewrites->size() != 1) {
      return SenderError("ValidationError", "A transform must have exactly one rewrite");
    }
    auto regex = RequireString((*rewrites)[0], "Regex", path + ".rewrites.member.1.regex");
    if (!regex.ok()) return regex.error();
    out_t.rewrite.regex = regex.value();
    if (const std::string* r = (*rewrites)[0].Get("Replace")) out_t.rewrite.replace = *r;
    out.push_back(std::move(out_t));
  }
  return out;
}

ApiResult<std::vector<config::Tag>> DecodeTags(const QueryParams& params) {
  std::vector<config::Tag> out;
  auto items = params.StructList("Tags");
  if (!items) return out;
  for (size_t i = 0; i < items->size(); ++i) {
    auto key = RequireString((*items)[i], "Key", Member("tags", i) + ".key");
    if (!key.ok()) return key.error();
    for (const config::Tag& t : out) {
      if (t.key == key.value()) {
        return SenderError("DuplicateTagKeys",
                           "Tag key was specified more than once: " + key.value());
      }
    }
    const std::string* value = (*items)[i].Get("Value");
    out.push_back({key.value(), value ? *value : std::string()});
  }
  return out;
}

ApiResult<std::vector<config::Target>> DecodeTargets(const QueryParams& params, int default_port) {
  std::vector<config::Target> out;
  auto items = params.StructList("Targets");
  if (!items) return Validation("", "targets", "Member must not be null", true);
  out.reserve(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    std::string path = Member("targets", i);
    auto id = RequireString((*items)[i], "Id", path + ".id");
    if (!id.ok()) return id.error();
    auto port = ReadInteger((*items)[i], "Port", path + ".port", 1, 65535);
    if (!port.ok()) return port.error();
    config::Target t;
    t.id = id.value();
    t.port = port.value().value_or(default_port);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace sluice::api
