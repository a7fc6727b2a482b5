// Mutual TLS without sockets: the pieces of the X-Amzn-Mtls-Clientcert* headers (URL
// encoding, serial, RFC 2253 names, validity), the checks of a trust store's CA bundle and
// CRLs, TrustStore::Load's located errors, and what ApplyMutualTls sets on a context.
// Certificates and CRLs are made here with the OpenSSL 3 API (EC P-256, SHA-256).
#include "tls/mutual_tls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "tls/trust_store.h"

namespace sluice::tls {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// ---- Certificates and CRLs for the tests ----------------------------------------------------

struct NameEntry {
  std::string field;
  std::string value;
  int type = MBSTRING_UTF8;  // or a V_ASN1_* type to store the bytes as they are
};
using Dn = std::vector<NameEntry>;

Dn Named(const std::string& cn) { return {{"C", "US"}, {"O", "Sluice Test"}, {"CN", cn}}; }

struct Cert {
  X509Ptr x509;
  PkeyPtr key;
  X509* get() const { return x509.get(); }
};

struct Spec {
  bool ca = false;
  uint64_t serial = 1;
  int64_t not_before = static_cast<int64_t>(time(nullptr)) - 3600;
  int64_t not_after = static_cast<int64_t>(time(nullptr)) + 86400;
  std::string key_type = "EC";  // "EC" (P-256 unless `curve`) or "RSA"
  std::string curve = "P-256";
  size_t rsa_bits = 2048;
  size_t comment_bytes = 0;  // an nsComment extension this long (to make a large certificate)
};

PkeyPtr NewKey(const Spec& s) {
  EVP_PKEY* k = s.key_type == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", s.rsa_bits)
                                    : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", s.curve.c_str());
  EXPECT_NE(k, nullptr);
  return PkeyPtr(k);
}

X509_NAME* MakeName(const Dn& dn) {
  X509_NAME* name = X509_NAME_new();
  for (const NameEntry& e : dn) {
    EXPECT_EQ(X509_NAME_add_entry_by_txt(name, e.field.c_str(), e.type,
                                         reinterpret_cast<const unsigned char*>(e.value.data()),
                                         static_cast<int>(e.value.size()), -1, 0),
              1)
        << e.field;
  }
  return name;
}

void AddExtension(X509* x, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `dn` issued by `issuer` (self-signed when null).
Cert Make(const Dn& dn, const Cert* issuer, const Spec& s = {}) {
  Cert c;
  c.key = NewKey(s);
  c.x509.reset(X509_new());
  X509* x = c.get();
  X509_set_version(x, 2);
  BIGNUM* bn = BN_new();
  BN_set_word(bn, s.serial);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  X509_NAME* subject = MakeName(dn);
  X509_set_subject_name(x, subject);
  X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer->get()) : subject);
  X509_NAME_free(subject);
  ASN1_TIME_set(X509_getm_notBefore(x), static_cast<time_t>(s.not_before));
  ASN1_TIME_set(X509_getm_notAfter(x), static_cast<time_t>(s.not_after));
  X509_set_pubkey(x, c.key.get());
  X509* signer = issuer != nullptr ? issuer->get() : x;
  if (s.ca) {
    AddExtension(x, signer, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(x, signer, NID_basic_constraints, "critical,CA:FALSE");
  }
  if (s.comment_bytes > 0) {
    AddExtension(x, signer, NID_netscape_comment, std::string(s.comment_bytes, 'x'));
  }
  EXPECT_GT(X509_sign(x, issuer != nullptr ? issuer->key.get() : c.key.get(), EVP_sha256()), 0);
  return c;
}

Cert MakeCa(const std::string& cn, const Cert* issuer = nullptr, Spec s = {}) {
  s.ca = true;
  return Make(Named(cn), issuer, s);
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

CrlPtr MakeCrl(const Cert& issuer, const std::vector<uint64_t>& serials) {
  CrlPtr crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.get()));
  const time_t now = time(nullptr);
  ASN1_TIME* t = ASN1_TIME_set(nullptr, now - 3600);
  X509_CRL_set1_lastUpdate(crl.get(), t);
  ASN1_TIME_set(t, now + 86400);
  X509_CRL_set1_nextUpdate(crl.get(), t);
  for (uint64_t serial : serials) {
    X509_REVOKED* r = X509_REVOKED_new();
    BIGNUM* bn = BN_new();
    BN_set_word(bn, serial);
    ASN1_INTEGER* i = BN_to_ASN1_INTEGER(bn, nullptr);
    X509_REVOKED_set_serialNumber(r, i);
    ASN1_INTEGER_free(i);
    BN_free(bn);
    ASN1_TIME_set(t, now - 60);
    X509_REVOKED_set_revocationDate(r, t);
    X509_CRL_add0_revoked(crl.get(), r);
  }
  ASN1_TIME_free(t);
  X509_CRL_sort(crl.get());
  EXPECT_GT(X509_CRL_sign(crl.get(), issuer.key.get(), EVP_sha256()), 0);
  return crl;
}

std::string CrlPem(X509_CRL* crl) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_CRL(bio, crl);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string CrlDer(X509_CRL* crl) {
  unsigned char* der = nullptr;
  int n = i2d_X509_CRL(crl, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "sluice-mtls-" + std::to_string(getpid()) + "-" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr) << path;
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  return path;
}

std::string BundleError(std::string_view pem) {
  auto parsed = ParseCaBundle(pem);
  const std::string* why = std::get_if<std::string>(&parsed);
  return why != nullptr ? *why : "";
}

// ---- Header pieces ---------------------------------------------------------------------------

TEST(MtlsHeaderTest, UrlEncodingKeepsUnreservedAndPemCharacters) {
  std::string out;
  const std::string kept = "abcxyzABCXYZ0123456789-_.~+=/";
  AppendUrlEncoded(kept, &out);
  EXPECT_EQ(out, kept);
  out.clear();
  AppendUrlEncoded(" \n%", &out);
  EXPECT_EQ(out, "%20%0A%25");
  out.clear();
  AppendUrlEncoded("a:b\r,\"\x7f\xff\xe9", &out);
  EXPECT_EQ(out, "a%3Ab%0D%2C%22%7F%FF%E9");  // upper-case hex, bytes as unsigned
  out = "prefix;";
  AppendUrlEncoded("-----BEGIN CERTIFICATE-----\nMIIB+/=\n", &out);
  EXPECT_EQ(out, "prefix;-----BEGIN%20CERTIFICATE-----%0AMIIB+/=%0A") << "appends";
}

TEST(MtlsHeaderTest, SerialIsUpperCaseHexWholeBytes) {
  Cert ca = MakeCa("Root");
  Spec s;
  s.serial = 0x03A5B7C9;
  EXPECT_EQ(SerialHex(Make(Named("a"), &ca, s).get()), "03A5B7C9");
  s.serial = 0xABC;  // BN_bn2hex prints whole bytes: a leading zero nibble
  EXPECT_EQ(SerialHex(Make(Named("b"), &ca, s).get()), "0ABC");
  s.serial = 0;
  EXPECT_EQ(SerialHex(Make(Named("c"), &ca, s).get()), "0");
  s.serial = 0xFEDCBA9876543210ull;
  EXPECT_EQ(SerialHex(Make(Named("d"), &ca, s).get()), "FEDCBA9876543210");
}

TEST(MtlsHeaderTest, Rfc2253ReversesAndEscapes) {
  X509_NAME* name = MakeName({{"C", "US"}, {"O", "Example, Inc."}, {"CN", "client"}});
  EXPECT_EQ(Rfc2253(name), "CN=client,O=Example\\, Inc.,C=US");
  X509_NAME_free(name);
  name = MakeName({{"CN", "a+b=c;d<e>f\"g\\h #"}});
  // OpenSSL escapes RFC 2253's specials (, + " \\ < > ;), not '=' nor a '#' past the start.
  EXPECT_EQ(Rfc2253(name), "CN=a\\+b=c\\;d\\<e\\>f\\\"g\\\\h #");
  X509_NAME_free(name);
  name = MakeName({{"CN", "#lead"}});
  EXPECT_EQ(Rfc2253(name), "CN=\\#lead");
  X509_NAME_free(name);
  name = X509_NAME_new();
  EXPECT_EQ(Rfc2253(name), "");
  X509_NAME_free(name);
}

TEST(MtlsHeaderTest, Rfc2253NeverYieldsRawLineBreaksOrNonAscii) {
  const std::vector<Dn> names = {
      {{"CN", "evil\r\nX-Injected: 1"}},
      {{"CN", "line\nbreak"}},
      {{"CN", "caf\xc3\xa9"}},                                   // é in UTF-8
      {{"CN", "nel\xc2\x85here"}},                               // U+0085 NEXT LINE
      {{"CN", "ls\xe2\x80\xa8here"}},                            // U+2028 LINE SEPARATOR
      {{"CN", "raw\xff\r\nX: 1", V_ASN1_UTF8STRING}},            // invalid UTF-8, stored as is
      {{"CN", "t61\xe9\r\n", V_ASN1_T61STRING}},                 // Latin-1 byte
      {{"O", std::string("nul\0byte\n", 9), V_ASN1_UTF8STRING}}  // an embedded NUL
  };
  for (const Dn& dn : names) {
    X509_NAME* name = MakeName(dn);
    std::string out = Rfc2253(name);
    X509_NAME_free(name);
    SCOPED_TRACE(out);
    EXPECT_EQ(out.find('\r'), std::string::npos);
    EXPECT_EQ(out.find('\n'), std::string::npos);
    for (char c : out) {
      const auto b = static_cast<unsigned char>(c);
      EXPECT_TRUE(b >= 0x20 && b < 0x7f) << "byte " << int{b};
    }
  }
  // Control and non-ASCII bytes come out as \XX.
  const std::vector<std::pair<Dn, std::string>> exact = {
      {{{"CN", "a\nb\xc3\xa9"}}, "CN=a\\0Ab\\C3\\A9"},
      {{{"CN", "evil\r\nX-Injected: 1"}}, "CN=evil\\0D\\0AX-Injected: 1"},
      {{{"CN", "nel\xc2\x85here"}}, "CN=nel\\C2\\85here"},
      {{{"CN", "raw\xff\r\nX: 1", V_ASN1_UTF8STRING}}, "CN=raw\\FF\\0D\\0AX: 1"},
      {{{"CN", "t61\xe9\r\n", V_ASN1_T61STRING}}, "CN=t61\\C3\\A9\\0D\\0A"},
      {{{"O", std::string("nul\0byte\n", 9), V_ASN1_UTF8STRING}}, "O=nul\\00byte\\0A"},
  };
  for (const auto& [dn, expected] : exact) {
    X509_NAME* name = MakeName(dn);
    EXPECT_EQ(Rfc2253(name), expected);
    X509_NAME_free(name);
  }
}

TEST(MtlsHeaderTest, ValidityIsIso8601Utc) {
  Cert ca = MakeCa("Root");
  Spec s;
  s.not_before = 1695261017;  // 2023-09-21T01:50:17Z
  s.not_after = 1726797017;   // 2024-09-20T01:50:17Z
  EXPECT_EQ(Validity(Make(Named("a"), &ca, s).get()),
            "NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z");
  s.not_after = 2556241445;  // 2051-01-02T03:04:05Z: GeneralizedTime in the certificate
  EXPECT_EQ(Validity(Make(Named("b"), &ca, s).get()),
            "NotBefore=2023-09-21T01:50:17Z;NotAfter=2051-01-02T03:04:05Z");
}

// ---- CA bundles --------------------------------------------------------------------------------

TEST(TrustStoreBundleTest, TwoCasAreRead) {
  Cert a = MakeCa("Root A");
  Cert b = MakeCa("Intermediate B", &a);
  auto parsed = ParseCaBundle(Pem(a.get()) + "a comment between blocks\n" + Pem(b.get()));
  ASSERT_TRUE(std::holds_alternative<std::vector<X509Ptr>>(parsed)) << BundleError("");
  const auto& cas = std::get<std::vector<X509Ptr>>(parsed);
  ASSERT_EQ(cas.size(), 2u);
  EXPECT_EQ(X509_cmp(cas[0].get(), a.get()), 0);
  EXPECT_EQ(X509_cmp(cas[1].get(), b.get()), 0);
}

TEST(TrustStoreBundleTest, ALeafIsRefusedByPosition) {
  Cert ca = MakeCa("Root");
  Cert leaf = Make(Named("client"), &ca);
  std::string why = BundleError(Pem(ca.get()) + Pem(leaf.get()));
  EXPECT_THAT(why, HasSubstr("certificate 2"));
  EXPECT_THAT(why, HasSubstr("not a CA"));
  // A certificate without basicConstraints at all is no CA either.
  Cert bare;
  bare.key = NewKey({});
  bare.x509.reset(X509_new());
  X509_set_version(bare.get(), 2);
  X509_NAME* n = MakeName(Named("bare"));
  X509_set_subject_name(bare.get(), n);
  X509_set_issuer_name(bare.get(), n);
  X509_NAME_free(n);
  X509_gmtime_adj(X509_getm_notBefore(bare.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(bare.get()), 3600);
  X509_set_pubkey(bare.get(), bare.key.get());
  ASSERT_GT(X509_sign(bare.get(), bare.key.get(), EVP_sha256()), 0);
  EXPECT_THAT(BundleError(Pem(bare.get())), HasSubstr("certificate 1 is not a CA"));
}

// The documented rule (docs/config.md, and ParseCaBundle's own message) is "CA certificates
// (basicConstraints CA:TRUE)". A regression test: this suite found X509_check_ca() >= 1 in use,
// which also accepts a self-signed X.509 v1 certificate (no extensions at all) and a v3
// certificate with keyUsage keyCertSign but no basicConstraints.
TEST(TrustStoreBundleTest, OnlyBasicConstraintsCaTrueMakesACa) {
  for (int variant : {0, 1}) {
    SCOPED_TRACE(variant == 0 ? "self-signed v1" : "keyUsage keyCertSign only");
    Cert c;
    c.key = NewKey({});
    c.x509.reset(X509_new());
    X509_set_version(c.get(), variant == 0 ? 0 : 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c.get()), 5);
    X509_NAME* n = MakeName(Named("odd"));
    X509_set_subject_name(c.get(), n);
    X509_set_issuer_name(c.get(), n);
    X509_NAME_free(n);
    X509_gmtime_adj(X509_getm_notBefore(c.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(c.get()), 3600);
    X509_set_pubkey(c.get(), c.key.get());
    if (variant == 1) AddExtension(c.get(), c.get(), NID_key_usage, "critical,keyCertSign");
    ASSERT_GT(X509_sign(c.get(), c.key.get(), EVP_sha256()), 0);
    EXPECT_THAT(BundleError(Pem(c.get())), HasSubstr("certificate 1 is not a CA"));
  }
}

TEST(TrustStoreBundleTest, AtMost25Cas) {
  std::string pem;
  for (int i = 0; i < 25; ++i) pem += Pem(MakeCa("CA " + std::to_string(i)).get());
  auto parsed = ParseCaBundle(pem);
  ASSERT_TRUE(std::holds_alternative<std::vector<X509Ptr>>(parsed)) << BundleError(pem);
  EXPECT_EQ(std::get<std::vector<X509Ptr>>(parsed).size(), 25u);
  pem += Pem(MakeCa("CA 25").get());
  EXPECT_THAT(BundleError(pem), HasSubstr("more than 25"));
}

TEST(TrustStoreBundleTest, CaNamesAddUpToAtMost10000Bytes) {
  // CAs with large subjects (ten 60-character OUs, about 750 bytes of DER each) are added
  // until their names pass ALB's 10,000 bytes: the bundle before that one is accepted, the
  // bundle with it is refused, naming it.
  std::string pem;
  Spec ca_spec;
  ca_spec.ca = true;
  size_t total = 0;
  for (int i = 1; i <= 20; ++i) {
    Dn dn = Named("CA " + std::to_string(i));
    for (int ou = 0; ou < 10; ++ou)
      dn.push_back({"OU", std::string(60, static_cast<char>('a' + ou))});
    Cert ca = Make(dn, nullptr, ca_spec);
    total += static_cast<size_t>(i2d_X509_NAME(X509_get_subject_name(ca.get()), nullptr));
    if (total > 10000) {
      EXPECT_EQ(BundleError(pem), "") << "names of the first " << i - 1 << " CAs fit";
      pem += Pem(ca.get());
      EXPECT_THAT(BundleError(pem),
                  HasSubstr("more than 10,000 bytes (at certificate " + std::to_string(i) + ")"));
      return;
    }
    pem += Pem(ca.get());
  }
  ADD_FAILURE() << "the names never passed 10,000 bytes";
}

TEST(TrustStoreBundleTest, GarbageAndEmptyAreRefused) {
  EXPECT_THAT(BundleError(""), HasSubstr("holds no PEM certificate"));
  EXPECT_THAT(BundleError("this is not PEM at all\n"), HasSubstr("holds no PEM certificate"));
  EXPECT_THAT(BundleError("-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n"),
              HasSubstr("certificate 1 is not a readable PEM X.509 certificate"));
  Cert ca = MakeCa("Root");
  std::string broken = Pem(ca.get());
  broken[broken.size() / 2] ^= 0x01;  // a flipped bit in the base64 body
  EXPECT_THAT(BundleError(Pem(ca.get()) + broken), HasSubstr("certificate 2"));
  EXPECT_EQ(ERR_peek_error(), 0u) << "the OpenSSL error queue is left clean";
}

TEST(TrustStoreBundleTest, WeakOrUnsupportedKeysAreRefused) {
  Spec rsa1024;
  rsa1024.key_type = "RSA";
  rsa1024.rsa_bits = 1024;
  EXPECT_THAT(BundleError(Pem(MakeCa("Weak", nullptr, rsa1024).get())),
              HasSubstr("certificate 1 has an RSA key of 1024 bits"));
  Spec p224;
  p224.curve = "P-224";
  EXPECT_THAT(BundleError(Pem(MakeCa("P224", nullptr, p224).get())),
              HasSubstr("certificate 1 has an ECDSA key on curve secp224r1"));
  Spec p384;
  p384.curve = "P-384";
  EXPECT_EQ(BundleError(Pem(MakeCa("P384", nullptr, p384).get())), "");
}

TEST(TrustStoreBundleTest, ACertificateOver16KiBIsRefused) {
  Spec big;
  big.comment_bytes = 17 * 1024;
  std::string why = BundleError(Pem(MakeCa("Big", nullptr, big).get()));
  EXPECT_THAT(why, HasSubstr("certificate 1 is "));
  EXPECT_THAT(why, HasSubstr("at most 16 KiB"));
}

// ---- Revocation lists ------------------------------------------------------------------------

struct TwoCas {
  Cert root = MakeCa("Root");
  Cert other = MakeCa("Other");
  std::vector<X509Ptr> bundle() const {
    std::vector<X509Ptr> cas;
    cas.emplace_back(X509_dup(root.get()));
    return cas;
  }
};

std::string RevocationError(std::string_view bytes, const std::vector<X509Ptr>& cas) {
  size_t revoked = 0;
  auto parsed = ParseRevocations(bytes, cas, &revoked);
  const std::string* why = std::get_if<std::string>(&parsed);
  return why != nullptr ? *why : "";
}

TEST(TrustStoreCrlTest, PemCrlOfABundleCaCountsItsEntries) {
  TwoCas t;
  CrlPtr crl = MakeCrl(t.root, {5, 6, 7});
  size_t revoked = 10;  // grows from what it was
  auto parsed = ParseRevocations(CrlPem(crl.get()), t.bundle(), &revoked);
  ASSERT_TRUE(std::holds_alternative<std::vector<CrlPtr>>(parsed)) << std::get<std::string>(parsed);
  EXPECT_EQ(std::get<std::vector<CrlPtr>>(parsed).size(), 1u);
  EXPECT_EQ(revoked, 13u);
  // Two PEM CRLs in one file.
  CrlPtr empty = MakeCrl(t.root, {});
  revoked = 0;
  parsed = ParseRevocations(CrlPem(crl.get()) + CrlPem(empty.get()), t.bundle(), &revoked);
  ASSERT_TRUE(std::holds_alternative<std::vector<CrlPtr>>(parsed));
  EXPECT_EQ(std::get<std::vector<CrlPtr>>(parsed).size(), 2u);
  EXPECT_EQ(revoked, 3u);
}

TEST(TrustStoreCrlTest, DerCrlIsAccepted) {
  TwoCas t;
  CrlPtr crl = MakeCrl(t.root, {1, 2});
  size_t revoked = 0;
  auto parsed = ParseRevocations(CrlDer(crl.get()), t.bundle(), &revoked);
  ASSERT_TRUE(std::holds_alternative<std::vector<CrlPtr>>(parsed)) << std::get<std::string>(parsed);
  EXPECT_EQ(revoked, 2u);
}

TEST(TrustStoreCrlTest, ACrlOfAnotherCaIsRefused) {
  TwoCas t;
  EXPECT_EQ(RevocationError(CrlPem(MakeCrl(t.other, {1}).get()), t.bundle()),
            "CRL 1 is not signed by a CA of the bundle");
  // The second of two CRLs is the stranger's.
  EXPECT_EQ(
      RevocationError(CrlPem(MakeCrl(t.root, {1}).get()) + CrlPem(MakeCrl(t.other, {1}).get()),
                      t.bundle()),
      "CRL 2 is not signed by a CA of the bundle");
  // An impostor: the bundle CA's name, another key.
  Cert impostor = MakeCa("Root");
  EXPECT_EQ(RevocationError(CrlDer(MakeCrl(impostor, {1}).get()), t.bundle()),
            "CRL 1 is not signed by a CA of the bundle");
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(TrustStoreCrlTest, GarbageIsRefused) {
  TwoCas t;
  EXPECT_EQ(RevocationError("not a CRL\n", t.bundle()), "is not a CRL in PEM or DER");
  EXPECT_EQ(RevocationError("", t.bundle()), "is not a CRL in PEM or DER");
  std::string der = CrlDer(MakeCrl(t.root, {1}).get());
  EXPECT_EQ(RevocationError(der.substr(0, der.size() / 2), t.bundle()),
            "is not a CRL in PEM or DER");
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// ---- TrustStore::Load ------------------------------------------------------------------------

config::TrustStoreDefinition Definition(const std::string& bundle,
                                        std::vector<std::string> crls = {}) {
  config::TrustStoreDefinition def;
  def.name = "ts";
  def.path = "TrustStores[0]";
  def.location = {3, 3};
  def.ca_bundle_file = bundle;
  def.ca_bundle_file_location = {4, 30};
  for (size_t i = 0; i < crls.size(); ++i) {
    def.revocation_file_locations.push_back({6 + static_cast<int>(i), 9});
  }
  def.revocation_files = std::move(crls);
  return def;
}

std::string LoadError(const config::TrustStoreDefinition& def) {
  auto loaded = TrustStore::Load(def, "sluice.yaml");
  const auto* e = std::get_if<config::ConfigError>(&loaded);
  return e != nullptr ? e->ToString() : "";
}

TEST(TrustStoreLoadTest, ErrorsNameFileLineColumnAndField) {
  const std::string missing = ::testing::TempDir() + "sluice-mtls-nonexistent.pem";
  EXPECT_EQ(LoadError(Definition(missing)),
            "sluice.yaml:4:30: TrustStores[0].CaCertificatesBundleFile: " + missing +
                ": cannot open: No such file or directory");
  Cert ca = MakeCa("Root");
  Cert leaf = Make(Named("client"), &ca);
  const std::string with_leaf = WriteFile("with-leaf.pem", Pem(ca.get()) + Pem(leaf.get()));
  EXPECT_THAT(LoadError(Definition(with_leaf)),
              HasSubstr("sluice.yaml:4:30: TrustStores[0].CaCertificatesBundleFile: " + with_leaf +
                        ": certificate 2 is not a CA certificate"));
  const std::string good = WriteFile("good.pem", Pem(ca.get()));
  const std::string crl = WriteFile("good.crl", CrlPem(MakeCrl(ca, {9}).get()));
  const std::string stranger = WriteFile("stranger.crl", CrlDer(MakeCrl(MakeCa("X"), {9}).get()));
  EXPECT_EQ(LoadError(Definition(good, {crl, stranger})),
            "sluice.yaml:7:9: TrustStores[0].RevocationFiles[1]: " + stranger +
                ": CRL 1 is not signed by a CA of the bundle");
  EXPECT_EQ(LoadError(Definition(good, {crl, missing})),
            "sluice.yaml:7:9: TrustStores[0].RevocationFiles[1]: " + missing +
                ": cannot open: No such file or directory");
  const std::string junk = WriteFile("junk.crl", "junk");
  EXPECT_EQ(LoadError(Definition(good, {junk})),
            "sluice.yaml:6:9: TrustStores[0].RevocationFiles[0]: " + junk +
                ": is not a CRL in PEM or DER");
}

TEST(TrustStoreLoadTest, LoadsCasAndCrlsAndChecksRevocation) {
  Cert root = MakeCa("Root");
  Cert other = MakeCa("Other Root");
  Spec s;
  s.serial = 77;
  Cert revoked = Make(Named("revoked"), &root, s);
  s.serial = 78;
  Cert good = Make(Named("good"), &root, s);
  Cert of_other = Make(Named("other"), &other, s);
  const std::string bundle = WriteFile("two.pem", Pem(root.get()) + Pem(other.get()));
  const std::string crl = WriteFile("root.crl", CrlDer(MakeCrl(root, {77}).get()));
  auto loaded = TrustStore::Load(Definition(bundle, {crl}), "sluice.yaml");
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const TrustStore>>(loaded))
      << std::get<config::ConfigError>(loaded).ToString();
  const auto& store = std::get<std::shared_ptr<const TrustStore>>(loaded);
  EXPECT_EQ(store->ca_count(), 2u);
  STACK_OF(X509_NAME)* names = store->CaNames();
  ASSERT_NE(names, nullptr);
  ASSERT_EQ(sk_X509_NAME_num(names), 2);
  EXPECT_EQ(Rfc2253(sk_X509_NAME_value(names, 0)), "CN=Root,O=Sluice Test,C=US");
  EXPECT_EQ(Rfc2253(sk_X509_NAME_value(names, 1)), "CN=Other Root,O=Sluice Test,C=US");
  sk_X509_NAME_pop_free(names, X509_NAME_free);
  // Verification against the store: the revoked leaf fails, the other leaf of the same CA
  // passes, and a CA without a CRL (Other Root) is not a failure.
  // (X509_verify_cert's verdict, and the last error seen: a forgiven error stays recorded.)
  auto verify = [&](X509* leaf) {
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store->store(), leaf, nullptr);
    int ok = X509_verify_cert(ctx);
    int err = X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return std::pair{ok, err};
  };
  EXPECT_EQ(verify(revoked.get()), std::pair(0, X509_V_ERR_CERT_REVOKED));
  EXPECT_EQ(verify(good.get()).first, 1);
  EXPECT_EQ(verify(of_other.get()), std::pair(1, X509_V_ERR_UNABLE_TO_GET_CRL));
}

// A bundle the config holds (CreateTrustStore's) loads like a file's; its errors name the
// field and "the bundle", not a file.
TEST(TrustStoreLoadTest, HeldBundleLoadsLikeAFile) {
  Cert ca = MakeCa("Root");
  Cert leaf = Make(Named("client"), &ca);
  config::TrustStoreDefinition def = Definition("");
  def.ca_bundle_pem = Pem(ca.get());
  auto loaded = TrustStore::Load(def, "sluice.yaml");
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const TrustStore>>(loaded));
  EXPECT_EQ(std::get<std::shared_ptr<const TrustStore>>(loaded)->ca_count(), 1u);
  // Held revocation lists: checked against the bundle's CAs like files, named by index and id.
  def.revocations.push_back({4, CrlPem(MakeCrl(ca, {9}).get()), {8, 9}});
  loaded = TrustStore::Load(def, "sluice.yaml");
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const TrustStore>>(loaded));
  def.revocations.push_back({6, CrlPem(MakeCrl(MakeCa("Stranger"), {9}).get()), {9, 9}});
  EXPECT_EQ(LoadError(def),
            "sluice.yaml:9:9: TrustStores[0].Revocations[1].Crl: revocation 6: CRL 1 is not "
            "signed by a CA of the bundle");
  // A damaged PEM block after a good one is an error, never a shorter list.
  std::string damaged = CrlPem(MakeCrl(ca, {9}).get()) + CrlPem(MakeCrl(ca, {10}).get());
  damaged[damaged.rfind("-----END") - 10] = '!';
  def.revocations = {{4, damaged, {8, 9}}};
  EXPECT_EQ(LoadError(def),
            "sluice.yaml:8:9: TrustStores[0].Revocations[0].Crl: revocation 4: CRL 2 is not a "
            "readable PEM CRL");
  def.revocations.clear();
  def.ca_bundle_pem += Pem(leaf.get());
  EXPECT_THAT(LoadError(def),
              HasSubstr("sluice.yaml:4:30: TrustStores[0].CaCertificatesBundle: the bundle: "
                        "certificate 2 is not a CA certificate"));
}

TEST(TrustStoreLoadTest, LoadTrustStoresReportsEveryBadStore) {
  Cert ca = MakeCa("Root");
  config::Config cfg;
  cfg.source_file = "sluice.yaml";
  cfg.trust_stores.push_back(Definition(WriteFile("a.pem", Pem(ca.get()))));
  cfg.trust_stores[0].name = "a";
  cfg.trust_stores.push_back(Definition(WriteFile("b.pem", Pem(ca.get()))));
  cfg.trust_stores[1].name = "b";
  auto loaded = LoadTrustStores(cfg);
  ASSERT_TRUE(std::holds_alternative<TrustStores>(loaded));
  const TrustStores& stores = std::get<TrustStores>(loaded);
  ASSERT_EQ(stores.size(), 2u);
  EXPECT_EQ(stores.at("a")->ca_count(), 1u);
  cfg.trust_stores.push_back(Definition(WriteFile("c.pem", "")));
  cfg.trust_stores[2].path = "TrustStores[2]";
  cfg.trust_stores.push_back(Definition(::testing::TempDir() + "sluice-mtls-none.pem"));
  cfg.trust_stores[3].path = "TrustStores[3]";
  auto bad = LoadTrustStores(cfg);
  ASSERT_TRUE(std::holds_alternative<config::ConfigErrors>(bad));
  const auto& errors = std::get<config::ConfigErrors>(bad);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_THAT(errors[0].ToString(), HasSubstr("TrustStores[2].CaCertificatesBundleFile"));
  EXPECT_THAT(errors[0].ToString(), HasSubstr("holds no PEM certificate"));
  EXPECT_THAT(errors[1].ToString(), HasSubstr("TrustStores[3].CaCertificatesBundleFile"));
}

// ---- ApplyMutualTls on a context ---------------------------------------------------------------

std::shared_ptr<const TrustStore> LoadStore(const std::string& tag, const std::string& pem) {
  auto loaded = TrustStore::Load(Definition(WriteFile(tag, pem)), "sluice.yaml");
  EXPECT_TRUE(std::holds_alternative<std::shared_ptr<const TrustStore>>(loaded));
  return std::get<std::shared_ptr<const TrustStore>>(loaded);
}

TEST(MtlsContextTest, OffLeavesTheContextAlone) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  const size_t tickets = SSL_CTX_get_num_tickets(ctx);
  std::string error;
  EXPECT_TRUE(ApplyMutualTls(ctx, {}, nullptr, &error));
  EXPECT_EQ(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
  EXPECT_EQ(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET, 0u);
  EXPECT_EQ(SSL_CTX_get_num_tickets(ctx), tickets);
  SSL_CTX_free(ctx);
}

TEST(MtlsContextTest, PassthroughAsksForAnyCertificateWithoutResumption) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  config::MutualAuthentication m;
  m.mode = config::MutualTlsMode::kPassthrough;
  std::string error;
  EXPECT_TRUE(ApplyMutualTls(ctx, m, nullptr, &error)) << error;
  EXPECT_EQ(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
  EXPECT_NE(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET, 0u);
  EXPECT_EQ(SSL_CTX_get_num_tickets(ctx), 0u);
  EXPECT_EQ(sk_X509_NAME_num(SSL_CTX_get_client_CA_list(ctx)), 0);
  SSL_CTX_free(ctx);
}

TEST(MtlsContextTest, VerifyNeedsATrustStoreAndSetsDepthAndCaNames) {
  Cert a = MakeCa("Root A");
  Cert b = MakeCa("Root B");
  auto store = LoadStore("ctx.pem", Pem(a.get()) + Pem(b.get()));
  config::MutualAuthentication m;
  m.mode = config::MutualTlsMode::kVerify;
  std::string error;
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  EXPECT_FALSE(ApplyMutualTls(ctx, m, nullptr, &error));
  EXPECT_EQ(error, "mutual TLS verify needs a trust store");
  SSL_CTX_free(ctx);

  ctx = SSL_CTX_new(TLS_server_method());
  error.clear();
  ASSERT_TRUE(ApplyMutualTls(ctx, m, store.get(), &error)) << error;
  EXPECT_EQ(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  EXPECT_EQ(SSL_CTX_get_verify_depth(ctx), kClientChainDepth);
  EXPECT_EQ(kClientChainDepth, 2);
  EXPECT_NE(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET, 0u);
  EXPECT_EQ(SSL_CTX_get_num_tickets(ctx), 0u);
  EXPECT_EQ(sk_X509_NAME_num(SSL_CTX_get_client_CA_list(ctx)), 0) << "not advertised by default";
  SSL_CTX_free(ctx);

  m.advertise_trust_store_ca_names = true;
  ctx = SSL_CTX_new(TLS_server_method());
  ASSERT_TRUE(ApplyMutualTls(ctx, m, store.get(), &error)) << error;
  STACK_OF(X509_NAME)* names = SSL_CTX_get_client_CA_list(ctx);
  ASSERT_EQ(sk_X509_NAME_num(names), 2);
  EXPECT_EQ(Rfc2253(sk_X509_NAME_value(names, 0)), "CN=Root A,O=Sluice Test,C=US");
  EXPECT_EQ(Rfc2253(sk_X509_NAME_value(names, 1)), "CN=Root B,O=Sluice Test,C=US");
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace sluice::tls
