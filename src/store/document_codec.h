// The stored form of a config document: raw DEFLATE (RFC 1951) of its YAML, by libdeflate.
// A 3 MB document of 100,000 targets or 10,000 rules compresses to ~70 KB in a few
// milliseconds, and writing 70 KB instead of 3 MB is most of a commit's cost (decision 0030).
//
// Pure functions; any thread. Errors are values (kInternal): allocation failures and stored
// bytes that do not inflate to exactly the recorded length.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sluice::store {

// Inflated documents larger than this are refused as corrupt (the loader reads 16 MiB files).
inline constexpr size_t kMaxDocumentBytes = 64u << 20;

// `yaml` deflated at level 1.
Result<std::string> DeflateDocument(std::string_view yaml);
// `deflated` inflated; it must give exactly `yaml_bytes` bytes (<= kMaxDocumentBytes).
Result<std::string> InflateDocument(std::string_view deflated, size_t yaml_bytes);

}  // namespace sluice::store
