// libFuzzer target for the elbv2 API's Query decoder (src/api/query.h): the input is a form
// (`a=b&c.member.1=d`), as the body of a POST or the query string of a GET. Traps (abort) when
// an invariant fails:
//  * a refused form says MalformedQueryString or ValidationError, with a message;
//  * every name is 1..kMaxNameLength bytes;
//  * for names taken from the parsed keys (the part before ".member." or before a '.'):
//    List returns exactly the values of `Name.member.N` (N decimal, no leading zero, at most 7
//    digits) in index order, each one a Get of its key, and an empty list only for `Name=`;
//    StructList returns one structure per such N with members `Name.member.N.Field`; Struct
//    returns exactly the `Name.Field` members; HasAny says whether `Name` or `Name.*` is set;
//  * PercentEncode of every pair, parsed again, gives the same map (round trip), and
//    MergeMissing into an empty set copies it.
// The operations read every structure through these helpers: a member a helper drops or
// invents is a parameter the caller sent and the operation did not see (or the reverse).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/query.h"

namespace {

using sluice::api::QueryParams;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

// "N" or "N.rest" after "<name>.member.": the index and the rest ("" or ".rest"); false when
// the key is not a member of `name`.
bool Member(std::string_view key, std::string_view name, size_t* index, std::string_view* rest) {
  std::string prefix = std::string(name) + ".member.";
  if (!StartsWith(key, prefix)) return false;
  std::string_view tail = key.substr(prefix.size());
  size_t digits = 0;
  while (digits < tail.size() && tail[digits] >= '0' && tail[digits] <= '9') ++digits;
  if (digits == 0 || digits > 7 || tail[0] == '0') return false;
  size_t n = 0;
  for (size_t i = 0; i < digits; ++i) n = n * 10 + static_cast<size_t>(tail[i] - '0');
  *index = n;
  *rest = tail.substr(digits);
  return rest->empty() || (*rest)[0] == '.';
}

void CheckList(const QueryParams& p, const std::string& name) {
  std::map<size_t, std::string> expected;
  for (const auto& [k, v] : p.all()) {
    size_t index = 0;
    std::string_view rest;
    if (Member(k, name, &index, &rest) && rest.empty()) expected[index] = v;
  }
  std::optional<std::vector<std::string>> list = p.List(name);
  if (expected.empty()) {
    Check(list.has_value() == p.Has(name));
    if (list) Check(list->empty());
    return;
  }
  Check(list.has_value() && list->size() == expected.size());
  size_t i = 0;
  for (const auto& [index, value] : expected) {
    const std::string* got = p.Get(name + ".member." + std::to_string(index));
    Check(got != nullptr && *got == value && (*list)[i] == *got);
    ++i;
  }
}

void CheckStructList(const QueryParams& p, const std::string& name) {
  std::map<size_t, std::map<std::string, std::string>> expected;
  for (const auto& [k, v] : p.all()) {
    size_t index = 0;
    std::string_view rest;
    if (Member(k, name, &index, &rest) && !rest.empty()) {
      expected[index][std::string(rest.substr(1))] = v;
    }
  }
  std::optional<std::vector<QueryParams>> list = p.StructList(name);
  if (expected.empty()) {
    Check(list.has_value() == p.Has(name));
    if (list) Check(list->empty());
    return;
  }
  Check(list.has_value() && list->size() == expected.size());
  size_t i = 0;
  for (const auto& [index, fields] : expected) {
    const QueryParams& s = (*list)[i++];
    Check(s.size() == fields.size());
    for (const auto& [field, value] : fields) {
      const std::string* got = s.Get(field);
      Check(got != nullptr && *got == value);
      const std::string* original = p.Get(name + ".member." + std::to_string(index) + "." + field);
      Check(original != nullptr && *original == value);
    }
  }
}

void CheckStruct(const QueryParams& p, const std::string& name) {
  QueryParams s = p.Struct(name);
  std::string prefix = name + ".";
  size_t expected = 0;
  bool any = p.Has(name);
  for (const auto& [k, v] : p.all()) {
    if (!StartsWith(k, prefix)) continue;
    any = true;
    ++expected;
    const std::string* got = s.Get(std::string_view(k).substr(prefix.size()));
    Check(got != nullptr && *got == v);
  }
  Check(s.size() == expected);
  Check(p.HasAny(name) == any);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view form(reinterpret_cast<const char*>(data), size);
  sluice::api::ApiResult<QueryParams> parsed = QueryParams::Parse(form);
  if (!parsed.ok()) {
    const sluice::api::ApiError& e = parsed.error();
    Check(e.code == "MalformedQueryString" || e.code == "ValidationError");
    Check(!e.message.empty() && e.sender);
    return 0;
  }
  const QueryParams& p = parsed.value();
  Check(p.size() == p.all().size());
  for (const auto& [k, v] : p.all()) {
    Check(!k.empty() && k.size() <= sluice::api::kMaxNameLength);
    Check(p.Has(k) && *p.Get(k) == v);
  }

  // The names a handler would ask for: before ".member." (lists) and before each '.'
  // (structures), plus the whole key. A few of them: the checks are linear in the map.
  std::set<std::string> names;
  for (const auto& [k, v] : p.all()) {
    if (names.size() >= 16) break;
    size_t member = k.find(".member.");
    if (member != std::string::npos) names.insert(k.substr(0, member));
    for (size_t dot = k.find('.'); dot != std::string::npos && names.size() < 16;
         dot = k.find('.', dot + 1)) {
      names.insert(k.substr(0, dot));
    }
    names.insert(k);
  }
  for (const std::string& name : names) {
    CheckList(p, name);
    CheckStructList(p, name);
    CheckStruct(p, name);
  }

  // Round trip: what PercentEncode writes decodes to the same map.
  std::string encoded;
  for (const auto& [k, v] : p.all()) {
    if (!encoded.empty()) encoded.push_back('&');
    encoded += sluice::api::PercentEncode(k);
    encoded.push_back('=');
    encoded += sluice::api::PercentEncode(v);
  }
  sluice::api::ApiResult<QueryParams> again = QueryParams::Parse(encoded);
  Check(again.ok() && again.value().all() == p.all());

  QueryParams merged;
  merged.MergeMissing(p);
  Check(merged.all() == p.all());
  return 0;
}
