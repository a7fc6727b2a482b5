// HTTP desync classifier: labels a request Compliant / Acceptable / Ambiguous / Severe with a
// reason code, following the semantics of aws/http-desync-guardian (the library behind ALB's
// routing.http.desync_mitigation_mode). Pure function; no allocation; thread-safe.
#pragma once

#include <span>
#include <string_view>

#include "http/header.h"

namespace sluice::http {

enum class DesyncTier { kCompliant = 0, kAcceptable = 1, kAmbiguous = 2, kSevere = 3 };

// Reason codes; names (see ToString) are those of ALB's access-log classification_reason.
enum class DesyncReason {
  kCompliant,
  kEmptyHeader,
  kSuspiciousHeader,
  kNonCompliantHeader,
  kBadHeader,
  kAmbiguousUri,
  kBadUri,
  kSpaceInUri,
  kNonCompliantVersion,
  kBadVersion,
  kUndefinedContentLengthSemantics,
  kMultipleContentLength,
  kDuplicateContentLength,
  kBadContentLength,
  kUndefinedTransferEncodingSemantics,
  kMultipleTransferEncodingChunked,
  kBadTransferEncoding,
  kBothTeClPresent,
  kGetHeadZeroContentLength,
  kBadMethod,
  // Raw-wire anomalies reported by the HTTP/1 tokenizer rather than by ClassifyRequest.
  kNonCrLfLineTermination,  // Acceptable
  kMultilineHeader,         // Ambiguous (obs-fold)
  kMissingHeaderColon,      // Ambiguous
};

struct DesyncVerdict {
  DesyncTier tier = DesyncTier::kCompliant;
  DesyncReason reason = DesyncReason::kCompliant;
};

const char* ToString(DesyncTier tier);      // "Compliant", "Acceptable", "Ambiguous", "Severe"
const char* ToString(DesyncReason reason);  // "SuspiciousHeader", ...

// Returns the more severe of two verdicts (the first one on a tie).
inline DesyncVerdict Worse(DesyncVerdict a, DesyncVerdict b) {
  return static_cast<int>(b.tier) > static_cast<int>(a.tier) ? b : a;
}

// True when a field name is Transfer-Encoding or Content-Length, or close enough to one that
// some parser could read it as that field (the classifier's SuspiciousHeader test: other
// delimiters, surrounding junk, look-alike letters). A proxy must never forward such a field
// beside the framing it chose itself.
bool IsFramingFieldName(std::string_view name);

// Classifies one request. `version` is "" for HTTP/0.9 (no version on the request line).
// Header names and values are as received (the value without surrounding OWS); they may
// contain any byte, including CR, LF and NUL.
DesyncVerdict ClassifyRequest(std::string_view method, std::string_view uri,
                              std::string_view version, std::span<const HeaderField> headers);

}  // namespace sluice::http
