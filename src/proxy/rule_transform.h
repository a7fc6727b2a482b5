// The step between routing and forwarding that applies the matched rule's transforms
// (routing/transform.h) to the request about to be forwarded. Pure; no I/O.
#pragma once

#include <string_view>

#include "proxy/request_rewrite.h"
#include "routing/transform.h"

namespace sluice::proxy {

// Applies `transforms` (the MatchResult's; null when the rule has none, which costs nothing
// and leaves *result as it is) to a request routed with `host` (the Host value conditions saw,
// port included; empty when none) and `*target`. On a url rewrite, target->path_and_query,
// path and query then view result->transformed_uri; a host rewrite is left in
// result->transformed_host for ForwardContext::transformed_host. Returns false when a rewrite
// failed: the caller answers 500 and sends nothing to a target.
bool ApplyRuleTransforms(const routing::CompiledTransforms* transforms, std::string_view host,
                         RequestTarget* target, routing::TransformResult* result);

}  // namespace sluice::proxy
