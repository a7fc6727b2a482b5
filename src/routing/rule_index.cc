#include "routing/rule_index.h"

#include <algorithm>
#include <utility>

#include "routing/glob.h"

namespace sluice::routing {
namespace {

using config::ConditionField;

constexpr uint64_t kFnvBasis = 1469598103934665603ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

template <bool kFold>
uint64_t FnvAdd(uint64_t h, std::string_view s) {
  for (char c : s) {
    h ^= static_cast<uint8_t>(kFold ? FoldAscii(c) : c);
    h *= kFnvPrime;
  }
  return h;
}

template <bool kFold>
bool Same(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if constexpr (!kFold) return a == b;
  for (size_t i = 0; i < a.size(); ++i) {
    if (FoldAscii(a[i]) != FoldAscii(b[i])) return false;
  }
  return true;
}

bool Indexable(const CompiledCondition& c, ConditionField field) {
  return c.field() == field && !c.has_regex() && !c.globs().empty();
}

bool AllLiteral(const CompiledCondition& c) {
  return std::all_of(c.globs().begin(), c.globs().end(),
                     [](const Glob& g) { return g.is_literal(); });
}

// The first-segment key every path matching `g` must have; false when not determined.
bool PathSegmentKey(const Glob& g, std::string_view* key) {
  std::string_view prefix = g.literal_prefix();
  size_t slash = prefix.size() > 1 ? prefix.find('/', 1) : std::string_view::npos;
  if (slash != std::string_view::npos) {
    *key = prefix.substr(0, slash);
    return true;
  }
  if (g.is_literal()) {
    *key = prefix;
    return true;
  }
  return false;
}

// A suffix every host matching `g` must end with, starting at a '.' or being the whole host.
bool HostSuffixKey(const Glob& g, std::string_view* key) {
  if (g.is_literal()) {
    *key = g.literal_prefix();
  } else {
    std::string_view tail = g.literal_suffix();
    size_t dot = tail.find('.');
    if (dot == std::string_view::npos) return false;
    *key = tail.substr(dot);
  }
  return !key->empty() && key->size() <= 255;
}

}  // namespace

std::string_view FirstPathSegment(std::string_view path) {
  size_t slash = path.size() > 1 ? path.find('/', 1) : std::string_view::npos;
  return path.substr(0, slash);
}

// ---- hashing ---------------------------------------------------------------------------------

template <bool kFold>
size_t RuleIndex::Hash<kFold>::operator()(std::string_view s) const {
  return static_cast<size_t>(FnvAdd<kFold>(kFnvBasis, s));
}

template <bool kFold>
size_t RuleIndex::Hash<kFold>::operator()(const HeaderKey& k) const {
  uint64_t h = FnvAdd<kFold>(kFnvBasis, k.name);
  h = FnvAdd<kFold>(h, ":");
  return static_cast<size_t>(FnvAdd<kFold>(h, k.value));
}

template <bool kFold>
bool RuleIndex::Eq<kFold>::operator()(std::string_view a, std::string_view b) const {
  return Same<kFold>(a, b);
}

template <bool kFold>
bool RuleIndex::Eq<kFold>::operator()(const HeaderKey& a, std::string_view b) const {
  return b.size() == a.name.size() + 1 + a.value.size() && b[a.name.size()] == ':' &&
         Same<kFold>(a.name, b.substr(0, a.name.size())) &&
         Same<kFold>(a.value, b.substr(a.name.size() + 1));
}

template <bool kFold>
void RuleIndex::Kind<kFold>::Add(std::string key, uint32_t rule) {
  std::vector<uint32_t>& list = map[std::move(key)];
  if (list.empty() || list.back() != rule) list.push_back(rule);
  if (all.empty() || all.back() != rule) all.push_back(rule);
}

// ---- filing ----------------------------------------------------------------------------------

bool RuleIndex::FileHostExact(uint32_t rule, const CompiledCondition& c) {
  if (!Indexable(c, ConditionField::kHostHeader) || !AllLiteral(c)) return false;
  for (const Glob& g : c.globs()) host_exact_.Add(std::string(g.literal_prefix()), rule);
  return true;
}

bool RuleIndex::FilePathSegment(uint32_t rule, const CompiledCondition& c) {
  if (!Indexable(c, ConditionField::kPathPattern)) return false;
  std::string_view key;
  for (const Glob& g : c.globs()) {
    if (!PathSegmentKey(g, &key)) return false;
  }
  for (const Glob& g : c.globs()) {
    PathSegmentKey(g, &key);
    path_segment_.Add(std::string(key), rule);
  }
  return true;
}

bool RuleIndex::FileHostSuffix(uint32_t rule, const CompiledCondition& c) {
  if (!Indexable(c, ConditionField::kHostHeader)) return false;
  std::string_view key;
  for (const Glob& g : c.globs()) {
    if (!HostSuffixKey(g, &key)) return false;
  }
  for (const Glob& g : c.globs()) {
    HostSuffixKey(g, &key);
    host_suffix_.Add(std::string(key), rule);
    auto& lengths = host_suffix_lengths_;
    auto at = std::lower_bound(lengths.begin(), lengths.end(), key.size());
    if (at == lengths.end() || *at != key.size()) lengths.insert(at, key.size());
  }
  return true;
}

bool RuleIndex::FileHeaderValue(uint32_t rule, const CompiledCondition& c) {
  if (!Indexable(c, ConditionField::kHttpHeader) || !AllLiteral(c)) return false;
  for (const Glob& g : c.globs()) {
    header_value_.Add(c.header_name() + ":" + std::string(g.literal_prefix()), rule);
  }
  return true;
}

void RuleIndex::Add(uint32_t rule, const std::vector<CompiledCondition>& conditions) {
  using Filer = bool (RuleIndex::*)(uint32_t, const CompiledCondition&);
  static constexpr Filer kByPreference[] = {&RuleIndex::FileHostExact, &RuleIndex::FilePathSegment,
                                            &RuleIndex::FileHostSuffix,
                                            &RuleIndex::FileHeaderValue};
  for (Filer file : kByPreference) {
    for (const CompiledCondition& c : conditions) {
      if ((this->*file)(rule, c)) return;
    }
  }
  unindexed_.push_back(rule);
}

// ---- lookup ----------------------------------------------------------------------------------

size_t RuleIndex::Collect(RequestContext& ctx, RuleCursor* cursors) const {
  size_t n = 0;
  auto push = [&](const std::vector<uint32_t>& list) {
    cursors[n++] = RuleCursor{list.data(), list.data() + list.size()};
  };
  if (!unindexed_.empty()) push(unindexed_);
  const std::string_view host = ctx.host();
  if (!host_exact_.map.empty() && !host.empty()) {
    auto it = host_exact_.map.find(host);
    if (it != host_exact_.map.end()) push(it->second);
  }
  std::string_view path;
  if (!path_segment_.map.empty() && ctx.NormalizedPath(&path)) {
    auto it = path_segment_.map.find(FirstPathSegment(path));
    if (it != path_segment_.map.end()) push(it->second);
  }
  // n <= 3 here. Host suffixes may use all but the one slot kept for the header kind.
  if (!host_suffix_.map.empty() && !host.empty()) {
    const size_t start = n;
    for (size_t len : host_suffix_lengths_) {
      if (len > host.size()) break;
      const size_t pos = host.size() - len;
      if (pos != 0 && host[pos] != '.') continue;
      auto it = host_suffix_.map.find(host.substr(pos));
      if (it == host_suffix_.map.end()) continue;
      if (n == kMaxCursors - 1) {
        n = start;
        push(host_suffix_.all);
        break;
      }
      push(it->second);
    }
  }
  if (!header_value_.map.empty()) {
    const size_t start = n;
    for (const http::HeaderField& h : ctx.facts().headers) {
      auto it = header_value_.map.find(HeaderKey{h.name, h.value});
      if (it == header_value_.map.end()) continue;
      if (n == kMaxCursors) {
        n = start;
        push(header_value_.all);
        break;
      }
      push(it->second);
    }
  }
  return n;
}

}  // namespace sluice::routing
