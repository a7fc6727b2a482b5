// Tags on load balancers, listeners, rules and target groups (reference §9.5).
#include <set>

#include "config/parse.h"
#include "config/quote.h"
#include "config/validate.h"

namespace sluice::config::internal {

std::string CheckTagKey(std::string_view key) {
  if (key.empty() || key.size() > 128) {
    return "tag key " + QuoteValue(key) + " must have 1..128 characters";
  }
  if (key.starts_with("aws:")) {
    return "tag key " + QuoteValue(key) + ": the aws: prefix is reserved";
  }
  if (key.find('\0') != std::string_view::npos) {
    return "value " + QuoteValue(key) + " contains a NUL character";  // as ReadString says
  }
  return "";
}

std::string CheckTagValue(std::string_view key, std::string_view value) {
  if (value.size() > 256) {
    return "tag value of " + QuoteValue(key) + " is longer than 256 characters";
  }
  if (value.find('\0') != std::string_view::npos) {
    return "value " + QuoteValue(value) + " contains a NUL character";
  }
  return "";
}

std::string CheckTags(const std::vector<Tag>& tags) {
  if (tags.size() > kMaxTags) {
    return std::to_string(tags.size()) + " tags; at most " + std::to_string(kMaxTags) +
           " are allowed";
  }
  std::set<std::string_view> keys;
  for (const Tag& t : tags) {
    if (std::string why = CheckTagKey(t.key); !why.empty()) return why;
    if (!keys.insert(t.key).second)
      return "tag key " + QuoteValue(t.key) + " is given more than once";
    if (std::string why = CheckTagValue(t.key, t.value); !why.empty()) return why;
  }
  return "";
}

void ParseTags(Reader& r, const Field& field, std::vector<Tag>* out) {
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items) return;
  if (items->size() > kMaxTags) {
    r.AddError(field, std::to_string(items->size()) + " tags; at most " + std::to_string(kMaxTags) +
                          " are allowed");
    return;
  }
  std::set<std::string> keys;
  for (const Field& item : *items) {
    MapReader m(r, item, {"Key", "Value"});
    if (!m.ok()) continue;
    Field key_field = m.Require("Key");
    std::optional<std::string> key = ReadString(r, key_field);
    if (!key) continue;
    Tag tag;
    tag.key = *key;
    if (std::string why = CheckTagKey(*key); !why.empty()) {
      r.AddError(key_field, why);
    } else if (!keys.insert(*key).second) {
      r.AddError(key_field, "tag key " + QuoteValue(*key) + " is given more than once");
    }
    if (Field v = m.Get("Value"); v.present) {
      if (std::optional<std::string> value = ReadString(r, v)) {
        if (std::string why = CheckTagValue(*key, *value); !why.empty()) r.AddError(v, why);
        tag.value = *value;
      }
    }
    out->push_back(std::move(tag));
  }
}

}  // namespace sluice::config::internal
