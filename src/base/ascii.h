// ASCII character classes shared by the HTTP parser, the desync classifier and config
// validation. Table-driven: these run over every header byte of every request.
#pragma once

#include <array>
#include <string_view>

namespace sluice {

namespace ascii_internal {
constexpr std::array<bool, 256> MakeTokenTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<size_t>(c)] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
inline constexpr std::array<bool, 256> kTokenTable = MakeTokenTable();
}  // namespace ascii_internal

// RFC 9110 tchar: the characters of a token (method, header name).
constexpr bool IsTokenChar(unsigned char c) { return ascii_internal::kTokenTable[c]; }
constexpr bool IsTokenChar(char c) { return IsTokenChar(static_cast<unsigned char>(c)); }

}  // namespace sluice
