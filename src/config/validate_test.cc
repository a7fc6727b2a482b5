// The pure field rules of validate.h.
#include "config/validate.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::config::internal {
namespace {

TEST(ValidateTest, ResourceNames) {
  EXPECT_EQ(CheckResourceName("a"), "");
  EXPECT_EQ(CheckResourceName("my-lb-01"), "");
  EXPECT_EQ(CheckResourceName(std::string(32, 'x')), "");
  EXPECT_NE(CheckResourceName(std::string(33, 'x')), "");
  EXPECT_NE(CheckResourceName(""), "");
  EXPECT_NE(CheckResourceName("-a"), "");
  EXPECT_NE(CheckResourceName("a-"), "");
  EXPECT_NE(CheckResourceName("a.b"), "");
}

TEST(ValidateTest, HostPatterns) {
  for (const char* ok : {"example.com", "*.example.com", "api-1.example.co", "*", "??",
                         "www.example.*", "a.b.c.d.e.museum", "EXAMPLE.COM"}) {
    EXPECT_EQ(CheckHostPattern(ok), "") << ok;
  }
  for (const char* bad : {"", "localhost", "10.0.0.1", "example.", "example.c0m", "a b.com",
                          "example.com:8080", "*.", "ex*mple"}) {
    EXPECT_NE(CheckHostPattern(bad), "") << bad;
  }
  EXPECT_EQ(CheckHostPattern(std::string(124, 'a') + ".com"), "");
  EXPECT_EQ(CheckHostPattern(std::string(125, 'a') + ".com"),
            "host pattern is 129 characters long; the limit is 128");
}

TEST(ValidateTest, PathPatterns) {
  for (const char* ok : {"/", "/img/*", "*.jpg", "/a_b-c.d$e~f\"g'h@i:j+k&l", "/x?z"}) {
    EXPECT_EQ(CheckPathPattern(ok), "") << ok;
  }
  for (const char* bad : {"", "/a b", "/a%20b", "/a#b", "/a\\b", "/a,b", "/é"}) {
    EXPECT_NE(CheckPathPattern(bad), "") << bad;
  }
  EXPECT_EQ(
      CheckPathPattern("/a\tb"),
      "path pattern '/a\\tb' contains \\x09; allowed characters: A-Z a-z 0-9 _ - . $ / ~ \" ' "
      "@ : + & * ?");
}

TEST(ValidateTest, HeaderNamesAndValues) {
  EXPECT_EQ(CheckHeaderName("X-Forwarded-For"), "");
  EXPECT_EQ(CheckHeaderName("x_custom!#$%&'+.^`|~"), "");
  EXPECT_EQ(CheckHeaderName(std::string(40, 'h')), "");
  EXPECT_EQ(CheckHeaderName(std::string(41, 'h')),
            "header name is 41 characters long; the limit is 40");
  EXPECT_EQ(CheckHeaderName("HOST"),
            "header name 'HOST' is not allowed; use a host-header condition");
  EXPECT_EQ(CheckHeaderName("Hosts"), "");
  EXPECT_NE(CheckHeaderName("X:Y"), "");
  EXPECT_NE(CheckHeaderName(""), "");
  EXPECT_EQ(CheckHeaderValue("Mozilla/5.0 (X11) *"), "");
  EXPECT_NE(CheckHeaderValue(""), "");
  EXPECT_NE(CheckHeaderValue("a\x01"), "");
  EXPECT_NE(CheckHeaderValue(std::string(129, 'v')), "");
}

TEST(ValidateTest, Methods) {
  EXPECT_EQ(CheckMethod("GET"), "");
  EXPECT_EQ(CheckMethod("MY_CUSTOM-METHOD"), "");
  EXPECT_NE(CheckMethod("Get"), "");
  EXPECT_NE(CheckMethod("GET*"), "");
  EXPECT_NE(CheckMethod(std::string(41, 'A')), "");
}

TEST(ValidateTest, QueryParts) {
  EXPECT_EQ(CheckQueryPart("a b*?\\*", "query value"), "");
  EXPECT_EQ(CheckQueryPart("", "query key"), "query key must not be empty");
  EXPECT_EQ(CheckQueryPart(std::string(129, 'q'), "query value"),
            "query value is 129 characters long; the limit is 128");
}

TEST(ValidateTest, SourceCidrs) {
  for (const char* ok : {"10.0.0.0/8", "0.0.0.0/0", "192.168.1.1/32", "::/0", "2001:db8::/32",
                         "::1/128", "255.255.255.254/32"}) {
    EXPECT_EQ(CheckSourceCidr(ok), "") << ok;
  }
  for (const char* bad : {"10.0.0.0", "10.0.0.0/", "10.0.0.0/x", "10.0.0.256/8", "::/129",
                          "10.0.0.0/8/8", " 10.0.0.0/8"}) {
    EXPECT_NE(CheckSourceCidr(bad), "") << bad;
  }
  EXPECT_EQ(CheckSourceCidr("192.168.1.77/24"),
            "CIDR '192.168.1.77/24' has host bits set; did you mean 192.168.1.0/24?");
  EXPECT_EQ(CheckSourceCidr("255.255.255.255/32"), "CIDR 255.255.255.255/32 is not allowed");
}

TEST(ValidateTest, Regexes) {
  EXPECT_EQ(CheckRegex("^/api/v[0-9]+/.*$"), "");
  EXPECT_EQ(CheckRegex("(?i)^www\\."), "");
  EXPECT_EQ(CheckRegex(std::string(128, 'a')), "");
  EXPECT_EQ(CheckRegex(std::string(129, 'a')), "regex is 129 characters long; the limit is 128");
  EXPECT_EQ(CheckRegex(""), "regex must not be empty");
  EXPECT_NE(CheckRegex("(?<!a)b"), "");
  EXPECT_NE(CheckRegex("a++"), "");
  EXPECT_NE(CheckRegex("\\p{Foo}"), "");
}

TEST(ValidateTest, Wildcards) {
  EXPECT_EQ(CountWildcards("/a/*/b?", false), 2);
  EXPECT_EQ(CountWildcards("a\\*b\\?c*", true), 1);
  EXPECT_EQ(CountWildcards("a\\*b", false), 1);
  EXPECT_EQ(CountWildcards("trailing\\", true), 0);
}

TEST(ValidateTest, RedirectComponents) {
  EXPECT_EQ(CheckRedirectProtocol("HTTPS"), "");
  EXPECT_EQ(CheckRedirectProtocol("#{protocol}"), "");
  EXPECT_NE(CheckRedirectProtocol("https"), "");
  EXPECT_EQ(CheckRedirectPort("1"), "");
  EXPECT_EQ(CheckRedirectPort("65535"), "");
  EXPECT_EQ(CheckRedirectPort("#{port}"), "");
  EXPECT_NE(CheckRedirectPort("65536"), "");
  EXPECT_NE(CheckRedirectPort("-1"), "");
  EXPECT_NE(CheckRedirectPort("080800"), "");
  EXPECT_EQ(CheckRedirectHost("www.#{host}"), "");
  EXPECT_NE(CheckRedirectHost("a/b"), "");
  EXPECT_NE(CheckRedirectHost(""), "");
  EXPECT_EQ(CheckRedirectPath("/#{host}/#{port}/#{path}"), "");
  EXPECT_NE(CheckRedirectPath("/a?b"), "");
  EXPECT_NE(CheckRedirectPath("/#{protocol}"), "");
  EXPECT_EQ(CheckRedirectQuery(""), "");
  EXPECT_EQ(CheckRedirectQuery("#{protocol}#{host}#{port}#{path}#{query}"), "");
  EXPECT_NE(CheckRedirectQuery("a#b"), "");
  EXPECT_NE(CheckRedirectQuery(std::string(129, 'q')), "");
  EXPECT_EQ(ParseRedirectStatus("HTTP_301"), 301);
  EXPECT_EQ(ParseRedirectStatus("HTTP_302"), 302);
  EXPECT_EQ(ParseRedirectStatus("301"), 0);
}

TEST(ValidateTest, FixedResponse) {
  EXPECT_EQ(ParseFixedResponseStatus("200"), 200);
  EXPECT_EQ(ParseFixedResponseStatus("404"), 404);
  EXPECT_EQ(ParseFixedResponseStatus("599"), 599);
  EXPECT_EQ(ParseFixedResponseStatus("302"), 0);
  EXPECT_EQ(ParseFixedResponseStatus("20"), 0);
  EXPECT_EQ(ParseFixedResponseStatus("2000"), 0);
  EXPECT_EQ(ParseFixedResponseStatus("2x0"), 0);
  for (const char* ok :
       {"text/plain", "text/css", "text/html", "application/javascript", "application/json"}) {
    EXPECT_EQ(CheckContentType(ok), "") << ok;
  }
  EXPECT_NE(CheckContentType("text/plain; charset=utf-8"), "");
  EXPECT_EQ(CheckMessageBody(std::string(1024, 'b')), "");
  // 1024 characters of two bytes each is still 1024 characters.
  std::string two_byte;
  for (int i = 0; i < 1024; ++i) two_byte += "\xC3\xA9";
  EXPECT_EQ(CheckMessageBody(two_byte), "");
  EXPECT_NE(CheckMessageBody(two_byte + "x"), "");
}

TEST(ValidateTest, Matchers) {
  for (const char* ok : {"200", "200-299", "200,202,301", "200,301-302", "499", "200-200"}) {
    EXPECT_EQ(CheckMatcher(ok), "") << ok;
  }
  for (const char* bad :
       {"", "199", "500", "200,", ",200", "200--300", "2OO", "200-500", "0200", "200 "}) {
    EXPECT_NE(CheckMatcher(bad), "") << bad;
  }
}

TEST(ValidateTest, GrpcMatchers) {
  for (const char* ok : {"0", "12", "0,1", "0-5", "0,2-4,99", "99-99"}) {
    EXPECT_EQ(CheckGrpcMatcher(ok), "") << ok;
  }
  for (const char* bad : {"", "100", "-1", "0,", ",0", "0--5", "O", "5-1", "012", "0 ", "200"}) {
    EXPECT_NE(CheckGrpcMatcher(bad), "") << bad;
  }
  EXPECT_EQ(CheckGrpcMatcher("0-100"),
            "matcher '0-100' is invalid: code 100 is out of range 0..99");
  EXPECT_EQ(CheckGrpcMatcher("5-1"), "matcher '5-1' is invalid: range 5-1 ends before it starts");
}

TEST(ValidateTest, HealthCheckPathsAndCookieNames) {
  EXPECT_EQ(CheckHealthCheckPath("/healthz?full=1"), "");
  EXPECT_NE(CheckHealthCheckPath(""), "");
  EXPECT_NE(CheckHealthCheckPath("/a b"), "");
  EXPECT_NE(CheckHealthCheckPath("/" + std::string(1024, 'p')), "");
  EXPECT_EQ(CheckAppCookieName("SESSIONID"), "");
  EXPECT_NE(CheckAppCookieName("AWSALBTG"), "");
  EXPECT_NE(CheckAppCookieName("a=b"), "");
}

}  // namespace
}  // namespace sluice::config::internal
