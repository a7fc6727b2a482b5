#include "control/admin_token.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace sluice::control {
namespace {

bool TokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

}  // namespace

Result<std::string> ParseAdminToken(std::string_view text) {
  std::string_view line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  if (line.empty()) return Error{ErrorSource::kConfig, "the token (its first line) is empty"};
  if (line.size() < kMinTokenLength || line.size() > kMaxTokenLength) {
    return Error{ErrorSource::kConfig, "the token is " + std::to_string(line.size()) +
                                           " characters long; it must be 16 to 256"};
  }
  for (char c : line) {
    if (!TokenChar(c)) {
      return Error{ErrorSource::kConfig,
                   "the token holds a character outside A-Z a-z 0-9 - . _ ~ + / = (it must be "
                   "safe in a header and a cookie)"};
    }
  }
  return std::string(line);
}

Result<std::string> ReadAdminToken(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{ErrorSource::kConfig,
                 "Admin.TokenFile " + path + ": cannot read: " + std::strerror(errno)};
  }
  std::string text(1024, '\0');  // a token is one short line: never read more
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  Result<std::string> token = ParseAdminToken(text);
  if (!token.ok()) {
    return Error{ErrorSource::kConfig, "Admin.TokenFile " + path + ": " + token.error().message};
  }
  return token;
}

}  // namespace sluice::control
