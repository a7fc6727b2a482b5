#include "api/s3_sign.h"

#include "api/sigv4.h"

namespace sluice::api {

std::string S3ObjectPath(std::string_view bucket, std::string_view key) {
  return "/" + SigV4UriEncode(bucket, false) + "/" + SigV4UriEncode(key, true);
}

std::string S3PutObjectHead(std::string_view host_header, std::string_view bucket,
                            std::string_view key, uint64_t content_length,
                            std::string_view payload_sha256_hex,
                            const config::AwsCredentials& credentials, std::string_view region,
                            std::string_view amz_date) {
  const std::string path = S3ObjectPath(bucket, key);
  const std::string length = std::to_string(content_length);
  const bool token = !credentials.session_token.empty();
  std::string signed_headers = "content-length;host;x-amz-content-sha256;x-amz-date";
  if (token) signed_headers += ";x-amz-security-token";
  std::string canonical = "PUT\n" + path + "\n\ncontent-length:" + length + "\nhost:";
  canonical.append(host_header).append("\nx-amz-content-sha256:").append(payload_sha256_hex);
  canonical.append("\nx-amz-date:").append(amz_date).append("\n");
  if (token) canonical.append("x-amz-security-token:" + credentials.session_token + "\n");
  canonical.append("\n" + signed_headers + "\n").append(payload_sha256_hex);

  const std::string_view date = amz_date.substr(0, 8);
  std::string scope(date);
  scope.append("/").append(region).append("/s3/aws4_request");
  const std::string to_sign = StringToSign(amz_date, scope, canonical);
  const std::string signature =
      to_sign.empty() ? ""
                      : SignatureHex(credentials.secret_access_key, date, region, "s3", to_sign);
  if (signature.empty()) return "";

  std::string head = "PUT " + path + " HTTP/1.1\r\nHost: ";
  head.append(host_header).append("\r\nContent-Length: " + length);
  head.append("\r\nContent-Type: application/octet-stream\r\nx-amz-content-sha256: ");
  head.append(payload_sha256_hex).append("\r\nx-amz-date: ").append(amz_date).append("\r\n");
  if (token) head.append("x-amz-security-token: " + credentials.session_token + "\r\n");
  head.append("Authorization: AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" +
              scope + ", SignedHeaders=" + signed_headers + ", Signature=" + signature + "\r\n");
  head.append("User-Agent: sluice-logs\r\nConnection: close\r\n\r\n");
  return head;
}

}  // namespace sluice::api
