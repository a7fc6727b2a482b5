// Tests for the responses the load balancer writes itself: exact bytes of an ALB error page,
// its HEAD variant, fixed responses and redirects, reason phrases and the HTTP date.
#include "proxy/local_response.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "http/h1_parser.h"

namespace sluice::proxy {
namespace {

constexpr char kDate[] = "Sun, 06 Nov 1994 08:49:37 GMT";

LocalResponseOptions Options() {
  LocalResponseOptions o;
  o.date = kDate;
  return o;
}

TEST(ReasonPhraseTest, KnownCodes) {
  EXPECT_STREQ(ReasonPhrase(200), "OK");
  EXPECT_STREQ(ReasonPhrase(301), "Moved Permanently");
  EXPECT_STREQ(ReasonPhrase(302), "Found");
  EXPECT_STREQ(ReasonPhrase(400), "Bad Request");
  EXPECT_STREQ(ReasonPhrase(405), "Method Not Allowed");
  EXPECT_STREQ(ReasonPhrase(408), "Request Timeout");
  EXPECT_STREQ(ReasonPhrase(414), "Request-URI Too Large");
  EXPECT_STREQ(ReasonPhrase(463), "X-Forwarded-For Too Long");
  EXPECT_STREQ(ReasonPhrase(501), "Not Implemented");
  EXPECT_STREQ(ReasonPhrase(502), "Bad Gateway");
  EXPECT_STREQ(ReasonPhrase(503), "Service Temporarily Unavailable");
  EXPECT_STREQ(ReasonPhrase(504), "Gateway Time-out");
  EXPECT_STREQ(ReasonPhrase(505), "HTTP Version Not Supported");
  // Statuses an HTTP/2 target may send, relayed to HTTP/1.1 clients with a phrase.
  EXPECT_STREQ(ReasonPhrase(103), "Early Hints");
  EXPECT_STREQ(ReasonPhrase(304), "Not Modified");
  EXPECT_STREQ(ReasonPhrase(307), "Temporary Redirect");
  EXPECT_STREQ(ReasonPhrase(308), "Permanent Redirect");
}

TEST(ReasonPhraseTest, FallbacksByClass) {
  EXPECT_STREQ(ReasonPhrase(102), "Informational");
  EXPECT_STREQ(ReasonPhrase(299), "OK");
  EXPECT_STREQ(ReasonPhrase(399), "Redirection");
  EXPECT_STREQ(ReasonPhrase(418), "Client Error");
  EXPECT_STREQ(ReasonPhrase(599), "Server Error");
}

TEST(FormatHttpDateTest, ImfFixdate) {
  char buf[32];
  size_t n = FormatHttpDate(784111777, buf);
  EXPECT_EQ(std::string(buf, n), "Sun, 06 Nov 1994 08:49:37 GMT");
  n = FormatHttpDate(0, buf);
  EXPECT_EQ(std::string(buf, n), "Thu, 01 Jan 1970 00:00:00 GMT");
  n = FormatHttpDate(951782400, buf);  // leap day
  EXPECT_EQ(std::string(buf, n), "Tue, 29 Feb 2000 00:00:00 GMT");
}

constexpr char k502[] =
    "HTTP/1.1 502 Bad Gateway\r\n"
    "Server: awselb/2.0\r\n"
    "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
    "Content-Type: text/html\r\n"
    "Content-Length: 122\r\n"
    "\r\n";
constexpr char k502Body[] =
    "<html>\r\n"
    "<head><title>502 Bad Gateway</title></head>\r\n"
    "<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n"
    "</body>\r\n"
    "</html>\r\n";

TEST(ErrorResponseTest, ExactBytes) {
  std::string out;
  AppendErrorResponse(502, Options(), &out);
  EXPECT_EQ(out, std::string(k502) + k502Body);
  EXPECT_EQ(sizeof(k502Body) - 1, 122u);
}

TEST(ErrorResponseTest, HeadHasSameHeadersAndNoBody) {
  LocalResponseOptions o = Options();
  o.head_request = true;
  std::string out;
  AppendErrorResponse(502, o, &out);
  EXPECT_EQ(out, k502);
}

TEST(ErrorResponseTest, ConnectionHeaders) {
  LocalResponseOptions o = Options();
  o.close = true;
  std::string out;
  AppendErrorResponse(400, o, &out);
  EXPECT_EQ(
      out.rfind("HTTP/1.1 400 Bad Request\r\nServer: awselb/2.0\r\nDate: " + std::string(kDate) +
                    "\r\nConnection: close\r\nContent-Type: text/html\r\n",
                0),
      0u)
      << out;

  o.close = false;
  o.http10_keep_alive = true;
  out.clear();
  AppendErrorResponse(400, o, &out);
  EXPECT_NE(out.find("\r\nConnection: keep-alive\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("close"), std::string::npos);

  o.close = true;  // close wins
  out.clear();
  AppendErrorResponse(400, o, &out);
  EXPECT_NE(out.find("\r\nConnection: close\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("keep-alive"), std::string::npos);
}

TEST(ErrorResponseTest, AppendsToExistingOutput) {
  std::string out = "previous";
  AppendErrorResponse(502, Options(), &out);
  EXPECT_EQ(out, std::string("previous") + k502 + k502Body);
}

// Every error page is a well-formed response whose Content-Length matches its body.
TEST(ErrorResponseTest, AllPagesAreWellFormed) {
  for (int status :
       {400, 401, 403, 404, 405, 408, 413, 414, 460, 463, 464, 500, 501, 502, 503, 504, 505, 561}) {
    std::string out;
    AppendErrorResponse(status, Options(), &out);
    size_t scan = 0;
    size_t head_len = http::FindHeadEnd(out, &scan);
    ASSERT_GT(head_len, 0u) << status;
    auto head = std::make_unique<http::ResponseHead>();
    http::ParseError error;
    ASSERT_EQ(http::ParseResponseHead(out, head_len, head.get(), &error),
              http::ParseStatus::kComplete)
        << status << ": " << error.reason;
    EXPECT_EQ(head->status, status);
    EXPECT_EQ(head->reason, ReasonPhrase(status));
    std::string body = out.substr(head_len);
    std::string title = std::to_string(status) + " " + ReasonPhrase(status);
    EXPECT_EQ(body, "<html>\r\n<head><title>" + title +
                        "</title></head>\r\n<body>\r\n<center><h1>" + title +
                        "</h1></center>\r\n</body>\r\n</html>\r\n");
    bool found = false;
    for (const http::HeaderField& h : head->header_span()) {
      if (h.name == "Content-Length") {
        EXPECT_EQ(h.value, std::to_string(body.size())) << status;
        found = true;
      }
    }
    EXPECT_TRUE(found) << status;
  }
}

TEST(FixedResponseTest, ExactBytes) {
  config::FixedResponseConfig fixed;
  fixed.status_code = 200;
  fixed.content_type = "text/plain";
  fixed.message_body = "hello";
  std::string out;
  AppendFixedResponse(fixed, Options(), &out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\n"
            "Server: awselb/2.0\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 5\r\n"
            "\r\n"
            "hello");
}

TEST(FixedResponseTest, NoContentTypeEmptyBodyAndHead) {
  config::FixedResponseConfig fixed;
  fixed.status_code = 503;
  std::string out;
  AppendFixedResponse(fixed, Options(), &out);
  EXPECT_EQ(out,
            "HTTP/1.1 503 Service Temporarily Unavailable\r\n"
            "Server: awselb/2.0\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: 0\r\n"
            "\r\n");

  fixed.status_code = 404;
  fixed.content_type = "application/json";
  fixed.message_body = "{\"error\":\"nope\"}";
  LocalResponseOptions o = Options();
  o.head_request = true;
  out.clear();
  AppendFixedResponse(fixed, o, &out);
  EXPECT_EQ(out,
            "HTTP/1.1 404 Not Found\r\n"
            "Server: awselb/2.0\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 16\r\n"
            "\r\n");
}

TEST(RedirectResponseTest, ExactBytes) {
  std::string out;
  AppendRedirectResponse(301, "https://example.com:443/p?q=1", Options(), &out);
  EXPECT_EQ(out,
            "HTTP/1.1 301 Moved Permanently\r\n"
            "Server: awselb/2.0\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Location: https://example.com:443/p?q=1\r\n"
            "Content-Type: text/html\r\n"
            "Content-Length: 134\r\n"
            "\r\n"
            "<html>\r\n"
            "<head><title>301 Moved Permanently</title></head>\r\n"
            "<body>\r\n"
            "<center><h1>301 Moved Permanently</h1></center>\r\n"
            "</body>\r\n"
            "</html>\r\n");
}

TEST(RedirectResponseTest, FoundHeadAndClose) {
  LocalResponseOptions o = Options();
  o.head_request = true;
  o.close = true;
  std::string out;
  AppendRedirectResponse(302, "http://example.com/", o, &out);
  EXPECT_EQ(out,
            "HTTP/1.1 302 Found\r\n"
            "Server: awselb/2.0\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Connection: close\r\n"
            "Location: http://example.com/\r\n"
            "Content-Type: text/html\r\n"
            "Content-Length: 110\r\n"
            "\r\n");
}

}  // namespace
}  // namespace sluice::proxy
