#include "tls/self_signed.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tls/openssl_error.h"

namespace sluice::tls {
namespace {

Error Failed(const std::string& what) {
  return Error{ErrorSource::kInternal, what + ": " + TakeOpenSslError("unknown reason")};
}

bool IsIpAddress(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

bool AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

std::string ToPem(int (*write)(BIO*, void*), void* object) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  std::string out;
  if (write(bio, object) == 1) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    if (len > 0) out.assign(data, static_cast<size_t>(len));
  }
  BIO_free(bio);
  return out;
}

int WriteCert(BIO* b, void* x) { return PEM_write_bio_X509(b, static_cast<X509*>(x)); }
int WriteKey(BIO* b, void* k) {
  return PEM_write_bio_PrivateKey(b, static_cast<EVP_PKEY*>(k), nullptr, nullptr, 0, nullptr,
                                  nullptr);
}

// Subject and issuer CN, serial, validity, and the extensions of `openssl req -x509` plus
// subjectAltName and serverAuth.
bool Describe(X509* cert, const SelfSignedRequest& request, int64_t now) {
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return false;
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  bool ok = bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
  BN_free(bn);
  ok = ok && X509_set_version(cert, 2) == 1 &&
       X509_time_adj_ex(X509_getm_notBefore(cert), 0, -3600, reinterpret_cast<time_t*>(&now)) &&
       X509_time_adj_ex(X509_getm_notAfter(cert), request.days, 0, reinterpret_cast<time_t*>(&now));
  X509_NAME* name = X509_get_subject_name(cert);
  ok = ok && X509_NAME_add_entry_by_txt(
                 name, "CN", MBSTRING_ASC,
                 reinterpret_cast<const unsigned char*>(request.names[0].c_str()), -1, -1, 0) == 1;
  ok = ok && X509_set_issuer_name(cert, name) == 1;
  std::string san;
  for (const std::string& n : request.names) {
    san += (san.empty() ? "" : ",") + std::string(IsIpAddress(n) ? "IP:" : "DNS:") + n;
  }
  return ok && AddExtension(cert, NID_basic_constraints, "critical,CA:TRUE") &&
         AddExtension(cert, NID_subject_key_identifier, "hash") &&
         AddExtension(cert, NID_authority_key_identifier, "keyid:always") &&
         AddExtension(cert, NID_key_usage, "critical,digitalSignature,keyCertSign") &&
         AddExtension(cert, NID_ext_key_usage, "serverAuth") &&
         AddExtension(cert, NID_subject_alt_name, san);
}

}  // namespace

Result<PemPair> MakeSelfSigned(const SelfSignedRequest& request, int64_t now) {
  if (request.names.empty()) return Error{ErrorSource::kConfig, "at least one name is needed"};
  for (const std::string& n : request.names) {
    if (n.empty() || n.size() > 253 || n.find_first_of(",:= \t\r\n") != std::string::npos) {
      if (!IsIpAddress(n)) return Error{ErrorSource::kConfig, "bad name '" + n + "'"};
    }
  }
  if (request.days < 1 || request.days > 3650) {
    return Error{ErrorSource::kConfig, "days must be 1..3650"};
  }
  PkeyPtr key(request.key_type == KeyType::kEcdsa ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048));
  if (!key) return Failed("key generation");
  X509Ptr cert(X509_new());
  if (!cert || X509_set_pubkey(cert.get(), key.get()) != 1) return Failed("X509_new");
  if (!Describe(cert.get(), request, now)) return Failed("certificate fields");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return Failed("signing");
  PemPair out{ToPem(WriteCert, cert.get()), ToPem(WriteKey, key.get())};
  if (out.certificate.empty() || out.private_key.empty()) return Failed("PEM encoding");
  return out;
}

}  // namespace sluice::tls
