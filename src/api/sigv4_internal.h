// Pieces shared by sigv4.cc (canonical forms, keys, signer) and sigv4_verify.cc (the
// verifier). Not part of the API's interface; same contract as sigv4.h (pure, no exceptions).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/error.h"
#include "api/sigv4.h"

namespace sluice::api::sigv4_internal {

inline constexpr std::string_view kTerminator = "aws4_request";
inline constexpr std::string_view kMismatchMessage =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";

inline ApiError MismatchError(std::string message) {
  return SenderError("SignatureDoesNotMatch", std::move(message), 403);
}

// Space and tab trimmed from both ends.
std::string_view Trim(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// Every piece between separators, empty ones included ("a;;b" -> "a", "", "b").
std::vector<std::string_view> Split(std::string_view s, char sep);

// The canonical value of header `name` (matched case-insensitively; each value trimmed with
// inner runs of spaces and tabs collapsed; repeats joined by ','), or nullopt when absent.
std::optional<std::string> HeaderValue(const SignedRequest& req, std::string_view name);
// Whether the ';'-separated list names `name` (case-insensitively).
bool ListContains(std::string_view signed_headers, std::string_view name);

// The decoded (%XX, '+' = space) name/value pairs of a raw query string, in order; empty
// pieces skipped. A malformed %-escape gives MalformedQueryString.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
ApiResult<QueryParams> ParseQuery(std::string_view raw);

}  // namespace sluice::api::sigv4_internal
