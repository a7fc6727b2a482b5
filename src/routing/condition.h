// One compiled rule condition (host-header, path-pattern, http-header, http-request-method,
// query-string or source-ip) and the per-request view it is evaluated against.
//
// CompiledCondition is built on the control thread and then only read: Matches() may run
// concurrently on every worker. RequestContext lives on one worker's stack for one Match() call.
// Nothing on the Matches() path allocates or throws; RE2 itself may lazily grow its internal
// DFA cache (under its own lock) the first times a regex runs.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "base/result.h"
#include "config/model.h"
#include "routing/glob.h"
#include "routing/match_scratch_impl.h"
#include "routing/rule_table.h"

namespace re2 {
class RE2;
}

namespace sluice::routing {

// Facts derived lazily, at most once per Match(): the normalised path and the decoded query.
class RequestContext {
 public:
  RequestContext(const RequestFacts& facts, MatchScratch::Impl& scratch)
      : facts_(facts), scratch_(scratch), host_(HostWithoutPort(facts.host)) {}

  const RequestFacts& facts() const { return facts_; }
  std::string_view host() const { return host_; }
  // False when the path does not fit the scratch buffer (path conditions then fail).
  bool NormalizedPath(std::string_view* out);
  // Decoded pair records (see query.h); false when they do not fit the scratch buffer.
  bool DecodedQuery(std::string_view* out);

 private:
  enum class State : uint8_t { kNotYet, kReady, kTooLong };
  const RequestFacts& facts_;
  MatchScratch::Impl& scratch_;
  std::string_view host_;
  State path_state_ = State::kNotYet;
  State query_state_ = State::kNotYet;
  std::string_view path_;
  std::string_view query_records_;
};

class CompiledCondition {
 public:
  // Fails on a regex RE2 rejects, or on a source-ip value that is not a CIDR.
  static Result<CompiledCondition> Compile(const config::Condition& condition);

  CompiledCondition(CompiledCondition&&) noexcept;
  CompiledCondition& operator=(CompiledCondition&&) noexcept;
  ~CompiledCondition();

  // True when any value of the condition matches the request (values are OR-ed).
  bool Matches(RequestContext& ctx) const;

  config::ConditionField field() const { return field_; }
  // Relative evaluation cost, so a rule can test cheap conditions first.
  int cost() const;
  // The glob values (host-header, path-pattern, http-header); used to build rule indexes.
  const std::vector<Glob>& globs() const { return globs_; }
  bool has_regex() const { return !regexes_.empty(); }
  // http-header: the header name as configured.
  const std::string& header_name() const { return header_name_; }

 private:
  struct QueryPattern {
    bool has_key = false;
    Glob key;
    Glob value;
  };

  CompiledCondition() = default;
  bool AnyGlobOrRegex(std::string_view text) const;
  bool MatchesQuery(RequestContext& ctx) const;
  bool MatchesHeader(const RequestContext& ctx) const;

  config::ConditionField field_ = config::ConditionField::kPathPattern;
  std::vector<Glob> globs_;
  std::vector<std::unique_ptr<re2::RE2>> regexes_;
  std::string header_name_;           // http-header
  std::vector<std::string> methods_;  // http-request-method
  std::vector<QueryPattern> query_;   // query-string
  std::vector<Cidr> cidrs_;           // source-ip
};

}  // namespace sluice::routing
