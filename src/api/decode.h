// Reads the elbv2 API's structures from Query parameters into the config model (reference
// §9.7, §1.6): actions, conditions, transforms and targets. Only the shape is checked here
// (required members, enums, numbers); the model's rules are checked by the same validation
// the YAML file goes through when the change is applied. Pure; control plane only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/error.h"
#include "api/query.h"
#include "config/model.h"

namespace sluice::api {

// `name.member.N` actions; target groups named by ARN are resolved against `config`
// (TargetGroupNotFound otherwise). `path` is the camelCase parameter path for messages
// ("defaultActions", "actions").
ApiResult<std::vector<config::Action>> DecodeActions(const config::Config& config,
                                                     const QueryParams& params,
                                                     std::string_view name, std::string_view path);
ApiResult<std::vector<config::Condition>> DecodeConditions(const QueryParams& params,
                                                           std::string_view name);
ApiResult<std::vector<config::Transform>> DecodeTransforms(const QueryParams& params,
                                                           std::string_view name);
// `Targets.member.N.{Id,Port}`; Port defaults to `default_port` when absent (0: keep 0).
ApiResult<std::vector<config::Target>> DecodeTargets(const QueryParams& params, int default_port);

// `Tags.member.N.{Key,Value}`: empty when absent; DuplicateTagKeys for a key given twice.
ApiResult<std::vector<config::Tag>> DecodeTags(const QueryParams& params);

// Scalar readers: nullopt when absent; an error when present and malformed.
ApiResult<std::optional<int>> ReadInteger(const QueryParams& params, std::string_view name,
                                          std::string_view path, long min, long max);
ApiResult<std::optional<bool>> ReadBoolean(const QueryParams& params, std::string_view name,
                                           std::string_view path);
// A required string: "Value null at '<path>' ..." when missing.
ApiResult<std::string> RequireString(const QueryParams& params, std::string_view name,
                                     std::string_view path);

// AWS's validation message: "1 validation error detected: Value '<v>' at '<path>' failed to
// satisfy constraint: <constraint>" ("null" for a missing value).
ApiError Validation(std::string_view value, std::string_view path, std::string_view constraint,
                    bool null_value = false);

}  // namespace sluice::api
