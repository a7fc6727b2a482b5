// Tags on load balancers, listeners, rules and target groups (reference §9.5).
#include <set>

#include "config/parse.h"
#include "config/quote.h"

namespace sluice::config::internal {

void ParseTags(Reader& r, const Field& field, std::vector<Tag>* out) {
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items) return;
  if (items->size() > 50) {
    r.AddError(field, std::to_string(items->size()) + " tags; at most 50 are allowed");
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
    if (key->empty() || key->size() > 128) {
      r.AddError(key_field, "tag key " + QuoteValue(*key) + " must have 1..128 characters");
    } else if (key->rfind("aws:", 0) == 0) {
      r.AddError(key_field, "tag key " + QuoteValue(*key) + ": the aws: prefix is reserved");
    } else if (!keys.insert(*key).second) {
      r.AddError(key_field, "tag key " + QuoteValue(*key) + " is given more than once");
    }
    if (Field v = m.Get("Value"); v.present) {
      if (std::optional<std::string> value = ReadString(r, v)) {
        if (value->size() > 256) {
          r.AddError(v, "tag value of " + QuoteValue(*key) + " is longer than 256 characters");
        }
        tag.value = *value;
      }
    }
    out->push_back(std::move(tag));
  }
}

}  // namespace sluice::config::internal
