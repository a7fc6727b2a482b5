// Reads a Sluice YAML config file into the resource model, validating every field with
// messages that name file, line, column and field and say what is allowed.
// Runs on the control thread only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "config/error.h"
#include "config/model.h"

namespace sluice::config {

// The most YAML nodes (values, lists and mappings, keys included) a document may hold: yaml-cpp
// keeps ~600 bytes per node, so this bounds a load's memory however the bytes are spent.
inline constexpr size_t kMaxDocumentNodes = 600000;

// Either a validated Config, or every error found.
using LoadResult = std::variant<Config, ConfigErrors>;

// Parses YAML text; `file_name` is used in messages only.
LoadResult LoadConfigFromString(std::string_view yaml_text, std::string_view file_name);

// Reads and parses a file; a missing or unreadable file is one error with line 0.
LoadResult LoadConfigFromFile(const std::string& path);

}  // namespace sluice::config
