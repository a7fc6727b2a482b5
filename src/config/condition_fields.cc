#include "config/condition_fields.h"

namespace sluice::config {
namespace {

constexpr ConditionFieldInfo kFields[] = {
    {ConditionField::kHostHeader, "host-header", "HostHeaderConfig", true, true},
    {ConditionField::kHttpHeader, "http-header", "HttpHeaderConfig", false, false},
    {ConditionField::kHttpRequestMethod, "http-request-method", "HttpRequestMethodConfig", true,
     false},
    {ConditionField::kPathPattern, "path-pattern", "PathPatternConfig", true, true},
    {ConditionField::kQueryString, "query-string", "QueryStringConfig", false, false},
    {ConditionField::kSourceIp, "source-ip", "SourceIpConfig", true, false},
};

}  // namespace

std::span<const ConditionFieldInfo> ConditionFields() { return kFields; }

const ConditionFieldInfo& InfoOf(ConditionField field) {
  for (const ConditionFieldInfo& info : kFields) {
    if (info.field == field) return info;
  }
  return kFields[0];  // unreachable: the table names every enumerator
}

const ConditionFieldInfo* FindConditionField(std::string_view name) {
  for (const ConditionFieldInfo& info : kFields) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

}  // namespace sluice::config
