// WebSocket over HTTP/2 (RFC 8441) at the translation seam: an extended CONNECT written as the
// HTTP/1.1 upgrade request of RFC 6455, and the target's 101 read back as the stream's 200
// whose body is the tunnel.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/h1_parser.h"
#include "http/h2_translate.h"

namespace sluice::http {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

H2RequestHead Head(const Fields& fields) {
  H2RequestHead head;
  for (const auto& [name, value] : fields) {
    EXPECT_EQ(head.Add(name, value), H2FieldError::kNone) << name;
  }
  return head;
}

const Fields kConnect = {{":method", "CONNECT"},
                         {":protocol", "websocket"},
                         {":scheme", "https"},
                         {":path", "/chat?room=1"},
                         {":authority", "ws.example.com"},
                         {"sec-websocket-version", "13"},
                         {"sec-websocket-key", "from-the-client"},
                         {"sec-websocket-protocol", "chat"},
                         {"cookie", "a=1"},
                         {"cookie", "b=2"}};

TEST(H2WebSocketTest, OnlyAnExtendedConnectForWebsocketIsOne) {
  EXPECT_TRUE(Head(kConnect).websocket());
  EXPECT_FALSE(Head({{":method", "CONNECT"}, {":authority", "x:443"}}).websocket());
  EXPECT_FALSE(Head({{":method", "CONNECT"},
                     {":protocol", "webtransport"},
                     {":scheme", "https"},
                     {":path", "/"},
                     {":authority", "x"}})
                   .websocket());
  EXPECT_FALSE(Head({{":method", "GET"},
                     {":protocol", "websocket"},
                     {":scheme", "https"},
                     {":path", "/"},
                     {":authority", "x"}})
                   .websocket());
}

TEST(H2WebSocketTest, TheUpgradeRequestIsRfc6455s) {
  // RFC 6455 §4.1's example nonce.
  const uint8_t nonce[16] = {'t', 'h', 'e', ' ', 's', 'a', 'm', 'p',
                             'l', 'e', ' ', 'n', 'o', 'n', 'c', 'e'};
  std::string out;
  Head(kConnect).WriteWebSocketUpgrade(nonce, &out);
  EXPECT_EQ(out,
            "GET /chat?room=1 HTTP/1.1\r\n"
            "Host: ws.example.com\r\n"
            "sec-websocket-version: 13\r\n"
            "sec-websocket-protocol: chat\r\n"
            "cookie: a=1; b=2\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  auto parsed = std::make_unique<RequestHead>();
  ParseError err;
  size_t scan = 0;
  const size_t len = FindHeadEnd(out, &scan);
  ASSERT_EQ(len, out.size());
  ASSERT_EQ(ParseRequestHead(out, len, parsed.get(), &err), ParseStatus::kComplete) << err.reason;
  EXPECT_EQ(parsed->method, "GET");
  EXPECT_EQ(parsed->target, "/chat?room=1");
}

TEST(H2WebSocketTest, TheKeyIsTheNoncesBase64) {
  const uint8_t zeros[16] = {};
  std::string out;
  Head(kConnect).WriteWebSocketUpgrade(zeros, &out);
  EXPECT_NE(out.find("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"), std::string::npos) << out;
  uint8_t ones[16];
  for (uint8_t& b : ones) b = 0xff;
  out.clear();
  Head(kConnect).WriteWebSocketUpgrade(ones, &out);
  EXPECT_NE(out.find("Sec-WebSocket-Key: /////////////////////w==\r\n"), std::string::npos) << out;
}

// Feeds `in` whole, taking a head when ready; returns the body read.
std::string FeedAll(H1ResponseReader& r, std::string_view in, int* status, Fields* fields) {
  std::string body;
  while (!in.empty()) {
    std::string_view piece;
    const size_t n = r.Feed(in, SIZE_MAX, &piece);
    if (r.interim_ready()) r.TakeInterim();
    if (r.head_ready()) {
      *status = r.status();
      fields->assign(r.head_fields().begin(), r.head_fields().end());
      r.TakeHead();
    }
    body.append(piece);
    in.remove_prefix(n);
    if (n == 0) break;
  }
  return body;
}

constexpr std::string_view k101 =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n"
    "Set-Cookie: AWSALB=x\r\n\r\n";

TEST(H2WebSocketTest, The101IsA200WhoseBodyIsTheTunnel) {
  H1ResponseReader r(false, /*websocket=*/true);
  int status = 0;
  Fields fields;
  const std::string frames("\x81\x05hello\x82\x00", 9);
  std::string body = FeedAll(r, std::string(k101) + frames, &status, &fields);
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(r.upgraded());
  EXPECT_EQ(fields, (Fields{{"sec-websocket-protocol", "chat"}, {"set-cookie", "AWSALB=x"}}));
  EXPECT_EQ(body, frames);
  EXPECT_EQ(r.state(), H1ResponseReader::State::kBody);  // until the target closes
  r.FinishStream();
  EXPECT_EQ(r.state(), H1ResponseReader::State::kDone);
  EXPECT_EQ(r.error(), nullptr);
}

TEST(H2WebSocketTest, ARefusalIsAnOrdinaryResponse) {
  H1ResponseReader r(false, /*websocket=*/true);
  int status = 0;
  Fields fields;
  std::string body =
      FeedAll(r, "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno", &status, &fields);
  EXPECT_EQ(status, 403);
  EXPECT_FALSE(r.upgraded());
  EXPECT_EQ(body, "no");
  EXPECT_EQ(r.state(), H1ResponseReader::State::kDone);
}

// A target that ignored Upgrade and answered 200: not relayed as the WebSocket's success.
TEST(H2WebSocketTest, A2xxWithoutA101IsAnError) {
  for (std::string_view in :
       {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.1 204 No Content\r\n\r\n"}) {
    H1ResponseReader r(false, /*websocket=*/true);
    int status = 0;
    Fields fields;
    FeedAll(r, in, &status, &fields);
    EXPECT_EQ(status, 0) << in;
    EXPECT_EQ(r.state(), H1ResponseReader::State::kError) << in;
    EXPECT_NE(r.error(), nullptr);
  }
}

TEST(H2WebSocketTest, WithoutAWebSocketRequestA101IsSkipped) {
  H1ResponseReader r;
  int status = 0;
  Fields fields;
  std::string body = FeedAll(
      r, std::string(k101) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &status, &fields);
  EXPECT_EQ(status, 200);
  EXPECT_FALSE(r.upgraded());
  EXPECT_EQ(body, "ok");
  EXPECT_EQ(r.state(), H1ResponseReader::State::kDone);
}

}  // namespace
}  // namespace sluice::http
