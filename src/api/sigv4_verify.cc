// VerifySigV4. The order of the checks and the wording of the errors follow what AWS answers
// (as recorded by emulators that probed it, e.g. dynalite's notes for DynamoDB), mapped to the
// Query protocol's codes (InvalidSignatureException -> SignatureDoesNotMatch 403,
// UnrecognizedClientException -> InvalidClientTokenId 403):
//   1. form: Authorization header or X-Amz-Algorithm query parameter (MissingAuthenticationToken
//      when neither; SignatureDoesNotMatch when both);
//   2. required parts and bounds (IncompleteSignature);
//   3. date format (IncompleteSignature), then skew or presigned expiry;
//   4. host signed (SignatureDoesNotMatch); 5. algorithm (IncompleteSignature);
//   6. credential shape (IncompleteSignature); 7. scope: region, service, terminator, date
//      (SignatureDoesNotMatch, all problems in one message);
//   8. access key (InvalidClientTokenId); 9. x-amz-content-sha256; 10. signature;
//   11. a security token, which Sluice never issues (InvalidClientTokenId).
// Choices where AWS's behaviour or wording is not known for this service:
// * presigned URL past X-Amz-Date + X-Amz-Expires (no grace): RequestExpired 400 "Request has
//   expired." (CommonErrors lists RequestExpired for this; the text is EC2's); a bad
//   X-Amz-Expires: IncompleteSignature with S3's wording;
// * an Authorization scheme other than AWS4-*: IncompleteSignature naming every missing part
//   (API Gateway's answer; DynamoDB answers MissingAuthenticationToken);
// * region: the newer "Credential should be scoped to a valid region." (older: ", not 'x'");
//   AWS's trailing space after the last sentence is dropped;
// * a malformed %-escape: MalformedQueryString 404 (CommonErrors); a signed header absent from
//   the request: SignatureDoesNotMatch; a wrong x-amz-content-sha256: SignatureDoesNotMatch
//   with S3's text;
// * repeated parts, headers or parameters and the size bounds: IncompleteSignature, own words.
#include <openssl/crypto.h>

#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "api/sigv4.h"
#include "api/sigv4_internal.h"

namespace sluice::api {
namespace {

using sigv4_internal::EqualsIgnoreCase;
using sigv4_internal::HeaderValue;
using sigv4_internal::kMismatchMessage;
using sigv4_internal::kTerminator;
using sigv4_internal::ListContains;
using sigv4_internal::MismatchError;
using sigv4_internal::QueryParams;
using sigv4_internal::Split;
using sigv4_internal::Trim;

constexpr std::string_view kInvalidToken = "The security token included in the request is invalid.";
constexpr int64_t kMaxUnixSeconds = 253402300799;  // 9999-12-31T23:59:59Z

ApiError Incomplete(std::string message) {
  return SenderError("IncompleteSignature", std::move(message), 400);
}
ApiError InvalidToken() {
  return SenderError("InvalidClientTokenId", std::string(kInvalidToken), 403);
}
ApiError InternalFailure() {
  return ReceiverError("InternalFailure",
                       "The request processing has failed because of an unknown error, exception "
                       "or failure.",
                       500);
}

// AWS ends each sentence of these messages with ". "; the last space is dropped.
std::string Sentences(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// ---- Dates ----

bool ReadDigits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

int64_t DaysBeforeYear(int64_t y) {  // days from 0001-01-01 to y-01-01 (proleptic Gregorian)
  --y;
  return 365 * y + y / 4 - y / 100 + y / 400;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

std::optional<int64_t> ToUnix(int year, int month, int day, int hour, int minute, int second) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  int month_days = kDays[month - 1] + (month == 2 && IsLeap(year) ? 1 : 0);
  if (day < 1 || day > month_days) return std::nullopt;
  int64_t days = DaysBeforeYear(year) - DaysBeforeYear(1970) + day - 1;
  for (int m = 1; m < month; ++m) days += kDays[m - 1] + (m == 2 && IsLeap(year) ? 1 : 0);
  return days * 86400 + hour * 3600 + minute * 60 + second;
}

// yyyymmddThhmmssZ (ISO 8601 basic format, UTC).
std::optional<int64_t> ParseBasicDate(std::string_view s) {
  int y, mo, d, h, mi, se;
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  if (!ReadDigits(s, 0, 4, y) || !ReadDigits(s, 4, 2, mo) || !ReadDigits(s, 6, 2, d) ||
      !ReadDigits(s, 9, 2, h) || !ReadDigits(s, 11, 2, mi) || !ReadDigits(s, 13, 2, se)) {
    return std::nullopt;
  }
  return ToUnix(y, mo, d, h, mi, se);
}

// An HTTP Date header: "Sun, 30 Aug 2015 12:36:00 GMT" (IMF-fixdate), also with the weekday
// left out, a one-digit day, or the zone written UTC, UT, Z, +0000 or -0000 (botocore sends
// "-0000", Python's email.utils.formatdate).
std::optional<int64_t> ParseHttpDate(std::string_view s) {
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (s.size() > 5 && s[3] == ',') s = Trim(s.substr(4));
  int d, y, h, mi, se;
  size_t day_len = (s.size() > 1 && s[1] == ' ') ? 1 : 2;
  if (!ReadDigits(s, 0, day_len, d)) return std::nullopt;
  s.remove_prefix(day_len);
  // " Mon YYYY HH:MM:SS ZONE"
  if (s.size() < 20 || s[0] != ' ' || s[4] != ' ' || s[9] != ' ' || s[12] != ':' || s[15] != ':' ||
      s[18] != ' ') {
    return std::nullopt;
  }
  size_t month = kMonths.find(s.substr(1, 3));
  if (month == std::string_view::npos || month % 3 != 0) return std::nullopt;
  if (!ReadDigits(s, 5, 4, y) || !ReadDigits(s, 10, 2, h) || !ReadDigits(s, 13, 2, mi) ||
      !ReadDigits(s, 16, 2, se)) {
    return std::nullopt;
  }
  std::string_view zone = s.substr(19);
  if (zone != "GMT" && zone != "UTC" && zone != "UT" && zone != "Z" && zone != "+0000" &&
      zone != "-0000") {
    return std::nullopt;
  }
  return ToUnix(y, static_cast<int>(month / 3) + 1, d, h, mi, se);
}

std::string FormatBasicDate(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr) return std::string();
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return (n > 0 && static_cast<size_t>(n) < sizeof buf) ? std::string(buf, n) : std::string();
}

// ---- The signature's parameters, from either form ----

struct AuthParams {
  bool presigned = false;
  std::string algorithm;
  std::string credential;
  std::string signed_headers;
  std::string signature;
  std::string date;           // as sent
  bool date_is_http = false;  // from the Date header (RFC 1123 format)
  std::optional<int64_t> expires;
  bool security_token = false;
};

// Reads "Credential=..., SignedHeaders=..., Signature=..." (separated by commas and/or
// spaces; other keys ignored).
std::optional<ApiError> ReadHeaderParams(std::string_view header, std::string_view rest,
                                         AuthParams& a) {
  bool seen[3] = {false, false, false};
  while (!rest.empty()) {
    size_t start = rest.find_first_not_of(", \t");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    std::string_view token = rest.substr(0, rest.find_first_of(", \t"));
    rest.remove_prefix(token.size());
    size_t eq = token.find('=');
    if (eq == std::string_view::npos) {
      return Incomplete("'" + std::string(token) +
                        "' not a valid key=value pair (missing equal-sign) in Authorization "
                        "header: '" +
                        std::string(header) + "'.");
    }
    std::string_view key = token.substr(0, eq);
    int slot = key == "Credential" ? 0 : key == "SignedHeaders" ? 1 : key == "Signature" ? 2 : -1;
    if (slot < 0) continue;
    if (seen[slot]) {
      return Incomplete("Authorization header has more than one '" + std::string(key) +
                        "' parameter. Authorization=" + std::string(header));
    }
    seen[slot] = true;
    std::string* field[3] = {&a.credential, &a.signed_headers, &a.signature};
    field[slot]->assign(token.substr(eq + 1));
  }
  return std::nullopt;
}

ApiResult<AuthParams> ReadHeaderForm(const SignedRequest& req, std::string_view header) {
  if (header.size() > kSigV4MaxAuthorizationBytes) {
    return Incomplete("The Authorization header is longer than 4096 bytes.");
  }
  AuthParams a;
  size_t space = header.find_first_of(" \t");
  a.algorithm = header.substr(0, space);
  // Only an AWS4-* scheme is parsed; any other (Bearer, SigV2's "AWS id:sig") lacks every part.
  if (a.algorithm.starts_with("AWS4-") && space != std::string_view::npos) {
    if (auto error = ReadHeaderParams(header, header.substr(space), a)) return *error;
  }
  std::string missing;
  if (a.credential.empty()) missing += "Authorization header requires 'Credential' parameter. ";
  if (a.signature.empty()) missing += "Authorization header requires 'Signature' parameter. ";
  if (a.signed_headers.empty()) {
    missing += "Authorization header requires 'SignedHeaders' parameter. ";
  }
  if (std::optional<std::string> date = HeaderValue(req, "x-amz-date")) {
    a.date = std::move(*date);
  } else if (std::optional<std::string> http_date = HeaderValue(req, "date")) {
    a.date = std::move(*http_date);
    a.date_is_http = true;
  } else {
    missing +=
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ";
  }
  if (!missing.empty()) return Incomplete(missing + "Authorization=" + std::string(header));
  return a;
}

// X-Amz-Expires: seconds, 0..604800 (S3's wording for the errors).
ApiResult<int64_t> ParseExpires(std::string_view s) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string_view::npos) {
    return Incomplete("X-Amz-Expires should be a number");
  }
  int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  if (v > kSigV4MaxExpiresSeconds) {
    return Incomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800");
  }
  return v;
}

ApiResult<AuthParams> ReadQueryForm(const QueryParams& params) {
  AuthParams a;
  a.presigned = true;
  std::string expires;
  constexpr size_t kFields = 6;  // the last, X-Amz-Expires, is optional
  std::pair<std::string_view, std::string*> fields[kFields] = {
      {"X-Amz-Algorithm", &a.algorithm}, {"X-Amz-Credential", &a.credential},
      {"X-Amz-Signature", &a.signature}, {"X-Amz-SignedHeaders", &a.signed_headers},
      {"X-Amz-Date", &a.date},           {"X-Amz-Expires", &expires}};
  bool seen[kFields] = {};
  for (const auto& [name, value] : params) {
    for (size_t i = 0; i < kFields; ++i) {
      if (name != fields[i].first) continue;
      if (seen[i]) {
        return Incomplete("AWS query-string parameters must not repeat '" + name +
                          "'. Re-examine the query-string parameters.");
      }
      seen[i] = true;
      *fields[i].second = value;
    }
  }
  std::string missing;
  for (size_t i = 0; i + 1 < kFields; ++i) {  // all but X-Amz-Expires
    if (fields[i].second->empty()) {
      missing +=
          "AWS query-string parameters must include '" + std::string(fields[i].first) + "'. ";
    }
  }
  if (!missing.empty()) return Incomplete(missing + "Re-examine the query-string parameters.");
  if (a.credential.size() + a.signed_headers.size() > kSigV4MaxAuthorizationBytes) {
    return Incomplete(
        "The X-Amz-Credential and X-Amz-SignedHeaders parameters are longer than "
        "4096 bytes.");
  }
  if (seen[kFields - 1]) {
    ApiResult<int64_t> v = ParseExpires(expires);
    if (!v.ok()) return v.error();
    a.expires = v.value();
  }
  return a;
}

ApiResult<AuthParams> ReadAuthParams(const SignedRequest& req) {
  std::vector<std::string_view> auth;
  for (const auto& [name, value] : req.headers) {
    if (EqualsIgnoreCase(name, "authorization")) auth.push_back(Trim(value));
  }
  ApiResult<QueryParams> query = sigv4_internal::ParseQuery(req.query);
  if (!query.ok()) return query.error();
  bool query_algorithm = false, query_token = false;
  for (const auto& param : query.value()) {
    query_algorithm |= param.first == "X-Amz-Algorithm";
    query_token |= param.first == "X-Amz-Security-Token";
  }
  if (!auth.empty() && query_algorithm) {
    return MismatchError(
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.");
  }
  if (auth.empty() && !query_algorithm) {
    return SenderError("MissingAuthenticationToken", "Missing Authentication Token", 403);
  }
  if (auth.size() > 1) return Incomplete("The request has more than one Authorization header.");
  ApiResult<AuthParams> a =
      auth.empty() ? ReadQueryForm(query.value()) : ReadHeaderForm(req, auth[0]);
  if (!a.ok()) return a;
  if (Split(a.value().signed_headers, ';').size() > kSigV4MaxSignedHeaders) {
    return Incomplete("SignedHeaders names more than 64 headers.");
  }
  a.value().security_token = query_token || HeaderValue(req, "x-amz-security-token").has_value();
  return a;
}

// ---- Checks ----

// The request's date in basic format, once it is within the allowed window.
ApiResult<std::string> CheckTime(const AuthParams& a, int64_t now) {
  std::optional<int64_t> t = a.date_is_http ? ParseHttpDate(a.date) : std::nullopt;
  if (!t) t = ParseBasicDate(a.date);
  if (!t) {
    return Incomplete("Date must be in ISO-8601 'basic format'. Got '" + a.date +
                      "'. See http://en.wikipedia.org/wiki/ISO_8601");
  }
  std::string iso = FormatBasicDate(*t);
  if (*t > now + kSigV4MaxSkewSeconds) {
    return MismatchError("Signature not yet current: " + iso + " is still later than " +
                         FormatBasicDate(now + kSigV4MaxSkewSeconds) + " (" + FormatBasicDate(now) +
                         " + 15 min.)");
  }
  if (a.expires) {
    // Presigned: valid from X-Amz-Date to X-Amz-Date + X-Amz-Expires, both ends included.
    if (now - *t > *a.expires) return SenderError("RequestExpired", "Request has expired.", 400);
  } else if (*t < now - kSigV4MaxSkewSeconds) {
    return MismatchError("Signature expired: " + iso + " is now earlier than " +
                         FormatBasicDate(now - kSigV4MaxSkewSeconds) + " (" + FormatBasicDate(now) +
                         " - 15 min.)");
  }
  return iso;
}

struct Scope {
  std::string access_key_id, date, region, service;
  std::string String() const {
    return date + "/" + region + "/" + service + "/" + std::string(kTerminator);
  }
};

// With no expected region, the scope's must still look like one: [a-z0-9-]{1,64}.
bool PlausibleRegion(std::string_view r) {
  return !r.empty() && r.size() <= 64 &&
         r.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string_view::npos;
}

ApiResult<Scope> CheckScope(const AuthParams& a, std::string_view iso, std::string_view service,
                            std::string_view region) {
  std::string_view credential = a.credential;
  while (!credential.empty() && credential.back() == '/') credential.remove_suffix(1);
  std::vector<std::string_view> p = Split(credential, '/');
  if (p.size() != 5) {
    return Incomplete(
        "Credential must have exactly 5 slash-delimited elements, e.g. "
        "keyid/date/region/service/term, got '" +
        a.credential + "'");
  }
  std::string message;
  if (region.empty() ? !PlausibleRegion(p[2]) : p[2] != region) {
    message += "Credential should be scoped to a valid region. ";
  }
  if (p[3] != service) {
    message += "Credential should be scoped to correct service: '" + std::string(service) + "'. ";
  }
  if (p[4] != kTerminator) {
    message += "Credential should be scoped with a valid terminator: 'aws4_request', not '" +
               std::string(p[4]) + "'. ";
  }
  if (p[1] != iso.substr(0, 8)) {
    message +=
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
        "from HTTP: '" +
        std::string(p[1]) + "' != '" + std::string(iso.substr(0, 8)) + "', from '" +
        std::string(iso) + "'.";
  }
  if (!message.empty()) return MismatchError(Sentences(std::move(message)));
  return Scope{std::string(p[0]), std::string(p[1]), std::string(p[2]), std::string(p[3])};
}

// The payload hash to sign: x-amz-content-sha256 when signed (UNSIGNED-PAYLOAD, or the body's
// hash, which is checked), else the body's hash.
ApiResult<std::string> PayloadHash(const SignedRequest& req, const AuthParams& a) {
  std::string actual = Sha256Hex(req.body);
  if (actual.empty()) return InternalFailure();
  if (!ListContains(a.signed_headers, "x-amz-content-sha256")) return actual;
  std::optional<std::string> claimed = HeaderValue(req, "x-amz-content-sha256");
  if (!claimed) return actual;  // signed but absent: CanonicalRequest refuses it
  if (*claimed == "UNSIGNED-PAYLOAD") return *claimed;
  if (!EqualsIgnoreCase(*claimed, actual)) {
    return MismatchError(
        "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  return *claimed;
}

std::optional<ApiError> CheckSignature(const SignedRequest& req, const AuthParams& a,
                                       const Scope& scope, std::string_view iso,
                                       std::string_view secret) {
  ApiResult<std::string> payload = PayloadHash(req, a);
  if (!payload.ok()) return payload.error();
  ApiResult<std::string> canonical =
      CanonicalRequest(req, a.signed_headers, payload.value(), a.presigned);
  if (!canonical.ok()) return canonical.error();
  std::string sts = StringToSign(iso, scope.String(), canonical.value());
  if (sts.empty()) return InternalFailure();
  std::string expected = SignatureHex(secret, scope.date, scope.region, scope.service, sts);
  if (expected.empty()) return InternalFailure();
  if (a.signature.size() == expected.size() &&
      CRYPTO_memcmp(a.signature.data(), expected.data(), expected.size()) == 0) {
    return std::nullopt;
  }
  // AWS appends what it signed; neither string holds the secret.
  return MismatchError(std::string(kMismatchMessage) +
                       "\n\nThe Canonical String for this request should have been\n'" +
                       canonical.value() + "'\n\nThe String-to-Sign should have been\n'" + sts +
                       "'\n");
}

}  // namespace

ApiResult<SigV4Identity> VerifySigV4(const SignedRequest& req, std::string_view service,
                                     std::string_view region, const SecretLookup& lookup,
                                     int64_t now_unix) {
  if (now_unix < 0 || now_unix > kMaxUnixSeconds) return InternalFailure();
  ApiResult<AuthParams> params = ReadAuthParams(req);
  if (!params.ok()) return params.error();
  const AuthParams& a = params.value();
  ApiResult<std::string> iso = CheckTime(a, now_unix);
  if (!iso.ok()) return iso.error();
  if (!ListContains(a.signed_headers, "host")) {
    return MismatchError(
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (a.algorithm != kSigV4Algorithm) {
    return Incomplete("Unsupported AWS 'algorithm': '" + a.algorithm +
                      "' (only AWS4-HMAC-SHA256 for now).");
  }
  ApiResult<Scope> scope = CheckScope(a, iso.value(), service, region);
  if (!scope.ok()) return scope.error();
  const Scope& s = scope.value();
  std::optional<std::string> secret;
  if (!s.access_key_id.empty() && lookup) secret = lookup(s.access_key_id);
  if (!secret) return InvalidToken();
  std::optional<ApiError> bad = CheckSignature(req, a, s, iso.value(), *secret);
  OPENSSL_cleanse(secret->data(), secret->size());
  if (bad) return *bad;
  if (a.security_token) return InvalidToken();  // Sluice issues no session tokens
  return SigV4Identity{s.access_key_id, s.region, s.date};
}

}  // namespace sluice::api
