// AWS Signature Version 4 for the elbv2 API (reference §9.9): the verifier the API server runs
// on every request, its building blocks, and a signer for our own tests and tools.
//
// Contract:
// * Control plane only: runs on the API thread, never on a data-plane worker.
// * Pure functions: no globals, no clocks (the caller passes now_unix), no I/O apart from the
//   caller's SecretLookup. Thread-safe whenever the SecretLookup is.
// * No exceptions escape (beyond std::bad_alloc); every OpenSSL return value is checked and a
//   failure becomes InternalFailure (500) in VerifySigV4 or an empty string in the helpers.
// * A secret never appears in any returned message. Signatures are compared in constant time.
// * The work is bounded: an Authorization header over kSigV4MaxAuthorizationBytes or more than
//   kSigV4MaxSignedHeaders signed headers is refused before any hashing.
//
// Query-string rule shared with the Query decoder: '+' in a query string means a space (form
// encoding), so the canonical query string encodes it as %20. botocore relies on this: it
// signs a space as %20 but puts it on the wire as '+'. The API's parameter decoder must decode
// '+' the same way, or a request could verify under one meaning and run under another.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/error.h"

namespace sluice::api {

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";
inline constexpr int64_t kSigV4MaxSkewSeconds = 15 * 60;
inline constexpr int64_t kSigV4MaxExpiresSeconds = 604800;  // presigned URLs: 7 days
inline constexpr size_t kSigV4MaxAuthorizationBytes = 4096;
inline constexpr size_t kSigV4MaxSignedHeaders = 64;

// What the API server received, unmodified.
struct SignedRequest {
  std::string_view method;  // "POST" or "GET"
  std::string_view path;    // request-target path before '?', as sent (percent-encoded)
  std::string_view query;   // raw query string after '?' (may be empty)
  // As received: any case, repeated names possible, in arrival order.
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;
};

// Who signed a request that verified.
struct SigV4Identity {
  std::string access_key_id;
  std::string region;  // from the credential scope
  std::string date;    // yyyymmdd, from the credential scope
};

// The secret access key of an access key id, or nullopt when the id is unknown.
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key_id)>;

// Verifies the SigV4 signature of `req`, in the Authorization-header form or the presigned
// query form. service: the signing name ("elasticloadbalancing"); region: the region the
// credential scope must name ("" accepts any [a-z0-9-]{1,64}); now_unix: the current time in
// seconds (outside 1970..9999: InternalFailure).
// Returns the signer's identity, or the ApiError to answer with (AWS's codes and wording).
ApiResult<SigV4Identity> VerifySigV4(const SignedRequest& req, std::string_view service,
                                     std::string_view region, const SecretLookup& lookup,
                                     int64_t now_unix);

// ---- Building blocks (exposed for tests and for the signer) ----

// Lowercase hex SHA-256 of `data` ("" if OpenSSL fails).
std::string Sha256Hex(std::string_view data);

// RFC 3986 encoding of bytes: A-Z a-z 0-9 - _ . ~ kept, everything else %XX (uppercase hex);
// '/' kept too when keep_slash.
std::string SigV4UriEncode(std::string_view bytes, bool keep_slash);

// The canonical URI of a path as sent (non-S3 rules, as botocore): "" becomes "/", empty and
// "." segments are dropped, ".." removes the previous segment, a trailing '/' is kept, then the
// result is encoded once more with '/' kept (so "%20" on the wire signs as "%2520").
std::string CanonicalUri(std::string_view path);

// The canonical query string of a raw query: each name and value is decoded (%XX, '+' = space)
// and re-encoded with SigV4UriEncode, pairs are sorted by name then value and joined with '&'.
// Empty pieces ("a=1&&b=2") are skipped; "a" alone is "a=". When drop_signature, parameters
// named X-Amz-Signature are left out (presigned form). A malformed %-escape is an error
// (MalformedQueryString).
ApiResult<std::string> CanonicalQueryString(std::string_view raw_query, bool drop_signature);

// The canonical request: method, canonical URI, canonical query, canonical headers for each
// name of `signed_headers` ("a;b;c", used verbatim; headers matched case-insensitively, values
// trimmed with runs of spaces and tabs collapsed, repeats joined by ','), the signed header
// list and payload_hash. presigned: X-Amz-Signature is left out of the query. A signed header
// missing from the request is an error (SignatureDoesNotMatch), as is a malformed query string
// (MalformedQueryString).
ApiResult<std::string> CanonicalRequest(const SignedRequest& req, std::string_view signed_headers,
                                        std::string_view payload_hash, bool presigned);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical_request)>" ("" if OpenSSL
// fails). scope: "yyyymmdd/region/service/aws4_request".
std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// Hex of the derived signing key HMAC chain ("AWS4"+secret, date, region, service,
// "aws4_request"). For tests; "" if OpenSSL fails.
std::string SigningKeyHex(std::string_view secret, std::string_view date, std::string_view region,
                          std::string_view service);

// Hex HMAC-SHA256 of string_to_sign under the derived signing key ("" if OpenSSL fails).
std::string SignatureHex(std::string_view secret, std::string_view date, std::string_view region,
                         std::string_view service, std::string_view string_to_sign);

// ---- Signer (our tests and tools) ----

// The Authorization header value for `req`, signing every header of req.headers (names
// lowercased, deduplicated, sorted; the caller includes Host and X-Amz-Date) and the SHA-256
// of req.body, or, as botocore, the value of an X-Amz-Content-Sha256 header when there is
// one. amz_date: yyyymmddThhmmssZ. "" on failure (a malformed query, OpenSSL).
std::string SignAuthorizationHeader(const SignedRequest& req, std::string_view access_key_id,
                                    std::string_view secret, std::string_view region,
                                    std::string_view service, std::string_view amz_date);

// The query string of a presigned URL for `req`: req.query followed by X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature.
// Signs every header of req.headers (at least Host). "" on failure.
std::string PresignQuery(const SignedRequest& req, std::string_view access_key_id,
                         std::string_view secret, std::string_view region, std::string_view service,
                         std::string_view amz_date, int64_t expires_seconds);

}  // namespace sluice::api
