// Requests to an S3-compatible store, signed with SigV4 as S3 wants them (reference §9.9 for
// the algorithm; S3's own rules: the path is encoded once and never normalised, and the
// payload's SHA-256 travels in x-amz-content-sha256): what the log uploader sends, and the
// CA bundle fetches of CreateTrustStore. And the
// reader of AWS's shared credentials file, where the uploader's keys live.
//
// Contract: pure functions, no clocks (the caller passes the date), no I/O, no exceptions
// (beyond std::bad_alloc). Control plane only. A secret never appears in a returned message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/s3.h"

namespace sluice::api {

// A path-style PUT Object of `content_length` bytes whose SHA-256 is `payload_sha256_hex`:
// the request head, from the request line to the blank line, with Host `host_header`
// ("127.0.0.1:4568"), x-amz-date `amz_date` (yyyymmddThhmmssZ) and an Authorization signing
// content-length, host, x-amz-content-sha256, x-amz-date (and x-amz-security-token when
// there is a session token), as botocore signs them. "" when OpenSSL fails.
std::string S3PutObjectHead(std::string_view host_header, std::string_view bucket,
                            std::string_view key, uint64_t content_length,
                            std::string_view payload_sha256_hex,
                            const config::AwsCredentials& credentials, std::string_view region,
                            std::string_view amz_date);

// A path-style GET Object (of version `version_id` when not empty) with an empty payload's
// hash in x-amz-content-sha256, signed as botocore signs it: the whole request head, or ""
// when OpenSSL fails. What the API's CreateTrustStore sends for a CA bundle.
std::string S3GetObjectHead(std::string_view host_header, std::string_view bucket,
                            std::string_view key, std::string_view version_id,
                            const config::AwsCredentials& credentials, std::string_view region,
                            std::string_view amz_date);

// S3's canonical URI of an object, path-style: "/" bucket "/" key, each byte outside
// A-Z a-z 0-9 - _ . ~ / percent-encoded once.
std::string S3ObjectPath(std::string_view bucket, std::string_view key);

}  // namespace sluice::api
