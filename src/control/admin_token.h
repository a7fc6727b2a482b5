// The admin endpoint's token (Admin.TokenFile): read once at start, checked here so that a
// token is always safe in a header and a cookie. Control plane only.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace sluice::control {

inline constexpr size_t kMinTokenLength = 16;
inline constexpr size_t kMaxTokenLength = 256;

// The token in `text` (a token file's contents): its first line without surrounding
// whitespace. An error says why it is not usable: empty, shorter than 16 or longer than 256
// characters, or a character outside A-Z a-z 0-9 and - . _ ~ + / =.
Result<std::string> ParseAdminToken(std::string_view text);

// Reads and parses the token file at `path`; an error names the file.
Result<std::string> ReadAdminToken(const std::string& path);

}  // namespace sluice::control
