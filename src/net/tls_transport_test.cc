// TlsTransport over a socketpair against a plain OpenSSL client: the handshake inside Read,
// records both ways (large writes in parts, small pieces joined), end of stream and garbage.
#include "net/tls_transport.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "tls/self_signed.h"
#include "tls/server_context.h"

namespace sluice::net {
namespace {

constexpr int64_t kNow = 1796392800;

std::shared_ptr<const tls::ServerContext> MakeServer() {
  tls::SelfSignedRequest r;
  r.names = {"localhost"};
  auto pem = tls::MakeSelfSigned(r, kNow);
  EXPECT_TRUE(pem.ok());
  std::string dir = ::testing::TempDir();
  config::Config cfg;
  config::CertificateDefinition d;
  d.name = "c";
  d.certificate_file = dir + "sluice-tt-" + std::to_string(getpid()) + ".crt";
  d.private_key_file = dir + "sluice-tt-" + std::to_string(getpid()) + ".key";
  for (auto [path, text] : {std::pair{d.certificate_file, pem.value().certificate},
                            std::pair{d.private_key_file, pem.value().private_key}}) {
    FILE* f = std::fopen(path.c_str(), "w");
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  cfg.certificates.push_back(d);
  auto store = tls::CertificateStore::Load(cfg, kNow);
  config::Listener l;
  l.ssl_policy = "ELBSecurityPolicy-TLS13-1-2-2021-06";
  l.certificates.push_back({"c", {}, ""});
  auto ctx =
      tls::ServerContext::Build(l, std::get<std::shared_ptr<const tls::CertificateStore>>(store));
  EXPECT_TRUE(ctx.ok());
  return ctx.value();
}

class TlsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ctx_ = MakeServer();
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    server_ = std::make_unique<TlsTransport>(fds[0], server_ctx_->NewSession(), server_ctx_);
    server_fd_ = fds[0];
    client_fd_ = fds[1];
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    client_ = SSL_new(client_ctx_);
    SSL_set_fd(client_, client_fd_);
    SSL_set_connect_state(client_);
  }
  void TearDown() override {
    SSL_free(client_);
    SSL_CTX_free(client_ctx_);
    close(client_fd_);
    ERR_clear_error();
  }
  // Drives both sides until the handshake is done on both (bounded).
  bool Handshake() {
    char buf[16];
    for (int i = 0; i < 50; ++i) {
      int c = SSL_do_handshake(client_);
      IoResult r = server_->Read(buf, sizeof(buf));
      if (c == 1 && server_->handshake_done()) return r.status() == IoStatus::kWouldBlock;
    }
    return false;
  }
  std::string ClientRead() {
    std::string out;
    char buf[65536];
    size_t n = 0;
    while (SSL_read_ex(client_, buf, sizeof(buf), &n) == 1) out.append(buf, n);
    ERR_clear_error();
    return out;
  }

  std::shared_ptr<const tls::ServerContext> server_ctx_;
  std::unique_ptr<TlsTransport> server_;
  int server_fd_ = -1;  // owned by server_
  int client_fd_ = -1;
  SSL_CTX* client_ctx_ = nullptr;
  SSL* client_ = nullptr;
};

TEST_F(TlsTransportTest, HandshakeInsideReadThenBothDirections) {
  ASSERT_TRUE(Handshake());
  const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(SSL_write(client_, request.data(), static_cast<int>(request.size())),
            static_cast<int>(request.size()));
  char buf[4096];
  IoResult r = server_->Read(buf, sizeof(buf));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::string(buf, r.bytes()), request);
  EXPECT_EQ(server_->Read(buf, sizeof(buf)).status(), IoStatus::kWouldBlock);
  // Three small pieces are written in one call and arrive in order.
  iovec pieces[3] = {{const_cast<char*>("HTTP/1.1 200 OK\r\n"), 17},
                     {const_cast<char*>("Content-Length: 2\r\n\r\n"), 21},
                     {const_cast<char*>("ok"), 2}};
  IoResult w = server_->Write(pieces, 3);
  ASSERT_EQ(w.bytes(), 40u);
  EXPECT_EQ(ClientRead(), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

TEST_F(TlsTransportTest, LargeWriteInPartsAndReadFillsCapacity) {
  ASSERT_TRUE(Handshake());
  std::string big(1 << 20, 'b');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  size_t sent = 0;
  std::string received;
  for (int i = 0; i < 10000 && received.size() < big.size(); ++i) {
    if (sent < big.size()) {
      IoResult w = server_->Write(big.data() + sent, big.size() - sent);
      if (w.ok())
        sent += w.bytes();
      else
        ASSERT_EQ(w.status(), IoStatus::kWouldBlock);
    }
    received += ClientRead();
  }
  EXPECT_EQ(received, big);
  // The client sends 100 KiB: reads of 16 KiB fill their capacity until the end.
  std::string up(100 * 1024, 'u');
  size_t written = 0;
  std::string got;
  char buf[16 * 1024];
  for (int i = 0; i < 10000 && got.size() < up.size(); ++i) {
    size_t n = 0;
    if (written < up.size() &&
        SSL_write_ex(client_, up.data() + written, up.size() - written, &n) == 1) {
      written += n;
    }
    ERR_clear_error();
    IoResult r = server_->Read(buf, sizeof(buf));
    if (r.ok()) got.append(buf, r.bytes());
  }
  EXPECT_EQ(got, up);
}

TEST_F(TlsTransportTest, CloseNotifyIsEndOfStream) {
  ASSERT_TRUE(Handshake());
  SSL_shutdown(client_);
  char buf[64];
  IoResult r = server_->Read(buf, sizeof(buf));
  EXPECT_EQ(r.status(), IoStatus::kEof);
}

TEST_F(TlsTransportTest, GarbageFailsTheHandshake) {
  const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(client_fd_, junk, sizeof(junk) - 1), static_cast<ssize_t>(sizeof(junk) - 1));
  char buf[64];
  IoResult r = server_->Read(buf, sizeof(buf));
  EXPECT_EQ(r.status(), IoStatus::kError);
  EXPECT_EQ(r.error(), EPROTO);
  EXPECT_EQ(server_->Handshake(), HandshakeStatus::kFailed);
  EXPECT_FALSE(server_->handshake_done());
}

}  // namespace
}  // namespace sluice::net

namespace sluice::net {
namespace {

TEST_F(TlsTransportTest, PlainHttpRequestGetsThePlainAnswer) {
  const std::string answer = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  TlsTransport server(fds[0], server_ctx_->NewSession(), server_ctx_, &answer);
  const char request[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fds[1], request, sizeof(request) - 1), static_cast<ssize_t>(sizeof(request) - 1));
  char buf[256];
  EXPECT_EQ(server.Read(buf, sizeof(buf)).error(), EPROTO);
  ssize_t n = read(fds[1], buf, sizeof(buf));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), answer);
  // Not for bytes that are merely not TLS.
  TlsTransport other(fds[1], server_ctx_->NewSession(), server_ctx_, &answer);
  const char junk[] = "\x01\x02\x03\x04\x05\x06\x07\x08";
  ASSERT_EQ(write(fds[0], junk, 8), 8);
  EXPECT_EQ(other.Read(buf, sizeof(buf)).error(), EPROTO);
}

}  // namespace
}  // namespace sluice::net

namespace sluice::net {
namespace {

TEST_F(TlsTransportTest, PeerClosingBeforeTheHandshakeIsEndOfStreamNotAFailure) {
  ASSERT_EQ(shutdown(client_fd_, SHUT_WR), 0);  // a port check: connect, then close
  char buf[64];
  IoResult r = server_->Read(buf, sizeof(buf));
  EXPECT_EQ(r.status(), IoStatus::kEof);
  EXPECT_EQ(server_->Handshake(), HandshakeStatus::kFailed);
  EXPECT_EQ(server_->Read(buf, sizeof(buf)).status(), IoStatus::kEof);
}

// The race behind a stalled request (fixed in DownstreamConnection::ReadDownstream): a read
// gives up mid-handshake, then the client's Finished and its request arrive together, and the
// next handshake step finishes the handshake. With read-ahead OpenSSL has then taken the
// request's records off the socket too, so no readiness event will announce them:
// HasBufferedInput() must say so, and a read must deliver them at once.
TEST_F(TlsTransportTest, RecordsTakenWithTheClientsFinishedAreReportedAsBuffered) {
  char buf[4096];
  ASSERT_NE(SSL_do_handshake(client_), 1);  // ClientHello
  EXPECT_EQ(server_->Read(buf, sizeof(buf)).status(), IoStatus::kWouldBlock);
  EXPECT_FALSE(server_->handshake_done());
  ASSERT_EQ(SSL_do_handshake(client_), 1);  // the server's flight in, the Finished out
  const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(SSL_write(client_, request.data(), static_cast<int>(request.size())),
            static_cast<int>(request.size()));
  EXPECT_FALSE(server_->HasBufferedInput());
  ASSERT_EQ(server_->Handshake(), HandshakeStatus::kDone);
  ASSERT_TRUE(server_->HasBufferedInput());
  char peek;
  EXPECT_EQ(recv(server_fd_, &peek, 1, MSG_PEEK | MSG_DONTWAIT), -1)
      << "the request should no longer be in the socket";
  IoResult r = server_->Read(buf, sizeof(buf));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::string(buf, r.bytes()), request);
  EXPECT_FALSE(server_->HasBufferedInput());
}

}  // namespace
}  // namespace sluice::net
