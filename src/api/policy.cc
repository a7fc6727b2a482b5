#include "api/policy.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "api/policy_values.h"

namespace sluice::api {
namespace {

using nlohmann::json;
using policy_detail::EqualsIgnoreCase;
using policy_detail::Glob;
using policy_detail::ParseAddress;
using policy_detail::ParseBlock;
using policy_detail::ParseNumber;
using policy_detail::ParseTime;
using policy_detail::ToLower;
using Status = std::optional<ApiError>;  // nullopt: fine

constexpr size_t kMaxDocumentBytes = 64 * 1024;
constexpr size_t kMaxStatements = 100;
constexpr int kMaxDepth = 16;

// A value quoted for an error message: at most 64 bytes (cut on a UTF-8 boundary), control
// characters replaced, so that the message stays printable and valid in XML.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 64;
  bool cut = s.size() > kMax;
  if (cut) {
    size_t n = kMax;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s = s.substr(0, n);
  }
  std::string out = "\"";
  for (char c : s) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  out += cut ? "...\"" : "\"";
  return out;
}

ApiError Malformed(std::string message) {
  return SenderError("MalformedPolicyDocument", std::move(message), 400);
}

// ---- The parsed form ----

enum class Family { kString, kStringIgnoreCase, kStringLike, kNumeric, kDate, kBool, kIp, kNull };
enum class Cmp { kEq, kLt, kLe, kGt, kGe };
enum class Key { kSourceIp, kCurrentTime, kEpochTime, kResourceTag, kOther };

struct OperatorSpec {
  std::string_view name;
  Family family;
  Cmp cmp;
  bool negated;
};

constexpr OperatorSpec kOperators[] = {
    {"StringEquals", Family::kString, Cmp::kEq, false},
    {"StringNotEquals", Family::kString, Cmp::kEq, true},
    {"StringEqualsIgnoreCase", Family::kStringIgnoreCase, Cmp::kEq, false},
    {"StringNotEqualsIgnoreCase", Family::kStringIgnoreCase, Cmp::kEq, true},
    {"StringLike", Family::kStringLike, Cmp::kEq, false},
    {"StringNotLike", Family::kStringLike, Cmp::kEq, true},
    {"NumericEquals", Family::kNumeric, Cmp::kEq, false},
    {"NumericNotEquals", Family::kNumeric, Cmp::kEq, true},
    {"NumericLessThan", Family::kNumeric, Cmp::kLt, false},
    {"NumericLessThanEquals", Family::kNumeric, Cmp::kLe, false},
    {"NumericGreaterThan", Family::kNumeric, Cmp::kGt, false},
    {"NumericGreaterThanEquals", Family::kNumeric, Cmp::kGe, false},
    {"DateEquals", Family::kDate, Cmp::kEq, false},
    {"DateNotEquals", Family::kDate, Cmp::kEq, true},
    {"DateLessThan", Family::kDate, Cmp::kLt, false},
    {"DateLessThanEquals", Family::kDate, Cmp::kLe, false},
    {"DateGreaterThan", Family::kDate, Cmp::kGt, false},
    {"DateGreaterThanEquals", Family::kDate, Cmp::kGe, false},
    {"Bool", Family::kBool, Cmp::kEq, false},
    {"IpAddress", Family::kIp, Cmp::kEq, false},
    {"NotIpAddress", Family::kIp, Cmp::kEq, true},
    {"Null", Family::kNull, Cmp::kEq, false},
};

// One key under one operator: "StringEquals": {"aws:ResourceTag/env": ["prod", "staging"]}.
struct ConditionTest {
  Family family = Family::kString;
  Cmp cmp = Cmp::kEq;
  bool negated = false;
  bool if_exists = false;
  Key key = Key::kOther;
  std::string tag_key;            // for kResourceTag, as written
  std::vector<std::string> text;  // string, bool ("true"/"false") and null families
  std::vector<double> numbers;    // numeric and date (epoch seconds) families
  std::vector<Cidr> blocks;       // ip family
};

struct Statement {
  bool allow = false;
  bool not_action = false;
  bool not_resource = false;
  std::vector<std::string> actions;
  std::vector<std::string> resources;
  std::vector<ConditionTest> conditions;
};

}  // namespace

struct Policy::Impl {
  std::vector<Statement> statements;
};

namespace {

// ---- Parsing ----

// A JSON string, or a non-empty array of them, into out.
Status ReadStrings(const json& j, const std::string& where, std::vector<std::string>* out) {
  if (j.is_string()) {
    out->push_back(j.get_ref<const std::string&>());
    return std::nullopt;
  }
  if (!j.is_array() || j.empty()) {
    return Malformed(where + " must be a string or a non-empty array of strings");
  }
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) return Malformed(where + "[" + std::to_string(i) + "] must be a string");
    out->push_back(j[i].get_ref<const std::string&>());
  }
  return std::nullopt;
}

// Action or NotAction (exactly one): "*" or "service:pattern".
Status ParseActions(const json& stmt, const std::string& where, Statement* s) {
  auto a = stmt.find("Action"), na = stmt.find("NotAction");
  if ((a == stmt.end()) == (na == stmt.end())) {
    return Malformed(where + (a == stmt.end() ? " has neither Action nor NotAction"
                                              : " has both Action and NotAction"));
  }
  s->not_action = na != stmt.end();
  std::string field = where + (s->not_action ? ".NotAction" : ".Action");
  if (auto e = ReadStrings(s->not_action ? *na : *a, field, &s->actions)) return e;
  for (const std::string& action : s->actions) {
    size_t colon = action.find(':');
    bool ok =
        action == "*" || (colon != std::string::npos && colon > 0 && colon + 1 < action.size());
    if (!ok) return Malformed(field + " " + Quote(action) + " is not \"*\" or \"service:action\"");
  }
  return std::nullopt;
}

// Resource or NotResource (exactly one): "*" or an ARN pattern.
Status ParseResources(const json& stmt, const std::string& where, Statement* s) {
  auto r = stmt.find("Resource"), nr = stmt.find("NotResource");
  if ((r == stmt.end()) == (nr == stmt.end())) {
    return Malformed(where + (r == stmt.end() ? " has neither Resource nor NotResource"
                                              : " has both Resource and NotResource"));
  }
  s->not_resource = nr != stmt.end();
  std::string field = where + (s->not_resource ? ".NotResource" : ".Resource");
  if (auto e = ReadStrings(s->not_resource ? *nr : *r, field, &s->resources)) return e;
  for (const std::string& res : s->resources) {
    if (res != "*" && res.rfind("arn:", 0) != 0) {
      return Malformed(field + " " + Quote(res) + " is not \"*\" or an ARN");
    }
  }
  return std::nullopt;
}

// "StringEqualsIfExists" -> the StringEquals spec and if_exists; nullptr if unknown.
const OperatorSpec* FindOperator(std::string_view name, bool* if_exists) {
  constexpr std::string_view kSuffix = "IfExists";
  *if_exists = name.size() > kSuffix.size() && name.ends_with(kSuffix);
  if (*if_exists) name.remove_suffix(kSuffix.size());
  for (const OperatorSpec& op : kOperators) {
    if (op.name == name) return (*if_exists && op.family == Family::kNull) ? nullptr : &op;
  }
  return nullptr;
}

// Classifies a condition key; keys are case-insensitive.
Status ClassifyKey(std::string_view name, const std::string& where, ConditionTest* t) {
  size_t colon = name.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == name.size()) {
    return Malformed(where + " has condition key " + Quote(name) + ", not \"prefix:name\"");
  }
  std::string lower = ToLower(name);
  for (std::string_view prefix : {"aws:resourcetag/", "elasticloadbalancing:resourcetag/"}) {
    if (lower.starts_with(prefix)) {
      if (lower.size() == prefix.size()) return Malformed(where + " has an empty tag key");
      t->key = Key::kResourceTag;
      t->tag_key = std::string(name.substr(prefix.size()));
      return std::nullopt;
    }
  }
  if (lower == "aws:sourceip") t->key = Key::kSourceIp;
  if (lower == "aws:currenttime") t->key = Key::kCurrentTime;
  if (lower == "aws:epochtime") t->key = Key::kEpochTime;
  return std::nullopt;
}

// One policy value, checked and converted for the operator's family.
Status AddValue(std::string value, const std::string& where, ConditionTest* t) {
  auto bad = [&](std::string_view what) {
    return Malformed(where + " value " + Quote(value) + " is not " + std::string(what));
  };
  switch (t->family) {
    case Family::kNumeric:
    case Family::kDate: {
      auto v = t->family == Family::kNumeric ? ParseNumber(value) : ParseTime(value);
      if (!v) return bad(t->family == Family::kNumeric ? "a number" : "an ISO 8601 date or epoch");
      t->numbers.push_back(*v);
      return std::nullopt;
    }
    case Family::kIp: {
      auto block = ParseBlock(value);
      if (!block) return bad("an IP address or CIDR block");
      t->blocks.push_back(*block);
      return std::nullopt;
    }
    case Family::kBool:
    case Family::kNull:
      if (!EqualsIgnoreCase(value, "true") && !EqualsIgnoreCase(value, "false")) {
        return bad("\"true\" or \"false\"");
      }
      value = ToLower(value);
      break;
    default:
      break;
  }
  t->text.push_back(std::move(value));
  return std::nullopt;
}

// The values of one key: a string, number or boolean, or a non-empty array of them.
Status ParseValues(const json& j, const std::string& where, ConditionTest* t) {
  auto scalar = [](const json& v) -> std::optional<std::string> {
    if (v.is_string()) return v.get_ref<const std::string&>();
    if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
    if (v.is_number()) return v.dump();
    return std::nullopt;
  };
  std::vector<const json*> items;
  if (j.is_array()) {
    for (const json& v : j) items.push_back(&v);
  } else {
    items.push_back(&j);
  }
  if (items.empty()) return Malformed(where + " has no values");
  for (const json* v : items) {
    auto text = scalar(*v);
    if (!text) return Malformed(where + " values must be strings, numbers or booleans");
    if (auto e = AddValue(std::move(*text), where, t)) return e;
  }
  return std::nullopt;
}

Status ParseCondition(const json& cond, const std::string& where, Statement* s) {
  if (!cond.is_object()) return Malformed(where + " must be an object");
  for (const auto& [op_name, keys] : cond.items()) {
    bool if_exists = false;
    const OperatorSpec* op = FindOperator(op_name, &if_exists);
    if (op == nullptr) {
      return Malformed(where + " has unknown condition operator " + Quote(op_name));
    }
    std::string op_where = where + "." + op_name;
    if (!keys.is_object() || keys.empty()) {
      return Malformed(op_where + " must be a non-empty object of condition keys");
    }
    for (const auto& [key_name, values] : keys.items()) {
      ConditionTest t;
      t.family = op->family;
      t.cmp = op->cmp;
      t.negated = op->negated;
      t.if_exists = if_exists;
      std::string key_where = op_where + "." + key_name;
      if (auto e = ClassifyKey(key_name, op_where, &t)) return e;
      if (auto e = ParseValues(values, key_where, &t)) return e;
      s->conditions.push_back(std::move(t));
    }
  }
  return std::nullopt;
}

// The statement's Sid and field names; Sids are alphanumeric and unique (as in IAM).
Status CheckFields(const json& j, const std::string& where, std::set<std::string>* sids) {
  static constexpr std::string_view kFields[] = {"Sid",      "Effect",      "Action",   "NotAction",
                                                 "Resource", "NotResource", "Condition"};
  for (const auto& [name, value] : j.items()) {
    if (std::find(std::begin(kFields), std::end(kFields), name) != std::end(kFields)) continue;
    if (name == "Principal" || name == "NotPrincipal") {
      return Malformed(where + " has " + name + ", which identity-based policies may not have");
    }
    return Malformed(where + " has unknown field " + Quote(name));
  }
  auto sid = j.find("Sid");
  if (sid == j.end()) return std::nullopt;
  if (!sid->is_string()) return Malformed(where + ".Sid must be a string");
  const std::string& text = sid->get_ref<const std::string&>();
  bool alnum = std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  });
  if (!alnum) return Malformed(where + ".Sid " + Quote(text) + " must be letters and digits");
  if (!text.empty() && !sids->insert(text).second) {
    return Malformed(where + ".Sid " + Quote(text) + " is not unique");
  }
  return std::nullopt;
}

Status ParseStatement(const json& j, size_t index, std::set<std::string>* sids, Statement* s) {
  std::string where = "Statement[" + std::to_string(index) + "]";
  if (!j.is_object()) return Malformed(where + " must be an object");
  if (auto e = CheckFields(j, where, sids)) return e;
  auto effect = j.find("Effect");
  if (effect == j.end()) return Malformed(where + ".Effect is missing");
  const std::string* e = effect->get_ptr<const std::string*>();
  if (e == nullptr || (*e != "Allow" && *e != "Deny")) {
    return Malformed(where + ".Effect must be \"Allow\" or \"Deny\", not " +
                     (e ? Quote(*e) : std::string("a ") + effect->type_name()));
  }
  s->allow = *e == "Allow";
  if (auto err = ParseActions(j, where, s)) return err;
  if (auto err = ParseResources(j, where, s)) return err;
  auto cond = j.find("Condition");
  if (cond != j.end()) return ParseCondition(*cond, where + ".Condition", s);
  return std::nullopt;
}

// Parses JSON text without exceptions, refusing duplicate object keys (which JSON parsers
// resolve silently, e.g. a second "Effect") and deep nesting.
Status ParseJson(std::string_view text, json* out) {
  std::vector<std::set<std::string>> open;  // the keys of each object being read
  std::string duplicate;
  int depth = 0;
  json::parser_callback_t guard = [&](int d, json::parse_event_t event, json& parsed) {
    depth = std::max(depth, d);
    if (event == json::parse_event_t::object_start) open.emplace_back();
    if (event == json::parse_event_t::object_end && !open.empty()) open.pop_back();
    const std::string* key = parsed.get_ptr<const std::string*>();
    if (event == json::parse_event_t::key && key && !open.empty() &&
        !open.back().insert(*key).second && duplicate.empty()) {
      duplicate = *key;
    }
    return true;
  };
  *out = json::parse(text.data(), text.data() + text.size(), guard, false);
  if (out->is_discarded()) return Malformed("Policy document is not valid JSON");
  if (depth > kMaxDepth) return Malformed("Policy document nests too deeply");
  if (!duplicate.empty()) return Malformed("Policy document repeats the key " + Quote(duplicate));
  return std::nullopt;
}

// The document's top level: Version, Id, Statement (an object or an array of objects).
Status ParseTopLevel(const json& doc, const json** statements) {
  if (!doc.is_object()) return Malformed("Policy document must be a JSON object");
  for (const auto& [name, value] : doc.items()) {
    if (name != "Version" && name != "Id" && name != "Statement") {
      return Malformed("Policy document has unknown field " + Quote(name));
    }
  }
  auto version = doc.find("Version");
  if (version != doc.end()) {
    const std::string* v = version->get_ptr<const std::string*>();
    if (v == nullptr || (*v != "2012-10-17" && *v != "2008-10-17")) {
      return Malformed("Version must be \"2012-10-17\" or \"2008-10-17\"");
    }
  }
  auto id = doc.find("Id");
  if (id != doc.end() && !id->is_string()) return Malformed("Id must be a string");
  auto st = doc.find("Statement");
  if (st == doc.end()) return Malformed("Policy document has no Statement");
  if (st->is_array() && st->empty()) return Malformed("Statement must not be empty");
  if (st->is_array() && st->size() > kMaxStatements) {
    return Malformed("Policy document has " + std::to_string(st->size()) + " statements; at most " +
                     std::to_string(kMaxStatements) + " are allowed");
  }
  *statements = &*st;
  return std::nullopt;
}

// ---- Evaluation ----

// The request's value for a condition key, evaluated for one resource ("*": none).
std::optional<std::string> Lookup(const ConditionTest& t, const RequestContext& ctx,
                                  std::string_view resource) {
  switch (t.key) {
    case Key::kSourceIp:
      if (ctx.source_ip.empty()) return std::nullopt;
      return ctx.source_ip;
    case Key::kCurrentTime:
      return policy_detail::FormatTime(ctx.now_unix);
    case Key::kEpochTime:
      return std::to_string(ctx.now_unix);
    case Key::kResourceTag:
      if (resource == "*" || !ctx.resource_tag) return std::nullopt;
      return ctx.resource_tag(resource, t.tag_key);
    case Key::kOther:
      break;
  }
  return std::nullopt;
}

bool Compare(double request, double policy, Cmp cmp) {
  switch (cmp) {
    case Cmp::kEq:
      return request == policy;
    case Cmp::kLt:
      return request < policy;
    case Cmp::kLe:
      return request <= policy;
    case Cmp::kGt:
      return request > policy;
    case Cmp::kGe:
      return request >= policy;
  }
  return false;
}

// Whether the request's value matches any of the policy's values (a value of the wrong type
// for the operator, such as a non-address for IpAddress, matches none).
bool AnyValueMatches(const ConditionTest& t, std::string_view v) {
  auto any_text = [&](auto&& match) { return std::any_of(t.text.begin(), t.text.end(), match); };
  switch (t.family) {
    case Family::kString:
      return any_text([&](const std::string& p) { return p == v; });
    case Family::kStringIgnoreCase:
    case Family::kBool:
      return any_text([&](const std::string& p) { return EqualsIgnoreCase(p, v); });
    case Family::kStringLike:
      return any_text([&](const std::string& p) { return Glob(p, v, false); });
    case Family::kNumeric:
    case Family::kDate: {
      auto x = t.family == Family::kNumeric ? ParseNumber(v) : ParseTime(v);
      return x && std::any_of(t.numbers.begin(), t.numbers.end(),
                              [&](double p) { return Compare(*x, p, t.cmp); });
    }
    case Family::kIp: {
      auto ip = ParseAddress(v);
      return ip && std::any_of(t.blocks.begin(), t.blocks.end(),
                               [&](const Cidr& b) { return b.Contains(*ip); });
    }
    case Family::kNull:
      break;
  }
  return false;
}

bool ConditionHolds(const ConditionTest& t, const RequestContext& ctx, std::string_view resource) {
  std::optional<std::string> value = Lookup(t, ctx, resource);
  if (t.family == Family::kNull) {
    // "true": the key must be absent; "false": present. Several values: any.
    return std::any_of(t.text.begin(), t.text.end(),
                       [&](const std::string& p) { return (p == "true") == !value.has_value(); });
  }
  if (!value) return t.if_exists || t.negated;
  return AnyValueMatches(t, *value) != t.negated;
}

bool StatementApplies(const Statement& s, const RequestContext& ctx, std::string_view resource) {
  bool action = std::any_of(s.actions.begin(), s.actions.end(),
                            [&](const std::string& p) { return Glob(p, ctx.action, true); });
  if (action == s.not_action) return false;
  bool res = std::any_of(s.resources.begin(), s.resources.end(),
                         [&](const std::string& p) { return Glob(p, resource, false); });
  if (res == s.not_resource) return false;
  return std::all_of(s.conditions.begin(), s.conditions.end(),
                     [&](const ConditionTest& t) { return ConditionHolds(t, ctx, resource); });
}

}  // namespace

ApiResult<Policy> Policy::Parse(std::string_view text) {
  if (text.size() > kMaxDocumentBytes) {
    return Malformed("Policy document is larger than " + std::to_string(kMaxDocumentBytes) +
                     " bytes");
  }
  json doc;
  if (auto e = ParseJson(text, &doc)) return *e;
  const json* statements = nullptr;
  if (auto e = ParseTopLevel(doc, &statements)) return *e;
  auto impl = std::make_shared<Impl>();
  std::set<std::string> sids;
  if (!statements->is_array()) {
    impl->statements.emplace_back();
    if (auto e = ParseStatement(*statements, 0, &sids, &impl->statements.back())) return *e;
  } else {
    impl->statements.resize(statements->size());
    for (size_t i = 0; i < statements->size(); ++i) {
      if (auto e = ParseStatement((*statements)[i], i, &sids, &impl->statements[i])) return *e;
    }
  }
  return Policy(std::move(impl));
}

std::string Policy::AdminJson() {
  return R"({"Version":"2012-10-17","Statement":[{"Sid":"SluiceAdmin","Effect":"Allow",)"
         R"("Action":["elasticloadbalancing:*","cloudwatch:GetMetricStatistics",)"
         R"("cloudwatch:ListMetrics"],"Resource":"*"}]})";
}

std::string Policy::ReadOnlyJson() {
  return R"({"Version":"2012-10-17","Statement":[{"Sid":"SluiceReadOnly","Effect":"Allow",)"
         R"("Action":["elasticloadbalancing:Describe*","cloudwatch:GetMetricStatistics",)"
         R"("cloudwatch:ListMetrics"],"Resource":"*"}]})";
}

const Policy& Policy::Admin() {
  static const Policy admin = Parse(AdminJson()).value();
  return admin;
}

const Policy& Policy::ReadOnly() {
  static const Policy read_only = Parse(ReadOnlyJson()).value();
  return read_only;
}

size_t Policy::statement_count() const { return impl_->statements.size(); }

Evaluation EvaluateDetailed(const Policy& policy, const RequestContext& ctx) {
  static const std::vector<std::string> kAll = {"*"};
  const std::vector<std::string>& resources = ctx.resources.empty() ? kAll : ctx.resources;
  std::optional<std::string> unallowed;
  for (const std::string& resource : resources) {
    bool allowed = false;
    for (const Statement& s : policy.impl_->statements) {
      if (!StatementApplies(s, ctx, resource)) continue;
      if (!s.allow) return {Decision::kExplicitDeny, resource};
      allowed = true;
    }
    if (!allowed && !unallowed) unallowed = resource;
  }
  if (unallowed) return {Decision::kImplicitDeny, *unallowed};
  return {Decision::kAllow, ""};
}

ApiError AccessDenied(std::string_view account, std::string_view user, const RequestContext& ctx,
                      const Evaluation& evaluation) {
  std::string message =
      "User: arn:aws:iam::" + std::string(account) + ":user/" + std::string(user) +
      " is not authorized to perform: " + ctx.action +
      " on resource: " + (evaluation.resource.empty() ? "*" : evaluation.resource);
  if (evaluation.decision == Decision::kExplicitDeny) {
    message += " with an explicit deny in an identity-based policy";
  } else {
    message += " because no identity-based policy allows the " + ctx.action + " action";
  }
  return SenderError("AccessDenied", std::move(message), 403);
}

}  // namespace sluice::api
