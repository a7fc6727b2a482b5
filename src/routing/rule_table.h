// A listener's compiled rules: conditions evaluated exactly as ALB does (see
// ../shared/reference/alb-nlb.md §1): priorities ascending, first match wins, values inside a
// condition OR-ed, conditions AND-ed, then the default actions.
//
// Built once per config snapshot on the control thread; Match() is then called concurrently
// from every worker thread. Match() takes no lock and does not allocate.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "base/result.h"
#include "config/model.h"
#include "http/header.h"

namespace sluice::routing {

// What conditions look at. Views are only read during Match().
struct RequestFacts {
  std::string_view method;
  std::string_view host;   // Host header value as received; may carry ":port"
  std::string_view path;   // path of the request target as received (not decoded)
  std::string_view query;  // after the first '?', up to '#'; empty when none
  std::span<const http::HeaderField> headers;
  IpAddress source_ip;  // TCP peer of the downstream connection
};

// The Host value as host-header conditions see it: without its ":port" ("[::1]:8080" ->
// "[::1]", brackets kept as in a URL). No case folding.
std::string_view HostWithoutPort(std::string_view host);

// Per-worker scratch space so that Match() never allocates (e.g. for path normalisation).
// Owned by one thread; reused across requests.
class MatchScratch {
 public:
  MatchScratch();
  ~MatchScratch();
  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  std::unique_ptr<Impl> impl_;
};

class CompiledTransforms;

struct MatchResult {
  int priority = 0;                                      // 0 = default rule
  const std::vector<config::Action>* actions = nullptr;  // sorted by Order; never null
  // The rule's transforms (routing/transform.h); null when it has none (always for the
  // default rule). Applied after the match: they never change which rule matches.
  const CompiledTransforms* transforms = nullptr;
};

class RuleTable {
 public:
  // Compiles `listener`'s rules (already validated by the config loader). Fails only on
  // a regex RE2 cannot compile (or, defensively, a source-ip value that is not a CIDR, or a
  // transform replacement naming a group its regex lacks).
  // Rules are ordered by priority here, whatever their order in `listener`.
  static Result<std::unique_ptr<RuleTable>> Compile(const config::Listener& listener);
  ~RuleTable();

  // Thread-safe: const, takes no lock of its own (RE2 guards its lazily built DFA cache
  // internally). `scratch` must belong to the calling thread. The returned actions live as long
  // as this table.
  MatchResult Match(const RequestFacts& facts, MatchScratch& scratch) const;

  size_t rule_count() const;

  struct Impl;

 private:
  explicit RuleTable(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::routing
