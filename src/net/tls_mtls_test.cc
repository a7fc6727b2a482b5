// Mutual TLS handshakes over socketpairs: a TlsTransport server from a ServerContext whose
// listener asks for client certificates (passthrough or verify against a TrustStore) and a
// plain OpenSSL client presenting certificates made here (EC P-256, SHA-256). Covers the
// verification paths (unknown CA, expiry, revocation, chain depth, no certificate), the
// X-Amzn-Mtls-Clientcert* headers made after the handshake, CA name advertising and
// resumption being off.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "net/tls_transport.h"
#include "tls/mutual_tls.h"
#include "tls/self_signed.h"
#include "tls/server_context.h"
#include "tls/trust_store.h"

namespace sluice::net {
namespace {

using ::testing::HasSubstr;
using tls::CrlPtr;
using tls::PkeyPtr;
using tls::X509Ptr;

const int64_t kNow = static_cast<int64_t>(time(nullptr));
constexpr int64_t kDay = 86400;

// ---- Certificates and CRLs for the tests ----------------------------------------------------

struct Cert {
  X509Ptr x509;
  PkeyPtr key;
  X509* get() const { return x509.get(); }
};

struct Spec {
  bool ca = false;
  uint64_t serial = 1;
  int64_t not_before = kNow - 3600;
  int64_t not_after = kNow + kDay;
  const char* curve = "P-256";  // EC key on this curve, unless rsa_bits
  size_t rsa_bits = 0;          // an RSA key of this size
  long version = 2;             // X.509 v3; 0 for v1 (no extensions then)
};

X509_NAME* MakeName(const std::string& cn, const std::string& org = "Sluice Test") {
  X509_NAME* name = X509_NAME_new();
  auto add = [&](const char* field, const std::string& value) {
    EXPECT_EQ(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(value.data()),
                                         static_cast<int>(value.size()), -1, 0),
              1);
  };
  add("C", "US");
  add("O", org);
  add("CN", cn);
  return name;
}

void AddExtension(X509* x, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `subject` (taken) issued by `issuer` (self-signed when null).
Cert Make(X509_NAME* subject, const Cert* issuer, const Spec& s = {}) {
  Cert c;
  c.key.reset(s.rsa_bits != 0 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", s.rsa_bits)
                              : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", s.curve));
  EXPECT_NE(c.key, nullptr);
  c.x509.reset(X509_new());
  X509* x = c.get();
  X509_set_version(x, s.version);
  BIGNUM* bn = BN_new();
  BN_set_word(bn, s.serial);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  X509_set_subject_name(x, subject);
  X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer->get()) : subject);
  X509_NAME_free(subject);
  ASN1_TIME_set(X509_getm_notBefore(x), static_cast<time_t>(s.not_before));
  ASN1_TIME_set(X509_getm_notAfter(x), static_cast<time_t>(s.not_after));
  X509_set_pubkey(x, c.key.get());
  X509* signer = issuer != nullptr ? issuer->get() : x;
  if (s.version == 0) {
    // v1: no extensions
  } else if (s.ca) {
    AddExtension(x, signer, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(x, signer, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(x, signer, NID_key_usage, "critical,digitalSignature");
    AddExtension(x, signer, NID_ext_key_usage, "clientAuth");
  }
  EXPECT_GT(X509_sign(x, issuer != nullptr ? issuer->key.get() : c.key.get(), EVP_sha256()), 0);
  return c;
}

// Every CA gets a serial of its own (a CRL of the root must not revoke another CA by accident).
Cert MakeCa(const std::string& cn, const Cert* issuer = nullptr, Spec s = {}) {
  static uint64_t next_serial = 0x1000;
  s.ca = true;
  s.serial = next_serial++;
  return Make(MakeName(cn), issuer, s);
}

Cert MakeLeaf(const std::string& cn, const Cert& issuer, uint64_t serial = 2, Spec s = {}) {
  s.serial = serial;
  return Make(MakeName(cn), &issuer, s);
}

std::string Pem(X509* x) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string CrlPem(const Cert& issuer, const std::vector<uint64_t>& serials) {
  CrlPtr crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.get()));
  ASN1_TIME* t = ASN1_TIME_set(nullptr, static_cast<time_t>(kNow - 3600));
  X509_CRL_set1_lastUpdate(crl.get(), t);
  ASN1_TIME_set(t, static_cast<time_t>(kNow + kDay));
  X509_CRL_set1_nextUpdate(crl.get(), t);
  for (uint64_t serial : serials) {
    X509_REVOKED* r = X509_REVOKED_new();
    ASN1_INTEGER* i = ASN1_INTEGER_new();
    ASN1_INTEGER_set_uint64(i, serial);
    X509_REVOKED_set_serialNumber(r, i);
    ASN1_INTEGER_free(i);
    ASN1_TIME_set(t, static_cast<time_t>(kNow - 60));
    X509_REVOKED_set_revocationDate(r, t);
    X509_CRL_add0_revoked(crl.get(), r);
  }
  ASN1_TIME_free(t);
  X509_CRL_sort(crl.get());
  EXPECT_GT(X509_CRL_sign(crl.get(), issuer.key.get(), EVP_sha256()), 0);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_CRL(bio, crl.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path =
      ::testing::TempDir() + "sluice-mtlsnet-" + std::to_string(getpid()) + "-" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr) << path;
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  return path;
}

std::string UrlDecode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

std::string Iso(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// ---- Server side -----------------------------------------------------------------------------

// The listener's certificates (self-signed, as tls_transport_test.cc makes them).
std::shared_ptr<const tls::CertificateStore> ServerCertificates() {
  static std::shared_ptr<const tls::CertificateStore> store = [] {
    config::Config cfg;
    for (const char* name : {"a.example", "b.example"}) {
      tls::SelfSignedRequest r;
      r.names = {name};
      auto pem = tls::MakeSelfSigned(r, kNow - 60);
      EXPECT_TRUE(pem.ok());
      config::CertificateDefinition d;
      d.name = name;
      d.certificate_file = WriteFile(std::string(name) + ".crt", pem.value().certificate);
      d.private_key_file = WriteFile(std::string(name) + ".key", pem.value().private_key);
      cfg.certificates.push_back(d);
    }
    auto loaded = tls::CertificateStore::Load(cfg, kNow);
    EXPECT_TRUE(std::holds_alternative<std::shared_ptr<const tls::CertificateStore>>(loaded));
    return std::get<std::shared_ptr<const tls::CertificateStore>>(loaded);
  }();
  return store;
}

// A trust store of `cas` (a bundle) with `crls` (PEM texts, one file each).
std::shared_ptr<const tls::TrustStore> Trust(const std::string& tag,
                                             const std::vector<const Cert*>& cas,
                                             const std::vector<std::string>& crls = {}) {
  std::string bundle;
  for (const Cert* ca : cas) bundle += Pem(ca->get());
  config::TrustStoreDefinition def;
  def.name = tag;
  def.path = "TrustStores[0]";
  def.ca_bundle_file = WriteFile(tag + ".pem", bundle);
  for (size_t i = 0; i < crls.size(); ++i) {
    def.revocation_files.push_back(WriteFile(tag + std::to_string(i) + ".crl", crls[i]));
    def.revocation_file_locations.push_back({});
  }
  auto loaded = tls::TrustStore::Load(def, "t.yaml");
  if (auto* e = std::get_if<config::ConfigError>(&loaded)) {
    ADD_FAILURE() << e->ToString();
    return nullptr;
  }
  return std::get<std::shared_ptr<const tls::TrustStore>>(loaded);
}

config::MutualAuthentication Mode(config::MutualTlsMode mode, bool ignore_expiry = false,
                                  bool advertise = false) {
  config::MutualAuthentication m;
  m.mode = mode;
  m.trust_store = "ts";
  m.ignore_client_certificate_expiry = ignore_expiry;
  m.advertise_trust_store_ca_names = advertise;
  return m;
}

const config::MutualAuthentication kPassthrough = Mode(config::MutualTlsMode::kPassthrough);
const config::MutualAuthentication kVerify = Mode(config::MutualTlsMode::kVerify);
const config::MutualAuthentication kOff = Mode(config::MutualTlsMode::kOff);

std::shared_ptr<const tls::ServerContext> MakeServer(const config::MutualAuthentication& m,
                                                     std::shared_ptr<const tls::TrustStore> trust,
                                                     bool two_certificates = false) {
  config::Listener l;
  l.protocol = "HTTPS";
  l.ssl_policy = "ELBSecurityPolicy-TLS13-1-2-2021-06";
  for (const char* name : {"a.example", "b.example"}) {
    config::ListenerCertificate ref;
    ref.name = name;
    l.certificates.push_back(ref);
    if (!two_certificates) break;
  }
  l.mutual_authentication = m;
  auto ctx = tls::ServerContext::Build(l, ServerCertificates(), std::move(trust));
  EXPECT_TRUE(ctx.ok()) << (ctx.ok() ? "" : ctx.error().message);
  return ctx.ok() ? ctx.value() : nullptr;
}

// ---- Client side and the connection ----------------------------------------------------------

struct ClientOptions {
  const Cert* cert = nullptr;           // none: no client certificate
  std::vector<const Cert*> chain = {};  // intermediates sent after the leaf
  int max_version = 0;                  // e.g. TLS1_2_VERSION
  std::string server_name = {};         // SNI
  SSL_SESSION* session = nullptr;       // to resume
};

// What the client saw of the server's CertificateRequest (in the client certificate callback).
struct CertificateRequestSeen {
  bool asked = false;
  std::vector<std::string> ca_names;
};

int OnCertificateRequest(SSL* ssl, void* arg) {
  auto* seen = static_cast<CertificateRequestSeen*>(arg);
  seen->asked = true;
  const STACK_OF(X509_NAME)* names = SSL_get0_peer_CA_list(ssl);
  for (int i = 0; names != nullptr && i < sk_X509_NAME_num(names); ++i) {
    seen->ca_names.push_back(tls::Rfc2253(sk_X509_NAME_value(names, i)));
  }
  return 1;
}

class Connection {
 public:
  Connection(std::shared_ptr<const tls::ServerContext> server, const ClientOptions& o) {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    server_ = std::make_unique<TlsTransport>(fds[0], server->NewSession(), server);
    client_fd_ = fds[1];
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    if (o.max_version != 0) SSL_CTX_set_max_proto_version(client_ctx_, o.max_version);
    SSL_CTX_set_security_level(client_ctx_, 0);  // the client may present weak keys
    client_ = SSL_new(client_ctx_);
    SSL_set_fd(client_, client_fd_);
    SSL_set_connect_state(client_);
    if (!o.server_name.empty()) SSL_set_tlsext_host_name(client_, o.server_name.c_str());
    if (o.cert != nullptr) {
      EXPECT_EQ(SSL_use_certificate(client_, o.cert->get()), 1);
      EXPECT_EQ(SSL_use_PrivateKey(client_, o.cert->key.get()), 1);
      for (const Cert* c : o.chain) {
        EXPECT_EQ(SSL_add1_chain_cert(client_, c->get()), 1);
      }
    }
    if (o.session != nullptr) {
      EXPECT_EQ(SSL_set_session(client_, o.session), 1);
    }
    SSL_set_cert_cb(client_, OnCertificateRequest, &seen_);
  }
  ~Connection() {
    // A close_notify first: OpenSSL marks the session of a connection freed without one as
    // not resumable.
    SSL_shutdown(client_);
    SSL_free(client_);
    SSL_CTX_free(client_ctx_);
    close(client_fd_);
    ERR_clear_error();
  }

  // Drives both sides (bounded) until the server's handshake is done, then exchanges one
  // request and answer (so that the client reads any session ticket). False when either side
  // failed. With TLS 1.3 the client finishes before the server has checked its certificate:
  // the server's verdict decides.
  bool Handshake() {
    bool client_done = false;
    for (int i = 0; i < 50; ++i) {
      if (!client_done) {
        int c = SSL_do_handshake(client_);
        if (c == 1) {
          client_done = true;
        } else {
          int err = SSL_get_error(client_, c);
          if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            server_->Handshake();  // let the server record why
            return false;
          }
        }
      }
      HandshakeStatus s = server_->Handshake();
      if (s == HandshakeStatus::kFailed) return false;
      if (client_done && s == HandshakeStatus::kDone) return Exchange();
    }
    ADD_FAILURE() << "the handshake did not finish";
    return false;
  }

  std::string Headers(config::MutualTlsMode mode, const config::ListenerAttributes& names = {}) {
    std::string out;
    tls::AppendClientCertHeaders(server_->ssl(), mode, names, &out);
    return out;
  }
  SSL* client() const { return client_; }
  TlsTransport& server() const { return *server_; }
  const CertificateRequestSeen& seen() const { return seen_; }

 private:
  bool Exchange() {
    if (SSL_write(client_, "ping", 4) != 4) return false;
    char buf[64];
    IoResult r = server_->Read(buf, sizeof(buf));
    if (!r.ok() || r.bytes() != 4) return false;
    if (!server_->Write("pong", 4).ok()) return false;
    int n = SSL_read(client_, buf, sizeof(buf));
    ERR_clear_error();
    return n == 4 && std::string(buf, 4) == "pong";
  }

  std::unique_ptr<TlsTransport> server_;
  int client_fd_ = -1;
  SSL_CTX* client_ctx_ = nullptr;
  SSL* client_ = nullptr;
  CertificateRequestSeen seen_;
};

std::string Failure(const Connection& c) {
  const char* why = c.server().TlsFailure();
  return why != nullptr ? why : "(none)";
}

// A root with a line of three intermediates under it, and a root nobody trusts.
struct Pki {
  Cert root = MakeCa("Test Root");
  Cert int1 = MakeCa("Intermediate 1", &root);
  Cert int2 = MakeCa("Intermediate 2", &int1);
  Cert int3 = MakeCa("Intermediate 3", &int2);
  Cert stranger = MakeCa("Stranger Root");
};

// ---- Verify ----------------------------------------------------------------------------------

class MtlsVerifyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new Pki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  static Pki* pki_;
};
Pki* MtlsVerifyTest::pki_ = nullptr;

TEST_F(MtlsVerifyTest, ALeafOfTheRootIsAcceptedWithTheFiveHeaders) {
  Spec s;
  s.serial = 0x03A5B7C9;
  s.not_before = kNow - 7200;
  s.not_after = kNow + 30 * kDay;
  Cert leaf = Make(MakeName("client", "Example, Inc."), &pki_->root, s);
  auto server = MakeServer(kVerify, Trust("verify-ok", {&pki_->root}));
  Connection c(server, {.cert = &leaf});
  ASSERT_TRUE(c.Handshake()) << Failure(c);
  std::string leaf_encoded;
  tls::AppendUrlEncoded(Pem(leaf.get()), &leaf_encoded);
  EXPECT_EQ(c.Headers(config::MutualTlsMode::kVerify),
            "X-Amzn-Mtls-Clientcert-Serial-Number: 03A5B7C9\r\n"
            "X-Amzn-Mtls-Clientcert-Issuer: CN=Test Root,O=Sluice Test,C=US\r\n"
            "X-Amzn-Mtls-Clientcert-Subject: CN=client,O=Example\\, Inc.,C=US\r\n"
            "X-Amzn-Mtls-Clientcert-Validity: NotBefore=" +
                Iso(kNow - 7200) + ";NotAfter=" + Iso(kNow + 30 * kDay) +
                "\r\n"
                "X-Amzn-Mtls-Clientcert-Leaf: " +
                leaf_encoded + "\r\n");
  EXPECT_EQ(UrlDecode(leaf_encoded), Pem(leaf.get()));
  EXPECT_EQ(leaf_encoded.find_first_of(" \r\n"), std::string::npos);
  EXPECT_TRUE(c.seen().asked);
  // Off: no headers even though a certificate was presented.
  EXPECT_EQ(c.Headers(config::MutualTlsMode::kOff), "");
}

TEST_F(MtlsVerifyTest, ALeafOfAnUnknownCaIsRefused) {
  Cert leaf = MakeLeaf("client", pki_->stranger);
  auto server = MakeServer(kVerify, Trust("verify-unknown", {&pki_->root}));
  Connection c(server, {.cert = &leaf});
  EXPECT_FALSE(c.Handshake());
  EXPECT_EQ(Failure(c), "unable to get local issuer certificate");
  // Presenting the stranger's root as a chain certificate does not help.
  Connection again(server, {.cert = &leaf, .chain = {&pki_->stranger}});
  EXPECT_FALSE(again.Handshake());
  EXPECT_EQ(Failure(again), "self-signed certificate in certificate chain");
  // A self-signed client certificate is refused too.
  Cert self = MakeCa("self");
  Connection selfsigned(server, {.cert = &self});
  EXPECT_FALSE(selfsigned.Handshake());
}

TEST_F(MtlsVerifyTest, NoClientCertificateIsRefused) {
  auto server = MakeServer(kVerify, Trust("verify-none", {&pki_->root}));
  Connection c(server, {});
  EXPECT_FALSE(c.Handshake());
  EXPECT_EQ(Failure(c), "peer did not return a certificate");
  Connection tls12(server, {.max_version = TLS1_2_VERSION});
  EXPECT_FALSE(tls12.Handshake());
  EXPECT_EQ(Failure(tls12), "peer did not return a certificate");
}

TEST_F(MtlsVerifyTest, AnExpiredLeafIsRefusedUnlessExpiryIsIgnored) {
  Spec s;
  s.not_before = kNow - 30 * kDay;
  s.not_after = kNow - kDay;
  Cert expired = MakeLeaf("expired", pki_->root, 3, s);
  s.not_before = kNow + kDay;
  s.not_after = kNow + 30 * kDay;
  Cert future = MakeLeaf("future", pki_->root, 4, s);
  auto trust = Trust("verify-expiry", {&pki_->root});
  auto strict = MakeServer(kVerify, trust);
  {
    Connection c(strict, {.cert = &expired});
    EXPECT_FALSE(c.Handshake());
    EXPECT_EQ(Failure(c), "certificate has expired");
  }
  {
    Connection c(strict, {.cert = &future});
    EXPECT_FALSE(c.Handshake());
    EXPECT_EQ(Failure(c), "certificate is not yet valid");
  }
  auto lenient = MakeServer(Mode(config::MutualTlsMode::kVerify, /*ignore_expiry=*/true), trust);
  {
    Connection c(lenient, {.cert = &expired});
    ASSERT_TRUE(c.Handshake()) << Failure(c);
    EXPECT_THAT(c.Headers(config::MutualTlsMode::kVerify),
                HasSubstr("X-Amzn-Mtls-Clientcert-Validity: NotBefore=" + Iso(kNow - 30 * kDay) +
                          ";NotAfter=" + Iso(kNow - kDay) + "\r\n"));
  }
  {
    Connection c(lenient, {.cert = &future});
    EXPECT_TRUE(c.Handshake()) << Failure(c);
  }
}

TEST_F(MtlsVerifyTest, IgnoringExpiryIsAboutTheLeafOnly) {
  Spec s;
  s.not_before = kNow - 30 * kDay;
  s.not_after = kNow - kDay;
  Cert expired_ca = MakeCa("Expired Intermediate", &pki_->root, s);
  Cert leaf = MakeLeaf("client", expired_ca, 5);
  auto lenient = MakeServer(Mode(config::MutualTlsMode::kVerify, /*ignore_expiry=*/true),
                            Trust("verify-expired-ca", {&pki_->root}));
  Connection c(lenient, {.cert = &leaf, .chain = {&expired_ca}});
  EXPECT_FALSE(c.Handshake());
  EXPECT_EQ(Failure(c), "certificate has expired");
}

TEST_F(MtlsVerifyTest, ARevokedLeafIsRefusedAndItsSiblingAccepted) {
  Cert revoked = MakeLeaf("revoked", pki_->root, 1001);
  Cert sibling = MakeLeaf("sibling", pki_->root, 1002);
  Cert of_int = MakeLeaf("under-intermediate", pki_->int1, 1001);  // same serial, other CA
  auto server =
      MakeServer(kVerify, Trust("verify-crl", {&pki_->root}, {CrlPem(pki_->root, {1001, 77})}));
  {
    Connection c(server, {.cert = &revoked});
    EXPECT_FALSE(c.Handshake());
    EXPECT_EQ(Failure(c), "certificate revoked");
  }
  {
    Connection c(server, {.cert = &sibling});
    EXPECT_TRUE(c.Handshake()) << Failure(c);
  }
  {
    // IgnoreClientCertificateExpiry forgives dates, not revocation.
    Spec s;
    s.not_before = kNow - 30 * kDay;
    s.not_after = kNow - kDay;
    Cert expired_revoked = MakeLeaf("expired-revoked", pki_->root, 77, s);
    auto lenient =
        MakeServer(Mode(config::MutualTlsMode::kVerify, /*ignore_expiry=*/true),
                   Trust("verify-crl-lenient", {&pki_->root}, {CrlPem(pki_->root, {1001, 77})}));
    Connection c(lenient, {.cert = &expired_revoked});
    EXPECT_FALSE(c.Handshake());
    EXPECT_EQ(Failure(c), "certificate revoked");
    Connection ok(lenient, {.cert = &sibling});
    EXPECT_TRUE(ok.Handshake()) << Failure(ok);
  }
  {
    // Intermediate 1 has no CRL of its own: that is not a failure (ALB checks revocation
    // only where a CRL was imported); the root's CRL does not list Intermediate 1.
    Connection c(server, {.cert = &of_int, .chain = {&pki_->int1}});
    EXPECT_TRUE(c.Handshake()) << Failure(c);
  }
}

TEST_F(MtlsVerifyTest, ARevokedIntermediateIsRefused) {
  Cert leaf = MakeLeaf("client", pki_->int1, 9);
  std::string serial = tls::SerialHex(pki_->int1.get());
  auto server =
      MakeServer(kVerify, Trust("verify-crl-int", {&pki_->root},
                                {CrlPem(pki_->root, {std::stoull(serial, nullptr, 16)})}));
  Connection c(server, {.cert = &leaf, .chain = {&pki_->int1}});
  EXPECT_FALSE(c.Handshake());
  EXPECT_EQ(Failure(c), "certificate revoked");
}

TEST_F(MtlsVerifyTest, ChainsOfFourCertificatesPassAndFiveFail) {
  auto server = MakeServer(kVerify, Trust("verify-depth", {&pki_->root}));
  Cert under1 = MakeLeaf("depth3", pki_->int1, 31);
  Cert under2 = MakeLeaf("depth4", pki_->int2, 41);
  Cert under3 = MakeLeaf("depth5", pki_->int3, 51);
  {
    Connection c(server, {.cert = &under1, .chain = {&pki_->int1}});
    EXPECT_TRUE(c.Handshake()) << Failure(c);
  }
  {
    // leaf + 2 intermediates + root: 4 certificates.
    Connection c(server, {.cert = &under2, .chain = {&pki_->int2, &pki_->int1}});
    EXPECT_TRUE(c.Handshake()) << Failure(c);
    EXPECT_THAT(c.Headers(config::MutualTlsMode::kVerify),
                HasSubstr("X-Amzn-Mtls-Clientcert-Issuer: CN=Intermediate 2,O=Sluice Test,C=US"));
  }
  {
    // leaf + 3 intermediates + root: 5 certificates.
    Connection c(server, {.cert = &under3, .chain = {&pki_->int3, &pki_->int2, &pki_->int1}});
    EXPECT_FALSE(c.Handshake());
    EXPECT_EQ(Failure(c), "certificate chain too long");
  }
  {
    // The same, also sending the root: still 5.
    Connection c(server,
                 {.cert = &under3, .chain = {&pki_->int3, &pki_->int2, &pki_->int1, &pki_->root}});
    EXPECT_FALSE(c.Handshake());
  }
  {
    // A missing intermediate: no path to the root.
    Connection c(server, {.cert = &under2, .chain = {&pki_->int2}});
    EXPECT_FALSE(c.Handshake());
    EXPECT_EQ(Failure(c), "unable to get local issuer certificate");
  }
}

TEST_F(MtlsVerifyTest, IntermediatesInTheTrustStoreCompleteTheChain) {
  // The bundle holds the root and both intermediates: a client under Intermediate 2 sends
  // its leaf only, and the chain (4 certificates) is built from the store.
  auto server =
      MakeServer(kVerify, Trust("verify-anchor", {&pki_->root, &pki_->int1, &pki_->int2}));
  Cert leaf = MakeLeaf("client", pki_->int2, 61);
  Connection c(server, {.cert = &leaf});
  EXPECT_TRUE(c.Handshake()) << Failure(c);
  // Under Intermediate 3 (not in the store, sent by the client): 5 certificates, too long.
  Cert deep = MakeLeaf("deep", pki_->int3, 62);
  Connection d(server, {.cert = &deep, .chain = {&pki_->int3}});
  EXPECT_FALSE(d.Handshake());
  EXPECT_EQ(Failure(d), "certificate chain too long");
}

TEST_F(MtlsVerifyTest, LeafKeysOutsideAlbsListAreRefused) {
  // §7.4: leaf keys RSA 2048..8192 or ECDSA P-256/P-384/P-521. (RSA 1024 is refused by
  // OpenSSL's security level, P-224 by the listener's groups.)
  auto server = MakeServer(kVerify, Trust("verify-keys", {&pki_->root}));
  Spec rsa1024;
  rsa1024.rsa_bits = 1024;
  Spec rsa2048;
  rsa2048.rsa_bits = 2048;
  Spec p224;
  p224.curve = "P-224";
  Spec p384;
  p384.curve = "P-384";
  Cert weak = MakeLeaf("rsa1024", pki_->root, 101, rsa1024);
  Cert curve = MakeLeaf("p224", pki_->root, 102, p224);
  Cert rsa = MakeLeaf("rsa2048", pki_->root, 103, rsa2048);
  Cert ec = MakeLeaf("p384", pki_->root, 104, p384);
  for (int version : {0, TLS1_2_VERSION}) {
    SCOPED_TRACE(version == 0 ? "TLS 1.3" : "TLS 1.2");
    Connection c1(server, {.cert = &weak, .max_version = version});
    EXPECT_FALSE(c1.Handshake());
    EXPECT_EQ(Failure(c1), "EE certificate key too weak");
    Connection c2(server, {.cert = &curve, .max_version = version});
    EXPECT_FALSE(c2.Handshake());
    Connection c3(server, {.cert = &rsa, .max_version = version});
    EXPECT_TRUE(c3.Handshake()) << Failure(c3);
    Connection c4(server, {.cert = &ec, .max_version = version});
    EXPECT_TRUE(c4.Handshake()) << Failure(c4);
  }
}

// §7.4: client certificates must be X.509 v3. (A regression test: this suite found verify
// mode accepting a v1 leaf that chains to the trust store.) Also with
// IgnoreClientCertificateExpiry, whose callback forgives the leaf's dates only.
TEST_F(MtlsVerifyTest, AnX509v1LeafIsRefused) {
  auto server = MakeServer(kVerify, Trust("verify-v1", {&pki_->root}));
  Spec v1;
  v1.version = 0;
  Cert leaf = MakeLeaf("v1", pki_->root, 105, v1);
  ASSERT_EQ(X509_get_version(leaf.get()), 0);
  Connection c(server, {.cert = &leaf});
  EXPECT_FALSE(c.Handshake()) << "an X.509 v1 client certificate was accepted";
  auto lenient = MakeServer(Mode(config::MutualTlsMode::kVerify, /*ignore_expiry=*/true),
                            Trust("verify-v1-lenient", {&pki_->root}));
  Connection l(lenient, {.cert = &leaf});
  EXPECT_FALSE(l.Handshake()) << "an X.509 v1 client certificate was accepted";
  v1.not_before = kNow - 30 * kDay;
  v1.not_after = kNow - kDay;
  Cert expired = MakeLeaf("v1-expired", pki_->root, 106, v1);
  Connection e(lenient, {.cert = &expired});
  EXPECT_FALSE(e.Handshake()) << "an expired X.509 v1 client certificate was accepted";
}

TEST_F(MtlsVerifyTest, TheSniSelectedCertificateVerifiesAsWell) {
  auto server = MakeServer(kVerify, Trust("verify-sni", {&pki_->root}), /*two=*/true);
  Cert good = MakeLeaf("client", pki_->root, 71);
  Cert bad = MakeLeaf("client", pki_->stranger, 72);
  {
    Connection c(server, {.cert = &good, .server_name = "b.example"});
    ASSERT_TRUE(c.Handshake()) << Failure(c);
    X509* served = SSL_get0_peer_certificate(c.client());
    ASSERT_NE(served, nullptr);
    EXPECT_THAT(tls::Rfc2253(X509_get_subject_name(served)), HasSubstr("b.example"));
    EXPECT_THAT(c.Headers(config::MutualTlsMode::kVerify),
                HasSubstr("X-Amzn-Mtls-Clientcert-Serial-Number: 47\r\n"));
  }
  {
    Connection c(server, {.cert = &bad, .server_name = "b.example"});
    EXPECT_FALSE(c.Handshake());
    Connection none(server, {.server_name = "b.example"});
    EXPECT_FALSE(none.Handshake());
  }
}

TEST_F(MtlsVerifyTest, HeadersNeverCarryLineBreaksFromTheCertificate) {
  Cert leaf = Make(MakeName("evil\r\nX-Injected: 1", "caf\xc3\xa9\n"), &pki_->root, {});
  auto server = MakeServer(kVerify, Trust("verify-inject", {&pki_->root}));
  Connection c(server, {.cert = &leaf});
  ASSERT_TRUE(c.Handshake()) << Failure(c);
  std::string headers = c.Headers(config::MutualTlsMode::kVerify);
  // Exactly five lines, each ended by CRLF, no other CR or LF, visible ASCII only.
  size_t lines = 0;
  for (size_t i = 0; i < headers.size(); ++i) {
    const auto b = static_cast<unsigned char>(headers[i]);
    if (b == '\r') {
      ASSERT_LT(i + 1, headers.size());
      EXPECT_EQ(headers[i + 1], '\n');
      ++lines;
      ++i;
      continue;
    }
    EXPECT_TRUE(b >= 0x20 && b < 0x7f) << "byte " << int{b} << " at " << i;
  }
  EXPECT_EQ(lines, 5u) << headers;
  EXPECT_EQ(headers.find("\r\nX-Injected"), std::string::npos);
}

TEST_F(MtlsVerifyTest, RenamedHeadersAreUsed) {
  Cert leaf = MakeLeaf("client", pki_->root, 0x10);
  auto server = MakeServer(kVerify, Trust("verify-names", {&pki_->root}));
  Connection c(server, {.cert = &leaf});
  ASSERT_TRUE(c.Handshake()) << Failure(c);
  config::ListenerAttributes names;
  names.mtls_clientcert = "X-Cert";
  names.mtls_serial_number = "X-Serial";
  names.mtls_issuer = "X-Issuer";
  names.mtls_subject = "X-Subject";
  names.mtls_validity = "X-Validity";
  names.mtls_leaf = "X-Leaf";
  std::string headers = c.Headers(config::MutualTlsMode::kVerify, names);
  EXPECT_EQ(headers.rfind("X-Serial: 10\r\nX-Issuer: CN=Test Root,O=Sluice Test,C=US\r\n"
                          "X-Subject: CN=client,O=Sluice Test,C=US\r\nX-Validity: NotBefore=",
                          0),
            0u)
      << headers;
  EXPECT_THAT(headers, HasSubstr("\r\nX-Leaf: -----BEGIN%20CERTIFICATE-----%0A"));
  EXPECT_EQ(headers.find("X-Amzn-Mtls"), std::string::npos);
  std::string passthrough = c.Headers(config::MutualTlsMode::kPassthrough, names);
  EXPECT_EQ(passthrough.rfind("X-Cert: -----BEGIN%20CERTIFICATE-----%0A", 0), 0u) << passthrough;
}

// ---- Advertised CA names and resumption ------------------------------------------------------

TEST_F(MtlsVerifyTest, CaNamesAreAdvertisedOnlyWhenAsked) {
  auto trust = Trust("verify-advertise", {&pki_->root, &pki_->stranger});
  Cert leaf = MakeLeaf("client", pki_->root, 81);
  for (int version : {0, TLS1_2_VERSION}) {
    SCOPED_TRACE(version == 0 ? "TLS 1.3" : "TLS 1.2");
    {
      auto server =
          MakeServer(Mode(config::MutualTlsMode::kVerify, false, /*advertise=*/true), trust);
      Connection c(server, {.cert = &leaf, .max_version = version});
      ASSERT_TRUE(c.Handshake()) << Failure(c);
      EXPECT_TRUE(c.seen().asked);
      EXPECT_EQ(c.seen().ca_names,
                (std::vector<std::string>{"CN=Test Root,O=Sluice Test,C=US",
                                          "CN=Stranger Root,O=Sluice Test,C=US"}));
      const STACK_OF(X509_NAME)* after = SSL_get0_peer_CA_list(c.client());
      EXPECT_EQ(after != nullptr ? sk_X509_NAME_num(after) : 0, 2);
    }
    {
      auto server = MakeServer(kVerify, trust);
      Connection c(server, {.cert = &leaf, .max_version = version});
      ASSERT_TRUE(c.Handshake()) << Failure(c);
      EXPECT_TRUE(c.seen().asked);
      EXPECT_TRUE(c.seen().ca_names.empty());
      const STACK_OF(X509_NAME)* after = SSL_get0_peer_CA_list(c.client());
      EXPECT_EQ(after != nullptr ? sk_X509_NAME_num(after) : 0, 0);
    }
  }
}

// Whether a second connection resumes the first's session; `*resumable` tells whether the
// client held a resumable session after the first.
bool Resumes(const std::shared_ptr<const tls::ServerContext>& server, const Cert* cert, int version,
             bool* resumable) {
  SSL_SESSION* session = nullptr;
  {
    Connection first(server, {.cert = cert, .max_version = version});
    EXPECT_TRUE(first.Handshake()) << Failure(first);
    session = SSL_get1_session(first.client());
    EXPECT_NE(session, nullptr);
    *resumable = session != nullptr && SSL_SESSION_is_resumable(session) == 1;
  }
  Connection second(server, {.cert = cert, .max_version = version, .session = session});
  EXPECT_TRUE(second.Handshake()) << Failure(second);
  bool reused = SSL_session_reused(second.client()) == 1;
  SSL_SESSION_free(session);
  return reused;
}

TEST_F(MtlsVerifyTest, ResumptionIsOffWithMutualTls) {
  Cert leaf = MakeLeaf("client", pki_->root, 91);
  auto verify = MakeServer(kVerify, Trust("verify-resume", {&pki_->root}));
  auto passthrough = MakeServer(kPassthrough, nullptr);
  auto off = MakeServer(kOff, nullptr);
  for (int version : {0, TLS1_2_VERSION}) {
    SCOPED_TRACE(version == 0 ? "TLS 1.3" : "TLS 1.2");
    bool resumable = true;
    // The check itself: without mutual TLS the listener resumes.
    EXPECT_TRUE(Resumes(off, &leaf, version, &resumable));
    EXPECT_TRUE(resumable);
    EXPECT_FALSE(Resumes(verify, &leaf, version, &resumable));
    EXPECT_FALSE(resumable) << "verify: no ticket or session id";
    EXPECT_FALSE(Resumes(passthrough, &leaf, version, &resumable));
    EXPECT_FALSE(resumable) << "passthrough: no ticket or session id";
  }
}

// ---- Passthrough -----------------------------------------------------------------------------

TEST(MtlsPassthroughTest, AnyCertificateIsTakenAndSentAsUrlEncodedPem) {
  Cert nobody = MakeCa("nobody");  // self-signed, known to no one
  auto server = MakeServer(kPassthrough, nullptr);
  Connection c(server, {.cert = &nobody});
  ASSERT_TRUE(c.Handshake()) << Failure(c);
  std::string headers = c.Headers(config::MutualTlsMode::kPassthrough);
  const std::string prefix = "X-Amzn-Mtls-Clientcert: ";
  ASSERT_EQ(headers.rfind(prefix, 0), 0u) << headers;
  ASSERT_GE(headers.size(), prefix.size() + 2);
  EXPECT_EQ(headers.substr(headers.size() - 2), "\r\n");
  std::string value = headers.substr(prefix.size(), headers.size() - prefix.size() - 2);
  EXPECT_EQ(value.find_first_of(" \r\n"), std::string::npos);
  EXPECT_EQ(UrlDecode(value), Pem(nobody.get()));
  EXPECT_TRUE(c.seen().asked);
  EXPECT_TRUE(c.seen().ca_names.empty()) << "passthrough advertises no CA";
}

TEST(MtlsPassthroughTest, TheChainFollowsTheLeaf) {
  Cert root = MakeCa("Some Root");
  Cert intermediate = MakeCa("Some Intermediate", &root);
  Cert leaf = MakeLeaf("client", intermediate, 5);
  Spec expired;
  expired.not_before = kNow - 30 * kDay;
  expired.not_after = kNow - kDay;
  auto server = MakeServer(kPassthrough, nullptr);
  Connection c(server, {.cert = &leaf, .chain = {&intermediate}});
  ASSERT_TRUE(c.Handshake()) << Failure(c);
  std::string headers = c.Headers(config::MutualTlsMode::kPassthrough);
  const std::string prefix = "X-Amzn-Mtls-Clientcert: ";
  ASSERT_EQ(headers.rfind(prefix, 0), 0u) << headers;
  std::string value = headers.substr(prefix.size(), headers.size() - prefix.size() - 2);
  EXPECT_EQ(UrlDecode(value), Pem(leaf.get()) + Pem(intermediate.get()));
  // An expired certificate is taken too: passthrough checks nothing.
  Cert old = Make(MakeName("old"), nullptr, expired);
  Connection o(server, {.cert = &old});
  EXPECT_TRUE(o.Handshake()) << Failure(o);
}

TEST(MtlsPassthroughTest, NoCertificateIsFineAndGivesNoHeader) {
  auto server = MakeServer(kPassthrough, nullptr);
  for (int version : {0, TLS1_2_VERSION}) {
    Connection c(server, {.max_version = version});
    ASSERT_TRUE(c.Handshake()) << Failure(c);
    EXPECT_TRUE(c.seen().asked) << "the server asks";
    EXPECT_EQ(c.Headers(config::MutualTlsMode::kPassthrough), "");
    EXPECT_EQ(c.Headers(config::MutualTlsMode::kVerify), "");
  }
}

}  // namespace
}  // namespace sluice::net
