// Certificates (parsing and the checks of the store), SNI selection, and the server context
// over a real handshake between memory BIOs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "tls/certificate.h"
#include "tls/self_signed.h"
#include "tls/server_context.h"
#include "tls/sni.h"
#include "tls/ticket_keys.h"

namespace sluice::tls {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1796392800;  // 2026-12-04

PemPair Make(std::vector<std::string> names, KeyType type = KeyType::kEcdsa, int64_t now = kNow,
             int days = 365) {
  SelfSignedRequest r;
  r.names = std::move(names);
  r.key_type = type;
  r.days = days;
  auto made = MakeSelfSigned(r, now);
  EXPECT_TRUE(made.ok()) << made.error().message;
  return made.ok() ? made.value() : PemPair{};
}

std::string Problem(std::string_view chain, std::string_view key, int64_t now = kNow) {
  auto parsed = ParseCertificatePem(chain, key, now);
  const auto* p = std::get_if<PemProblem>(&parsed);
  return p == nullptr ? "" : (p->about_key ? "key: " : "certificate: ") + p->message;
}

TEST(CertificateTest, ParsesSelfSignedWithFacts) {
  PemPair p = Make({"Example.com", "*.example.com", "127.0.0.1"});
  auto parsed = ParseCertificatePem(p.certificate, p.private_key, kNow);
  ASSERT_TRUE(std::holds_alternative<LoadedCertificate>(parsed))
      << Problem(p.certificate, p.private_key);
  const CertificateFacts& f = std::get<LoadedCertificate>(parsed).facts;
  EXPECT_THAT(f.dns_names, ::testing::ElementsAre("example.com", "*.example.com"));
  EXPECT_EQ(f.key_type, KeyType::kEcdsa);
  EXPECT_EQ(f.key_bits, 256);
  EXPECT_EQ(f.not_before, kNow - 3600);
}

TEST(CertificateTest, EveryCheckSaysWhatIsWrong) {
  PemPair a = Make({"a.example"});
  PemPair b = Make({"b.example"});
  EXPECT_EQ(Problem(a.certificate, b.private_key),
            "key: the private key does not match the certificate (the first one in the "
            "certificate file)");
  EXPECT_THAT(Problem("garbage", a.private_key),
              HasSubstr("certificate: no PEM certificate found"));
  EXPECT_THAT(Problem(a.certificate, "garbage"), HasSubstr("key: no PEM private key found"));
  EXPECT_EQ(Problem(a.certificate, a.private_key, kNow + 400 * 86400),
            "certificate: the certificate expired on " + FormatTime(kNow + 365 * 86400));
  EXPECT_EQ(Problem(a.certificate, a.private_key, kNow - 7200),
            "certificate: the certificate is not valid yet: valid from " + FormatTime(kNow - 3600));
  // An RSA key below 2048 bits (made here: MakeSelfSigned only makes 2048).
  PkeyPtr small(EVP_RSA_gen(1024));
  ASSERT_TRUE(small);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, small.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string small_pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EXPECT_EQ(Problem(a.certificate, small_pem),
            "key: key is RSA 1024 bits; an HTTPS listener needs RSA 2048 bits or more, or ECDSA");
  // An encrypted key is refused without prompting.
  EXPECT_THAT(Problem(a.certificate,
                      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
                      "-----END ENCRYPTED PRIVATE KEY-----\n"),
              HasSubstr("key: the private key is encrypted"));
}

TEST(CertificateTest, LoadNamesFileLineAndField) {
  config::CertificateDefinition def;
  def.name = "x";
  def.path = "Certificates[2]";
  def.certificate_file = "/nonexistent/x.crt";
  def.certificate_file_location = {7, 22};
  auto loaded = LoadCertificate(def, "lb.yaml", kNow);
  ASSERT_TRUE(std::holds_alternative<config::ConfigError>(loaded));
  EXPECT_EQ(std::get<config::ConfigError>(loaded).ToString(),
            "lb.yaml:7:22: Certificates[2].CertificateFile: /nonexistent/x.crt: cannot open: No "
            "such file or directory");
}

TEST(SniTest, NameMatching) {
  EXPECT_TRUE(NameMatches("example.com", "EXAMPLE.com"));
  EXPECT_TRUE(NameMatches("example.com", "example.com."));
  EXPECT_TRUE(NameMatches("*.example.com", "a.example.com"));
  EXPECT_TRUE(NameMatches("*.example.com", "A.Example.COM"));
  EXPECT_FALSE(NameMatches("*.example.com", "example.com"));
  EXPECT_FALSE(NameMatches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(NameMatches("*.example.com", ".example.com"));
  EXPECT_FALSE(NameMatches("example.com", "www.example.com"));
}

CertificateFacts Facts(std::vector<std::string> names, KeyType type, int bits, int64_t nb = 0) {
  CertificateFacts f;
  f.dns_names = std::move(names);
  f.key_type = type;
  f.key_bits = bits;
  f.not_before = nb;
  return f;
}

TEST(SniTest, SelectionOrder) {
  CertificateFacts def = Facts({"default.example"}, KeyType::kRsa, 2048);
  CertificateFacts rsa = Facts({"api.example.com"}, KeyType::kRsa, 2048);
  CertificateFacts ecdsa = Facts({"*.example.com"}, KeyType::kEcdsa, 256);
  CertificateFacts rsa_big = Facts({"api.example.com"}, KeyType::kRsa, 4096);
  CertificateFacts rsa_new = Facts({"api.example.com"}, KeyType::kRsa, 4096, 100);
  std::vector<const CertificateFacts*> certs = {&def, &rsa, &ecdsa, &rsa_big, &rsa_new};
  EXPECT_EQ(SelectCertificate(certs, "", true), 0u);                  // no SNI
  EXPECT_EQ(SelectCertificate(certs, "unknown.org", true), 0u);       // no match
  EXPECT_EQ(SelectCertificate(certs, "API.example.com", true), 2u);   // ECDSA first
  EXPECT_EQ(SelectCertificate(certs, "api.example.com", false), 4u);  // larger, then newer
  EXPECT_EQ(SelectCertificate(certs, "www.example.com", false), 2u);  // the only match
  EXPECT_EQ(SelectCertificate(certs, "a.b.example.com", true), 0u);   // one label only
}

// A client handshake against `server` over memory BIOs; returns the served leaf's CN.
// A client of `cctx` and a session of `server` joined by memory BIOs, the handshake driven
// on both sides (the client offers `sni` and `resume` when given). Frees what it made.
class Joined {
 public:
  Joined(const ServerContext& server, SSL_CTX* cctx, const char* sni, SSL_SESSION* resume)
      : client_(SSL_new(cctx)), server_(server.NewSession()) {
    BIO *c_io, *s_io;
    BIO_new_bio_pair(&c_io, 0, &s_io, 0);
    SSL_set_bio(client_, c_io, c_io);
    SSL_set_bio(server_, s_io, s_io);
    if (sni != nullptr) SSL_set_tlsext_host_name(client_, sni);
    if (resume != nullptr) SSL_set_session(client_, resume);
    SSL_set_connect_state(client_);
    bool c_done = false, s_done = false;
    for (int i = 0; i < 20 && !(c_done && s_done); ++i) {
      if (!c_done) c_done = SSL_do_handshake(client_) == 1;
      if (!s_done) s_done = SSL_do_handshake(server_) == 1;
    }
    done_ = c_done && s_done;
  }
  ~Joined() {
    ERR_clear_error();
    SSL_free(client_);
    SSL_free(server_);
  }
  bool done() const { return done_; }
  SSL* client() const { return client_; }
  SSL* server() const { return server_; }

 private:
  SSL* client_;
  SSL* server_;
  bool done_ = false;
};

// The served leaf's CN and key type ("api.test/ec"), empty when the handshake failed.
std::string HandshakeCn(const ServerContext& server, const char* sni, const char* ciphers,
                        std::string* alpn = nullptr) {
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  if (ciphers != nullptr) {
    SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(cctx, ciphers);
  }
  static const unsigned char kAlpn[] = "\x02h2\x08http/1.1";
  SSL_CTX_set_alpn_protos(cctx, kAlpn, sizeof(kAlpn) - 1);
  std::string cn;
  {
    Joined j(server, cctx, sni, nullptr);
    if (j.done()) {
      X509* peer = SSL_get1_peer_certificate(j.client());
      char buf[256] = {0};
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof(buf));
      cn = buf;
      cn += EVP_PKEY_get_base_id(X509_get0_pubkey(peer)) == EVP_PKEY_EC ? "/ec" : "/rsa";
      X509_free(peer);
      if (alpn != nullptr) {
        const unsigned char* p = nullptr;
        unsigned int len = 0;
        SSL_get0_alpn_selected(j.client(), &p, &len);
        alpn->assign(reinterpret_cast<const char*>(p), len);
      }
    }
  }
  SSL_CTX_free(cctx);
  return cn;
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "sluice-tls-" + std::to_string(getpid()) + "-" + name;
  FILE* f = std::fopen(path.c_str(), "w");
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  return path;
}

config::Config ConfigWith(const std::vector<std::pair<std::string, PemPair>>& certs) {
  config::Config cfg;
  cfg.source_file = "t.yaml";
  for (const auto& [name, pem] : certs) {
    config::CertificateDefinition d;
    d.name = name;
    d.certificate_file = WriteTemp(name + ".crt", pem.certificate);
    d.private_key_file = WriteTemp(name + ".key", pem.private_key);
    cfg.certificates.push_back(d);
  }
  return cfg;
}

TEST(ServerContextTest, HandshakePicksCertificateBySniAndAlpn) {
  config::Config cfg = ConfigWith({{"default", Make({"default.test"}, KeyType::kRsa)},
                                   {"api-rsa", Make({"api.test"}, KeyType::kRsa)},
                                   {"api-ec", Make({"api.test"}, KeyType::kEcdsa)},
                                   {"wild", Make({"*.wild.test"}, KeyType::kRsa)}});
  auto store = CertificateStore::Load(cfg, kNow);
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const CertificateStore>>(store));
  config::Listener l;
  l.protocol = "HTTPS";
  l.ssl_policy = "ELBSecurityPolicy-TLS13-1-2-2021-06";
  for (const char* n : {"default", "api-rsa", "api-ec", "wild"}) l.certificates.push_back({n});
  auto ctx = ServerContext::Build(l, std::get<std::shared_ptr<const CertificateStore>>(store));
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  std::string alpn;
  EXPECT_EQ(HandshakeCn(*ctx.value(), nullptr, nullptr, &alpn), "default.test/rsa");
  EXPECT_EQ(alpn, "http/1.1");
  EXPECT_EQ(HandshakeCn(*ctx.value(), "API.test", nullptr), "api.test/ec");  // ECDSA first
  EXPECT_EQ(HandshakeCn(*ctx.value(), "x.wild.test", nullptr), "*.wild.test/rsa");
  EXPECT_EQ(HandshakeCn(*ctx.value(), "wild.test", nullptr), "default.test/rsa");
  // A TLS 1.2 client offering only RSA suites gets the RSA certificate for the same name.
  EXPECT_EQ(HandshakeCn(*ctx.value(), "api.test", "ECDHE-RSA-AES128-GCM-SHA256"), "api.test/rsa");
  // Outside the policy (no SHA-1 CBC suites in TLS13-1-2): no handshake.
  EXPECT_EQ(HandshakeCn(*ctx.value(), "api.test", "ECDHE-RSA-AES128-SHA"), "");
}

TEST(ServerContextTest, PostQuantumPolicyNeedsTheGroups) {
  config::Config cfg = ConfigWith({{"pq", Make({"pq.test"})}});
  auto store = CertificateStore::Load(cfg, kNow);
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const CertificateStore>>(store));
  config::Listener l;
  l.ssl_policy = "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09";
  l.certificates.push_back({"pq"});
  auto ctx = ServerContext::Build(l, std::get<std::shared_ptr<const CertificateStore>>(store));
  if (ctx.ok()) GTEST_SKIP() << "this OpenSSL offers ML-KEM";
  EXPECT_THAT(ctx.error().message, HasSubstr("needs the ML-KEM hybrid groups"));
}

}  // namespace
}  // namespace sluice::tls

namespace sluice::tls {
namespace {

int64_t g_test_now = kNow;
int64_t TestNow() { return g_test_now; }

// One client connection to `server` offering `resume` (may be null); returns whether the
// session was resumed, and the client's session (with its ticket) in *out.
bool Connect(const ServerContext& server, SSL_SESSION* resume, SSL_SESSION** out) {
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  bool reused = false;
  {
    Joined j(server, cctx, "resume.test", resume);
    EXPECT_TRUE(j.done());
    // TLS 1.3 tickets follow the handshake: let the client read them.
    char byte = 'x';
    size_t n = 0;
    SSL_write_ex(j.server(), &byte, 1, &n);
    SSL_read_ex(j.client(), &byte, 1, &n);
    reused = SSL_session_reused(j.client()) == 1;
    *out = SSL_get1_session(j.client());
    // Freed without a close_notify, OpenSSL would mark the session not resumable.
    SSL_set_shutdown(j.client(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  }
  SSL_CTX_free(cctx);
  return reused;
}

TEST(TicketKeysTest, TicketsResumeAcrossContextsAndExpireAfterTwoPeriods) {
  SetTicketClockForTest(TestNow);
  g_test_now = kNow;
  config::Config cfg = ConfigWith({{"r", Make({"resume.test"})}});
  auto store = CertificateStore::Load(cfg, kNow);
  config::Listener l;
  l.ssl_policy = "ELBSecurityPolicy-TLS13-1-2-2021-06";
  l.certificates.push_back({"r"});
  auto s = std::get<std::shared_ptr<const CertificateStore>>(store);
  auto before = ServerContext::Build(l, s);
  auto after = ServerContext::Build(l, s);  // as a reload would: new contexts
  ASSERT_TRUE(before.ok() && after.ok());
  SSL_SESSION* first = nullptr;
  EXPECT_FALSE(Connect(*before.value(), nullptr, &first));
  SSL_SESSION* second = nullptr;
  EXPECT_TRUE(Connect(*after.value(), first, &second));  // another context, same keys
  // One period later the ticket is still good (and re-issued); two periods later it is not.
  g_test_now = kNow + kTicketKeyPeriodSeconds;
  SSL_SESSION* third = nullptr;
  EXPECT_TRUE(Connect(*after.value(), second, &third));
  g_test_now = kNow + 3 * kTicketKeyPeriodSeconds;
  SSL_SESSION* fourth = nullptr;
  EXPECT_FALSE(Connect(*after.value(), second, &fourth));
  for (SSL_SESSION* x : {first, second, third, fourth}) SSL_SESSION_free(x);
  SetTicketClockForTest(nullptr);
}

bool SameTicket(const SSL_SESSION* a, const SSL_SESSION* b) {
  const unsigned char *ta = nullptr, *tb = nullptr;
  size_t la = 0, lb = 0;
  SSL_SESSION_get0_ticket(a, &ta, &la);
  SSL_SESSION_get0_ticket(b, &tb, &lb);
  return la == lb && la > 0 && std::memcmp(ta, tb, la) == 0;
}

// A resumed TLS 1.3 handshake gets a new ticket: clients use each TLS 1.3 ticket once (an
// OpenSSL client with a session cache marks the session not resumable after it), so without
// one every second connection of such a client would be a full handshake.
TEST(TicketKeysTest, ResumedTls13HandshakesGetANewTicket) {
  config::Config cfg = ConfigWith({{"r", Make({"resume.test"})}});
  auto store = CertificateStore::Load(cfg, kNow);
  config::Listener l;
  l.ssl_policy = "ELBSecurityPolicy-TLS13-1-2-2021-06";
  l.certificates.push_back({"r"});
  auto ctx = ServerContext::Build(l, std::get<std::shared_ptr<const CertificateStore>>(store));
  ASSERT_TRUE(ctx.ok());
  SSL_SESSION* first = nullptr;
  EXPECT_FALSE(Connect(*ctx.value(), nullptr, &first));
  EXPECT_EQ(SSL_SESSION_get_protocol_version(first), TLS1_3_VERSION);
  SSL_SESSION* second = nullptr;
  EXPECT_TRUE(Connect(*ctx.value(), first, &second));
  EXPECT_FALSE(SameTicket(first, second));  // a fresh ticket, not the one offered
  SSL_SESSION* third = nullptr;
  EXPECT_TRUE(Connect(*ctx.value(), second, &third));
  EXPECT_FALSE(SameTicket(second, third));
  for (SSL_SESSION* x : {first, second, third}) SSL_SESSION_free(x);
}

}  // namespace
}  // namespace sluice::tls
