// Tests for the HTTP/1.1 ↔ HTTP/2 translation on the target side (h2_upstream.h): the reader
// of the HTTP/1.1 request the request path writes for an HTTP/2 target (pseudo-header fields,
// dropped connection-specific fields, Content-Length and chunked bodies under body_room, every
// split of the bytes, errors, limits), and the writer of the target's HTTP/2 response as
// HTTP/1.1 bytes (framing choices, trailers, HEAD/204/304, interim heads, refused blocks), its
// output read back with the HTTP/1 response parser and chunked decoder.
#include "http/h2_upstream.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::http {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;
using State = H1RequestReader::State;

// ---------------------------------------------------------------------------------------------
// H1RequestReader.

struct ReadResult {
  State state = State::kHead;
  int heads = 0;
  Fields fields;
  std::string method;
  bool has_body = false;
  std::string body;
  size_t consumed = 0;
  std::string error;
};

// Feeds `in` the way the transport does: `piece` bytes offered at a time (from the first
// unconsumed byte), at most `room` body bytes per call. Checks the per-call contract.
ReadResult Read(H1RequestReader& r, std::string_view in, size_t piece = SIZE_MAX,
                size_t room = SIZE_MAX) {
  ReadResult got;
  for (int guard = 0; guard < 1000000; ++guard) {
    const State before = r.state();
    std::string_view offered = in.substr(got.consumed, std::min(piece, in.size() - got.consumed));
    std::string_view body = "not set";
    size_t n = r.Feed(offered, room, &body);
    EXPECT_LE(n, offered.size());
    EXPECT_LE(body.size(), room);
    EXPECT_LE(body.size(), n);
    if (!body.empty()) {
      EXPECT_GE(body.data(), offered.data());
      EXPECT_LE(body.data() + body.size(), offered.data() + n);
    }
    if (before == State::kHead) {
      EXPECT_TRUE(body.empty());
    }
    if (r.head_ready()) {
      ++got.heads;
      got.fields.assign(r.fields().begin(), r.fields().end());
      got.method = std::string(r.method());
      got.has_body = r.has_body();
      r.TakeHead();
      EXPECT_FALSE(r.head_ready());
    }
    got.body.append(body);
    got.consumed += n;
    if (r.state() == State::kDone || r.state() == State::kError) break;
    if (got.consumed == in.size()) break;
    if (n == 0) {
      // With bytes and room it progresses (a stall would hang the exchange).
      EXPECT_TRUE(before == State::kBody && room == 0)
          << "no progress with " << offered.size() << " bytes offered";
      break;
    }
  }
  got.state = r.state();
  if (r.error() != nullptr) got.error = r.error();
  return got;
}

ReadResult Read(std::string_view in, size_t piece = SIZE_MAX, size_t room = SIZE_MAX,
                std::string_view scheme = "https") {
  H1RequestReader r(scheme);
  return Read(r, in, piece, room);
}

TEST(H1RequestReaderTest, AGetHeadBecomesPseudoFieldsThenLowerCaseFields) {
  constexpr std::string_view in =
      "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Test/1\r\nAccept: */*\r\n"
      "X-Forwarded-For: 192.0.2.1\r\n\r\n";
  H1RequestReader r("https");
  std::string_view body = "not set";
  EXPECT_EQ(r.Feed(in, SIZE_MAX, &body), in.size());
  EXPECT_TRUE(body.empty());
  EXPECT_TRUE(r.head_ready());
  EXPECT_EQ(r.state(), State::kDone);
  EXPECT_FALSE(r.has_body());
  EXPECT_EQ(r.method(), "GET");
  EXPECT_EQ(r.error(), nullptr);
  EXPECT_EQ(Fields(r.fields().begin(), r.fields().end()), (Fields{{":method", "GET"},
                                                                  {":scheme", "https"},
                                                                  {":authority", "example.com"},
                                                                  {":path", "/a?b=1"},
                                                                  {"user-agent", "Test/1"},
                                                                  {"accept", "*/*"},
                                                                  {"x-forwarded-for", "192.0.2.1"},
                                                                  {"te", "trailers"}}));
  r.TakeHead();
  EXPECT_FALSE(r.head_ready());
  // Nothing more is taken.
  EXPECT_EQ(r.Feed("GET / HTTP/1.1\r\n\r\n", SIZE_MAX, &body), 0u);
  EXPECT_TRUE(body.empty());
  EXPECT_EQ(r.state(), State::kDone);
}

TEST(H1RequestReaderTest, ConnectionSpecificFieldsAndTheFieldsConnectionNamesAreDropped) {
  constexpr std::string_view in =
      "GET / HTTP/1.1\r\nHost: h.test\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\n"
      "Proxy-Connection: keep-alive\r\nUpgrade: websocket\r\nTE: gzip, trailers\r\nX-HOP: 1\r\n"
      "X-Kept: 2\r\nHost: second.test\r\n\r\n";
  ReadResult got = Read(in);
  EXPECT_EQ(got.state, State::kDone) << got.error;
  EXPECT_EQ(got.fields, (Fields{{":method", "GET"},
                                {":scheme", "https"},
                                {":authority", "h.test"},  // the first Host
                                {":path", "/"},
                                {"x-kept", "2"},
                                {"te", "trailers"}}));
}

TEST(H1RequestReaderTest, AbsoluteFormBecomesAnOriginFormPath) {
  for (auto [target, path] : {std::pair<std::string, std::string>{"http://a.test/x?q=1", "/x?q=1"},
                              {"https://a.test", "/"},
                              {"/plain", "/plain"}}) {
    H1RequestReader r("http");
    ReadResult got = Read(r, "GET " + target + " HTTP/1.1\r\nHost: a.test\r\n\r\n");
    ASSERT_EQ(got.state, State::kDone) << target;
    EXPECT_EQ(got.fields[3], (std::pair<std::string, std::string>{":path", path})) << target;
  }
}

TEST(H1RequestReaderTest, NamesHttp2CannotCarryAreDropped) {
  // Whitespace before the colon is not refused by every desync mode; such a name is not a
  // token, and HTTP/2 names are tokens.
  H1RequestReader r("http");
  ReadResult got = Read(r, "GET / HTTP/1.1\r\nHost: a\r\nX-A : v\r\nX-B: w\r\n\r\n");
  if (got.state == State::kDone) {
    for (const auto& [name, value] : got.fields) EXPECT_NE(name, "x-a ");
    EXPECT_EQ(std::count(got.fields.begin(), got.fields.end(),
                         std::pair<std::string, std::string>{"x-b", "w"}),
              1);
  } else {
    EXPECT_EQ(got.state, State::kError);  // the parser refused it outright: also fine
  }
}

TEST(H1RequestReaderTest, NamesAreLowerCasedAndValuesKept) {
  ReadResult got = Read("DELETE /x HTTP/1.1\r\nHOST: A.Example\r\nX-Mixed-CASE: Value V\r\n\r\n",
                        SIZE_MAX, SIZE_MAX, "http");
  EXPECT_EQ(got.method, "DELETE");
  EXPECT_EQ(got.fields, (Fields{{":method", "DELETE"},
                                {":scheme", "http"},
                                {":authority", "A.Example"},
                                {":path", "/x"},
                                {"x-mixed-case", "Value V"},
                                {"te", "trailers"}}));
}

TEST(H1RequestReaderTest, WithoutHostThereIsNoAuthority) {
  ReadResult got = Read("GET /p HTTP/1.1\r\nAccept: x\r\n\r\n");
  EXPECT_EQ(got.state, State::kDone);
  EXPECT_EQ(got.fields, (Fields{{":method", "GET"},
                                {":scheme", "https"},
                                {":path", "/p"},
                                {"accept", "x"},
                                {"te", "trailers"}}));
}

TEST(H1RequestReaderTest, AContentLengthBodyComesInPiecesOfAtMostBodyRoom) {
  constexpr std::string_view head = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n";
  const std::string in = std::string(head) + "0123456789";
  H1RequestReader r("https");
  std::string_view body;
  // The head only: the body bytes that came with it are fed again.
  EXPECT_EQ(r.Feed(in, 4, &body), head.size());
  EXPECT_TRUE(body.empty());
  EXPECT_TRUE(r.head_ready());
  EXPECT_TRUE(r.has_body());
  EXPECT_EQ(r.state(), State::kBody);
  EXPECT_EQ(Fields(r.fields().begin(), r.fields().end()), (Fields{{":method", "POST"},
                                                                  {":scheme", "https"},
                                                                  {":authority", "a"},
                                                                  {":path", "/up"},
                                                                  {"content-length", "10"},
                                                                  {"te", "trailers"}}));
  r.TakeHead();
  std::string_view rest = std::string_view(in).substr(head.size());
  EXPECT_EQ(r.Feed(rest, 0, &body), 0u);  // no room: nothing taken
  EXPECT_TRUE(body.empty());
  EXPECT_EQ(r.state(), State::kBody);
  EXPECT_EQ(r.Feed(rest, 4, &body), 4u);
  EXPECT_EQ(body, "0123");
  EXPECT_EQ(body.data(), rest.data());
  rest.remove_prefix(4);
  EXPECT_EQ(r.Feed(rest.substr(0, 3), 4, &body), 3u);
  EXPECT_EQ(body, "456");
  rest.remove_prefix(3);
  EXPECT_EQ(r.state(), State::kBody);
  EXPECT_EQ(r.Feed(rest, SIZE_MAX, &body), 3u);
  EXPECT_EQ(body, "789");
  EXPECT_EQ(r.state(), State::kDone);
  EXPECT_FALSE(r.head_ready());
}

TEST(H1RequestReaderTest, ZeroContentLengthHasNoBody) {
  constexpr std::string_view in = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\nX";
  H1RequestReader r("https");
  std::string_view body;
  EXPECT_EQ(r.Feed(in, SIZE_MAX, &body), in.size() - 1);
  EXPECT_EQ(r.state(), State::kDone);
  EXPECT_FALSE(r.has_body());
  EXPECT_TRUE(body.empty());
  EXPECT_EQ(r.Feed("X", SIZE_MAX, &body), 0u);
}

TEST(H1RequestReaderTest, AChunkedBodyIsDeChunked) {
  constexpr std::string_view head =
      "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string in = std::string(head) + "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
  ReadResult got = Read(in);
  EXPECT_EQ(got.state, State::kDone) << got.error;
  EXPECT_TRUE(got.has_body);
  EXPECT_EQ(got.body, "hello world");
  EXPECT_EQ(got.consumed, in.size());
  EXPECT_EQ(got.fields, (Fields{{":method", "POST"},
                                {":scheme", "https"},
                                {":authority", "a"},
                                {":path", "/c"},
                                {"te", "trailers"}}));
}

TEST(H1RequestReaderTest, ChunkTrailersAreDropped) {
  const std::string in =
      "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n";
  for (size_t piece : {size_t{1}, size_t{2}, size_t{7}, SIZE_MAX}) {
    ReadResult got = Read(in, piece);
    EXPECT_EQ(got.state, State::kDone) << piece;
    EXPECT_EQ(got.body, "abc") << piece;
    EXPECT_EQ(got.consumed, in.size()) << piece;
  }
}

TEST(H1RequestReaderTest, BadChunkedFramingIsAnError) {
  for (std::string_view chunks :
       {"zz\r\n", "5\r\nhelloXX", "5 \r\nhello\r\n0\r\n\r\n", "3\r\nabc\r\n0\r\n\r\r"}) {
    std::string in = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    in += chunks;
    ReadResult got = Read(in);
    EXPECT_EQ(got.state, State::kError) << chunks;
    EXPECT_EQ(got.error, "bad chunked framing") << chunks;
    H1RequestReader r("https");
    Read(r, in, 1);
    EXPECT_EQ(r.state(), State::kError) << chunks;
    std::string_view body;
    EXPECT_EQ(r.Feed("0\r\n\r\n", SIZE_MAX, &body), 0u);  // an error is final
    EXPECT_TRUE(body.empty());
    EXPECT_EQ(r.state(), State::kError);
  }
}

TEST(H1RequestReaderTest, BytesAfterTheEndAreNotConsumed) {
  const std::string cl = "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /";
  ReadResult got = Read(cl);
  EXPECT_EQ(got.state, State::kDone);
  EXPECT_EQ(got.body, "abc");
  EXPECT_EQ(got.consumed, cl.size() - 5);

  const std::string chunked =
      "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nXYZ";
  got = Read(chunked);
  EXPECT_EQ(got.state, State::kDone);
  EXPECT_EQ(got.body, "abc");
  EXPECT_EQ(got.consumed, chunked.size() - 3);

  const std::string get = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
  got = Read(get);
  EXPECT_EQ(got.state, State::kDone);
  EXPECT_EQ(got.consumed, get.find("GET /next"));
}

TEST(H1RequestReaderTest, EverySplitOfTheBytesGivesTheSameResult) {
  const std::vector<std::string> inputs = {
      "GET /a HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n",
      "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\nX-B: 2\r\n\r\nhello world",
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n1;a=b\r\n \r\n5\r\nworld\r\n0\r\nT: 1\r\n\r\n",
  };
  for (const std::string& in : inputs) {
    const ReadResult whole = Read(in);
    ASSERT_EQ(whole.state, State::kDone) << in;
    ASSERT_EQ(whole.consumed, in.size());
    for (size_t piece = 1; piece <= in.size(); ++piece) {
      for (size_t room : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, SIZE_MAX}) {
        ReadResult got = Read(in, piece, room);
        EXPECT_EQ(got.state, State::kDone) << piece << " " << room << " " << in;
        EXPECT_EQ(got.heads, 1);
        EXPECT_EQ(got.fields, whole.fields) << piece << " " << room;
        EXPECT_EQ(got.body, whole.body) << piece << " " << room;
        EXPECT_EQ(got.consumed, in.size()) << piece << " " << room;
      }
    }
  }
  EXPECT_EQ(Read(inputs[1]).body, "hello world");
  EXPECT_EQ(Read(inputs[2]).body, "hello world");
}

TEST(H1RequestReaderTest, OneByteAtATimeTheHeadIsTakenByteByByte) {
  constexpr std::string_view in = "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nok";
  H1RequestReader r("http");
  std::string_view body;
  for (size_t i = 0; i + 2 < in.size(); ++i) {
    ASSERT_EQ(r.state(), State::kHead) << i;
    ASSERT_FALSE(r.head_ready()) << i;
    ASSERT_EQ(r.Feed(in.substr(i, 1), SIZE_MAX, &body), 1u) << i;
  }
  EXPECT_TRUE(r.head_ready());
  EXPECT_EQ(r.state(), State::kBody);
  EXPECT_EQ(r.Feed(in.substr(in.size() - 2), 1, &body), 1u);
  EXPECT_EQ(body, "o");
  EXPECT_EQ(r.Feed(in.substr(in.size() - 1), 1, &body), 1u);
  EXPECT_EQ(body, "k");
  EXPECT_EQ(r.state(), State::kDone);
}

TEST(H1RequestReaderTest, AMalformedHeadIsAnError) {
  for (std::string_view in : {"GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                              "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                              "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                              "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"}) {
    H1RequestReader r("https");
    std::string_view body;
    r.Feed(in, SIZE_MAX, &body);
    EXPECT_EQ(r.state(), State::kError) << in;
    EXPECT_NE(r.error(), nullptr) << in;
    EXPECT_FALSE(r.head_ready()) << in;
    EXPECT_EQ(r.Feed("GET / HTTP/1.1\r\n\r\n", SIZE_MAX, &body), 0u) << in;
    EXPECT_EQ(r.state(), State::kError);
  }
}

TEST(H1RequestReaderTest, AHeadOverNinetySixKibWithoutAnEndIsAnError) {
  const std::string line = "X-Filler: " + std::string(1000, 'f') + "\r\n";
  std::string in = "GET / HTTP/1.1\r\n";
  while (in.size() < 100 * 1024) in += line;
  // All at once: it takes exactly its bound and stops.
  H1RequestReader whole("https");
  std::string_view body;
  EXPECT_EQ(whole.Feed(in, SIZE_MAX, &body), 96u * 1024u);
  EXPECT_EQ(whole.state(), State::kError);
  EXPECT_STREQ(whole.error(), "request head too large");
  // In pieces: still reading one byte before the bound, an error at it.
  H1RequestReader r("https");
  EXPECT_EQ(r.Feed(std::string_view(in).substr(0, 96 * 1024 - 1), SIZE_MAX, &body),
            96u * 1024u - 1);
  EXPECT_EQ(r.state(), State::kHead);
  EXPECT_EQ(r.Feed(std::string_view(in).substr(96 * 1024 - 1), SIZE_MAX, &body), 1u);
  EXPECT_EQ(r.state(), State::kError);
  EXPECT_EQ(r.Feed("\r\n\r\n", SIZE_MAX, &body), 0u);
}

// ---------------------------------------------------------------------------------------------
// H1ResponseWriter.

// Adds the fields (each must be accepted) and ends the head.
std::string Head(H1ResponseWriter& w, const Fields& fields, bool end_stream = false,
                 std::string_view reason = "OK") {
  for (const auto& [name, value] : fields) EXPECT_TRUE(w.AddField(name, value)) << name;
  std::string out;
  EXPECT_TRUE(w.EndHead(end_stream, reason, &out));
  EXPECT_FALSE(w.failed());
  EXPECT_TRUE(w.head_done());
  return out;
}

TEST(H1ResponseWriterTest, ASecondStatusIsRefusedEvenAfterZero) {
  // Found by the fuzz target: "000" parsed to 0 once read as "no status yet".
  H1ResponseWriter w;
  EXPECT_TRUE(w.AddField(":status", "000"));
  EXPECT_FALSE(w.AddField(":status", "200"));
  EXPECT_TRUE(w.failed());
  std::string out;
  EXPECT_FALSE(w.EndHead(false, "OK", &out));
  EXPECT_TRUE(out.empty());
}

TEST(H1ResponseWriterTest, WithAContentLengthTheBodyIsWrittenAsIs) {
  H1ResponseWriter w;
  std::string out =
      Head(w, {{":status", "200"}, {"content-type", "text/plain"}, {"content-length", "5"}});
  EXPECT_EQ(w.status(), 200);
  EXPECT_FALSE(w.chunked());
  w.AppendData("hel", &out);
  w.AppendData("", &out);
  w.AppendData("lo", &out);
  w.EndMessage(&out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello");
}

TEST(H1ResponseWriterTest, WithoutAContentLengthTheBodyIsChunked) {
  H1ResponseWriter w;
  std::string out = Head(w, {{":status", "200"}, {"content-type", "text/plain"}});
  EXPECT_TRUE(w.chunked());
  w.AppendData("hel", &out);
  w.AppendData("", &out);  // an empty DATA frame is not the last chunk
  w.AppendData(std::string(300, 'x'), &out);
  w.EndMessage(&out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
            "3\r\nhel\r\n12c\r\n" +
                std::string(300, 'x') + "\r\n0\r\n\r\n");
}

TEST(H1ResponseWriterTest, TrailersFollowTheLastChunk) {
  H1ResponseWriter w;
  std::string out = Head(w, {{":status", "200"}, {"content-type", "application/grpc"}});
  EXPECT_TRUE(w.chunked());
  w.AppendData(std::string_view("\0\0\0\0\2hi", 7), &out);
  EXPECT_TRUE(w.AddField("grpc-status", "0"));
  EXPECT_TRUE(w.AddField("grpc-message", "all good"));
  EXPECT_TRUE(w.AddField("connection", "close"));  // dropped
  EXPECT_TRUE(w.AddField("content-length", "7"));  // dropped
  EXPECT_FALSE(w.failed());
  w.EndMessage(&out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\ncontent-type: application/grpc\r\ntransfer-encoding: chunked\r\n"
            "\r\n7\r\n" +
                std::string("\0\0\0\0\2hi", 7) +
                "\r\n0\r\ngrpc-status: 0\r\ngrpc-message: all good\r\n\r\n");
}

TEST(H1ResponseWriterTest, GrpcIsChunkedEvenWithAContentLength) {
  H1ResponseWriter w;
  std::string out = Head(w, {{":status", "200"},
                             {"content-length", "7"},
                             {"content-type", "application/grpc+proto"},
                             {"x-a", "1"}});
  EXPECT_TRUE(w.chunked());
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\ncontent-type: application/grpc+proto\r\nx-a: 1\r\n"
            "transfer-encoding: chunked\r\n\r\n");
}

TEST(H1ResponseWriterTest, AHeadThatEndsTheStreamSaysContentLengthZero) {
  H1ResponseWriter w;
  std::string out = Head(w, {{":status", "404"}, {"x-a", "1"}}, /*end_stream=*/true, "Not Found");
  EXPECT_FALSE(w.chunked());
  w.EndMessage(&out);
  EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\nx-a: 1\r\ncontent-length: 0\r\n\r\n");

  // A trailers-only gRPC response.
  H1ResponseWriter grpc;
  out =
      Head(grpc, {{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "12"}},
           true);
  grpc.EndMessage(&out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\ncontent-type: application/grpc\r\ngrpc-status: 12\r\n"
            "content-length: 0\r\n\r\n");

  // A content-length given is not repeated.
  H1ResponseWriter given;
  out = Head(given, {{":status", "200"}, {"content-length", "0"}}, true);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
}

TEST(H1ResponseWriterTest, AResponseToHeadKeepsItsFieldsWithoutFraming) {
  H1ResponseWriter w(/*head_request=*/true);
  std::string out = Head(w, {{":status", "200"}, {"content-length", "10"}, {"x-a", "1"}});
  w.EndMessage(&out);
  EXPECT_FALSE(w.chunked());
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\ncontent-length: 10\r\nx-a: 1\r\n\r\n");

  H1ResponseWriter later;
  later.set_head_request(true);
  out = Head(later, {{":status", "200"}, {"x-a", "1"}}, /*end_stream=*/true);
  later.EndMessage(&out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nx-a: 1\r\n\r\n");  // no content-length: 0 either

  H1ResponseWriter not_head(true);
  not_head.set_head_request(false);
  out = Head(not_head, {{":status", "200"}});
  EXPECT_TRUE(not_head.chunked());
}

TEST(H1ResponseWriterTest, NoFramingFor204And304) {
  for (const char* status : {"204", "304"}) {
    for (bool end_stream : {false, true}) {
      H1ResponseWriter w;
      std::string out = Head(w, {{":status", status}, {"etag", "\"x\""}}, end_stream, "R");
      w.EndMessage(&out);
      EXPECT_FALSE(w.chunked());
      EXPECT_EQ(out, "HTTP/1.1 " + std::string(status) + " R\r\netag: \"x\"\r\n\r\n");
    }
  }
}

TEST(H1ResponseWriterTest, InterimHeadsAreWrittenAsInterimHeads) {
  H1ResponseWriter w;
  std::string out;
  EXPECT_TRUE(w.AddField(":status", "100"));
  EXPECT_FALSE(w.EndHead(false, "Continue", &out));
  EXPECT_FALSE(w.failed());
  EXPECT_FALSE(w.head_done());
  EXPECT_EQ(out, "HTTP/1.1 100 Continue\r\n\r\n");
  out.clear();
  EXPECT_TRUE(w.AddField(":status", "103"));  // a :status again: a new block
  EXPECT_TRUE(w.AddField("link", "</s.css>"));
  EXPECT_TRUE(w.AddField("content-length", "99"));
  EXPECT_TRUE(w.AddField("content-type", "application/grpc"));
  EXPECT_FALSE(w.EndHead(false, "Early Hints", &out));
  EXPECT_FALSE(w.failed());
  EXPECT_EQ(out,
            "HTTP/1.1 103 Early Hints\r\nlink: </s.css>\r\n"
            "content-type: application/grpc\r\n\r\n");  // no content-length
  out = Head(w, {{":status", "201"}, {"x-a", "1"}}, false, "Created");
  EXPECT_EQ(w.status(), 201);
  EXPECT_TRUE(w.chunked());  // the interim content-length and content-type are gone
  EXPECT_EQ(out, "HTTP/1.1 201 Created\r\nx-a: 1\r\ntransfer-encoding: chunked\r\n\r\n");
}

TEST(H1ResponseWriterTest, InterimHeadsOverTheLimitsAreDropped) {
  H1ResponseWriter w;
  std::string out;
  EXPECT_TRUE(w.AddField(":status", "103"));
  EXPECT_TRUE(w.AddField("link", std::string(kMaxInterimHeadBytes, 'x')));
  EXPECT_FALSE(w.EndHead(false, "Early Hints", &out));
  EXPECT_FALSE(w.failed());
  EXPECT_EQ(out, "");  // too large
  for (int i = 0; i < kMaxInterimHeads + 2; ++i) {
    EXPECT_TRUE(w.AddField(":status", "100"));
    EXPECT_FALSE(w.EndHead(false, "Continue", &out));
  }
  std::string expected;
  for (int i = 0; i < kMaxInterimHeads; ++i) expected += "HTTP/1.1 100 Continue\r\n\r\n";
  EXPECT_EQ(out, expected);
  EXPECT_FALSE(w.failed());
}

TEST(H1ResponseWriterTest, ABlockWithoutAGoodStatusIsRefused) {
  {
    H1ResponseWriter w;
    std::string out;
    EXPECT_TRUE(w.AddField("x-a", "1"));
    EXPECT_FALSE(w.EndHead(false, "OK", &out));
    EXPECT_TRUE(w.failed());
    EXPECT_EQ(out, "");
  }
  for (std::string_view status : {"20x", "1000", "20", "", "-20", " 20"}) {
    H1ResponseWriter w;
    EXPECT_FALSE(w.AddField(":status", status)) << status;
    EXPECT_TRUE(w.failed()) << status;
    EXPECT_FALSE(w.AddField("x-a", "1"));  // failure is final
    std::string out;
    EXPECT_FALSE(w.EndHead(false, "OK", &out));
    EXPECT_EQ(out, "");
  }
  for (std::string_view status : {"000", "099"}) {
    H1ResponseWriter w;
    EXPECT_TRUE(w.AddField(":status", status));
    std::string out;
    EXPECT_FALSE(w.EndHead(false, "OK", &out)) << status;
    EXPECT_TRUE(w.failed()) << status;
    EXPECT_EQ(out, "");
  }
}

TEST(H1ResponseWriterTest, ASecondStatusOrAnotherPseudoFieldIsRefused) {
  H1ResponseWriter w;
  EXPECT_TRUE(w.AddField(":status", "200"));
  EXPECT_FALSE(w.AddField(":status", "204"));
  EXPECT_TRUE(w.failed());
  std::string out;
  EXPECT_FALSE(w.EndHead(false, "OK", &out));
  EXPECT_EQ(out, "");

  H1ResponseWriter other;
  EXPECT_TRUE(other.AddField(":status", "200"));
  EXPECT_FALSE(other.AddField(":path", "/"));
  EXPECT_TRUE(other.failed());
}

TEST(H1ResponseWriterTest, TooManyFieldsAreRefused) {
  H1ResponseWriter w;
  ASSERT_TRUE(w.AddField(":status", "200"));
  // kMaxHeaderCount - 8 fields in a block, :status included.
  for (size_t i = 1; i < kMaxHeaderCount - 8; ++i) {
    ASSERT_TRUE(w.AddField("x-" + std::to_string(i), "v")) << i;
  }
  EXPECT_FALSE(w.failed());
  EXPECT_FALSE(w.AddField("x-last", "v"));
  EXPECT_TRUE(w.failed());
}

TEST(H1ResponseWriterTest, AnOversizedBlockIsRefused) {
  // Each field counts its name and value plus 32 bytes; the block may have what the request
  // path accepts as a target's head (32 KiB) less 256 bytes for the status line and framing,
  // and the head written then parses within that limit.
  constexpr size_t kLimit = kMaxResponseHead - 256;
  {
    H1ResponseWriter w;
    ASSERT_TRUE(w.AddField(":status", "200"));  // 42
    EXPECT_TRUE(w.AddField("x", std::string(kLimit - 42 - 1 - 32, 'v')));
    EXPECT_FALSE(w.failed());
    std::string out;
    EXPECT_TRUE(w.EndHead(false, "OK", &out));
    size_t scan = 0;
    const size_t end = FindHeadEnd(out, &scan);
    ASSERT_NE(end, 0u);
    ResponseHead head;
    ParseError err;
    EXPECT_EQ(ParseResponseHead(out, end, &head, &err), ParseStatus::kComplete) << err.reason;
  }
  {
    H1ResponseWriter w;
    ASSERT_TRUE(w.AddField(":status", "200"));
    EXPECT_TRUE(w.AddField("x", std::string(kLimit - 42 - 1 - 32, 'v')));
    EXPECT_FALSE(w.AddField("y", ""));
    EXPECT_TRUE(w.failed());
  }
  {
    H1ResponseWriter w;
    ASSERT_TRUE(w.AddField(":status", "200"));
    EXPECT_FALSE(w.AddField("x", std::string(kLimit, 'v')));
    EXPECT_TRUE(w.failed());
  }
}

TEST(H1ResponseWriterTest, BadTrailersAreRefused) {
  {
    H1ResponseWriter w;
    std::string out = Head(w, {{":status", "200"}});
    EXPECT_FALSE(w.AddField(":status", "200"));
    EXPECT_TRUE(w.failed());
  }
  {
    H1ResponseWriter w;
    std::string out = Head(w, {{":status", "200"}});
    EXPECT_FALSE(w.AddField("", "v"));
    EXPECT_TRUE(w.failed());
  }
  {
    // The trailer section stays within what the chunked decoder takes (15 KiB here).
    H1ResponseWriter w;
    std::string out = Head(w, {{":status", "200"}});
    EXPECT_TRUE(w.AddField("a", std::string(15 * 1024 - 5, 'v')));  // 15 KiB with ": \r\n"
    EXPECT_FALSE(w.failed());
    EXPECT_FALSE(w.AddField("b", ""));
    EXPECT_TRUE(w.failed());
  }
}

TEST(H1ResponseWriterTest, ConnectionSpecificFieldsAreDropped) {
  H1ResponseWriter w;
  std::string out = Head(w, {{":status", "200"},
                             {"connection", "close"},
                             {"keep-alive", "timeout=5"},
                             {"proxy-connection", "close"},
                             {"transfer-encoding", "gzip"},
                             {"upgrade", "h2c"},
                             {"te", "trailers"},
                             {"host", "h"},
                             {"content-length", "2"},
                             {"content-length", "2"},  // one is kept
                             {"x-kept", "1"}});
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-kept: 1\r\n\r\n");
}

TEST(H1ResponseWriterTest, TheReasonIsWrittenAsGiven) {
  H1ResponseWriter w;
  std::string out = Head(w, {{":status", "599"}}, true, "");
  EXPECT_EQ(out, "HTTP/1.1 599 \r\ncontent-length: 0\r\n\r\n");
  EXPECT_EQ(w.status(), 599);
}

// ---------------------------------------------------------------------------------------------
// The writer's output read back by the HTTP/1 response path.

struct Parsed {
  int status = 0;
  std::string reason;
  Fields fields;
  BodyKind kind = BodyKind::kNone;
  std::string body;
  std::string trailers;  // the trailer section's bytes
  size_t consumed = 0;
};

::testing::AssertionResult ParseBack(std::string_view out, std::string_view method, Parsed* p) {
  size_t scan = 0;
  size_t len = FindHeadEnd(out, &scan);
  if (len == 0) return ::testing::AssertionFailure() << "no head end";
  auto rh = std::make_unique<ResponseHead>();
  ParseError err;
  if (ParseResponseHead(out, len, rh.get(), &err) != ParseStatus::kComplete) {
    return ::testing::AssertionFailure() << "head: " << err.reason;
  }
  p->status = rh->status;
  p->reason = std::string(rh->reason);
  for (const HeaderField& f : rh->header_span()) p->fields.emplace_back(f.name, f.value);
  Framing framing;
  if (!DetermineResponseFraming(*rh, method, &framing, &err)) {
    return ::testing::AssertionFailure() << "framing: " << err.reason;
  }
  p->kind = framing.kind;
  std::string_view rest = out.substr(len);
  p->consumed = len;
  if (framing.kind == BodyKind::kContentLength) {
    if (rest.size() < framing.length) return ::testing::AssertionFailure() << "short body";
    p->body = std::string(rest.substr(0, framing.length));
    p->consumed += framing.length;
  } else if (framing.kind == BodyKind::kChunked) {
    ChunkedDecoder dec;
    while (!rest.empty() && !dec.done() && !dec.failed()) {
      std::string_view data;
      size_t n = dec.Feed(rest, &data);
      if (dec.fed_trailer()) p->trailers.append(rest.substr(0, n));
      p->body.append(data);
      rest.remove_prefix(n);
      p->consumed += n;
      if (n == 0) break;
    }
    if (!dec.done()) return ::testing::AssertionFailure() << "chunked stream not done";
  } else if (framing.kind == BodyKind::kUntilClose) {
    p->body = std::string(rest);
    p->consumed = out.size();
  }
  return ::testing::AssertionSuccess();
}

TEST(H1ResponseWriterRoundTripTest, AContentLengthResponseReadsBack) {
  H1ResponseWriter w;
  std::string out = Head(w, {{":status", "200"}, {"content-length", "11"}, {"x-a", "1"}});
  w.AppendData("hello ", &out);
  w.AppendData("world", &out);
  w.EndMessage(&out);
  Parsed p;
  ASSERT_TRUE(ParseBack(out, "GET", &p)) << out;
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.reason, "OK");
  EXPECT_EQ(p.fields, (Fields{{"content-length", "11"}, {"x-a", "1"}}));
  EXPECT_EQ(p.kind, BodyKind::kContentLength);
  EXPECT_EQ(p.body, "hello world");
  EXPECT_EQ(p.consumed, out.size());
}

TEST(H1ResponseWriterRoundTripTest, AChunkedResponseWithTrailersReadsBack) {
  H1ResponseWriter w;
  std::string out = Head(w, {{":status", "200"},
                             {"content-type", "application/grpc"},
                             {"content-length", "999"},
                             {"x-b", "2"}});
  std::string sent;
  for (size_t size : {size_t{1}, size_t{15}, size_t{16}, size_t{255}, size_t{4096}, size_t{0}}) {
    std::string data(size, static_cast<char>('a' + size % 26));
    sent += data;
    w.AppendData(data, &out);
  }
  EXPECT_TRUE(w.AddField("grpc-status", "0"));
  EXPECT_TRUE(w.AddField("grpc-message", "ok"));
  w.EndMessage(&out);
  Parsed p;
  ASSERT_TRUE(ParseBack(out, "POST", &p)) << out;
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.fields, (Fields{{"content-type", "application/grpc"},
                              {"x-b", "2"},
                              {"transfer-encoding", "chunked"}}));
  EXPECT_EQ(p.kind, BodyKind::kChunked);
  EXPECT_EQ(p.body, sent);
  EXPECT_EQ(p.trailers, "grpc-status: 0\r\ngrpc-message: ok\r\n");
  EXPECT_EQ(p.consumed, out.size());
}

TEST(H1ResponseWriterRoundTripTest, HeadOnlyAndBodilessResponsesReadBack) {
  {
    H1ResponseWriter w;
    std::string out = Head(w, {{":status", "500"}, {"x-a", "1"}}, true, "Internal Server Error");
    w.EndMessage(&out);
    Parsed p;
    ASSERT_TRUE(ParseBack(out, "GET", &p)) << out;
    EXPECT_EQ(p.status, 500);
    EXPECT_EQ(p.reason, "Internal Server Error");
    EXPECT_EQ(p.fields, (Fields{{"x-a", "1"}, {"content-length", "0"}}));
    EXPECT_EQ(p.kind, BodyKind::kNone);  // a length of 0: no body
    EXPECT_EQ(p.body, "");
    EXPECT_EQ(p.consumed, out.size());
  }
  {
    H1ResponseWriter w(true);
    std::string out = Head(w, {{":status", "200"}, {"content-length", "10"}});
    w.EndMessage(&out);
    Parsed p;
    ASSERT_TRUE(ParseBack(out, "HEAD", &p)) << out;
    EXPECT_EQ(p.kind, BodyKind::kNone);
    EXPECT_EQ(p.fields, (Fields{{"content-length", "10"}}));
    EXPECT_EQ(p.consumed, out.size());
  }
  {
    H1ResponseWriter w;
    std::string out = Head(w, {{":status", "304"}, {"etag", "\"e\""}}, false, "Not Modified");
    w.EndMessage(&out);
    Parsed p;
    ASSERT_TRUE(ParseBack(out, "GET", &p)) << out;
    EXPECT_EQ(p.status, 304);
    EXPECT_EQ(p.kind, BodyKind::kNone);
    EXPECT_EQ(p.consumed, out.size());
  }
}

TEST(H1ResponseWriterRoundTripTest, AfterAnInterimHeadTheFinalOneReadsBack) {
  H1ResponseWriter w;
  std::string out;
  ASSERT_TRUE(w.AddField(":status", "103"));
  ASSERT_TRUE(w.AddField("link", "</a.css>"));
  ASSERT_FALSE(w.EndHead(false, "Early Hints", &out));
  Parsed interim;
  ASSERT_TRUE(ParseBack(out, "GET", &interim)) << out;
  EXPECT_EQ(interim.status, 103);
  EXPECT_EQ(interim.fields, (Fields{{"link", "</a.css>"}}));
  EXPECT_EQ(interim.consumed, out.size());
  out.clear();
  out += Head(w, {{":status", "200"}, {"x-a", "1"}});
  w.AppendData("body", &out);
  ASSERT_TRUE(w.AddField("x-t", "t"));
  w.EndMessage(&out);
  Parsed p;
  ASSERT_TRUE(ParseBack(out, "GET", &p)) << out;
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.fields, (Fields{{"x-a", "1"}, {"transfer-encoding", "chunked"}}));
  EXPECT_EQ(p.body, "body");
  EXPECT_EQ(p.trailers, "x-t: t\r\n");
  EXPECT_EQ(p.consumed, out.size());
}

}  // namespace
}  // namespace sluice::http
