// Walks a rule's Transforms (reference §1.4): host-header-rewrite and url-rewrite, at most one
// of each per rule, each with exactly one RewriteConfig.
#include <map>
#include <string>

#include "config/parse.h"
#include "config/validate.h"

namespace sluice::config::internal {
namespace {

struct TypeInfo {
  TransformType type;
  const char* name;        // value of Type
  const char* config_key;  // the typed *Config block
};

constexpr TypeInfo kTypes[] = {
    {TransformType::kHostHeaderRewrite, "host-header-rewrite", "HostHeaderRewriteConfig"},
    {TransformType::kUrlRewrite, "url-rewrite", "UrlRewriteConfig"},
};

const TypeInfo* ReadTransformType(Reader& r, const Field& f) {
  std::optional<std::string> s = ReadEnum(r, f, "transform type", {kTypes[0].name, kTypes[1].name});
  if (!s) return nullptr;
  for (const TypeInfo& info : kTypes) {
    if (*s == info.name) return &info;
  }
  return nullptr;
}

// One RewriteConfig {Regex, Replace}.
void ParseRewrite(Reader& r, const Field& item, const TypeInfo& info, RewriteConfig* out) {
  MapReader m(r, item, {"Regex", "Replace"});
  if (!m.ok()) return;
  Field regex_field = m.Require("Regex");
  Field replace_field = m.Require("Replace");
  int groups = -1;
  if (std::optional<std::string> regex = ReadString(r, regex_field)) {
    std::string message = CheckTransformRegex(*regex, &groups);
    if (message.empty()) {
      out->regex = std::move(*regex);
    } else {
      r.AddError(regex_field, message);
    }
  }
  if (std::optional<std::string> replace = ReadString(r, replace_field)) {
    const bool host = info.type == TransformType::kHostHeaderRewrite;
    std::string message = CheckTransformReplace(*replace, host, groups);
    if (message.empty()) {
      out->replace = std::move(*replace);
    } else {
      r.AddError(replace_field, message);
    }
  }
}

// HostHeaderRewriteConfig / UrlRewriteConfig: {Rewrites: [one RewriteConfig]}.
void ParseRewriteConfig(Reader& r, const Field& f, const TypeInfo& info, Transform* out) {
  MapReader m(r, f, {"Rewrites"});
  if (!m.ok()) return;
  Field rewrites = m.Require("Rewrites");
  std::optional<std::vector<Field>> items = ReadList(r, rewrites);
  if (!items || !rewrites.present) return;
  if (items->size() != 1) {
    r.AddError(rewrites, std::string("a ") + info.name +
                             " transform needs exactly one rewrite (Regex and Replace); found " +
                             std::to_string(items->size()));
    if (items->empty()) return;
  }
  ParseRewrite(r, items->front(), info, &out->rewrite);
}

// Parses one transform; returns its type (nullptr when unreadable).
const TypeInfo* ParseTransform(Reader& r, const Field& item, Transform* out) {
  out->location = LocationOf(item.mark);
  MapReader m(r, item, {"Type", "HostHeaderRewriteConfig", "UrlRewriteConfig"});
  if (!m.ok()) return nullptr;
  const TypeInfo* info = ReadTransformType(r, m.Require("Type"));
  if (info == nullptr) return nullptr;
  out->type = info->type;
  for (const TypeInfo& other : kTypes) {
    Field f = m.Get(other.config_key);
    if (f.present && &other != info) {
      r.AddError(f, std::string(other.config_key) + " does not belong to a " + info->name +
                        " transform; use " + info->config_key);
    }
  }
  Field config = m.Require(info->config_key);
  if (config.present) ParseRewriteConfig(r, config, *info, out);
  return info;
}

}  // namespace

void ParseTransforms(LoadContext& ctx, const Field& field, std::vector<Transform>* out) {
  Reader& r = ctx.reader;
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items || !field.present) return;
  std::map<TransformType, int> seen;  // type -> line of the first one
  for (const Field& item : *items) {
    Transform transform;
    const TypeInfo* info = ParseTransform(r, item, &transform);
    if (info == nullptr) continue;
    auto [it, inserted] = seen.emplace(info->type, transform.location.line);
    if (!inserted) {
      r.AddError(item.mark, JoinPath(item.path, "Type"),
                 std::string("a rule can have only one ") + info->name +
                     " transform (first at line " + std::to_string(it->second) + ")");
    }
    out->push_back(std::move(transform));
  }
}

}  // namespace sluice::config::internal
