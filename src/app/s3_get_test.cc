// The S3 GET Object response reader of CreateTrustStore (app/s3_get.h): every framing a
// store may use, the store's error codes, and the bounds.
#include "app/s3_get.h"

#include <gtest/gtest.h>

namespace sluice::app {
namespace {

TEST(S3GetResponseTest, ContentLengthBody) {
  S3GetResult r =
      ParseS3GetResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\nhello", 100);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.error, "");
}

TEST(S3GetResponseTest, ChunkedBodyIsDecodedAndTrailersDropped) {
  S3GetResult r = ParseS3GetResponse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n"
      "0\r\nX-Trailer: t\r\n\r\n",
      100);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.body, "hello");
}

TEST(S3GetResponseTest, BodyUntilTheClose) {
  S3GetResult r = ParseS3GetResponse("HTTP/1.0 200 OK\r\n\r\nhello", 100);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.body, "hello");
}

TEST(S3GetResponseTest, AnErrorNamesTheStoresCode) {
  const std::string xml =
      "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
  S3GetResult r = ParseS3GetResponse(
      "HTTP/1.1 404 Not Found\r\nContent-Length: " + std::to_string(xml.size()) + "\r\n\r\n" + xml,
      100);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.s3_code, "NoSuchKey");
  EXPECT_EQ(r.error, "the store answered 404 NoSuchKey");
  EXPECT_EQ(r.body, "");
}

TEST(S3GetResponseTest, BoundsAndTruncationAreErrors) {
  EXPECT_EQ(ParseS3GetResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 4).error,
            "object over 4 bytes");
  EXPECT_EQ(ParseS3GetResponse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello", 100).error,
            "the response ends inside its body");
  EXPECT_EQ(
      ParseS3GetResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 100)
          .error,
      "the response ends inside its body");
  EXPECT_EQ(
      ParseS3GetResponse(
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nhello world\r\n0\r\n\r\n", 5)
          .error,
      "object over 5 bytes");
  EXPECT_EQ(ParseS3GetResponse("HTTP/1.1 200 OK\r\nContent-Le", 100).error, "not an HTTP response");
  EXPECT_EQ(ParseS3GetResponse("SSH-2.0-OpenSSH\r\n\r\n", 100).error, "not an HTTP response");
  EXPECT_NE(
      ParseS3GetResponse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 100)
          .error,
      "");
}

TEST(S3GetResponseTest, InterimResponsesAreSkipped) {
  S3GetResult r = ParseS3GetResponse(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
      100);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(ParseS3GetResponse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", 100).error,
            "bad response framing: 101 Switching Protocols");
}

// Before the end of the stream, a response that goes on is incomplete, not an error; one
// complete by its framing is read without waiting for the close.
TEST(S3GetResponseTest, IncompleteUntilTheFramingIsComplete) {
  for (const char* part :
       {"", "HTTP/1.1 200 OK\r\nContent-", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        "HTTP/1.1 100 Continue\r\n\r\n"}) {
    S3GetResult r = ParseS3GetResponse(part, 100, false);
    EXPECT_TRUE(r.incomplete) << part;
    EXPECT_EQ(r.error, "") << part;
    EXPECT_FALSE(ParseS3GetResponse(part, 100, true).incomplete) << part;
    EXPECT_NE(ParseS3GetResponse(part, 100, true).error, "") << part;
  }
  EXPECT_TRUE(ParseS3GetResponse("HTTP/1.1 200 OK\r\n\r\nhello", 100, false).incomplete);
  S3GetResult done =
      ParseS3GetResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 100, false);
  EXPECT_FALSE(done.incomplete);
  EXPECT_EQ(done.body, "hello");
  // A bound is an error at once, without waiting for the rest.
  EXPECT_EQ(ParseS3GetResponse("HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", 100, false).error,
            "object over 100 bytes");
}

}  // namespace
}  // namespace sluice::app
