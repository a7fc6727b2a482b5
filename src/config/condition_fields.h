// The rule condition fields' names (the API's and the YAML's `Field` values) and the key of
// each one's typed *Config block: one table for the loader, the exporter, the routing
// messages and the elbv2 API. Pure data.
#pragma once

#include <span>
#include <string_view>

#include "config/model.h"

namespace sluice::config {

struct ConditionFieldInfo {
  ConditionField field;
  const char* name;        // value of Field ("host-header", ...)
  const char* config_key;  // the typed *Config block ("HostHeaderConfig", ...)
  bool single;             // at most one per rule
  bool legacy_values;      // `Values` directly under the condition is accepted
};

// Every field, in the order the loader lists them in messages.
std::span<const ConditionFieldInfo> ConditionFields();
const ConditionFieldInfo& InfoOf(ConditionField field);
// The field called `name`, or null.
const ConditionFieldInfo* FindConditionField(std::string_view name);

}  // namespace sluice::config
