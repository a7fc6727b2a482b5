#include "api/s3_sign.h"

#include <gtest/gtest.h>

#include "api/sigv4.h"

namespace sluice::api {
namespace {

// The expected signature was computed by botocore 1.29 (Debian 12's python3-botocore), an
// independent implementation, for the same request:
//   S3SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "s3",
//   "eu-west-3") on AWSRequest("PUT", "http://127.0.0.1:4568/my-logs/team%20a/AWSLogs/...",
//   data=b"hello, access log\n") with Content-Length set and the clock at 2026-12-06 10:05:00.
TEST(S3SignTest, PutObjectHeadMatchesBotocore) {
  const std::string body = "hello, access log\n";
  const std::string hash = Sha256Hex(body);
  ASSERT_EQ(hash, "ad330e68e3f3d15cccbe28c0fd7af334919d053728e5bdf1859ed8966fbdd67c");
  const config::AwsCredentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  const std::string key =
      "team a/AWSLogs/123456789012/elasticloadbalancing/eu-west-3/2026/12/06/f_x.log.gz";
  const std::string head = S3PutObjectHead("127.0.0.1:4568", "my-logs", key, body.size(), hash,
                                           creds, "eu-west-3", "20261206T100500Z");
  EXPECT_TRUE(
      head.starts_with("PUT /my-logs/team%20a/AWSLogs/123456789012/elasticloadbalancing/"
                       "eu-west-3/2026/12/06/f_x.log.gz HTTP/1.1\r\n"));
  EXPECT_NE(head.find("\r\nHost: 127.0.0.1:4568\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nContent-Length: 18\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nx-amz-content-sha256: " + hash + "\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nx-amz-date: 20261206T100500Z\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nAuthorization: AWS4-HMAC-SHA256 "
                      "Credential=AKIDEXAMPLE/20261206/eu-west-3/s3/aws4_request, "
                      "SignedHeaders=content-length;host;x-amz-content-sha256;x-amz-date, "
                      "Signature=01578212364ef5c52155c2d61885a2463cca5e84ada450e49aeacbc829799aad"
                      "\r\n"),
            std::string::npos)
      << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n"));
  EXPECT_EQ(head.find("wJalrXUtnFEMI"), std::string::npos);
}

TEST(S3SignTest, SessionTokenIsSentAndSigned) {
  const config::AwsCredentials creds{"AKID", "secret", "token/with+chars"};
  const std::string head = S3PutObjectHead("s3.local", "b-1", "k", 0, Sha256Hex(""), creds,
                                           "us-east-1", "20261206T000000Z");
  EXPECT_NE(head.find("\r\nx-amz-security-token: token/with+chars\r\n"), std::string::npos);
  EXPECT_NE(head.find("SignedHeaders=content-length;host;x-amz-content-sha256;x-amz-date;"
                      "x-amz-security-token, "),
            std::string::npos);
  const std::string without = S3PutObjectHead("s3.local", "b-1", "k", 0, Sha256Hex(""),
                                              config::AwsCredentials{"AKID", "secret", ""},
                                              "us-east-1", "20261206T000000Z");
  EXPECT_EQ(without.find("security-token"), std::string::npos);
}

// Signatures computed by botocore 1.29's S3SigV4Auth (same credentials, region eu-west-3,
// clock at 2026-12-07 13:00:00) for AWSRequest("GET",
// "http://127.0.0.1:4568/my-cas/bundles/ca%20one.pem"), then with "?versionId=3%2Fx.y".
TEST(S3SignTest, GetObjectHeadMatchesBotocore) {
  const config::AwsCredentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  const std::string head = S3GetObjectHead("127.0.0.1:4568", "my-cas", "bundles/ca one.pem", "",
                                           creds, "eu-west-3", "20261207T130000Z");
  EXPECT_TRUE(head.starts_with("GET /my-cas/bundles/ca%20one.pem HTTP/1.1\r\n")) << head;
  EXPECT_NE(head.find("\r\nx-amz-content-sha256: "
                      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n"),
            std::string::npos);
  EXPECT_NE(head.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="
                      "fa9c33de7daf52ba8f1edfc9dc0f01667680fda8378634e8fb415fe5f6b682c5\r\n"),
            std::string::npos)
      << head;
  const std::string versioned = S3GetObjectHead("127.0.0.1:4568", "my-cas", "bundles/ca one.pem",
                                                "3/x.y", creds, "eu-west-3", "20261207T130000Z");
  EXPECT_TRUE(versioned.starts_with("GET /my-cas/bundles/ca%20one.pem?versionId=3%2Fx.y "))
      << versioned;
  EXPECT_NE(versioned.find("Signature="
                           "24fa4886f7aeb26c940d207db87c7144161fa98077f183b8a296eb95c77119d0"),
            std::string::npos)
      << versioned;
  EXPECT_EQ(versioned.find("wJalrXUtnFEMI"), std::string::npos);
}

TEST(S3SignTest, ObjectPathEncodesOnceAndKeepsSlashes) {
  EXPECT_EQ(S3ObjectPath("logs", "a b/c+d/%41~x"), "/logs/a%20b/c%2Bd/%2541~x");
}

}  // namespace
}  // namespace sluice::api
