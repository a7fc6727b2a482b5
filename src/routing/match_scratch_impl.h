// Internal: the storage behind MatchScratch (see rule_table.h). One per worker thread; reused by
// every Match() call on that thread, so nothing on the match path allocates.
#pragma once

#include <cstddef>

#include "routing/query.h"
#include "routing/rule_table.h"

namespace sluice::routing {

// Request targets are at most 16 KiB; longer paths or queries fail path/query conditions.
inline constexpr size_t kMaxRequestTarget = 16 * 1024;

struct MatchScratch::Impl {
  char path[kMaxRequestTarget];                         // normalised path
  char query[DecodedQueryCapacity(kMaxRequestTarget)];  // decoded query records
};

}  // namespace sluice::routing
