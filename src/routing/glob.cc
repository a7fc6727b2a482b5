#include "routing/glob.h"

#include <cstring>

namespace sluice::routing {

Glob Glob::Compile(std::string_view pattern, GlobCase case_mode, GlobEscapes escapes) {
  Glob g;
  g.fold_ = case_mode == GlobCase::kInsensitive;
  g.chars_.reserve(pattern.size());
  g.any_.reserve(pattern.size());
  Segment seg;
  bool seen_wildcard = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (escapes == GlobEscapes::kBackslash && c == '\\' && i + 1 < pattern.size() &&
        (pattern[i + 1] == '*' || pattern[i + 1] == '?' || pattern[i + 1] == '\\')) {
      c = pattern[++i];
    } else if (c == '*') {
      seg.size = static_cast<uint32_t>(g.chars_.size()) - seg.begin;
      g.segments_.push_back(seg);
      seg = Segment{static_cast<uint32_t>(g.chars_.size()), 0, false};
      ++g.stars_;
      seen_wildcard = true;
      g.suffix_len_ = 0;
      continue;
    } else if (c == '?') {
      g.chars_.push_back('\0');
      g.any_.push_back(1);
      seg.has_any = true;
      g.has_any_ = true;
      seen_wildcard = true;
      g.suffix_len_ = 0;
      continue;
    }
    g.chars_.push_back(g.fold_ ? FoldAscii(c) : c);
    g.any_.push_back(0);
    if (!seen_wildcard) ++g.prefix_len_;
    ++g.suffix_len_;
  }
  seg.size = static_cast<uint32_t>(g.chars_.size()) - seg.begin;
  g.segments_.push_back(seg);
  return g;
}

std::string_view Glob::literal_prefix() const {
  return std::string_view(chars_.data(), prefix_len_);
}

std::string_view Glob::literal_suffix() const {
  return std::string_view(chars_.data() + chars_.size() - suffix_len_, suffix_len_);
}

bool Glob::Match(std::string_view text) const {
  return fold_ ? MatchImpl<true>(text) : MatchImpl<false>(text);
}

template <bool kFold>
bool Glob::SegmentAt(const Segment& seg, const char* p) const {
  const char* lit = chars_.data() + seg.begin;
  if (!seg.has_any) {
    if constexpr (!kFold) return std::memcmp(p, lit, seg.size) == 0;
    for (uint32_t j = 0; j < seg.size; ++j) {
      if (FoldAscii(p[j]) != lit[j]) return false;
    }
    return true;
  }
  const char* any = any_.data() + seg.begin;
  for (uint32_t j = 0; j < seg.size; ++j) {
    if (any[j]) continue;
    char c = kFold ? FoldAscii(p[j]) : p[j];
    if (c != lit[j]) return false;
  }
  return true;
}

// Leftmost occurrence of `seg` in text[from, text.size()), or npos. Leftmost is optimal for a
// segment between two stars: any later match leaves strictly less room for the rest.
template <bool kFold>
size_t Glob::FindSegment(const Segment& seg, std::string_view text, size_t from) const {
  if (text.size() < seg.size) return std::string_view::npos;
  const size_t last = text.size() - seg.size;
  const bool first_is_literal = !any_[seg.begin];
  const char first = chars_[seg.begin];
  for (size_t start = from; start <= last; ++start) {
    if (first_is_literal) {
      if constexpr (!kFold) {
        const void* hit = std::memchr(text.data() + start, first, last - start + 1);
        if (hit == nullptr) return std::string_view::npos;
        start = static_cast<size_t>(static_cast<const char*>(hit) - text.data());
      } else {
        while (start <= last && FoldAscii(text[start]) != first) ++start;
        if (start > last) return std::string_view::npos;
      }
    }
    if (SegmentAt<kFold>(seg, text.data() + start)) return start;
  }
  return std::string_view::npos;
}

template <bool kFold>
bool Glob::MatchImpl(std::string_view text) const {
  if (text.size() < chars_.size()) return false;
  const Segment& head = segments_.front();
  if (stars_ == 0) return text.size() == head.size && SegmentAt<kFold>(head, text.data());
  const Segment& tail = segments_.back();
  // chars_.size() >= head.size + tail.size, so both fit without overlapping.
  if (!SegmentAt<kFold>(head, text.data())) return false;
  if (!SegmentAt<kFold>(tail, text.data() + text.size() - tail.size)) return false;
  size_t pos = head.size;
  const std::string_view middle = text.substr(0, text.size() - tail.size);
  for (size_t i = 1; i + 1 < segments_.size(); ++i) {
    const Segment& seg = segments_[i];
    if (seg.size == 0) continue;
    size_t at = FindSegment<kFold>(seg, middle, pos);
    if (at == std::string_view::npos) return false;
    pos = at + seg.size;
  }
  return true;
}

}  // namespace sluice::routing
