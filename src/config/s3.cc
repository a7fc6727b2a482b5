#include "config/s3.h"

#include "config/file.h"

namespace sluice::config {
namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool LooksLikeIpv4(std::string_view name) {
  int dots = 0;
  for (char c : name) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

}  // namespace

bool IsValidS3BucketName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!alnum(c) && c != '.' && c != '-') return false;
    if (c == '.' && i > 0 && name[i - 1] == '.') return false;
  }
  return !LooksLikeIpv4(name);
}

std::optional<AwsCredentials> ParseAwsCredentials(std::string_view text, std::string_view profile,
                                                  std::string* why) {
  AwsCredentials out;
  bool in_profile = false;
  bool seen_profile = false;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = TrimSpaces(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        *why = "line " + std::to_string(line_no) + ": a section header must end with ']'";
        return std::nullopt;
      }
      in_profile = TrimSpaces(line.substr(1, line.size() - 2)) == profile;
      seen_profile = seen_profile || in_profile;
      continue;
    }
    if (!in_profile) continue;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      *why = "line " + std::to_string(line_no) + ": expected name = value";
      return std::nullopt;
    }
    const std::string_view name = TrimSpaces(line.substr(0, eq));
    const std::string value(TrimSpaces(line.substr(eq + 1)));
    for (unsigned char c : value) {
      if (c < 0x20 || c == 0x7f) {
        *why = "line " + std::to_string(line_no) + ": the value holds a control character";
        return std::nullopt;
      }
    }
    if (name == "aws_access_key_id") out.access_key_id = value;
    if (name == "aws_secret_access_key") out.secret_access_key = value;
    if (name == "aws_session_token") out.session_token = value;
  }
  const std::string where = "profile [" + std::string(profile) + "]";
  if (!seen_profile) {
    *why = "no " + where;
  } else if (out.access_key_id.empty()) {
    *why = where + " has no aws_access_key_id";
  } else if (out.secret_access_key.empty()) {
    *why = where + " has no aws_secret_access_key";
  } else {
    return out;
  }
  return std::nullopt;
}

std::optional<AwsCredentials> ReadS3Credentials(const S3Settings& s3, std::string* why) {
  std::string text;
  std::string problem = ReadBoundedFile(s3.credentials_file, 1 << 20, &text);
  std::optional<AwsCredentials> creds;
  if (problem.empty()) creds = ParseAwsCredentials(text, s3.profile, &problem);
  if (!creds) *why = "credentials file " + s3.credentials_file + ": " + problem;
  return creds;
}

ConfigErrors CheckS3Credentials(const Config& config) {
  if (config.s3.endpoint.empty()) return {};
  std::string why;
  if (ReadS3Credentials(config.s3, &why)) return {};
  const Location& at = config.s3.credentials_file_location;
  return {ConfigError{config.source_file, at.line, at.column, "S3.CredentialsFile", why}};
}

}  // namespace sluice::config
