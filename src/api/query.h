// The AWS Query protocol's request parameters (reference §9.2): a form-encoded body or a
// query string decoded into name → value, with the helpers an operation needs to read
// structures (`Matcher.HttpCode`), lists (`Subnets.member.N`) and lists of structures
// (`Targets.member.N.Id`). Pure; control plane only.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/error.h"

namespace sluice::api {

// Bounds on one call's parameters: a hostile caller cannot make decoding expensive.
inline constexpr size_t kMaxParameters = 250000;  // 100,000 targets × (Id, Port) + slack
inline constexpr size_t kMaxNameLength = 256;

class QueryParams {
 public:
  // Decodes `a=b&c=d` (percent escapes, '+' as space). Repeated names: the last wins (as
  // AWS's Query services). Errors: MalformedQueryString for a bad escape or a name that is
  // too long; ValidationError for too many parameters.
  static ApiResult<QueryParams> Parse(std::string_view form);
  // Adds the parameters of `other` that are not set here (the query string under a body).
  void MergeMissing(const QueryParams& other);

  const std::string* Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name) != nullptr; }
  // Whether any parameter is `name` or starts with `name.`.
  bool HasAny(std::string_view name) const;
  size_t size() const { return values_.size(); }
  const std::map<std::string, std::string, std::less<>>& all() const { return values_; }

  // A list of strings, `name.member.1`, `name.member.2`, ... in index order. nullopt when
  // the list is absent; an empty list when sent as `name=` (botocore's empty list).
  std::optional<std::vector<std::string>> List(std::string_view name) const;
  // A list of structures: the parameters under `name.member.N.` with that prefix removed,
  // one QueryParams per N in index order. nullopt when absent; empty when sent as `name=`.
  std::optional<std::vector<QueryParams>> StructList(std::string_view name) const;
  // The members of structure `name` (`name.Field` → `Field`); empty when there are none.
  QueryParams Struct(std::string_view name) const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

// RFC 3986 percent-encoding of everything but unreserved characters (for markers, tests).
std::string PercentEncode(std::string_view s);

}  // namespace sluice::api
