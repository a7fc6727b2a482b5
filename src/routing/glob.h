// ALB wildcard patterns: '*' matches any run of characters (including none), '?' matches exactly
// one character, and the pattern is anchored at both ends (whole-string match).
//
// A Glob is compiled once on the control thread and then only read, so Match() may be called
// concurrently from any number of threads. Match() does not allocate.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::routing {

enum class GlobCase {
  kSensitive,    // path-pattern
  kInsensitive,  // host-header, http-header values, query-string keys and values (ASCII only)
};

enum class GlobEscapes {
  kNone,       // '\' is an ordinary character
  kBackslash,  // "\*", "\?" and "\\" stand for the literal character (query-string only)
};

class Glob {
 public:
  Glob() = default;
  static Glob Compile(std::string_view pattern, GlobCase case_mode, GlobEscapes escapes);

  // True when the whole of `text` matches the pattern. Worst case O(len(text) * len(pattern)).
  bool Match(std::string_view text) const;

  // True when the pattern has no live '*' or '?' (escaped ones are literal).
  bool is_literal() const { return stars_ == 0 && !has_any_; }
  // The literal characters before the first wildcard, unescaped (lower-cased if insensitive).
  // For a literal pattern this is the whole pattern.
  std::string_view literal_prefix() const;
  // The literal characters after the last wildcard (the whole pattern when literal).
  std::string_view literal_suffix() const;

 private:
  // A maximal run of the pattern between stars: literal characters and '?' positions.
  struct Segment {
    uint32_t begin = 0;  // into chars_ / any_
    uint32_t size = 0;
    bool has_any = false;  // contains at least one '?'
  };

  template <bool kFold>
  bool MatchImpl(std::string_view text) const;
  template <bool kFold>
  bool SegmentAt(const Segment& seg, const char* p) const;
  template <bool kFold>
  size_t FindSegment(const Segment& seg, std::string_view text, size_t from) const;

  std::string chars_;  // unescaped literal characters (folded when insensitive); '?' slots hold 0
  std::string any_;    // same length as chars_: 1 where the pattern had a '?'
  std::vector<Segment> segments_;  // stars_ + 1 segments
  uint32_t stars_ = 0;
  uint32_t prefix_len_ = 0;  // literal characters before the first wildcard
  uint32_t suffix_len_ = 0;  // literal characters after the last wildcard
  bool has_any_ = false;
  bool fold_ = false;
};

// ASCII lower-casing; bytes outside A-Z are unchanged.
inline char FoldAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

}  // namespace sluice::routing
