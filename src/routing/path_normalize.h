// URI path normalisation for path-pattern conditions (ALB matches "after URI normalisation";
// AWS does not spell out the steps). Sluice applies RFC 3986 §6.2.2, in this order:
//   1. Percent-encoding normalisation (§6.2.2.2): "%XX" escapes of unreserved characters
//      (ALPHA / DIGIT / "-" / "." / "_" / "~") are decoded; every other valid escape is kept
//      with its hex digits upper-cased (§6.2.2.1), e.g. "%2f" -> "%2F" (a '/' is never decoded).
//      A '%' not followed by two hex digits is kept as is.
//   2. Dot-segment removal (§6.2.2.3 / §5.2.4): "." and ".." segments, including ones that
//      were spelled "%2E", are resolved; ".." never climbs above the root.
//   3. An empty path becomes "/" (§6.2.3).
// Not done: merging duplicate slashes ("//a" stays "//a"; RFC 3986 treats them as distinct),
// case changes outside escapes, '+' handling (a '+' in a path is a literal '+').
//
// Pure functions; thread-safe; no allocation.
#pragma once

#include <cstddef>
#include <string_view>

namespace sluice::routing {

// Writes the normalised form of `path` into out[0, cap) and returns its length, or
// kNormalizeOverflow when it does not fit. The result is never longer than
// max(path.size(), 1), so cap >= that always suffices. `out` must not overlap `path`.
inline constexpr size_t kNormalizeOverflow = static_cast<size_t>(-1);
size_t NormalizePath(std::string_view path, char* out, size_t cap);

// RFC 3986 §5.2.4 on buf[0, len), in place; returns the new length (never larger).
size_t RemoveDotSegments(char* buf, size_t len);

// Value of an ASCII hex digit, or -1.
inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace sluice::routing
