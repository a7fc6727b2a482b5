// An HTTPS exchange through a whole worker: a TLS client on a socketpair, the target played
// in memory. The exchange record carries the connection's TLS facts.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "net/tls_transport.h"
#include "proxy/memory_harness.h"
#include "tls/self_signed.h"

namespace sluice::proxy {
namespace {

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "sluice-rec-" + std::to_string(getpid()) + "-" + name;
  FILE* f = std::fopen(path.c_str(), "w");
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  return path;
}

std::string Config() {
  tls::SelfSignedRequest request;
  request.names = {"records.test"};
  auto pem = tls::MakeSelfSigned(request, RealtimeMillis() / 1000);
  EXPECT_TRUE(pem.ok());
  return "Certificates:\n  - {Name: c, CertificateFile: " +
         WriteTemp("c.crt", pem.value().certificate) +
         ", PrivateKeyFile: " + WriteTemp("c.key", pem.value().private_key) + "}\n" + R"(
LoadBalancers:
  - Name: lb
    Attributes: {routing.http.x_amzn_tls_version_and_cipher_suite.enabled: true}
    Listeners:
      - Protocol: HTTPS
        Port: 443
        SslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-06
        Certificates: [c]
        DefaultActions: [{Type: forward, TargetGroupName: tg}]
TargetGroups:
  - Name: tg
    Port: 80
    HealthCheckEnabled: false
    Targets: [{Id: 10.0.0.1}]
)";
}

TEST(TlsRecordTest, HttpsExchangeRecordsTlsFacts) {
  auto created = MemoryHarness::Create(Config());
  ASSERT_TRUE(created.ok()) << created.error().message;
  MemoryHarness& h = *created.value();
  const ListenerRuntime& l = h.snapshot().listeners.at(0);
  ASSERT_NE(l.tls, nullptr);
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  SocketAddress peer;
  peer.ip = *IpAddress::Parse("192.0.2.20");
  peer.port = 41000;
  h.worker().ServeDownstream(
      std::make_unique<net::TlsTransport>(fds[0], l.tls->NewSession(), l.tls), peer, &l);
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  SSL* client = SSL_new(cctx);
  SSL_set_fd(client, fds[1]);
  SSL_set_tlsext_host_name(client, "records.test");
  SSL_set_connect_state(client);
  bool done = false;
  for (int i = 0; i < 100 && !done; ++i) {
    done = SSL_do_handshake(client) == 1;
    h.Run();
  }
  ASSERT_TRUE(done);
  const std::string request = "GET /r HTTP/1.1\r\nHost: records.test\r\n\r\n";
  ASSERT_EQ(SSL_write(client, request.data(), static_cast<int>(request.size())),
            static_cast<int>(request.size()));
  for (int i = 0; i < 20 && h.upstreams().empty(); ++i) h.Run();
  ASSERT_EQ(h.upstreams().size(), 1u);
  std::string sent = h.upstreams()[0].target->ReadAll();
  EXPECT_NE(sent.find("X-Forwarded-Proto: https\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("X-Amzn-Tls-Version: TLSv1.3\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("X-Amzn-Tls-Cipher-Suite: TLS_AES_128_GCM_SHA256\r\n"), std::string::npos)
      << sent;
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  h.upstreams()[0].target->Write(response.data(), response.size());
  std::string got;
  char buf[4096];
  for (int i = 0; i < 50 && got.find("ok") == std::string::npos; ++i) {
    h.Run();
    size_t n = 0;
    while (SSL_read_ex(client, buf, sizeof(buf), &n) == 1) got.append(buf, n);
    ERR_clear_error();
  }
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  ASSERT_EQ(h.records().size(), 1u);
  const MemoryHarness::Kept& k = h.records()[0];
  EXPECT_EQ(k.record.elb_status, 200);
  EXPECT_EQ(k.record.tls_protocol, "TLSv1.3");
  EXPECT_EQ(k.record.tls_cipher, "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(k.tls_server_name, "records.test");
  EXPECT_EQ(k.record.tls_handshake_ms, 0);  // the fake clock does not move by itself
  SSL_free(client);
  SSL_CTX_free(cctx);
  close(fds[1]);
}

}  // namespace
}  // namespace sluice::proxy
