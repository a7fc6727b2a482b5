#include "routing/path_normalize.h"

#include <cstring>

namespace sluice::routing {
namespace {

bool IsUnreserved(int c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

char UpperHex(char c) { return (c >= 'a' && c <= 'f') ? static_cast<char>(c - 32) : c; }

}  // namespace

size_t RemoveDotSegments(char* b, size_t n) {
  size_t i = 0;  // start of the remaining input
  size_t o = 0;  // end of the output; always o <= i, so writing forward is safe
  auto starts = [&](const char* lit, size_t k) {
    return n - i >= k && std::memcmp(b + i, lit, k) == 0;
  };
  auto pop_segment = [&] {  // drop the last output segment and the '/' before it
    while (o > 0 && b[o - 1] != '/') --o;
    if (o > 0) --o;
  };
  while (i < n) {
    const size_t rest = n - i;
    if (starts("../", 3)) {  // A
      i += 3;
    } else if (starts("./", 2)) {
      i += 2;
    } else if (starts("/./", 3)) {  // B: "/./" -> "/"
      i += 2;
    } else if (rest == 2 && starts("/.", 2)) {  // B: trailing "/." -> "/"
      i += 1;
      b[i] = '/';
    } else if (starts("/../", 4)) {  // C: "/../" -> "/" and pop
      i += 3;
      pop_segment();
    } else if (rest == 3 && starts("/..", 3)) {  // C: trailing "/.." -> "/" and pop
      i += 2;
      b[i] = '/';
      pop_segment();
    } else if ((rest == 1 && b[i] == '.') || (rest == 2 && starts("..", 2))) {  // D
      i = n;
    } else {  // E: move "/segment" (or a leading "segment") to the output
      if (b[i] == '/') b[o++] = b[i++];
      while (i < n && b[i] != '/') b[o++] = b[i++];
    }
  }
  return o;
}

size_t NormalizePath(std::string_view path, char* out, size_t cap) {
  if (path.empty()) {
    if (cap < 1) return kNormalizeOverflow;
    out[0] = '/';
    return 1;
  }
  size_t o = 0;
  for (size_t i = 0; i < path.size();) {
    char c = path[i];
    if (c == '%' && i + 2 < path.size() && HexValue(path[i + 1]) >= 0 &&
        HexValue(path[i + 2]) >= 0) {
      const int v = HexValue(path[i + 1]) * 16 + HexValue(path[i + 2]);
      if (IsUnreserved(v)) {
        if (o >= cap) return kNormalizeOverflow;
        out[o++] = static_cast<char>(v);
      } else {
        if (cap - o < 3) return kNormalizeOverflow;
        out[o++] = '%';
        out[o++] = UpperHex(path[i + 1]);
        out[o++] = UpperHex(path[i + 2]);
      }
      i += 3;
      continue;
    }
    if (o >= cap) return kNormalizeOverflow;
    out[o++] = c;
    ++i;
  }
  o = RemoveDotSegments(out, o);
  if (o == 0) {  // e.g. "." or "..": the path of the root
    out[0] = '/';
    o = 1;
  }
  return o;
}

}  // namespace sluice::routing
