#include "config/quote.h"

#include <cstdint>

namespace sluice::config {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// The code point of the valid UTF-8 sequence at s[i] in *cp and its length; 0 when the bytes
// there are not valid UTF-8 (overlong forms, surrogates and values above U+10FFFF included).
size_t DecodeUtf8(std::string_view s, size_t i, char32_t* cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  char32_t value = 0;
  char32_t min = 0;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    n = 2, value = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, value = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, value = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    value = (value << 6) | (cc & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  *cp = value;
  return n;
}

// Characters that are invisible or change how the text around them is shown: controls,
// bidirectional overrides and isolates, zero-width and other format characters.
bool IsHidden(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xAD || cp == 0x61C || cp == 0x180E ||
         (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
         (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB) ||
         (cp >= 0xE0000 && cp <= 0xE007F);
}

void AppendHex(std::string* out, uint32_t value, int digits) {
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) *out += kHex[(value >> shift) & 0xF];
}

void AppendEscaped(std::string* out, char32_t cp) {
  switch (cp) {
    case '\n':
      *out += "\\n";
      return;
    case '\r':
      *out += "\\r";
      return;
    case '\t':
      *out += "\\t";
      return;
    default:
      break;
  }
  if (cp < 0x80) {
    *out += "\\x";
    AppendHex(out, cp, 2);
  } else if (cp <= 0xFFFF) {
    *out += "\\u";
    AppendHex(out, cp, 4);
  } else {
    *out += "\\U";
    AppendHex(out, cp, 8);
  }
}

// The largest n' <= n that does not split a UTF-8 sequence of `s` (looking back at most three
// continuation bytes, the longest a valid sequence has).
size_t Utf8Boundary(std::string_view s, size_t n) {
  if (n >= s.size()) return s.size();
  for (int k = 0; k < 3 && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80; ++k) --n;
  return n;
}

std::string Cut(std::string_view text, size_t max_bytes, std::string_view quote) {
  std::string out(quote);
  if (text.size() <= max_bytes) {
    out += EscapeText(text);
    out += quote;
    return out;
  }
  out += EscapeText(text.substr(0, Utf8Boundary(text, max_bytes)));
  out += "\xE2\x80\xA6";  // U+2026 HORIZONTAL ELLIPSIS
  out += quote;
  out += " (" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace

std::string EscapeText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    char32_t cp = 0;
    const size_t n = DecodeUtf8(text, i, &cp);
    if (n == 0) {
      out += "\\x";
      AppendHex(&out, c, 2);
      ++i;
    } else {
      if (IsHidden(cp)) {
        AppendEscaped(&out, cp);
      } else {
        out.append(text.substr(i, n));
      }
      i += n;
    }
  }
  return out;
}

std::string QuoteValue(std::string_view value, size_t max_bytes) {
  return Cut(value, max_bytes, "'");
}

std::string BoundText(std::string_view text, size_t max_bytes) { return Cut(text, max_bytes, ""); }

}  // namespace sluice::config
