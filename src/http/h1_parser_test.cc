// Tests for the HTTP/1 head scanner and parsers: head-end detection at every split point,
// request-line tokenization, version handling, wire anomalies, the exact size limits, and the
// strict response parser.
#include "http/h1_parser.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

namespace sluice::http {
namespace {

// ---------------------------------------------------------------------------------------------
// Helpers.

// The head length FindHeadEnd reports when the buffer grows by the given prefix lengths (each
// call sees a longer prefix of `msg`, with the scan position carried over), as a connection
// reading in pieces would. Returns 0 if the head never completes.
size_t FindIncrementally(std::string_view msg, const std::vector<size_t>& prefix_lengths) {
  size_t scan = 0;
  for (size_t len : prefix_lengths) {
    size_t n = FindHeadEnd(msg.substr(0, len), &scan);
    EXPECT_LE(scan, len);
    if (n != 0) return n;
  }
  return 0;
}

size_t FindWhole(std::string_view msg) {
  size_t scan = 0;
  return FindHeadEnd(msg, &scan);
}

// Parse results own a copy of the message: the head's views point into it.
struct ParsedRequest {
  ParseStatus status = ParseStatus::kError;
  ParseError error;
  std::unique_ptr<std::string> msg;
  std::unique_ptr<RequestHead> head = std::make_unique<RequestHead>();
};

// Finds the head end of `msg` (which must hold a complete head) and parses it.
ParsedRequest ParseRequest(std::string msg) {
  ParsedRequest r;
  r.msg = std::make_unique<std::string>(std::move(msg));
  size_t len = FindWhole(*r.msg);
  EXPECT_GT(len, 0u) << "head incomplete";
  r.status = ParseRequestHead(*r.msg, len, r.head.get(), &r.error);
  return r;
}

struct ParsedResponse {
  ParseStatus status = ParseStatus::kError;
  ParseError error;
  std::unique_ptr<std::string> msg;
  std::unique_ptr<ResponseHead> head = std::make_unique<ResponseHead>();
};

ParsedResponse ParseResponse(std::string msg) {
  ParsedResponse r;
  r.msg = std::make_unique<std::string>(std::move(msg));
  size_t len = FindWhole(*r.msg);
  EXPECT_GT(len, 0u) << "head incomplete";
  r.status = ParseResponseHead(*r.msg, len, r.head.get(), &r.error);
  return r;
}

// CRLF-terminated header lines totalling exactly `total` bytes on the wire (CRLFs included),
// each line at most 16000 bytes.
std::string HeaderBlock(size_t total) {
  size_t n = (total + 15999) / 16000;
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    size_t wire = total / n + (i < total % n ? 1 : 0);
    std::string prefix = "X-Fill-" + std::to_string(i) + ": ";
    out += prefix + std::string(wire - 2 - prefix.size(), 'a') + "\r\n";
  }
  EXPECT_EQ(out.size(), total);
  return out;
}

// A request line of exactly `len` bytes (without the line end).
std::string RequestLine(size_t len) {
  std::string head = "GET /";
  std::string tail = " HTTP/1.1";
  return head + std::string(len - head.size() - tail.size(), 'p') + tail;
}

std::string RequestWithHeaderLine(size_t line_len) {
  std::string prefix = "X-Big: ";
  return "GET / HTTP/1.1\r\n" + prefix + std::string(line_len - prefix.size(), 'v') + "\r\n\r\n";
}

const std::vector<std::string>& SampleMessages() {
  static const std::vector<std::string> kMessages = {
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\nHost: a\n\n",
      "GET / HTTP/1.1\r\nHost: a\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\n\n",
      "GET / HTTP/1.1\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
      "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n\r\n\r\n",
      "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
      "GET / HTTP/1.1\r\nX: \r\r\n\r\n",
      "\n\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
      "GET / HTTP/1.1\r\nA: \n\rB\r\n\r\n",
  };
  return kMessages;
}

// ---------------------------------------------------------------------------------------------
// FindHeadEnd.

TEST(FindHeadEndTest, CrLfHead) {
  EXPECT_EQ(FindWhole("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 27u);
  EXPECT_EQ(FindWhole("GET / HTTP/1.1\r\n\r\nbody"), 18u);
}

TEST(FindHeadEndTest, BareLfAndMixedTerminators) {
  EXPECT_EQ(FindWhole("GET / HTTP/1.1\nHost: a\n\n"), 24u);
  EXPECT_EQ(FindWhole("GET / HTTP/1.1\r\nHost: a\n\r\n"), 26u);
  EXPECT_EQ(FindWhole("GET / HTTP/1.1\r\nHost: a\r\n\n"), 26u);
}

TEST(FindHeadEndTest, IncompleteReturnsZero) {
  EXPECT_EQ(FindWhole(""), 0u);
  EXPECT_EQ(FindWhole("GET / HTTP/1.1"), 0u);
  EXPECT_EQ(FindWhole("GET / HTTP/1.1\r\n"), 0u);
  EXPECT_EQ(FindWhole("GET / HTTP/1.1\r\nHost: a\r\n\r"), 0u);
  EXPECT_EQ(FindWhole("GET / HTTP/1.1\r\nHost: a\r\n\rX"), 0u);  // CR not followed by LF
}

TEST(FindHeadEndTest, FirstTerminatorWins) {
  EXPECT_EQ(FindWhole("GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"), 18u);
}

TEST(FindHeadEndTest, ScanPositionDoesNotRescan) {
  std::string msg = "GET /" + std::string(1000, 'x');
  size_t scan = 0;
  EXPECT_EQ(FindHeadEnd(msg, &scan), 0u);
  EXPECT_EQ(scan, msg.size());
  msg += " HTTP/1.1\r\n";
  EXPECT_EQ(FindHeadEnd(msg, &scan), 0u);
  EXPECT_EQ(scan, msg.size() - 1);  // parked on the LF that may start the terminator
  msg += "\r";
  EXPECT_EQ(FindHeadEnd(msg, &scan), 0u);
  EXPECT_EQ(scan, msg.size() - 2);
  msg += "\n";
  EXPECT_EQ(FindHeadEnd(msg, &scan), msg.size());
}

TEST(FindHeadEndTest, EverySplitPointGivesSameResult) {
  for (const std::string& msg : SampleMessages()) {
    size_t whole = FindWhole(msg);
    ASSERT_GT(whole, 0u) << msg;
    for (size_t split = 0; split <= msg.size(); ++split) {
      EXPECT_EQ(FindIncrementally(msg, {split, msg.size()}), whole)
          << "split " << split << " of " << testing::PrintToString(msg);
    }
  }
}

TEST(FindHeadEndTest, ByteByByteGivesSameResult) {
  for (const std::string& msg : SampleMessages()) {
    std::vector<size_t> lengths;
    for (size_t i = 0; i <= msg.size(); ++i) lengths.push_back(i);
    EXPECT_EQ(FindIncrementally(msg, lengths), FindWhole(msg)) << testing::PrintToString(msg);
  }
}

TEST(FindHeadEndTest, RandomChunksGiveSameResult) {
  std::mt19937 gen(12345);
  for (const std::string& msg : SampleMessages()) {
    for (int iter = 0; iter < 200; ++iter) {
      std::vector<size_t> lengths;
      size_t len = 0;
      while (len < msg.size()) {
        len = std::min(msg.size(), len + gen() % 6);
        lengths.push_back(len);
      }
      EXPECT_EQ(FindIncrementally(msg, lengths), FindWhole(msg)) << testing::PrintToString(msg);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Request line.

TEST(ParseRequestTest, OriginForm) {
  std::string msg = "GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n";
  ParsedRequest r = ParseRequest(msg);
  ASSERT_EQ(r.status, ParseStatus::kComplete) << r.error.reason;
  EXPECT_EQ(r.head->method, "GET");
  EXPECT_EQ(r.head->target, "/index.html?x=1");
  EXPECT_EQ(r.head->version, "HTTP/1.1");
  EXPECT_EQ(r.head->version_minor, 1);
  EXPECT_EQ(r.head->head_length, msg.size());
  ASSERT_EQ(r.head->header_count, 1u);
  EXPECT_EQ(r.head->headers[0].name, "Host");
  EXPECT_EQ(r.head->headers[0].value, "example.com");
  EXPECT_EQ(r.head->wire_verdict.tier, DesyncTier::kCompliant);
  EXPECT_EQ(r.head->wire_verdict.reason, DesyncReason::kCompliant);
}

TEST(ParseRequestTest, AbsoluteForm) {
  ParsedRequest r = ParseRequest("GET http://example.com:8080/a?b HTTP/1.1\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.head->target, "http://example.com:8080/a?b");
}

TEST(ParseRequestTest, AsteriskForm) {
  ParsedRequest r = ParseRequest("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.head->method, "OPTIONS");
  EXPECT_EQ(r.head->target, "*");
}

TEST(ParseRequestTest, SpaceInTargetIsTokenizedLeniently) {
  // The classifier grades the space; the tokenizer keeps everything between the first and the
  // last space as the target.
  ParsedRequest r = ParseRequest("GET /a b HTTP/1.1\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.head->target, "/a b");
  EXPECT_EQ(r.head->version, "HTTP/1.1");
}

TEST(ParseRequestTest, ExtensionMethod) {
  ParsedRequest r = ParseRequest("M-SEARCH * HTTP/1.1\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.head->method, "M-SEARCH");
}

TEST(ParseRequestTest, MalformedRequestLines) {
  struct Case {
    const char* msg;
    int status;
  } cases[] = {
      {"GET\r\n\r\n", 400},                 // no space at all
      {" / HTTP/1.1\r\n\r\n", 400},         // empty method
      {"GET  HTTP/1.1\r\n\r\n", 400},       // empty target
      {"GE(T / HTTP/1.1\r\n\r\n", 400},     // method not a token
      {"G\x01T / HTTP/1.1\r\n\r\n", 400},   // control byte in method
      {"GET / HTTP/1.1 \r\n\r\n", 400},     // trailing space: empty version
      {"\r\nGET / HTTP/1.1\r\n\r\n", 400},  // empty request line
  };
  for (const Case& c : cases) {
    ParsedRequest r = ParseRequest(c.msg);
    EXPECT_EQ(r.status, ParseStatus::kError) << testing::PrintToString(c.msg);
    EXPECT_EQ(r.error.status, c.status) << testing::PrintToString(c.msg);
  }
}

TEST(ParseRequestTest, Http09IsRejected) {
  ParsedRequest r = ParseRequest("GET /\r\n\r\n");
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error.status, 400);
  EXPECT_EQ(r.head->target, "/");
  EXPECT_EQ(r.head->version, "");
}

TEST(ParseRequestTest, Versions) {
  struct Case {
    const char* version;
    bool ok;
    int status_or_minor;
  } cases[] = {
      {"HTTP/1.0", true, 0},    {"HTTP/1.1", true, 1},     {"HTTP/1.2", true, 1},
      {"HTTP/1.9", true, 1},    {"HTTP/2.0", false, 505},  {"HTTP/3.0", false, 505},
      {"HTTP/9.9", false, 505}, {"HTTP/1.10", false, 400}, {"HTTP/1", false, 400},
      {"HTTP/1.x", false, 400}, {"HTTP/x.1", false, 400},  {"http/1.1", false, 400},
      {"HTTP/11", false, 400},  {"HTTPS/1.1", false, 400}, {"HTTP/1,1", false, 400},
  };
  for (const Case& c : cases) {
    std::string msg = std::string("GET / ") + c.version + "\r\n\r\n";
    ParsedRequest r = ParseRequest(msg);
    if (c.ok) {
      ASSERT_EQ(r.status, ParseStatus::kComplete) << c.version;
      EXPECT_EQ(r.head->version_minor, c.status_or_minor) << c.version;
      EXPECT_EQ(r.head->version, c.version);
    } else {
      EXPECT_EQ(r.status, ParseStatus::kError) << c.version;
      EXPECT_EQ(r.error.status, c.status_or_minor) << c.version;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Header fields.

TEST(ParseRequestTest, HeaderTokenizationAndOws) {
  std::string msg =
      "GET / HTTP/1.1\r\n"
      "Host:example.com\r\n"
      "X-Spaces: \t a  b \t \r\n"
      "X-Empty:\r\n"
      "x-dup: 1\r\n"
      "X-DUP: 2\r\n"
      "\r\n";
  ParsedRequest r = ParseRequest(msg);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  ASSERT_EQ(r.head->header_count, 5u);
  auto h = r.head->header_span();
  EXPECT_EQ(h[0].name, "Host");
  EXPECT_EQ(h[0].value, "example.com");
  EXPECT_EQ(h[1].name, "X-Spaces");
  EXPECT_EQ(h[1].value, "a  b");
  EXPECT_EQ(h[2].name, "X-Empty");
  EXPECT_EQ(h[2].value, "");
  EXPECT_EQ(h[3].name, "x-dup");
  EXPECT_EQ(h[4].name, "X-DUP");
  EXPECT_EQ(h[4].value, "2");
  EXPECT_EQ(r.head->wire_verdict.tier, DesyncTier::kCompliant);
}

TEST(ParseRequestTest, OddHeaderNamesAreKeptForTheClassifier) {
  ParsedRequest r =
      ParseRequest("GET / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n: empty\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  ASSERT_EQ(r.head->header_count, 2u);
  EXPECT_EQ(r.head->headers[0].name, "Transfer-Encoding ");
  EXPECT_EQ(r.head->headers[0].value, "chunked");
  EXPECT_EQ(r.head->headers[1].name, "");
  EXPECT_EQ(r.head->headers[1].value, "empty");
}

TEST(ParseRequestTest, BareLfIsRecorded) {
  for (const char* msg :
       {"GET / HTTP/1.1\nHost: a\n\n", "GET / HTTP/1.1\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\n"}) {
    ParsedRequest r = ParseRequest(msg);
    ASSERT_EQ(r.status, ParseStatus::kComplete) << testing::PrintToString(msg);
    EXPECT_EQ(r.head->wire_verdict.tier, DesyncTier::kAcceptable) << testing::PrintToString(msg);
    EXPECT_EQ(r.head->wire_verdict.reason, DesyncReason::kNonCrLfLineTermination);
    EXPECT_EQ(r.head->headers[0].value, "a");
  }
}

TEST(ParseRequestTest, ObsFoldJoinsValueAndIsAmbiguous) {
  std::string msg = "GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\tthree\r\nX-B: b\r\n\r\n";
  ParsedRequest r = ParseRequest(msg);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  ASSERT_EQ(r.head->header_count, 2u);
  EXPECT_EQ(r.head->headers[0].name, "X-A");
  EXPECT_EQ(r.head->headers[0].value, "one\r\n two\r\n\tthree");
  EXPECT_EQ(r.head->headers[1].value, "b");
  EXPECT_EQ(r.head->wire_verdict.tier, DesyncTier::kAmbiguous);
  EXPECT_EQ(r.head->wire_verdict.reason, DesyncReason::kMultilineHeader);
}

TEST(ParseRequestTest, ObsFoldAfterEmptyValue) {
  ParsedRequest r = ParseRequest("GET / HTTP/1.1\r\nX-A:\r\n  two \r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  ASSERT_EQ(r.head->header_count, 1u);
  EXPECT_EQ(r.head->headers[0].value, "two");
}

TEST(ParseRequestTest, ObsFoldOutranksBareLf) {
  ParsedRequest r = ParseRequest("GET / HTTP/1.1\nX-A: one\n two\n\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.head->wire_verdict.tier, DesyncTier::kAmbiguous);
  EXPECT_EQ(r.head->wire_verdict.reason, DesyncReason::kMultilineHeader);
}

TEST(ParseRequestTest, ContinuationAsFirstHeaderIsRejected) {
  ParsedRequest r = ParseRequest("GET / HTTP/1.1\r\n folded\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error.status, 400);
}

TEST(ParseRequestTest, MissingColonIsDroppedAndAmbiguous) {
  ParsedRequest r = ParseRequest("GET / HTTP/1.1\r\nHost: a\r\nGarbage line\r\nX: b\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  ASSERT_EQ(r.head->header_count, 2u);
  EXPECT_EQ(r.head->headers[0].name, "Host");
  EXPECT_EQ(r.head->headers[1].name, "X");
  EXPECT_EQ(r.head->wire_verdict.tier, DesyncTier::kAmbiguous);
  EXPECT_EQ(r.head->wire_verdict.reason, DesyncReason::kMissingHeaderColon);
}

TEST(ParseRequestTest, PipelinedHeadParsesOnlyItsOwnBytes) {
  std::string msg = "GET /1 HTTP/1.1\r\nA: 1\r\n\r\nGET /2 HTTP/1.1\r\nB: 2\r\n\r\n";
  ParsedRequest first = ParseRequest(msg);
  ASSERT_EQ(first.status, ParseStatus::kComplete);
  EXPECT_EQ(first.head->target, "/1");
  ASSERT_EQ(first.head->header_count, 1u);
  std::string rest = msg.substr(first.head->head_length);
  ParsedRequest second = ParseRequest(rest);
  ASSERT_EQ(second.status, ParseStatus::kComplete);
  EXPECT_EQ(second.head->target, "/2");
  EXPECT_EQ(second.head->headers[0].name, "B");
}

// ---------------------------------------------------------------------------------------------
// Request limits, at the exact boundaries.

TEST(RequestLimitsTest, Constants) {
  EXPECT_EQ(kMaxRequestLine, 16384u);
  EXPECT_EQ(kMaxRequestHeaderLine, 16384u);
  EXPECT_EQ(kMaxRequestHeaders, 65536u);
  EXPECT_EQ(kMaxRequestHead, 16384u + 65536u + 4u);
  EXPECT_EQ(kMaxHeaderCount, 256u);
}

TEST(RequestLimitsTest, RequestLineAtLimit) {
  std::string line = RequestLine(16384);
  ParsedRequest r = ParseRequest(line + "\r\n\r\n");
  EXPECT_EQ(r.status, ParseStatus::kComplete) << r.error.reason;
}

TEST(RequestLimitsTest, RequestLineOverLimitIs414) {
  ParsedRequest r = ParseRequest(RequestLine(16385) + "\r\n\r\n");
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error.status, 414);
}

TEST(RequestLimitsTest, HeaderLineAtLimit) {
  ParsedRequest r = ParseRequest(RequestWithHeaderLine(16384));
  ASSERT_EQ(r.status, ParseStatus::kComplete) << r.error.reason;
  EXPECT_EQ(r.head->headers[0].value.size(), 16384u - 7u);
}

TEST(RequestLimitsTest, HeaderLineOverLimitIs400) {
  ParsedRequest r = ParseRequest(RequestWithHeaderLine(16385));
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error.status, 400);
}

TEST(RequestLimitsTest, AllHeadersAtLimit) {
  ParsedRequest r = ParseRequest("GET / HTTP/1.1\r\n" + HeaderBlock(65536) + "\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete) << r.error.reason;
  EXPECT_EQ(r.head->header_count, 5u);
}

TEST(RequestLimitsTest, AllHeadersOverLimitIs400) {
  ParsedRequest r = ParseRequest("GET / HTTP/1.1\r\n" + HeaderBlock(65537) + "\r\n");
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error.status, 400);
}

TEST(RequestLimitsTest, LargestHeadParses) {
  std::string msg = RequestLine(16384) + "\r\n" + HeaderBlock(65536) + "\r\n";
  EXPECT_EQ(msg.size(), kMaxRequestHead);
  ParsedRequest r = ParseRequest(msg);
  EXPECT_EQ(r.status, ParseStatus::kComplete) << r.error.reason;
}

TEST(RequestLimitsTest, HeaderCount) {
  std::string base = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 256; ++i) base += "H" + std::to_string(i) + ": v\r\n";
  ParsedRequest ok = ParseRequest(base + "\r\n");
  ASSERT_EQ(ok.status, ParseStatus::kComplete);
  EXPECT_EQ(ok.head->header_count, 256u);
  EXPECT_EQ(ok.head->headers[255].name, "H255");

  ParsedRequest over = ParseRequest(base + "H256: v\r\n\r\n");
  EXPECT_EQ(over.status, ParseStatus::kError);
  EXPECT_EQ(over.error.status, 400);
}

TEST(CheckPartialRequestHeadTest, SmallPartialHeadIsFine) {
  ParseError e;
  EXPECT_TRUE(CheckPartialRequestHead("", &e));
  EXPECT_TRUE(CheckPartialRequestHead("GET / HT", &e));
  EXPECT_TRUE(CheckPartialRequestHead("GET / HTTP/1.1\r\nHost: a\r\n", &e));
}

TEST(CheckPartialRequestHeadTest, UnterminatedRequestLine) {
  ParseError e;
  EXPECT_TRUE(CheckPartialRequestHead(std::string(16384, 'a'), &e));
  EXPECT_FALSE(CheckPartialRequestHead(std::string(16385, 'a'), &e));
  EXPECT_EQ(e.status, 414);
}

TEST(CheckPartialRequestHeadTest, TerminatedRequestLineOverLimitIs414) {
  ParseError e;
  EXPECT_FALSE(CheckPartialRequestHead(RequestLine(16385) + "\r\nHost: a\r\n", &e));
  EXPECT_EQ(e.status, 414);
}

// A request line of exactly 16384 bytes is accepted by ParseRequestHead, so it must not be
// refused while the rest of the head is still arriving (its CR is not part of the line).
TEST(CheckPartialRequestHeadTest, RequestLineAtLimitWithCrIsNotRejectedEarly) {
  std::string line = RequestLine(16384);
  ParseError e;
  EXPECT_TRUE(CheckPartialRequestHead(line + "\r", &e)) << e.status << " " << e.reason;
  EXPECT_TRUE(CheckPartialRequestHead(line + "\r\n", &e)) << e.status << " " << e.reason;
  EXPECT_TRUE(CheckPartialRequestHead(line + "\r\nHost: a\r\n", &e)) << e.status << " " << e.reason;
}

TEST(CheckPartialRequestHeadTest, UnterminatedHeaderLine) {
  std::string start = "GET / HTTP/1.1\r\nHost: a\r\n";
  ParseError e;
  // 16384 bytes of content plus the CR that may precede the LF still pending.
  EXPECT_TRUE(CheckPartialRequestHead(start + std::string(16384, 'h') + "\r", &e));
  EXPECT_FALSE(CheckPartialRequestHead(start + std::string(16386, 'h'), &e));
  EXPECT_EQ(e.status, 400);
  EXPECT_TRUE(e.too_large);
}

TEST(CheckPartialRequestHeadTest, HeadersTooLarge) {
  std::string line = "GET / HTTP/1.1\n";
  ParseError e;
  // 65536 bytes of header lines plus up to two bytes of a terminator still being completed.
  std::string block = HeaderBlock(65536);
  EXPECT_TRUE(CheckPartialRequestHead(line + block + "\r", &e));
  EXPECT_FALSE(CheckPartialRequestHead(line + block + "X: ", &e));
  EXPECT_EQ(e.status, 400);
  EXPECT_TRUE(e.too_large);
}

// Every prefix of the largest acceptable head passes the partial check.
TEST(CheckPartialRequestHeadTest, PrefixesOfAcceptedHeadPass) {
  std::string msg = RequestLine(16384) + "\r\n" + HeaderBlock(65536) + "\r\n";
  ASSERT_EQ(ParseRequest(msg).status, ParseStatus::kComplete);
  std::vector<size_t> cuts;
  for (size_t i = 0; i < msg.size(); i += 997) cuts.push_back(i);
  for (size_t i = 0; i < msg.size(); ++i) {
    if (msg[i] == '\n') {
      for (size_t d = 0; d < 4; ++d) {
        if (i + d >= 2) cuts.push_back(i + d - 2);
      }
    }
  }
  for (size_t cut : cuts) {
    if (cut >= msg.size()) continue;
    std::string_view prefix(msg.data(), cut);
    size_t scan = 0;
    if (FindHeadEnd(prefix, &scan) != 0) continue;
    ParseError e;
    EXPECT_TRUE(CheckPartialRequestHead(prefix, &e))
        << "prefix of " << cut << " bytes: " << e.status << " " << e.reason;
  }
}

// ---------------------------------------------------------------------------------------------
// Responses.

TEST(ParseResponseTest, StatusLineAndHeaders) {
  std::string msg = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhello";
  ParsedResponse r = ParseResponse(msg);
  ASSERT_EQ(r.status, ParseStatus::kComplete) << r.error.reason;
  EXPECT_EQ(r.head->status, 200);
  EXPECT_EQ(r.head->reason, "OK");
  EXPECT_EQ(r.head->version_minor, 1);
  EXPECT_EQ(r.head->head_length, msg.size() - 5);
  ASSERT_EQ(r.head->header_count, 2u);
  EXPECT_EQ(r.head->headers[0].name, "Content-Length");
  EXPECT_EQ(r.head->headers[0].value, "5");
  EXPECT_EQ(r.head->headers[1].value, "b");
}

TEST(ParseResponseTest, StatusLineVariants) {
  struct Case {
    const char* line;
    int status;
    const char* reason;
    int minor;
  } cases[] = {
      {"HTTP/1.0 404 Not Found", 404, "Not Found", 0},
      {"HTTP/1.1 204", 204, "", 1},
      {"HTTP/1.1 204 ", 204, "", 1},
      {"HTTP/1.1 100 Continue", 100, "Continue", 1},
      {"HTTP/1.1 599 Some  custom reason", 599, "Some  custom reason", 1},
      {"HTTP/1.1 999 X", 999, "X", 1},
      {"HTTP/1.5 200 OK", 200, "OK", 1},
  };
  for (const Case& c : cases) {
    ParsedResponse r = ParseResponse(std::string(c.line) + "\r\n\r\n");
    ASSERT_EQ(r.status, ParseStatus::kComplete) << c.line << ": " << r.error.reason;
    EXPECT_EQ(r.head->status, c.status) << c.line;
    EXPECT_EQ(r.head->reason, c.reason) << c.line;
    EXPECT_EQ(r.head->version_minor, c.minor) << c.line;
  }
}

TEST(ParseResponseTest, BadStatusLinesAre502) {
  for (const char* line :
       {"HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTP/1.1 099 Low", "HTTP/1.1 000 Zero",
        "HTTP/1.1 abc Bad", "HTTP/1.1 20x OK", "HTTP/1.1  200 OK", "HTTP/1.1", "HTTP/1.1 20",
        "HTTP/2.0 200 OK", "HTTP/2 200 OK", "http/1.1 200 OK", "ICY 200 OK", "HTTP/1.1\t200 OK",
        "HTTP/1.1 200\tOK", ""}) {
    ParsedResponse r = ParseResponse(std::string(line) + "\r\n\r\n");
    EXPECT_EQ(r.status, ParseStatus::kError) << line;
    EXPECT_EQ(r.error.status, 502) << line;
    EXPECT_FALSE(r.error.too_large) << line;
  }
}

TEST(ParseResponseTest, BareLfIsTolerated) {
  ParsedResponse r = ParseResponse("HTTP/1.1 200 OK\nContent-Length: 0\n\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.head->headers[0].value, "0");
}

TEST(ParseResponseTest, StrictHeaders) {
  for (const char* headers : {
           "X-A: a\r\n folded\r\n",  // obs-fold
           "NoColon\r\n",            // missing colon
           ": empty name\r\n",       // empty name
           "X-A : v\r\n",            // space before the colon
           "X A: v\r\n",             // space inside the name
           "X(A): v\r\n",            // separator in the name
           "X-\x01: v\r\n",          // control byte in the name
           " X-A: v\r\n",            // leading whitespace
       }) {
    ParsedResponse r = ParseResponse(std::string("HTTP/1.1 200 OK\r\n") + headers + "\r\n");
    EXPECT_EQ(r.status, ParseStatus::kError) << testing::PrintToString(headers);
    EXPECT_EQ(r.error.status, 502) << testing::PrintToString(headers);
  }
  std::string nul_value = std::string("HTTP/1.1 200 OK\r\nX-A: a") + '\0' + "b\r\n\r\n";
  EXPECT_EQ(ParseResponse(nul_value).error.status, 502);
  EXPECT_EQ(ParseResponse(nul_value).status, ParseStatus::kError);
  ParsedResponse cr = ParseResponse("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n");
  EXPECT_EQ(cr.status, ParseStatus::kError);
  EXPECT_EQ(cr.error.status, 502);
}

TEST(ParseResponseTest, TokenCharactersInNamesAreAccepted) {
  ParsedResponse r = ParseResponse("HTTP/1.1 200 OK\r\nX!#$%&'*+-.^_`|~09az: v\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.head->headers[0].name, "X!#$%&'*+-.^_`|~09az");
}

TEST(ParseResponseTest, HeaderCount) {
  std::string base = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 256; ++i) base += "H" + std::to_string(i) + ": v\r\n";
  ParsedResponse ok = ParseResponse(base + "\r\n");
  ASSERT_EQ(ok.status, ParseStatus::kComplete);
  EXPECT_EQ(ok.head->header_count, 256u);
  ParsedResponse over = ParseResponse(base + "H256: v\r\n\r\n");
  EXPECT_EQ(over.status, ParseStatus::kError);
  EXPECT_EQ(over.error.status, 502);
}

TEST(ParseResponseTest, HeadSizeLimit) {
  std::string start = "HTTP/1.1 200 OK\r\nX-Big: ";
  size_t fill = 32768 - start.size() - 4;
  std::string at = start + std::string(fill, 'b') + "\r\n\r\n";
  ASSERT_EQ(at.size(), 32768u);
  ParsedResponse ok = ParseResponse(at);
  EXPECT_EQ(ok.status, ParseStatus::kComplete) << ok.error.reason;

  std::string over = start + std::string(fill + 1, 'b') + "\r\n\r\n";
  ParsedResponse r = ParseResponse(over);
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error.status, 502);
}

// ---------------------------------------------------------------------------------------------
// Issue 9: whitespace before a colon, a second version inside the request target.

TEST(RequestParserTest, WhitespaceBeforeColonIsRecorded) {
  for (const char* field : {"Transfer-Encoding : chunked", "Content-Length\t: 4", "Foo : bar"}) {
    ParsedRequest r =
        ParseRequest(std::string("POST / HTTP/1.1\r\nHost: a\r\n") + field + "\r\n\r\n");
    ASSERT_EQ(r.status, ParseStatus::kComplete) << field;
    EXPECT_TRUE(r.head->whitespace_before_colon) << field;
  }
  ParsedRequest clean = ParseRequest("POST / HTTP/1.1\r\nHost: a\r\nFoo:  bar \r\n\r\n");
  ASSERT_EQ(clean.status, ParseStatus::kComplete);
  EXPECT_FALSE(clean.head->whitespace_before_colon);
}

TEST(RequestParserTest, SecondVersionInTargetIsSevereBadVersion) {
  ParsedRequest r = ParseRequest("GET /a HTTP/1.1 HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.head->target, "/a HTTP/1.1");
  EXPECT_EQ(r.head->wire_verdict.tier, DesyncTier::kSevere);
  EXPECT_EQ(r.head->wire_verdict.reason, DesyncReason::kBadVersion);
  ParsedRequest r2 = ParseRequest("GET /a x HTTP/1.0 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r2.head->wire_verdict.tier, DesyncTier::kSevere);
  // A plain space in the target stays what the classifier makes of it (SpaceInUri).
  ParsedRequest plain = ParseRequest("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(plain.status, ParseStatus::kComplete);
  EXPECT_EQ(plain.head->wire_verdict.tier, DesyncTier::kCompliant);
  ParsedRequest word = ParseRequest("GET /a HTTP/x HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(word.head->wire_verdict.tier, DesyncTier::kCompliant);
}

}  // namespace
}  // namespace sluice::http
