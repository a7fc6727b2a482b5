// Walks listener rules and their conditions (reference §1.1-§1.3, §10 quotas).
#include <algorithm>
#include <map>
#include <string>

#include "config/condition_fields.h"
#include "config/parse.h"
#include "config/validate.h"

namespace sluice::config::internal {
namespace {

constexpr int kMaxPriority = 50000;

using FieldInfo = ConditionFieldInfo;

// What one condition contributes to the per-rule quotas.
struct Counts {
  int values = 0;     // values + regexes + query pairs + CIDRs
  int wildcards = 0;  // '*' and '?' in plain values
};

// Reads a list of strings, checking each with `check` (returns a message or ""). Appends the
// good ones to *out and returns how many items the list had.
template <class Check>
int ReadValues(Reader& r, const Field& f, Check check, std::vector<std::string>* out) {
  std::optional<std::vector<Field>> items = ReadList(r, f);
  if (!items) return 0;
  for (const Field& item : *items) {
    std::optional<std::string> value = ReadString(r, item);
    if (!value) continue;
    std::string message = check(*value);
    if (!message.empty()) {
      r.AddError(item, message);
      continue;
    }
    out->push_back(std::move(*value));
  }
  return static_cast<int>(items->size());
}

int SumWildcards(const std::vector<std::string>& values) {
  int n = 0;
  for (const std::string& v : values) n += CountWildcards(v, /*escapes=*/false);
  return n;
}

// Checks the per-condition value count; `where` is the field the error points at.
void CheckConditionCount(Reader& r, const Field& where, int count, int limit,
                         std::string_view noun) {
  if (count == 0) {
    r.AddError(where, "at least one " + std::string(noun) + " is required");
  } else if (count > limit) {
    r.AddError(where, "a condition can have at most " + std::to_string(limit) + " " +
                          std::string(noun) + "s; found " + std::to_string(count));
  }
}

// host-header / path-pattern / http-header config blocks and the legacy `Values` form.
Counts ParsePatternConfig(Reader& r, const Field& f, const FieldInfo& info, bool legacy,
                          Condition* out) {
  Counts counts;
  auto value_check = info.field == ConditionField::kHostHeader    ? CheckHostPattern
                     : info.field == ConditionField::kPathPattern ? CheckPathPattern
                                                                  : CheckHeaderValue;
  if (legacy) {
    counts.values = ReadValues(r, f, value_check, &out->values);
    CheckConditionCount(r, f, counts.values, kMaxValuesPerCondition, "value");
    counts.wildcards = SumWildcards(out->values);
    return counts;
  }
  const bool header = info.field == ConditionField::kHttpHeader;
  MapReader m = header ? MapReader(r, f, {"HttpHeaderName", "Values", "RegexValues"})
                       : MapReader(r, f, {"Values", "RegexValues"});
  if (!m.ok()) return counts;
  if (header) {
    Field name_field = m.Require("HttpHeaderName");
    if (std::optional<std::string> name = ReadString(r, name_field)) {
      std::string message = CheckHeaderName(*name);
      if (message.empty()) {
        out->http_header_name = *name;
      } else {
        r.AddError(name_field, message);
      }
    }
  }
  counts.values = ReadValues(r, m.Get("Values"), value_check, &out->values);
  counts.values += ReadValues(r, m.Get("RegexValues"), CheckRegex, &out->regex_values);
  counts.wildcards = SumWildcards(out->values);
  if (counts.values == 0) {
    r.AddError(m.mark(), JoinPath(f.path, "Values"),
               "at least one of Values or RegexValues is required");
  } else if (counts.values > kMaxValuesPerCondition) {
    r.AddError(f, "a condition can have at most " + std::to_string(kMaxValuesPerCondition) +
                      " values and regexes together; found " + std::to_string(counts.values));
  }
  return counts;
}

Counts ParseMethodConfig(Reader& r, const Field& f, Condition* out) {
  Counts counts;
  MapReader m(r, f, {"Values"});
  if (!m.ok()) return counts;
  Field values = m.Require("Values");
  if (!values.present) return counts;
  counts.values = ReadValues(r, values, CheckMethod, &out->values);
  CheckConditionCount(r, values, counts.values, kMaxValuesPerCondition, "value");
  return counts;
}

Counts ParseSourceIpConfig(Reader& r, const Field& f, Condition* out) {
  Counts counts;
  MapReader m(r, f, {"Values"});
  if (!m.ok()) return counts;
  Field values = m.Require("Values");
  if (!values.present) return counts;
  counts.values = ReadValues(r, values, CheckSourceCidr, &out->values);
  CheckConditionCount(r, values, counts.values, kMaxSourceIpValues, "CIDR");
  return counts;
}

Counts ParseQueryStringConfig(Reader& r, const Field& f, Condition* out) {
  Counts counts;
  MapReader m(r, f, {"Values"});
  if (!m.ok()) return counts;
  Field values = m.Require("Values");
  std::optional<std::vector<Field>> items = ReadList(r, values);
  if (!items || !values.present) return counts;
  for (const Field& item : *items) {
    MapReader pair(r, item, {"Key", "Value"});
    if (!pair.ok()) continue;
    QueryStringKeyValue kv;
    bool ok = true;
    auto read = [&](const Field& part, std::string_view what) -> std::optional<std::string> {
      std::optional<std::string> s = ReadString(r, part);
      if (!s) {
        ok = ok && !part.present;
        return std::nullopt;
      }
      std::string message = CheckQueryPart(*s, what);
      if (!message.empty()) {
        r.AddError(part, message);
        ok = false;
        return std::nullopt;
      }
      counts.wildcards += CountWildcards(*s, /*escapes=*/true);
      return s;
    };
    kv.key = read(pair.Get("Key"), "query key");
    Field value_field = pair.Require("Value");
    std::optional<std::string> value = read(value_field, "query value");
    if (!value_field.present) ok = false;
    if (value) kv.value = *value;
    if (ok) out->query_values.push_back(std::move(kv));
  }
  counts.values = static_cast<int>(items->size());
  CheckConditionCount(r, values, counts.values, kMaxValuesPerCondition, "key/value pair");
  return counts;
}

const FieldInfo* ParseConditionField(Reader& r, const Field& f) {
  std::optional<std::string> s = ReadString(r, f);
  if (!s) return nullptr;
  for (const FieldInfo& info : ConditionFields()) {
    if (*s == info.name) return &info;
  }
  r.AddError(f, "condition field " + QuoteValue(*s) +
                    " is invalid; allowed: host-header, http-header, http-request-method, "
                    "path-pattern, query-string, source-ip");
  return nullptr;
}

// Parses one condition; returns its field (nullptr when unreadable) and adds to *counts.
const FieldInfo* ParseCondition(Reader& r, const Field& item, Condition* out, Counts* counts) {
  out->location = LocationOf(item.mark);
  MapReader m(r, item,
              {"Field", "Values", "HostHeaderConfig", "PathPatternConfig", "HttpHeaderConfig",
               "HttpRequestMethodConfig", "QueryStringConfig", "SourceIpConfig"});
  if (!m.ok()) return nullptr;
  const FieldInfo* info = ParseConditionField(r, m.Require("Field"));
  if (info == nullptr) return nullptr;
  out->field = info->field;
  for (const FieldInfo& other : ConditionFields()) {
    Field f = m.Get(other.config_key);
    if (f.present && &other != info) {
      r.AddError(f, std::string(other.config_key) + " does not belong to a " + info->name +
                        " condition; use " + info->config_key);
    }
  }
  Field legacy = m.Get("Values");
  Field config = m.Get(info->config_key);
  if (legacy.present && !info->legacy_values) {
    r.AddError(legacy, std::string("Values directly under a condition is only allowed for "
                                   "host-header and path-pattern; use ") +
                           info->config_key);
    return info;
  }
  if (legacy.present && config.present) {
    r.AddError(legacy, std::string("use either Values or ") + info->config_key + ", not both");
    return info;
  }
  if (!legacy.present && !config.present) {
    r.AddError(m.mark(), config.path,
               std::string("missing required field '") + info->config_key + "'" +
                   (info->legacy_values ? " (or the legacy Values)" : ""));
    return info;
  }
  Counts c;
  switch (info->field) {
    case ConditionField::kHostHeader:
    case ConditionField::kPathPattern:
    case ConditionField::kHttpHeader:
      c = ParsePatternConfig(r, legacy.present ? legacy : config, *info, legacy.present, out);
      break;
    case ConditionField::kHttpRequestMethod:
      c = ParseMethodConfig(r, config, out);
      break;
    case ConditionField::kQueryString:
      c = ParseQueryStringConfig(r, config, out);
      break;
    case ConditionField::kSourceIp:
      c = ParseSourceIpConfig(r, config, out);
      break;
  }
  counts->values += c.values;
  counts->wildcards += c.wildcards;
  return info;
}

void ParseConditions(Reader& r, const Field& field, std::vector<Condition>* out) {
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items || !field.present) return;
  if (items->empty()) {
    r.AddError(field,
               "at least one condition is required (a rule without conditions belongs "
               "in the listener's DefaultActions)");
    return;
  }
  Counts counts;
  std::map<ConditionField, int> singles;  // field -> line of the first one
  for (const Field& item : *items) {
    Condition condition;
    const FieldInfo* info = ParseCondition(r, item, &condition, &counts);
    if (info != nullptr && info->single) {
      auto [it, inserted] = singles.emplace(info->field, condition.location.line);
      if (!inserted) {
        r.AddError(item.mark, JoinPath(item.path, "Field"),
                   std::string("a rule can have only one ") + info->name +
                       " condition (first at line " + std::to_string(it->second) + ")");
      }
    }
    out->push_back(std::move(condition));
  }
  if (counts.values > kMaxValuesPerRule) {
    r.AddError(field, "a rule can have at most " + std::to_string(kMaxValuesPerRule) +
                          " condition values (each value, regex, query key/value pair and CIDR "
                          "counts); found " +
                          std::to_string(counts.values));
  }
  if (counts.wildcards > kMaxWildcardsPerRule) {
    r.AddError(field, "a rule can have at most " + std::to_string(kMaxWildcardsPerRule) +
                          " wildcards ('*' or '?') in its condition values; found " +
                          std::to_string(counts.wildcards));
  }
}

}  // namespace

void ParseRules(LoadContext& ctx, const Field& field, std::vector<Rule>* out) {
  Reader& r = ctx.reader;
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items) return;
  std::map<int, std::pair<std::string, int>> priorities;  // priority -> (rule path, line)
  for (const Field& item : *items) {
    Rule rule;
    rule.location = LocationOf(item.mark);
    MapReader m(r, item, {"Id", "Tags", "Priority", "Conditions", "Actions", "Transforms"});
    if (!m.ok()) continue;
    ReadArnId(r, m.Get("Id"), &rule.id);
    ParseTags(r, m.Get("Tags"), &rule.tags);
    Field priority_field = m.Require("Priority");
    if (auto priority = ReadInt(r, priority_field, 1, kMaxPriority, "priority")) {
      rule.priority = static_cast<int>(*priority);
      auto [it, inserted] = priorities.emplace(
          rule.priority, std::make_pair(item.path, LocationOf(priority_field.mark).line));
      if (!inserted) {
        r.AddError(priority_field, "priority " + std::to_string(rule.priority) +
                                       " is already used by " + it->second.first + " (line " +
                                       std::to_string(it->second.second) + ")");
      }
    }
    ParseConditions(r, m.Require("Conditions"), &rule.conditions);
    ParseActions(ctx, m.Require("Actions"), &rule.actions);
    ParseTransforms(ctx, m.Get("Transforms"), &rule.transforms);
    out->push_back(std::move(rule));
  }
  std::stable_sort(out->begin(), out->end(),
                   [](const Rule& a, const Rule& b) { return a.priority < b.priority; });
}

}  // namespace sluice::config::internal
