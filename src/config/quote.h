// Showing untrusted text (config values, keys, file names, command-line arguments) in error
// messages and logs without letting it mislead a reader or flood a terminal.
//
// Escaped are: ASCII and C1 control characters (NUL, ESC, ...), DEL, Unicode format and
// bidirectional characters (U+200B..U+200F, U+202A..U+202E, U+2066..U+2069, U+FEFF, ...) and
// bytes that are not valid UTF-8. Control characters become \n, \r, \t or \xNN; invalid bytes
// \xNN; code points \uXXXX (\UXXXXXXXX above the BMP). Backslashes are left alone: this is for
// display, not a reversible encoding. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::config {

// How many bytes of a value an error message shows before cutting it.
inline constexpr size_t kShownValueBytes = 64;

// `text` with the characters above escaped.
std::string EscapeText(std::string_view text);

// A value for a message: 'text' escaped, or, when longer than `max_bytes`, its first bytes
// (cut on a UTF-8 boundary) and its length: 'aaaa…' (1048576 bytes).
std::string QuoteValue(std::string_view value, size_t max_bytes = kShownValueBytes);

// Like QuoteValue without the quotes: escaped text, cut to about `max_bytes` with
// "… (N bytes)" appended when longer. For free text such as whole messages and field paths.
std::string BoundText(std::string_view text, size_t max_bytes);

}  // namespace sluice::config
