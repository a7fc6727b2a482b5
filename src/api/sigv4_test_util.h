// Helpers shared by the SigV4 tests: a request that owns its bytes (so a test can change one
// of them), AWS's example credentials, and an error matcher.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/sigv4.h"

namespace sluice::api::sigv4_test {

// The example credentials of AWS's SigV4 documentation and test suite.
inline constexpr std::string_view kAkid = "AKIDEXAMPLE";
inline constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
inline constexpr std::string_view kDate = "20150830T123600Z";
inline constexpr int64_t kDateUnix = 1440938160;  // 2015-08-30T12:36:00Z
inline constexpr std::string_view kService = "elasticloadbalancing";
inline constexpr std::string_view kRegion = "us-east-1";
inline constexpr std::string_view kForm = "application/x-www-form-urlencoded; charset=utf-8";
inline constexpr std::string_view kDescribeBody =
    "Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=my-lb";

inline SecretLookup Lookup(std::string secret = std::string(kSecret)) {
  return [secret](std::string_view id) -> std::optional<std::string> {
    if (id == kAkid) return secret;
    return std::nullopt;
  };
}

struct OwnedRequest {
  std::string method = "POST";
  std::string path = "/";
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  SignedRequest View() const {
    SignedRequest r{method, path, query, {}, body};
    for (const auto& [name, value] : headers) r.headers.emplace_back(name, value);
    return r;
  }
  // The first header called `name` (case-insensitively), or nullptr.
  std::string* Header(std::string_view name) {
    for (auto& [n, v] : headers) {
      if (n.size() != name.size()) continue;
      bool same = true;
      for (size_t i = 0; i < n.size(); ++i) {
        same = same && std::tolower(static_cast<unsigned char>(n[i])) ==
                           std::tolower(static_cast<unsigned char>(name[i]));
      }
      if (same) return &v;
    }
    return nullptr;
  }
  void Set(std::string_view name, std::string value) {
    if (std::string* v = Header(name)) {
      *v = std::move(value);
    } else {
      headers.emplace_back(std::string(name), std::move(value));
    }
  }
  // Adds an Authorization header signing every header present (the signer's rule).
  void Sign(std::string_view region = kRegion, std::string_view service = kService,
            std::string_view secret = kSecret, std::string_view date = kDate) {
    headers.emplace_back("Authorization",
                         SignAuthorizationHeader(View(), kAkid, secret, region, service, date));
  }
};

// A POST of DescribeLoadBalancers as botocore sends it, signed at kDate.
inline OwnedRequest SignedPost() {
  OwnedRequest r;
  r.headers = {{"Host", "127.0.0.1:8443"},
               {"Content-Type", std::string(kForm)},
               {"X-Amz-Date", std::string(kDate)}};
  r.body = kDescribeBody;
  r.Sign();
  return r;
}

inline ApiResult<SigV4Identity> Verify(const OwnedRequest& r, int64_t now = kDateUnix,
                                       std::string_view region = kRegion,
                                       const SecretLookup& lookup = Lookup()) {
  return VerifySigV4(r.View(), kService, region, lookup, now);
}

// The result is the error `code` with `status`; its message never holds the secret.
inline testing::AssertionResult IsError(const ApiResult<SigV4Identity>& r, std::string_view code,
                                        int status) {
  if (r.ok()) return testing::AssertionFailure() << "verified, expected " << code;
  const ApiError& e = r.error();
  if (e.code != code || e.http_status != status || !e.sender) {
    return testing::AssertionFailure()
           << "got " << e.code << " " << e.http_status << ": " << e.message;
  }
  if (e.message.find(kSecret) != std::string::npos) {
    return testing::AssertionFailure() << "the message holds the secret: " << e.message;
  }
  return testing::AssertionSuccess();
}

}  // namespace sluice::api::sigv4_test
