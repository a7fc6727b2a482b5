// TLS toward targets: a TlsTransport client made from a tls::ClientContext (HTTPS target
// groups) against a TlsTransport server over a socketpair. No verification by default (as
// ALB); SNI and verification when the group asks; resumption from the worker's cache slot.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>

#include "net/tls_transport.h"
#include "tls/client_context.h"
#include "tls/self_signed.h"
#include "tls/server_context.h"

namespace sluice::net {
namespace {

// A self-signed certificate for `name` written to files; its path is also a CA file that
// trusts it.
std::string WriteCertificate(const std::string& tag, const std::string& name) {
  tls::SelfSignedRequest r;
  r.names = {name};
  auto pem = tls::MakeSelfSigned(r, static_cast<int64_t>(time(nullptr)) - 60);
  EXPECT_TRUE(pem.ok());
  std::string base = ::testing::TempDir() + "sluice-tc-" + std::to_string(getpid()) + "-" + tag;
  for (auto [path, text] : {std::pair{base + ".crt", pem.value().certificate},
                            std::pair{base + ".key", pem.value().private_key}}) {
    FILE* f = std::fopen(path.c_str(), "w");
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  return base;
}

std::shared_ptr<const tls::ServerContext> MakeServer(const std::string& base) {
  config::Config cfg;
  config::CertificateDefinition d;
  d.name = "c";
  d.certificate_file = base + ".crt";
  d.private_key_file = base + ".key";
  cfg.certificates.push_back(d);
  auto store = tls::CertificateStore::Load(cfg, static_cast<int64_t>(time(nullptr)));
  config::Listener l;
  l.ssl_policy = "ELBSecurityPolicy-TLS13-1-2-2021-06";
  l.certificates.push_back({"c", {}, ""});
  auto ctx =
      tls::ServerContext::Build(l, std::get<std::shared_ptr<const tls::CertificateStore>>(store));
  EXPECT_TRUE(ctx.ok());
  return ctx.value();
}

std::shared_ptr<const tls::ClientContext> MakeClient(const std::string& server_name, bool verify,
                                                     const std::string& ca_file, size_t slots) {
  config::TargetGroup g;
  g.name = "tg";
  g.protocol = "HTTPS";
  g.attributes.tls_server_name = server_name;
  g.attributes.tls_verify = verify;
  g.attributes.tls_verify_ca_file = ca_file;
  config::ConfigError error;
  auto ctx = tls::ClientContext::Build(g, "t.yaml", slots, &error);
  EXPECT_NE(ctx, nullptr) << error.ToString();
  return ctx;
}

const SocketAddress kTarget = *SocketAddress::Parse("127.0.0.1", 8443);

// One connection: client and server transports over a socketpair.
struct Pair {
  std::unique_ptr<TlsTransport> client;
  std::unique_ptr<TlsTransport> server;
};

Pair Connect(const std::shared_ptr<const tls::ClientContext>& client,
             const std::shared_ptr<const tls::ServerContext>& server, size_t slot) {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  Pair p;
  p.client = std::make_unique<TlsTransport>(fds[0], client->NewSession(kTarget, slot), client);
  p.server = std::make_unique<TlsTransport>(fds[1], server->NewSession(), server);
  return p;
}

// Drives both handshakes (bounded); then a request and an answer, so that the client reads
// the server's session tickets. False when either side failed.
bool Exchange(Pair& p) {
  char buf[64];
  for (int i = 0; i < 50; ++i) {
    HandshakeStatus c = p.client->Handshake();
    HandshakeStatus s = p.server->Handshake();
    if (c == HandshakeStatus::kFailed || s == HandshakeStatus::kFailed) return false;
    if (c == HandshakeStatus::kDone && s == HandshakeStatus::kDone) break;
  }
  if (!p.client->Write("ping", 4).ok() || !p.server->Read(buf, sizeof(buf)).ok()) return false;
  if (!p.server->Write("pong", 4).ok()) return false;
  return p.client->Read(buf, sizeof(buf)).bytes() == 4;
}

TEST(TlsClientTest, NoVerificationNoSniByDefaultAndResumptionPerSlot) {
  auto server = MakeServer(WriteCertificate("plain", "localhost"));
  auto client = MakeClient("", false, "", 2);
  Pair first = Connect(client, server, 0);
  ASSERT_TRUE(Exchange(first));  // a self-signed target certificate is fine, as on ALB
  EXPECT_EQ(first.server->TlsServerName(), "");
  EXPECT_EQ(SSL_session_reused(first.client->ssl()), 0);
  first.client->Close();
  Pair again = Connect(client, server, 0);
  ASSERT_TRUE(Exchange(again));
  EXPECT_EQ(SSL_session_reused(again.client->ssl()), 1) << "slot 0 resumes its last session";
  Pair other = Connect(client, server, 1);
  ASSERT_TRUE(Exchange(other));
  EXPECT_EQ(SSL_session_reused(other.client->ssl()), 0) << "slot 1 has no session yet";
  Pair none = Connect(client, server, tls::ClientContext::kNoSessionSlot);
  ASSERT_TRUE(Exchange(none));
  EXPECT_EQ(SSL_session_reused(none.client->ssl()), 0);
}

TEST(TlsClientTest, ABrokenSessionIsNotResumed) {
  auto server = MakeServer(WriteCertificate("broken", "localhost"));
  auto client = MakeClient("", false, "", 1);
  Pair first = Connect(client, server, 0);
  ASSERT_TRUE(Exchange(first));
  // The server's bytes are garbled: the client's next read is a protocol error.
  int fd = SSL_get_fd(first.server->ssl());
  ASSERT_EQ(write(fd, "\x17\x03\x03\x00\x05garbl", 10), 10);
  char buf[64];
  EXPECT_EQ(first.client->Read(buf, sizeof(buf)).error(), EPROTO);
  first.client->Close();
  Pair again = Connect(client, server, 0);
  ASSERT_TRUE(Exchange(again));
  EXPECT_EQ(SSL_session_reused(again.client->ssl()), 0);
}

TEST(TlsClientTest, SniAndVerificationAgainstTheCaFile) {
  std::string target = WriteCertificate("api", "api.internal");
  std::string stranger = WriteCertificate("stranger", "api.internal");
  auto server = MakeServer(target);
  {
    Pair p = Connect(MakeClient("api.internal", true, target + ".crt", 1), server, 0);
    ASSERT_TRUE(Exchange(p));
    EXPECT_EQ(p.server->TlsServerName(), "api.internal");
    EXPECT_EQ(p.client->TlsFailure(), nullptr);
  }
  {
    Pair p = Connect(MakeClient("api.internal", true, stranger + ".crt", 1), server, 0);
    EXPECT_FALSE(Exchange(p));
    ASSERT_NE(p.client->TlsFailure(), nullptr);
    EXPECT_STREQ(p.client->TlsFailure(), "self-signed certificate");
  }
  {
    Pair p = Connect(MakeClient("other.internal", true, target + ".crt", 1), server, 0);
    EXPECT_FALSE(Exchange(p));
    ASSERT_NE(p.client->TlsFailure(), nullptr);
    EXPECT_STREQ(p.client->TlsFailure(), "hostname mismatch");
  }
  {
    // Without a server name the target's IP address is the identity to verify.
    Pair p = Connect(MakeClient("", true, target + ".crt", 1), server, 0);
    EXPECT_FALSE(Exchange(p));
    EXPECT_STREQ(p.client->TlsFailure(), "IP address mismatch");
  }
  {
    // Verification off: the stranger's CA file is not consulted.
    Pair p = Connect(MakeClient("api.internal", false, stranger + ".crt", 1), server, 0);
    EXPECT_TRUE(Exchange(p));
  }
}

TEST(TlsClientTest, BuildErrorsNameFileLineAndField) {
  config::TargetGroup g;
  g.name = "tg";
  g.protocol = "HTTPS";
  g.attributes.tls_verify = true;
  g.attributes.tls_verify_ca_file = "/nonexistent/ca.pem";
  g.attributes.tls_verify_ca_file_location = {12, 34};
  g.attributes.tls_verify_ca_file_path = "TargetGroups[0].Attributes.sluice.tls.verify.ca_file";
  config::ConfigError error;
  EXPECT_EQ(tls::ClientContext::Build(g, "t.yaml", 1, &error), nullptr);
  EXPECT_EQ(error.ToString(),
            "t.yaml:12:34: TargetGroups[0].Attributes.sluice.tls.verify.ca_file: CA file "
            "/nonexistent/ca.pem: No such file or directory");
  std::string empty = ::testing::TempDir() + "sluice-tc-empty.pem";
  FILE* f = std::fopen(empty.c_str(), "w");
  std::fputs("not a certificate\n", f);
  std::fclose(f);
  g.attributes.tls_verify_ca_file = empty;
  EXPECT_EQ(tls::ClientContext::Build(g, "t.yaml", 1, &error), nullptr);
  EXPECT_NE(error.message.find("holds no PEM certificate"), std::string::npos) << error.message;
}

TEST(TlsClientTest, ProfilesSeparateSettings) {
  auto a = MakeClient("", false, "", 1);
  auto b = MakeClient("", false, "", 1);
  auto c = MakeClient("api.internal", false, "", 1);
  EXPECT_EQ(a->profile(), b->profile());
  EXPECT_NE(a->profile(), c->profile());
  EXPECT_NE(a->profile(), 0u);
}

}  // namespace
}  // namespace sluice::net
