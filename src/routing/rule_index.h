// Candidate indexes that keep Match() cost nearly independent of the number of rules.
//
// Each rule is filed under at most one index, chosen from one of its conditions (conditions are
// AND-ed, so a rule can only match when that condition matches). For a request, Collect() returns
// the sorted lists of rule numbers that may match: the rules filed under the request's keys plus
// the rules filed nowhere. The caller merges the lists and evaluates every candidate fully, so an
// index only has to be a safe over-approximation. Index kinds, in order of preference:
//   * host exact: a host-header condition whose values are all literal; key = lower-cased value,
//     looked up with the port-stripped Host.
//   * path segment: a path-pattern condition whose every value fixes the first path segment
//     ("/api/*", "/health"); key "/api", looked up with the normalised path's first segment.
//   * host suffix: a host-header condition whose every value ends in a literal containing a '.'
//     after its last wildcard ("*.example.com", "api-?.example.com"); key = that literal from its
//     first '.' (".example.com"), looked up with each suffix of the Host that starts at a '.'.
//   * header value: an http-header condition whose values are all literal; key =
//     "name:value" lower-cased, looked up once per request header.
// Regex values make a condition unindexable.
//
// Built on the control thread; read-only afterwards, so Collect() may run on many threads.
// Collect() does not allocate.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "routing/condition.h"

namespace sluice::routing {

// A sorted list of rule numbers (positions in priority order) being merged.
struct RuleCursor {
  const uint32_t* at = nullptr;
  const uint32_t* end = nullptr;
  static constexpr uint32_t kEnd = std::numeric_limits<uint32_t>::max();
  uint32_t head() const { return at == end ? kEnd : *at; }
};

class RuleIndex {
 public:
  // Most lists Collect() returns; when a request hits more keys of one kind, that kind's
  // complete list is returned instead (still correct, just less selective).
  static constexpr size_t kMaxCursors = 16;

  // Files rule number `rule`; rules must be added in ascending order.
  void Add(uint32_t rule, const std::vector<CompiledCondition>& conditions);

  // Writes the candidate lists for the request into cursors[0, kMaxCursors); returns the count.
  size_t Collect(RequestContext& ctx, RuleCursor* cursors) const;

 private:
  // A header-value key before joining: stands for name + ':' + value.
  struct HeaderKey {
    std::string_view name;
    std::string_view value;
  };
  // FNV-1a over (optionally ASCII-folded) bytes; heterogeneous, so lookups need no string.
  template <bool kFold>
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const;
    size_t operator()(const HeaderKey& k) const;
  };
  template <bool kFold>
  struct Eq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const;
    bool operator()(const HeaderKey& a, std::string_view b) const;
    bool operator()(std::string_view a, const HeaderKey& b) const { return (*this)(b, a); }
  };
  template <bool kFold>
  using Map = std::unordered_map<std::string, std::vector<uint32_t>, Hash<kFold>, Eq<kFold>>;

  // One index kind: its key map and every rule filed under it (the overflow fallback).
  template <bool kFold>
  struct Kind {
    Map<kFold> map;
    std::vector<uint32_t> all;
    void Add(std::string key, uint32_t rule);
  };

  bool FileHostExact(uint32_t rule, const CompiledCondition& c);
  bool FilePathSegment(uint32_t rule, const CompiledCondition& c);
  bool FileHostSuffix(uint32_t rule, const CompiledCondition& c);
  bool FileHeaderValue(uint32_t rule, const CompiledCondition& c);

  Kind<true> host_exact_;
  Kind<false> path_segment_;
  Kind<true> host_suffix_;
  std::vector<size_t> host_suffix_lengths_;  // distinct lengths of host_suffix_ keys, ascending
  Kind<true> header_value_;
  std::vector<uint32_t> unindexed_;
};

// The first segment of a path including its leading character: "/api" for "/api/v1".
std::string_view FirstPathSegment(std::string_view path);

}  // namespace sluice::routing
