// What the config loader and the log uploader share about S3: bucket names and AWS's shared
// credentials file (where the uploader's keys live).
// Contract: pure functions apart from the two that read the credentials file; no exceptions (beyond
// std::bad_alloc). A secret never appears in a returned message.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/error.h"
#include "config/model.h"

namespace sluice::config {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // "" unless temporary credentials
};

// Whether `name` follows S3's bucket naming rules: 3..63 of a-z 0-9 . -, starting and ending
// with a letter or digit, no "..", not an IPv4 address.
bool IsValidS3BucketName(std::string_view name);

// The keys of `profile` in the text of an AWS shared credentials file (~/.aws/credentials:
// "[profile]" sections of "name = value" lines, '#' and ';' comments): aws_access_key_id,
// aws_secret_access_key, and aws_session_token when present. nullopt with *why (naming the
// line, never a value) when the profile or one of the two keys is missing.
std::optional<AwsCredentials> ParseAwsCredentials(std::string_view text, std::string_view profile,
                                                  std::string* why);

// Reads the credentials file of `config.s3` (when the section is there) and checks that it
// holds the profile's keys: the errors name the CredentialsFile line, never a key.
ConfigErrors CheckS3Credentials(const Config& config);

// The keys `config.s3` names, read now; nullopt with *why (as CheckS3Credentials words it).
std::optional<AwsCredentials> ReadS3Credentials(const S3Settings& s3, std::string* why);

}  // namespace sluice::config
