// Tests for the upstream request rewrite: request-target splitting, the Host table, every
// X-Forwarded-For mode, the 463 threshold, X-Amzn-Trace-Id forms (scripted randomness and a
// fixed clock), hop-by-hop removal and framing regeneration (reference §3.1, §4.2-§4.4).
#include "proxy/request_rewrite.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/desync.h"
#include "proxy/request_rewrite_test_support.h"

namespace sluice::proxy {
namespace {

using namespace rewrite_test;  // NOLINT(build/namespaces): the fixture

// ---------------------------------------------------------------------------------------------
// SplitRequestTarget / HostWithoutPort / CountForwardedFor.

TEST(SplitRequestTargetTest, OriginForm) {
  RequestTarget t;
  ASSERT_TRUE(SplitRequestTarget("/a/b?x=1&y", &t));
  EXPECT_EQ(t.authority, "");
  EXPECT_EQ(t.path, "/a/b");
  EXPECT_EQ(t.query, "x=1&y");
  EXPECT_EQ(t.path_and_query, "/a/b?x=1&y");

  ASSERT_TRUE(SplitRequestTarget("/a?q#frag", &t));
  EXPECT_EQ(t.path, "/a");
  EXPECT_EQ(t.query, "q");
  EXPECT_EQ(t.path_and_query, "/a?q");

  ASSERT_TRUE(SplitRequestTarget("/a#f?x", &t));
  EXPECT_EQ(t.path, "/a");
  EXPECT_EQ(t.query, "");
  EXPECT_EQ(t.path_and_query, "/a");
}

TEST(SplitRequestTargetTest, Asterisk) {
  RequestTarget t;
  ASSERT_TRUE(SplitRequestTarget("*", &t));
  EXPECT_EQ(t.path, "*");
  EXPECT_EQ(t.path_and_query, "*");
  EXPECT_EQ(t.authority, "");
}

TEST(SplitRequestTargetTest, AbsoluteForm) {
  RequestTarget t;
  ASSERT_TRUE(SplitRequestTarget("http://example.com:8080/p/q?x=1", &t));
  EXPECT_EQ(t.authority, "example.com:8080");
  EXPECT_EQ(t.path, "/p/q");
  EXPECT_EQ(t.query, "x=1");
  EXPECT_EQ(t.path_and_query, "/p/q?x=1");

  ASSERT_TRUE(SplitRequestTarget("HTTPS://Example.com", &t));
  EXPECT_EQ(t.authority, "Example.com");
  EXPECT_EQ(t.path, "/");
  EXPECT_EQ(t.path_and_query, "/");

  ASSERT_TRUE(SplitRequestTarget("http://example.com?x=1", &t));
  EXPECT_EQ(t.authority, "example.com");
  EXPECT_EQ(t.path, "/");
  EXPECT_EQ(t.query, "x=1");
  EXPECT_EQ(t.path_and_query, "?x=1");  // the rewrite prefixes '/'
}

// The fragment is stripped from origin-form targets; it must be stripped from absolute-form
// ones too, including when no path follows the authority.
TEST(SplitRequestTargetTest, AbsoluteFormFragmentIsStripped) {
  RequestTarget t;
  ASSERT_TRUE(SplitRequestTarget("http://example.com/p?x#frag", &t));
  EXPECT_EQ(t.path_and_query, "/p?x");
  EXPECT_EQ(t.query, "x");

  ASSERT_TRUE(SplitRequestTarget("http://example.com?x#frag", &t));
  EXPECT_EQ(t.query, "x");
  EXPECT_EQ(t.path_and_query, "?x");

  ASSERT_TRUE(SplitRequestTarget("http://example.com#frag", &t));
  EXPECT_EQ(t.authority, "example.com");
  EXPECT_EQ(t.path_and_query, "/");
}

TEST(SplitRequestTargetTest, Rejects) {
  RequestTarget t;
  for (const char* target :
       {"", "a/b", "example.com:443", "ftp://x/", "http:///path", "http://", "http:/x", "?x"}) {
    EXPECT_FALSE(SplitRequestTarget(target, &t)) << target;
  }
}

TEST(HostWithoutPortTest, Forms) {
  EXPECT_EQ(HostWithoutPort("example.com"), "example.com");
  EXPECT_EQ(HostWithoutPort("example.com:80"), "example.com");
  EXPECT_EQ(HostWithoutPort("1.2.3.4:8080"), "1.2.3.4");
  EXPECT_EQ(HostWithoutPort("[::1]:8080"), "[::1]");
  EXPECT_EQ(HostWithoutPort("[2001:db8::1]"), "[2001:db8::1]");
  EXPECT_EQ(HostWithoutPort(""), "");
}

TEST_F(RewriteTest, CountForwardedFor) {
  Forward(
      "GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\r\nx-forwarded-for: 3.3.3.3\r\n\r\n");
  EXPECT_EQ(CountForwardedFor(*head_), 3);
  Forward("GET / HTTP/1.1\r\nX-Forwarded-For: , 1.1.1.1,,  ,2.2.2.2,\r\n\r\n");
  EXPECT_EQ(CountForwardedFor(*head_), 2);
  Forward("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(CountForwardedFor(*head_), 0);
}

// ---------------------------------------------------------------------------------------------
// Whole heads.

TEST_F(RewriteTest, SimpleGetExactBytes) {
  Result r = Forward(
      "GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "GET /path?q=1 HTTP/1.1\r\n"
            "Host: example.com\r\n"
            "User-Agent: t\r\n"
            "Accept: */*\r\n"
            "X-Forwarded-For: 203.0.113.7\r\n"
            "X-Forwarded-Proto: http\r\n"
            "X-Forwarded-Port: 80\r\n"
            "X-Amzn-Trace-Id: Root=1-63441c4a-12456789abcdef0123456789\r\n"
            "\r\n");
  EXPECT_EQ(rng_.calls(), 2);
}

TEST_F(RewriteTest, AppendsToExistingOutput) {
  std::string out = "previous";
  Forward("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  ForwardContext ctx;
  ctx.attributes = &attrs_;
  ctx.listener_port = "80";
  ctx.client_ip = *IpAddress::Parse("10.0.0.1");
  ctx.rng = &rng_;
  RequestTarget target;
  ASSERT_TRUE(SplitRequestTarget("/", &target));
  ASSERT_EQ(AppendUpstreamRequestHead(*head_, target, http::Framing{}, ctx, &out), 0);
  EXPECT_EQ(out.rfind("previousGET / HTTP/1.1\r\n", 0), 0u);
}

TEST_F(RewriteTest, ChunkedRequestExactBytes) {
  Result r = Forward(
      "POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: identity, chunked\r\n"
      "Content-Length: 10\r\nX-A: 1\r\n\r\n");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "POST /upload HTTP/1.1\r\n"
            "Host: example.com\r\n"
            "X-A: 1\r\n"
            "X-Forwarded-For: 203.0.113.7\r\n"
            "X-Forwarded-Proto: http\r\n"
            "X-Forwarded-Port: 80\r\n"
            "X-Amzn-Trace-Id: Root=1-63441c4a-12456789abcdef0123456789\r\n"
            "Transfer-Encoding: chunked\r\n"
            "\r\n");
}

TEST_F(RewriteTest, ContentLengthIsRegenerated) {
  EXPECT_EQ(ForwardedValues("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n",
                            "Content-Length"),
            std::vector<std::string>{"7"});
  EXPECT_EQ(ForwardedValues("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                            "content-length: 5\r\n\r\n",
                            "Content-Length"),
            std::vector<std::string>{"5"});
  EXPECT_EQ(
      ForwardedValues("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "Content-Length"),
      std::vector<std::string>{"0"});
  Result none = Forward("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(none.out.find("Content-Length"), std::string::npos);
  EXPECT_EQ(none.out.find("Transfer-Encoding"), std::string::npos);
  Result lower = Forward("POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 3\r\n\r\n");
  EXPECT_EQ(lower.out.find("content-length"), std::string::npos);
}

TEST_F(RewriteTest, RequestLineForms) {
  EXPECT_EQ(
      Forward("GET /a?b#frag HTTP/1.1\r\nHost: a\r\n\r\n").out.rfind("GET /a?b HTTP/1.1\r\n", 0),
      0u);
  EXPECT_EQ(
      Forward("GET http://example.com?x=1 HTTP/1.1\r\n\r\n").out.rfind("GET /?x=1 HTTP/1.1\r\n", 0),
      0u);
  EXPECT_EQ(Forward("GET http://example.com HTTP/1.1\r\n\r\n").out.rfind("GET / HTTP/1.1\r\n", 0),
            0u);
  EXPECT_EQ(Forward("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").out.rfind("OPTIONS * HTTP/1.1\r\n", 0),
            0u);
  // HTTP/1.0 and HTTP/1.x requests go upstream as HTTP/1.1.
  EXPECT_EQ(Forward("GET / HTTP/1.0\r\nHost: a\r\n\r\n").out.rfind("GET / HTTP/1.1\r\n", 0), 0u);
  EXPECT_EQ(Forward("GET / HTTP/1.5\r\nHost: a\r\n\r\n").out.rfind("GET / HTTP/1.1\r\n", 0), 0u);
}

// ---------------------------------------------------------------------------------------------
// Host (reference §3.1 table).

TEST_F(RewriteTest, HostDefaultPortListener) {
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), "example.com");
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: example.com:80\r\n\r\n"), "example.com");
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"), "example.com:8080");
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n"), "[2001:db8::1]");
}

TEST_F(RewriteTest, HostHttpsListener) {
  https_ = true;
  listener_port_ = "443";
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), "example.com");
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: example.com:443\r\n\r\n"), "example.com");
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: example.com:80\r\n\r\n"), "example.com:80");
}

TEST_F(RewriteTest, HostAbsoluteFormAuthorityWins) {
  EXPECT_EQ(HostSent("GET https://dns_name/index.html HTTP/1.1\r\nHost: example.com\r\n\r\n"),
            "dns_name");
  https_ = true;
  listener_port_ = "443";
  EXPECT_EQ(HostSent("GET https://dns_name/index.html HTTP/1.1\r\nHost: example.com\r\n\r\n"),
            "dns_name");
}

TEST_F(RewriteTest, HostNonDefaultPortAppended) {
  listener_port_ = "8080";
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), "example.com:8080");
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"), "example.com:8080");
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: example.com:9090\r\n\r\n"), "example.com:9090");
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n"), "[::1]:8080");
}

TEST_F(RewriteTest, HostFallbackForHttp10) {
  EXPECT_EQ(HostSent("GET / HTTP/1.0\r\n\r\n"), kLbName);
}

TEST_F(RewriteTest, HostOfHttp10WithoutHostIsTheListenerAddressWhenNoNameIsGiven) {
  // The proxy passes the accepting socket's address; it is formatted only for such requests.
  fallback_host_ = {};
  fallback_ip_ = IpAddress::Parse("10.0.12.255");
  EXPECT_EQ(HostSent("GET / HTTP/1.0\r\n\r\n"), "10.0.12.255");
  listener_port_ = "8080";
  EXPECT_EQ(HostSent("GET / HTTP/1.0\r\n\r\n"), "10.0.12.255:8080");
  EXPECT_EQ(HostSent("GET / HTTP/1.0\r\nHost: shop\r\n\r\n"), "shop:8080");
}

TEST_F(RewriteTest, HostFirstOfSeveralWithoutPreserve) {
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: one.example\r\nHost: two.example\r\n\r\n"),
            "one.example");
}

TEST_F(RewriteTest, HostPreserved) {
  attrs_.preserve_host_header = true;
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), "example.com");
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: example.com:80\r\n\r\n"), "example.com:80");
  EXPECT_EQ(HostSent("GET https://dns_name/index.html HTTP/1.1\r\nHost: example.com\r\n\r\n"),
            "example.com");
  listener_port_ = "8080";
  EXPECT_EQ(HostSent("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), "example.com");
  EXPECT_EQ(
      ForwardedValues("GET / HTTP/1.1\r\nHost: one.example\r\nhost: two.example\r\n\r\n", "Host"),
      (std::vector<std::string>{"one.example", "two.example"}));
}

// ---------------------------------------------------------------------------------------------
// X-Forwarded-For (reference §4.2).

TEST_F(RewriteTest, XffAppend) {
  EXPECT_EQ(ForwardedValues("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "X-Forwarded-For"),
            std::vector<std::string>{"203.0.113.7"});
  EXPECT_EQ(
      ForwardedValues("GET / HTTP/1.1\r\nX-Forwarded-For: 127.0.0.4\r\n\r\n", "X-Forwarded-For"),
      std::vector<std::string>{"127.0.0.4, 203.0.113.7"});
  EXPECT_EQ(ForwardedValues("GET / HTTP/1.1\r\nX-Forwarded-For: 127.0.0.4, 127.0.0.8\r\n\r\n",
                            "X-Forwarded-For"),
            std::vector<std::string>{"127.0.0.4, 127.0.0.8, 203.0.113.7"});
  EXPECT_EQ(ForwardedValues("GET / HTTP/1.1\r\nX-Forwarded-For:\r\n\r\n", "X-Forwarded-For"),
            std::vector<std::string>{"203.0.113.7"});
}

TEST_F(RewriteTest, XffAppendJoinsMultipleHeadersInPlace) {
  Result r = Forward(
      "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 127.0.0.4\r\nX-A: 1\r\n"
      "x-forwarded-for: 127.0.0.8\r\n\r\n");
  EXPECT_EQ(r.out,
            "GET / HTTP/1.1\r\n"
            "Host: a\r\n"
            "X-Forwarded-For: 127.0.0.4, 127.0.0.8, 203.0.113.7\r\n"
            "X-A: 1\r\n"
            "X-Forwarded-Proto: http\r\n"
            "X-Forwarded-Port: 80\r\n"
            "X-Amzn-Trace-Id: Root=1-63441c4a-12456789abcdef0123456789\r\n"
            "\r\n");
}

TEST_F(RewriteTest, XffAppendWithClientPort) {
  attrs_.xff_client_port = true;
  EXPECT_EQ(ForwardedValues("GET / HTTP/1.1\r\n\r\n", "X-Forwarded-For"),
            std::vector<std::string>{"203.0.113.7:50000"});
  EXPECT_EQ(ForwardedValues("GET / HTTP/1.1\r\nX-Forwarded-For: 127.0.0.4\r\n"
                            "X-Forwarded-For: 127.0.0.8\r\n\r\n",
                            "X-Forwarded-For"),
            std::vector<std::string>{"127.0.0.4, 127.0.0.8, 203.0.113.7:50000"});
  client_ip_ = "2001:db8::1";
  client_port_ = 8080;
  EXPECT_EQ(ForwardedValues("GET / HTTP/1.1\r\n\r\n", "X-Forwarded-For"),
            std::vector<std::string>{"[2001:db8::1]:8080"});
}

TEST_F(RewriteTest, XffAppendIpv6WithoutPortIsPlain) {
  client_ip_ = "2001:db8::1";
  EXPECT_EQ(
      ForwardedValues("GET / HTTP/1.1\r\nX-Forwarded-For: 127.0.0.4\r\n\r\n", "X-Forwarded-For"),
      std::vector<std::string>{"127.0.0.4, 2001:db8::1"});
}

TEST_F(RewriteTest, XffPreserve) {
  attrs_.xff_header_processing_mode = XffProcessingMode::kPreserve;
  attrs_.xff_client_port = true;  // ignored outside append mode
  EXPECT_TRUE(ForwardedValues("GET / HTTP/1.1\r\n\r\n", "X-Forwarded-For").empty());
  EXPECT_EQ(
      ForwardedValues("GET / HTTP/1.1\r\nX-Forwarded-For: 127.0.0.4\r\n\r\n", "X-Forwarded-For"),
      std::vector<std::string>{"127.0.0.4"});
  EXPECT_EQ(ForwardedValues("GET / HTTP/1.1\r\nX-Forwarded-For: 127.0.0.4, 127.0.0.8\r\n\r\n",
                            "X-Forwarded-For"),
            std::vector<std::string>{"127.0.0.4, 127.0.0.8"});
  EXPECT_EQ(ForwardedValues("GET / HTTP/1.1\r\nX-Forwarded-For: 127.0.0.4\r\n"
                            "X-Forwarded-For: 127.0.0.8\r\n\r\n",
                            "X-Forwarded-For"),
            (std::vector<std::string>{"127.0.0.4", "127.0.0.8"}));
}

TEST_F(RewriteTest, XffRemove) {
  attrs_.xff_header_processing_mode = XffProcessingMode::kRemove;
  attrs_.xff_client_port = true;
  for (const char* req :
       {"GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nX-Forwarded-For: 127.0.0.4\r\n\r\n",
        "GET / HTTP/1.1\r\nX-Forwarded-For: 127.0.0.4, 127.0.0.8\r\n"
        "x-forwarded-for: 1.1.1.1\r\n\r\n"}) {
    Result r = Forward(req);
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out.find("orwarded-For"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("orwarded-for"), std::string::npos) << r.out;
  }
}

std::string XffRequest(const std::vector<int>& counts) {
  std::string req = "GET / HTTP/1.1\r\nHost: a\r\n";
  int n = 0;
  for (int count : counts) {
    req += "X-Forwarded-For: ";
    for (int i = 0; i < count; ++i) {
      if (i > 0) req += ", ";
      req += "10.0.0." + std::to_string(++n);
    }
    req += "\r\n";
  }
  return req + "\r\n";
}

TEST_F(RewriteTest, Xff30AddressesAreForwarded) {
  Result r = Forward(XffRequest({30}));
  EXPECT_EQ(r.status, 0);
  std::vector<std::string> xff = Values(r.out, "X-Forwarded-For");
  ASSERT_EQ(xff.size(), 1u);
  EXPECT_EQ(xff[0].rfind("10.0.0.1, 10.0.0.2, ", 0), 0u);
  EXPECT_NE(xff[0].find("10.0.0.30, 203.0.113.7"), std::string::npos);

  EXPECT_EQ(Forward(XffRequest({10, 20})).status, 0);
}

TEST_F(RewriteTest, Xff31AddressesAre463) {
  Result r = Forward(XffRequest({31}));
  EXPECT_EQ(r.status, 463);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Forward(XffRequest({20, 11})).status, 463);
  EXPECT_EQ(Forward(XffRequest({1, 1, 29})).status, 463);
}

// ---------------------------------------------------------------------------------------------
// X-Forwarded-Proto / -Port (reference §4.3).

TEST_F(RewriteTest, ForwardedProtoAndPortAreReplaced) {
  Result r = Forward(
      "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 1\r\n"
      "x-forwarded-proto: ftp\r\n\r\n");
  EXPECT_EQ(Values(r.out, "X-Forwarded-Proto"), std::vector<std::string>{"http"});
  EXPECT_EQ(Values(r.out, "X-Forwarded-Port"), std::vector<std::string>{"80"});
  EXPECT_EQ(r.out.find("x-forwarded-proto"), std::string::npos);

  https_ = true;
  listener_port_ = "8443";
  r = Forward("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(Values(r.out, "X-Forwarded-Proto"), std::vector<std::string>{"https"});
  EXPECT_EQ(Values(r.out, "X-Forwarded-Port"), std::vector<std::string>{"8443"});
}

// ---------------------------------------------------------------------------------------------
// X-Amzn-Trace-Id (reference §4.4).

TEST(AppendTraceIdTest, FreshRoot) {
  ScriptedRng rng({0x12456789, 0xabcdef0123456789});
  std::string out;
  AppendTraceId("", kNow, rng, &out);
  EXPECT_EQ(out, kFreshRoot);
  EXPECT_EQ(rng.calls(), 2);
}

TEST(AppendTraceIdTest, TimeAndRandomAreZeroPaddedAndTruncated) {
  ScriptedRng rng({0xffffffff00000001ULL, 0x2});
  std::string out;
  AppendTraceId("", 0x100000005LL, rng, &out);
  EXPECT_EQ(out, "Root=1-00000005-000000010000000000000002");
}

TEST(AppendTraceIdTest, SelfInFrontOfIncomingRoot) {
  ScriptedRng rng({0x12456789, 0xabcdef0123456789});
  std::string out;
  AppendTraceId(kIncomingRoot, kNow, rng, &out);
  EXPECT_EQ(out, std::string(kSelf) + ";" + kIncomingRoot);
}

TEST(AppendTraceIdTest, CustomFieldsKeptAndSelfReplaced) {
  ScriptedRng rng({0x12456789, 0xabcdef0123456789});
  std::string out;
  AppendTraceId("Self=1-00000000-000000000000000000000000;Root=1-67891233-abc;CalledFrom=app", kNow,
                rng, &out);
  EXPECT_EQ(out, std::string(kSelf) + ";Root=1-67891233-abc;CalledFrom=app");

  out.clear();
  AppendTraceId("Root=1-67891233-abc; CalledFrom=app ;Self=1-x", kNow, rng, &out);
  EXPECT_EQ(out, std::string(kSelf) + ";Root=1-67891233-abc;CalledFrom=app");
}

TEST(AppendTraceIdTest, NoRootGivesFreshRoot) {
  ScriptedRng rng({0x12456789, 0xabcdef0123456789});
  std::string out;
  AppendTraceId("CalledFrom=app;Self=1-x", kNow, rng, &out);
  EXPECT_EQ(out, kFreshRoot);
}

TEST_F(RewriteTest, TraceIdInRequest) {
  EXPECT_EQ(ForwardedValues("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "X-Amzn-Trace-Id"),
            std::vector<std::string>{kFreshRoot});
  EXPECT_EQ(ForwardedValues(std::string("GET / HTTP/1.1\r\nx-amzn-trace-id: ") + kIncomingRoot +
                                "\r\nX-Amzn-Trace-Id: Root=1-00000000-other\r\n\r\n",
                            "X-Amzn-Trace-Id"),
            std::vector<std::string>{std::string(kSelf) + ";" + kIncomingRoot});
}

// Request headers above 7 KB (name + ": " + value + CRLF each, 7168 bytes) get a fresh Root.
TEST_F(RewriteTest, TraceIdAboveSevenKilobytesIsFresh) {
  auto request = [](size_t total) {
    std::string host = "Host: example.com\r\n";
    std::string trace = std::string("X-Amzn-Trace-Id: ") + kIncomingRoot + "\r\n";
    std::string pad_prefix = "X-Pad: ";
    size_t pad = total - host.size() - trace.size() - pad_prefix.size() - 2;
    return "GET / HTTP/1.1\r\n" + host + trace + pad_prefix + std::string(pad, 'p') + "\r\n\r\n";
  };
  EXPECT_EQ(ForwardedValues(request(7168), "X-Amzn-Trace-Id"),
            std::vector<std::string>{std::string(kSelf) + ";" + kIncomingRoot});
  EXPECT_EQ(ForwardedValues(request(7169), "X-Amzn-Trace-Id"),
            std::vector<std::string>{kFreshRoot});
}

// ---------------------------------------------------------------------------------------------
// Hop-by-hop and invalid headers.

TEST_F(RewriteTest, HopByHopAndConnectionNamedHeadersRemoved) {
  Result r = Forward(
      "GET / HTTP/1.1\r\n"
      "Host: a\r\n"
      "Connection: keep-alive, X-Secret\r\n"
      "connection: x-other\r\n"
      "X-Secret: s\r\n"
      "x-secret: t\r\n"
      "X-Other: o\r\n"
      "Keep-Alive: timeout=5\r\n"
      "Proxy-Connection: keep-alive\r\n"
      "TE: trailers\r\n"
      "Upgrade: h2c\r\n"
      "Trailer: X-T\r\n"
      "X-Keep: k\r\n"
      "X-Secretive: kept\r\n"
      "\r\n");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(HeaderLines(r.out),
            (std::vector<std::string>{"Host: a", "X-Keep: k", "X-Secretive: kept",
                                      "X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: http",
                                      "X-Forwarded-Port: 80",
                                      std::string("X-Amzn-Trace-Id: ") + kFreshRoot}));
}

TEST_F(RewriteTest, InvalidHeaderNamesDroppedOnlyWhenEnabled) {
  std::string req = "GET / HTTP/1.1\r\nHost: a\r\nX_Under: 1\r\nX.Dot: 2\r\nX-Ok9: 3\r\n\r\n";
  Result kept = Forward(req);
  EXPECT_NE(kept.out.find("\r\nX_Under: 1\r\n"), std::string::npos);
  EXPECT_NE(kept.out.find("\r\nX.Dot: 2\r\n"), std::string::npos);
  attrs_.drop_invalid_header_fields = true;
  Result dropped = Forward(req);
  EXPECT_EQ(dropped.out.find("X_Under"), std::string::npos);
  EXPECT_EQ(dropped.out.find("X.Dot"), std::string::npos);
  EXPECT_NE(dropped.out.find("\r\nX-Ok9: 3\r\n"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// obs-fold: a folded value must not reach the target with its line break (RFC 9112 §5.2:
// replace each obs-fold with SP before forwarding). Ordinary headers are unfolded; the headers
// the rewrite manages itself must be too.

TEST_F(RewriteTest, ObsFoldInOrdinaryHeaderIsUnfolded) {
  Result r = Forward("GET / HTTP/1.1\r\nHost: a\r\nX-Custom: one\r\n two\r\n\r\n");
  EXPECT_TRUE(IsCleanHead(r.out));
  EXPECT_EQ(Values(r.out, "X-Custom"), std::vector<std::string>{"one   two"});
}

TEST_F(RewriteTest, ObsFoldInHostIsUnfolded) {
  EXPECT_TRUE(IsCleanHead(Forward("GET / HTTP/1.1\r\nHost: example.com\r\n evil\r\n\r\n").out));
  attrs_.preserve_host_header = true;
  EXPECT_TRUE(IsCleanHead(Forward("GET / HTTP/1.1\r\nHost: example.com\r\n evil\r\n\r\n").out));
}

TEST_F(RewriteTest, ObsFoldInForwardedForIsUnfolded) {
  std::string req = "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\n 5.6.7.8\r\n\r\n";
  EXPECT_TRUE(IsCleanHead(Forward(req).out));
  attrs_.xff_header_processing_mode = XffProcessingMode::kPreserve;
  EXPECT_TRUE(IsCleanHead(Forward(req).out));
}

TEST_F(RewriteTest, ObsFoldInTraceIdIsUnfolded) {
  EXPECT_TRUE(IsCleanHead(Forward(std::string("GET / HTTP/1.1\r\nHost: a\r\nX-Amzn-Trace-Id: ") +
                                  kIncomingRoot + ";\r\n Custom=x\r\n\r\n")
                              .out));
}

TEST_F(RewriteTest, CleanValuesGiveTheSameHeadWithoutTheLineBreakScan) {
  // The proxy sets values_without_line_breaks when the desync verdict is below kSevere; the
  // head must be byte for byte the one the scanning path produces.
  const std::string request =
      "GET /a?b=1 HTTP/1.1\r\nHost: shop.example:8080\r\nUser-Agent: t\r\n"
      "X-Forwarded-For: 198.51.100.1, 198.51.100.2\r\n"
      "X-Amzn-Trace-Id: Root=1-67891233-abcdef012345678912345678;Sampled=1\r\n"
      "Content-Length: 3\r\n\r\nabc";
  Result scanned = Forward(request);
  values_without_line_breaks_ = true;
  rng_ = ScriptedRng{{0x12456789, 0xabcdef0123456789}};
  Result copied = Forward(request);
  EXPECT_EQ(scanned.status, 0);
  EXPECT_EQ(copied.status, 0);
  EXPECT_EQ(copied.out, scanned.out);
  EXPECT_NE(copied.out.find("Host: shop.example:8080\r\n"), std::string::npos);
}

TEST_F(RewriteTest, AbsoluteFormAuthorityIsScannedEvenWithCleanValues) {
  // The flag speaks for header values; a request-target's authority is never trusted by it.
  values_without_line_breaks_ = true;
  EXPECT_EQ(HostSent("GET http://a\rb/ HTTP/1.1\r\nHost: x\r\n\r\n"), "a b");
}

// ---------------------------------------------------------------------------------------------
// Issue 9: nothing a target could read as framing, and no raw space in the request line.

TEST_F(RewriteTest, FramingLookalikeFieldsAreNeverForwarded) {
  classify_ = true;
  for (const char* field :
       {"Transfer-Encoding : chunked", "Content-Length : 40", "Transfer_Encoding: chunked",
        "Content-Length\t: 5", "\x01Transfer-Encoding: chunked"}) {
    std::string request = std::string("POST /p HTTP/1.1\r\nHost: a\r\n") + field +
                          "\r\nContent-Length: 46\r\nX-Other: kept\r\n\r\n";
    Result r = Forward(request);
    ASSERT_EQ(r.status, 0) << field;
    // Exactly one framing field: the one Sluice framed the body by.
    EXPECT_EQ(r.out.find("ransfer"), std::string::npos) << field << "\n" << r.out;
    EXPECT_EQ(Values(r.out, "Content-Length"), std::vector<std::string>{"46"}) << field;
    EXPECT_EQ(r.out.find("Content-Length :"), std::string::npos) << field;
    EXPECT_EQ(r.out.find("Content-Length\t"), std::string::npos) << field;
    EXPECT_NE(r.out.find("X-Other: kept\r\n"), std::string::npos) << field;
  }
}

TEST_F(RewriteTest, OrdinaryFieldsAreKeptBesideALookalike) {
  classify_ = true;
  Result r = Forward(
      "GET / HTTP/1.1\r\nHost: a\r\nX-Content-Length: 1\r\nTransfer-Encodings: x\r\n"
      "Content-Length : 3\r\n\r\n");
  ASSERT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("X-Content-Length: 1\r\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Transfer-Encodings: x\r\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Content-Length :"), std::string::npos) << r.out;
}

TEST_F(RewriteTest, SpacesAndControlsInTheTargetArePercentEncoded) {
  classify_ = true;
  Result r = Forward(
      "GET /a b\x01"
      "c HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out.substr(0, r.out.find("\r\n")), "GET /a%20b%01c HTTP/1.1");
  Result clean = Forward("GET /a%20b HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(clean.out.substr(0, clean.out.find("\r\n")), "GET /a%20b HTTP/1.1");
}

}  // namespace
}  // namespace sluice::proxy
