#include "api/s3_sign.h"

#include <optional>

#include "api/sigv4.h"

namespace sluice::api {

std::string S3ObjectPath(std::string_view bucket, std::string_view key) {
  return "/" + SigV4UriEncode(bucket, false) + "/" + SigV4UriEncode(key, true);
}

namespace {

constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The Authorization header's value for a request whose canonical request is `canonical`
// (signed headers `signed_headers`), or "" when OpenSSL fails.
std::string S3Authorization(const std::string& canonical, const std::string& signed_headers,
                            const config::AwsCredentials& credentials, std::string_view region,
                            std::string_view amz_date) {
  const std::string_view date = amz_date.substr(0, 8);
  std::string scope(date);
  scope.append("/").append(region).append("/s3/aws4_request");
  const std::string to_sign = StringToSign(amz_date, scope, canonical);
  const std::string signature =
      to_sign.empty() ? ""
                      : SignatureHex(credentials.secret_access_key, date, region, "s3", to_sign);
  if (signature.empty()) return "";
  return "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope +
         ", SignedHeaders=" + signed_headers + ", Signature=" + signature;
}

// One request's head, signed: `content_length` only for a PUT (which signs it too).
struct S3Request {
  std::string_view method;
  std::string path;
  std::string query;  // canonical: already encoded and sorted
  std::optional<uint64_t> content_length;
  std::string_view payload_sha256_hex;
  std::string_view user_agent;
};

std::string SignedHead(const S3Request& r, std::string_view host_header,
                       const config::AwsCredentials& credentials, std::string_view region,
                       std::string_view amz_date) {
  const std::string length = r.content_length ? std::to_string(*r.content_length) : "";
  const bool token = !credentials.session_token.empty();
  std::string signed_headers = r.content_length ? "content-length;" : "";
  signed_headers += "host;x-amz-content-sha256;x-amz-date";
  if (token) signed_headers += ";x-amz-security-token";
  std::string canonical(r.method);
  canonical.append("\n" + r.path + "\n" + r.query + "\n");
  if (r.content_length) canonical.append("content-length:" + length + "\n");
  canonical.append("host:").append(host_header).append("\nx-amz-content-sha256:");
  canonical.append(r.payload_sha256_hex).append("\nx-amz-date:").append(amz_date).append("\n");
  if (token) canonical.append("x-amz-security-token:" + credentials.session_token + "\n");
  canonical.append("\n" + signed_headers + "\n").append(r.payload_sha256_hex);
  const std::string authorization =
      S3Authorization(canonical, signed_headers, credentials, region, amz_date);
  if (authorization.empty()) return "";

  std::string head(r.method);
  head.append(" " + r.path + (r.query.empty() ? "" : "?" + r.query) + " HTTP/1.1\r\nHost: ");
  head.append(host_header).append("\r\n");
  if (r.content_length) {
    head.append("Content-Length: " + length + "\r\nContent-Type: application/octet-stream\r\n");
  }
  head.append("x-amz-content-sha256: ").append(r.payload_sha256_hex);
  head.append("\r\nx-amz-date: ").append(amz_date).append("\r\n");
  if (token) head.append("x-amz-security-token: " + credentials.session_token + "\r\n");
  head.append("Authorization: " + authorization + "\r\n");
  head.append("User-Agent: ").append(r.user_agent).append("\r\nConnection: close\r\n\r\n");
  return head;
}

}  // namespace

std::string S3PutObjectHead(std::string_view host_header, std::string_view bucket,
                            std::string_view key, uint64_t content_length,
                            std::string_view payload_sha256_hex,
                            const config::AwsCredentials& credentials, std::string_view region,
                            std::string_view amz_date) {
  const S3Request r{"PUT",          S3ObjectPath(bucket, key), "",
                    content_length, payload_sha256_hex,        "sluice-logs"};
  return SignedHead(r, host_header, credentials, region, amz_date);
}

std::string S3GetObjectHead(std::string_view host_header, std::string_view bucket,
                            std::string_view key, std::string_view version_id,
                            const config::AwsCredentials& credentials, std::string_view region,
                            std::string_view amz_date) {
  std::string query;
  if (!version_id.empty()) query = "versionId=" + SigV4UriEncode(version_id, false);
  const S3Request r{"GET",       S3ObjectPath(bucket, key), query, std::nullopt, kEmptySha256,
                    "sluice-api"};
  return SignedHead(r, host_header, credentials, region, amz_date);
}

}  // namespace sluice::api
