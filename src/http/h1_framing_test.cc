// Tests for HTTP/1 body framing: the request and response framing tables, and the streaming
// chunked decoder (every split point, extensions, trailers, limits, strict line ends).
#include "http/h1_framing.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

namespace sluice::http {
namespace {

// ---------------------------------------------------------------------------------------------
// Framing tables.

struct RequestFramingResult {
  bool ok = false;
  Framing framing;
  ParseError error;
};

RequestFramingResult RequestFraming(const std::vector<std::string>& header_lines) {
  std::string msg = "POST /upload HTTP/1.1\r\nHost: a\r\n";
  for (const std::string& line : header_lines) msg += line + "\r\n";
  msg += "\r\n";
  auto head = std::make_unique<RequestHead>();
  ParseError error;
  size_t scan = 0;
  size_t len = FindHeadEnd(msg, &scan);
  EXPECT_EQ(ParseRequestHead(msg, len, head.get(), &error), ParseStatus::kComplete);
  RequestFramingResult r;
  r.ok = DetermineRequestFraming(*head, &r.framing, &r.error);
  return r;
}

struct ResponseFramingResult {
  bool ok = false;
  Framing framing;
  ParseError error;
};

ResponseFramingResult ResponseFraming(const std::string& status_line,
                                      const std::vector<std::string>& header_lines,
                                      std::string_view method = "GET") {
  std::string msg = status_line + "\r\n";
  for (const std::string& line : header_lines) msg += line + "\r\n";
  msg += "\r\n";
  auto head = std::make_unique<ResponseHead>();
  ParseError error;
  size_t scan = 0;
  size_t len = FindHeadEnd(msg, &scan);
  EXPECT_EQ(ParseResponseHead(msg, len, head.get(), &error), ParseStatus::kComplete);
  ResponseFramingResult r;
  r.ok = DetermineResponseFraming(*head, method, &r.framing, &r.error);
  return r;
}

void ExpectRequestFraming(const std::vector<std::string>& lines, BodyKind kind,
                          uint64_t length = 0) {
  RequestFramingResult r = RequestFraming(lines);
  ASSERT_TRUE(r.ok) << testing::PrintToString(lines) << ": " << r.error.reason;
  EXPECT_EQ(r.framing.kind, kind) << testing::PrintToString(lines);
  EXPECT_EQ(r.framing.length, length) << testing::PrintToString(lines);
}

void ExpectRequestError(const std::vector<std::string>& lines, int status) {
  RequestFramingResult r = RequestFraming(lines);
  EXPECT_FALSE(r.ok) << testing::PrintToString(lines);
  EXPECT_EQ(r.error.status, status) << testing::PrintToString(lines);
}

TEST(RequestFramingTest, NoBody) {
  ExpectRequestFraming({}, BodyKind::kNone);
  ExpectRequestFraming({"Content-Length: 0"}, BodyKind::kNone);
  ExpectRequestFraming({"Transfer-Encoding: identity"}, BodyKind::kNone);
}

TEST(RequestFramingTest, ContentLength) {
  ExpectRequestFraming({"Content-Length: 5"}, BodyKind::kContentLength, 5);
  ExpectRequestFraming({"content-LENGTH: 12"}, BodyKind::kContentLength, 12);
  ExpectRequestFraming({"Content-Length:   7  "}, BodyKind::kContentLength, 7);
  ExpectRequestFraming({"Content-Length: 007"}, BodyKind::kContentLength, 7);
  ExpectRequestFraming({"Content-Length: 5", "Content-Length: 5"}, BodyKind::kContentLength, 5);
  ExpectRequestFraming({"Content-Length: 999999999999999999"}, BodyKind::kContentLength,
                       999999999999999999ULL);
}

TEST(RequestFramingTest, BadContentLengthIs400) {
  ExpectRequestError({"Content-Length: 5", "Content-Length: 6"}, 400);
  ExpectRequestError({"Content-Length: 5, 5"}, 400);
  ExpectRequestError({"Content-Length: -1"}, 400);
  ExpectRequestError({"Content-Length: +5"}, 400);
  ExpectRequestError({"Content-Length: 0x10"}, 400);
  ExpectRequestError({"Content-Length: abc"}, 400);
  ExpectRequestError({"Content-Length: 1 2"}, 400);
  ExpectRequestError({"Content-Length:"}, 400);
  ExpectRequestError({"Content-Length: 1000000000000000000"}, 400);  // 19 digits
}

TEST(RequestFramingTest, Chunked) {
  ExpectRequestFraming({"Transfer-Encoding: chunked"}, BodyKind::kChunked);
  ExpectRequestFraming({"transfer-encoding: CHUNKED"}, BodyKind::kChunked);
  ExpectRequestFraming({"Transfer-Encoding: identity, chunked"}, BodyKind::kChunked);
  ExpectRequestFraming({"Transfer-Encoding: identity", "Transfer-Encoding: chunked"},
                       BodyKind::kChunked);
  ExpectRequestFraming({"Transfer-Encoding: , chunked ,"}, BodyKind::kChunked);
  ExpectRequestFraming({"Transfer-Encoding: \tchunked"}, BodyKind::kChunked);
}

TEST(RequestFramingTest, TransferEncodingWinsOverContentLength) {
  ExpectRequestFraming({"Content-Length: 10", "Transfer-Encoding: chunked"}, BodyKind::kChunked);
  ExpectRequestFraming({"Transfer-Encoding: chunked", "Content-Length: 10"}, BodyKind::kChunked);
}

TEST(RequestFramingTest, ChunkedNotLastOrTwiceIs400) {
  ExpectRequestError({"Transfer-Encoding: chunked, chunked"}, 400);
  ExpectRequestError({"Transfer-Encoding: chunked, identity"}, 400);
  ExpectRequestError({"Transfer-Encoding: chunked", "Transfer-Encoding: chunked"}, 400);
  ExpectRequestError({"Transfer-Encoding: chunked", "Transfer-Encoding: identity"}, 400);
}

TEST(RequestFramingTest, UnsupportedCodingIs501) {
  for (const char* te :
       {"gzip", "gzip, chunked", "deflate", "compress", "x-custom", "chunked;q=1", "chunkedx"}) {
    RequestFramingResult r = RequestFraming({std::string("Transfer-Encoding: ") + te});
    EXPECT_FALSE(r.ok) << te;
    EXPECT_EQ(r.error.status, 501) << te;
    EXPECT_STREQ(r.error.reason, "unsupported transfer coding") << te;
  }
}

void ExpectResponseFraming(const std::string& status_line, const std::vector<std::string>& lines,
                           std::string_view method, BodyKind kind, uint64_t length = 0) {
  ResponseFramingResult r = ResponseFraming(status_line, lines, method);
  ASSERT_TRUE(r.ok) << status_line << " " << testing::PrintToString(lines);
  EXPECT_EQ(r.framing.kind, kind) << status_line << " " << testing::PrintToString(lines);
  EXPECT_EQ(r.framing.length, length) << status_line << " " << testing::PrintToString(lines);
}

TEST(ResponseFramingTest, StatusesWithoutBody) {
  for (const char* line :
       {"HTTP/1.1 100 Continue", "HTTP/1.1 101 Switching Protocols", "HTTP/1.1 103 Early Hints",
        "HTTP/1.1 199 X", "HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified"}) {
    ExpectResponseFraming(line, {"Content-Length: 10"}, "GET", BodyKind::kNone);
    ExpectResponseFraming(line, {"Transfer-Encoding: chunked"}, "GET", BodyKind::kNone);
  }
}

TEST(ResponseFramingTest, HeadRequestHasNoBody) {
  ExpectResponseFraming("HTTP/1.1 200 OK", {"Content-Length: 10"}, "HEAD", BodyKind::kNone);
  ExpectResponseFraming("HTTP/1.1 200 OK", {"Transfer-Encoding: chunked"}, "HEAD", BodyKind::kNone);
  ExpectResponseFraming("HTTP/1.1 200 OK", {}, "HEAD", BodyKind::kNone);
  // Even bad framing is irrelevant without a body.
  ExpectResponseFraming("HTTP/1.1 200 OK", {"Content-Length: x"}, "HEAD", BodyKind::kNone);
}

TEST(ResponseFramingTest, BodyKinds) {
  ExpectResponseFraming("HTTP/1.1 200 OK", {}, "GET", BodyKind::kUntilClose);
  ExpectResponseFraming("HTTP/1.0 200 OK", {}, "POST", BodyKind::kUntilClose);
  ExpectResponseFraming("HTTP/1.1 200 OK", {"Content-Length: 0"}, "GET", BodyKind::kNone);
  ExpectResponseFraming("HTTP/1.1 404 Not Found", {"Content-Length: 10"}, "GET",
                        BodyKind::kContentLength, 10);
  ExpectResponseFraming("HTTP/1.1 200 OK", {"Transfer-Encoding: chunked"}, "GET",
                        BodyKind::kChunked);
  ExpectResponseFraming("HTTP/1.1 200 OK", {"Content-Length: 10", "Transfer-Encoding: chunked"},
                        "GET", BodyKind::kChunked);
  ExpectResponseFraming("HTTP/1.1 200 OK", {"Content-Length: 3", "Content-Length: 3"}, "GET",
                        BodyKind::kContentLength, 3);
}

TEST(ResponseFramingTest, BadFramingIs502) {
  for (const std::vector<std::string>& lines : std::vector<std::vector<std::string>>{
           {"Content-Length: x"},
           {"Content-Length: 3", "Content-Length: 4"},
           {"Content-Length: 3, 3"},
           {"Transfer-Encoding: gzip"},
           {"Transfer-Encoding: chunked, chunked"},
           {"Transfer-Encoding: chunked, gzip"},
       }) {
    ResponseFramingResult r = ResponseFraming("HTTP/1.1 200 OK", lines);
    EXPECT_FALSE(r.ok) << testing::PrintToString(lines);
    EXPECT_EQ(r.error.status, 502) << testing::PrintToString(lines);
  }
}

// ---------------------------------------------------------------------------------------------
// ChunkedDecoder.

struct Decoded {
  std::string data;
  bool done = false;
  bool failed = false;
  size_t consumed = 0;  // bytes of input consumed in total
  int data_segments = 0;
};

// Decodes `in` as a connection would: the available bytes grow by the given piece sizes
// (cycled; 0 = everything), and Feed is called on the unconsumed available bytes until it
// makes no progress.
Decoded Decode(std::string_view in, const std::vector<size_t>& pieces = {0}) {
  ChunkedDecoder dec;
  Decoded out;
  size_t avail = 0;
  size_t piece = 0;
  while (avail < in.size() && !dec.done() && !dec.failed()) {
    size_t step = pieces[piece++ % pieces.size()];
    avail = step == 0 ? in.size() : std::min(in.size(), avail + step);
    while (out.consumed < avail && !dec.done() && !dec.failed()) {
      std::string_view window = in.substr(out.consumed, avail - out.consumed);
      std::string_view data;
      size_t used = dec.Feed(window, &data);
      EXPECT_LE(used, window.size());
      if (!data.empty()) {
        EXPECT_GE(data.data(), window.data());
        EXPECT_LE(data.data() + data.size(), window.data() + used);
        out.data.append(data);
        ++out.data_segments;
      }
      out.consumed += used;
      if (used == 0) break;
    }
  }
  out.done = dec.done();
  out.failed = dec.failed();
  return out;
}

const char kTwoChunks[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";

TEST(ChunkedDecoderTest, DecodesWholeMessage) {
  Decoded d = Decode(kTwoChunks);
  EXPECT_TRUE(d.done);
  EXPECT_FALSE(d.failed);
  EXPECT_EQ(d.data, "hello world");
  EXPECT_EQ(d.consumed, sizeof(kTwoChunks) - 1);
  EXPECT_EQ(d.data_segments, 2);
}

TEST(ChunkedDecoderTest, StopsAtEndOfMessage) {
  std::string in = std::string(kTwoChunks) + "GET / HTTP/1.1\r\n\r\n";
  Decoded d = Decode(in);
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.consumed, sizeof(kTwoChunks) - 1);
  EXPECT_EQ(d.data, "hello world");
}

const std::vector<std::string>& ValidMessages() {
  static const std::vector<std::string> kMessages = {
      kTwoChunks,
      "0\r\n\r\n",
      "a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n",
      "1F\r\n" + std::string(31, 'x') + "\r\n0\r\n\r\n",
      "5;name=value;flag\r\nhello\r\n0;last=\"q\"\r\n\r\n",
      "5 ;x\r\nhello\r\n0\t ;y\r\n\r\n",
      "3\r\nabc\r\n0\r\nX-Trailer: one\r\nY: two\r\n\r\n",
      "000000000000003\r\nabc\r\n0\r\n\r\n",
      "2\r\n\r\n\r\n0\r\n\r\n",  // data that looks like framing
  };
  return kMessages;
}

TEST(ChunkedDecoderTest, EverySplitPointGivesSameResult) {
  for (const std::string& msg : ValidMessages()) {
    Decoded whole = Decode(msg);
    ASSERT_TRUE(whole.done) << testing::PrintToString(msg);
    ASSERT_EQ(whole.consumed, msg.size()) << testing::PrintToString(msg);
    for (size_t split = 1; split < msg.size(); ++split) {
      Decoded d = Decode(msg, {split, 0});
      EXPECT_TRUE(d.done) << "split " << split << " " << testing::PrintToString(msg);
      EXPECT_EQ(d.data, whole.data) << "split " << split;
      EXPECT_EQ(d.consumed, whole.consumed) << "split " << split;
    }
    Decoded bytewise = Decode(msg, {1});
    EXPECT_TRUE(bytewise.done);
    EXPECT_EQ(bytewise.data, whole.data);
    EXPECT_EQ(bytewise.consumed, msg.size());
  }
}

TEST(ChunkedDecoderTest, RandomPiecesGiveSameResult) {
  std::mt19937 gen(4242);
  for (const std::string& msg : ValidMessages()) {
    Decoded whole = Decode(msg);
    for (int iter = 0; iter < 100; ++iter) {
      std::vector<size_t> pieces;
      for (int i = 0; i < 8; ++i) pieces.push_back(1 + gen() % 7);
      Decoded d = Decode(msg, pieces);
      EXPECT_TRUE(d.done);
      EXPECT_EQ(d.data, whole.data);
      EXPECT_EQ(d.consumed, whole.consumed);
    }
  }
}

TEST(ChunkedDecoderTest, FeedStopsAtDataBoundaries) {
  ChunkedDecoder dec;
  std::string_view in = kTwoChunks;
  std::string_view data;
  EXPECT_EQ(dec.Feed(in, &data), 8u);  // "5\r\n" + "hello"
  EXPECT_EQ(data, "hello");
  EXPECT_EQ(data.data(), in.data() + 3);
  in.remove_prefix(8);
  EXPECT_EQ(dec.Feed(in, &data), 11u);  // "\r\n6\r\n" + " world"
  EXPECT_EQ(data, " world");
  in.remove_prefix(11);
  EXPECT_EQ(dec.Feed(in, &data), 7u);  // "\r\n0\r\n\r\n"
  EXPECT_EQ(data, "");
  EXPECT_TRUE(dec.done());
  // Once done, nothing more is consumed.
  EXPECT_EQ(dec.Feed("5\r\nhello", &data), 0u);
  EXPECT_EQ(data, "");
  EXPECT_TRUE(dec.done());
}

TEST(ChunkedDecoderTest, PartialDataSegments) {
  ChunkedDecoder dec;
  std::string_view data;
  EXPECT_EQ(dec.Feed("5\r\nhel", &data), 6u);
  EXPECT_EQ(data, "hel");
  EXPECT_EQ(dec.Feed("lo\r\n0\r\n\r\n", &data), 2u);
  EXPECT_EQ(data, "lo");
  EXPECT_EQ(dec.Feed("\r\n0\r\n\r\n", &data), 7u);
  EXPECT_TRUE(dec.done());
}

TEST(ChunkedDecoderTest, SizeLineAloneConsumesAndWaits) {
  ChunkedDecoder dec;
  std::string_view data;
  EXPECT_EQ(dec.Feed("10\r\n", &data), 4u);
  EXPECT_EQ(data, "");
  EXPECT_FALSE(dec.done());
  EXPECT_FALSE(dec.failed());
  EXPECT_EQ(dec.Feed("", &data), 0u);
  EXPECT_FALSE(dec.failed());
}

TEST(ChunkedDecoderTest, LargeChunkInOneBytePieces) {
  std::string msg = "100\r\n" + std::string(256, 'z') + "\r\n0\r\n\r\n";
  Decoded d = Decode(msg, {1});
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.data, std::string(256, 'z'));
  EXPECT_EQ(d.data_segments, 256);
}

TEST(ChunkedDecoderTest, ResetStartsOver) {
  ChunkedDecoder dec;
  std::string_view data;
  dec.Feed("zz", &data);
  ASSERT_TRUE(dec.failed());
  dec.Reset();
  EXPECT_FALSE(dec.failed());
  EXPECT_EQ(dec.Feed("0\r\n\r\n", &data), 5u);
  EXPECT_TRUE(dec.done());
}

// Fails at `pos` (the offending byte) whether fed whole or byte by byte.
void ExpectFailsAt(const std::string& msg, size_t pos) {
  Decoded whole = Decode(msg);
  EXPECT_TRUE(whole.failed) << testing::PrintToString(msg);
  EXPECT_FALSE(whole.done) << testing::PrintToString(msg);
  EXPECT_EQ(whole.consumed, pos) << testing::PrintToString(msg);
  Decoded bytewise = Decode(msg, {1});
  EXPECT_TRUE(bytewise.failed) << testing::PrintToString(msg);
  EXPECT_EQ(bytewise.consumed, pos) << testing::PrintToString(msg);
}

TEST(ChunkedDecoderTest, BadHex) {
  ExpectFailsAt("g\r\nabc\r\n", 0);
  ExpectFailsAt("\r\n", 0);      // no size digits
  ExpectFailsAt(";ext\r\n", 0);  // extension without a size
  ExpectFailsAt("-1\r\n", 0);
  ExpectFailsAt(" 5\r\n", 0);  // leading whitespace
  ExpectFailsAt("0x5\r\n", 1);
  ExpectFailsAt("5g\r\nhello", 1);
}

TEST(ChunkedDecoderTest, SizeValueLimit) {
  // Sizes below 2^60 are accepted; leading zeros are allowed (RFC 9112: 1*HEXDIG) and do not
  // count towards the value.
  Decoded ok = Decode(std::string(40, '0') + "5\r\nhello\r\n0\r\n\r\n");
  EXPECT_TRUE(ok.done);
  EXPECT_EQ(ok.data, "hello");
  ExpectFailsAt("10000000000000000\r\n", 15);
  ExpectFailsAt("0010000000000000000\r\n", 17);
  // The digits of one size line are bounded even when they are all zeros.
  ExpectFailsAt(std::string(5000, '0') + "5\r\n", 4096);

  ChunkedDecoder dec;
  std::string_view data;
  EXPECT_EQ(dec.Feed("fffffffffffffff\r\nabc", &data), 20u);
  EXPECT_EQ(data, "abc");
  EXPECT_FALSE(dec.failed());
  EXPECT_FALSE(dec.done());
}

TEST(ChunkedDecoderTest, WhitespaceAfterSizeOnlyBeforeExtension) {
  // RFC 9112 §7.1.1: BWS may precede ';'. Whitespace that ends the line is an error (a
  // target that reads "5 " differently must never see it).
  ExpectFailsAt("5 \r\nhello\r\n0\r\n\r\n", 2);
  ExpectFailsAt("5\t\r\nhello\r\n0\r\n\r\n", 2);
  ExpectFailsAt("5 6\r\nhello\r\n0\r\n\r\n", 2);
  ExpectFailsAt("3\r\nabc\r\n0 \r\n\r\n", 10);
  Decoded ok = Decode("5 \t ;e=1\r\nhello\r\n0\r\n\r\n");
  EXPECT_TRUE(ok.done);
  EXPECT_EQ(ok.data, "hello");
}

// Feeds `msg` (whole) and returns what a forwarding proxy keeps: every consumed byte except
// those reported as trailer field bytes.
std::string ForwardedBytes(std::string_view msg) {
  ChunkedDecoder dec;
  std::string kept;
  size_t pos = 0;
  while (!dec.done() && !dec.failed() && pos < msg.size()) {
    std::string_view data;
    size_t used = dec.Feed(msg.substr(pos), &data);
    if (!dec.fed_trailer()) kept.append(msg.substr(pos, used));
    pos += used;
    if (used == 0) break;
  }
  EXPECT_TRUE(dec.done());
  return kept;
}

TEST(ChunkedDecoderTest, TrailerFieldsAreReportedApart) {
  EXPECT_EQ(ForwardedBytes("3\r\nabc\r\n0\r\n\r\n"), "3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(ForwardedBytes("3\r\nabc\r\n0\r\nContent-Length: 40\r\nHost: evil\r\n\r\n"),
            "3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(ForwardedBytes("0;x\r\nTransfer-Encoding: chunked\r\n\r\n"), "0;x\r\n\r\n");
  // Byte by byte, the trailer bytes are still reported apart from the framing around them.
  std::string msg = "1\r\nz\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n";
  ChunkedDecoder dec;
  std::string kept;
  for (char c : msg) {
    std::string_view data;
    size_t used = dec.Feed(std::string_view(&c, 1), &data);
    ASSERT_EQ(used, 1u);
    if (!dec.fed_trailer()) kept.push_back(c);
  }
  EXPECT_TRUE(dec.done());
  EXPECT_EQ(kept, "1\r\nz\r\n0\r\n\r\n");
}

TEST(ChunkedDecoderTest, MissingCrLf) {
  ExpectFailsAt("5\nhello\r\n0\r\n\r\n", 1);     // bare LF after size
  ExpectFailsAt("5\rhello\r\n0\r\n\r\n", 2);     // CR not followed by LF
  ExpectFailsAt("5\r\nhelloX\r\n0\r\n\r\n", 8);  // data longer than announced
  ExpectFailsAt("5\r\nhello\n0\r\n\r\n", 8);     // bare LF after data
  ExpectFailsAt("5\r\nhello\rX0\r\n\r\n", 9);    // CR without LF after data
  ExpectFailsAt("0\r\n\n", 3);                   // bare LF as the final line
  ExpectFailsAt("0\r\n\rX", 4);                  // CR without LF at the end
  ExpectFailsAt("0\r\nX-T: v\n\r\n", 9);         // bare LF after a trailer
  ExpectFailsAt("0\r\nX-T: v\rX\r\n", 10);       // CR without LF after a trailer
  ExpectFailsAt("5;ext\nhello", 5);              // bare LF after an extension
}

TEST(ChunkedDecoderTest, NulBytesInFramingFail) {
  ExpectFailsAt(std::string("5;a") + '\0' + "b\r\nhello", 3);
  ExpectFailsAt(std::string("0\r\nX: a") + '\0' + "\r\n\r\n", 7);
  // In data a NUL is just data.
  Decoded d = Decode(std::string("3\r\na") + '\0' + "b\r\n0\r\n\r\n");
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.data, std::string("a") + '\0' + "b");
}

TEST(ChunkedDecoderTest, ExtensionLimit) {
  // Up to 4096 bytes after the character that starts the extension.
  std::string at = "5;" + std::string(4096, 'e') + "\r\nhello\r\n0\r\n\r\n";
  Decoded ok = Decode(at);
  EXPECT_TRUE(ok.done);
  EXPECT_EQ(ok.data, "hello");
  std::string over = "5;" + std::string(4097, 'e') + "\r\nhello\r\n0\r\n\r\n";
  ExpectFailsAt(over, 1 + 4097);
}

TEST(ChunkedDecoderTest, ExtensionLimitIsPerLine) {
  std::string ext = ";" + std::string(4000, 'e');
  std::string msg;
  for (int i = 0; i < 4; ++i) msg += "1" + ext + "\r\nx\r\n";
  msg += "0" + ext + "\r\n\r\n";
  Decoded d = Decode(msg);
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.data, "xxxx");
}

TEST(ChunkedDecoderTest, TrailerLimit) {
  // 16 KiB of trailer field bytes (line ends not counted) are accepted; one more is not.
  std::string line = "X-T: " + std::string(8192 - 5, 't');
  std::string at = "0\r\n" + line + "\r\n" + line + "\r\n\r\n";
  Decoded ok = Decode(at);
  EXPECT_TRUE(ok.done);
  EXPECT_EQ(ok.consumed, at.size());
  std::string over = "0\r\n" + line + "\r\n" + line + "t\r\n\r\n";
  ExpectFailsAt(over, 3 + 8192 + 2 + 8192);
}

}  // namespace
}  // namespace sluice::http

namespace sluice::http {
namespace {

// The name summary the parser leaves (NameLengthBit per field) and the framing shortcut it
// allows: a head parsed without any 14- or 17-byte name has no body; a head built by hand
// (every bit set) is always scanned.
TEST(NameLengthSummaryTest, ParserSetsOneBitPerNameLength) {
  std::string msg =
      "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-A-Very-Long-Field-Name-Over-31-Bytes: "
      "1\r\n\r\n";
  auto head = std::make_unique<RequestHead>();
  ParseError error;
  size_t scan = 0;
  ASSERT_EQ(ParseRequestHead(msg, FindHeadEnd(msg, &scan), head.get(), &error),
            ParseStatus::kComplete);
  EXPECT_EQ(head->name_lengths, NameLengthBit(4) | NameLengthBit(6) | NameLengthBit(31));
  Framing framing;
  ASSERT_TRUE(DetermineRequestFraming(*head, &framing, &error));
  EXPECT_EQ(framing.kind, BodyKind::kNone);
}

TEST(NameLengthSummaryTest, HandBuiltHeadIsAlwaysScanned) {
  auto head = std::make_unique<RequestHead>();
  head->headers[0] = {"Content-Length", "5"};
  head->header_count = 1;
  Framing framing;
  ParseError error;
  ASSERT_TRUE(DetermineRequestFraming(*head, &framing, &error));
  EXPECT_EQ(framing.kind, BodyKind::kContentLength);
  EXPECT_EQ(framing.length, 5u);
}

}  // namespace
}  // namespace sluice::http
