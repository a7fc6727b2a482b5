#include "tls/trust_store.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "config/file.h"
#include "tls/openssl_error.h"

namespace sluice::tls {
namespace {

// Why ALB would refuse this CA's key, or "".
std::string CheckCaKey(X509* ca) {
  EVP_PKEY* key = X509_get0_pubkey(ca);
  if (key == nullptr) return "has no readable public key";
  const int bits = EVP_PKEY_get_bits(key);
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      if (bits < 2048 || bits > 8192) {
        return "has an RSA key of " + std::to_string(bits) + " bits; allowed: 2048..8192";
      }
      return "";
    case EVP_PKEY_EC: {
      char group[64] = {0};
      size_t len = 0;
      if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1) group[0] = '\0';
      std::string_view g(group);
      if (g == "prime256v1" || g == "secp384r1" || g == "secp521r1") return "";
      return "has an ECDSA key on curve " + std::string(g.empty() ? "?" : g) +
             "; allowed: P-256, P-384, P-521";
    }
    default:
      return "has a key type other than RSA or ECDSA";
  }
}

// Whether the queue's last error is the end of the PEM input (not garbage).
bool AtEndOfPem() {
  unsigned long e = ERR_peek_last_error();
  bool end = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  return end;
}

config::ConfigError Located(const std::string& file, const config::Location& at,
                            const std::string& field, const std::string& message) {
  config::ConfigError e;
  e.file = file;
  e.line = at.line;
  e.column = at.column;
  e.field = field;
  e.message = message;
  return e;
}

// Verification ignores CAs without a CRL: ALB checks revocation only where a CRL was given.
int ForgiveMissingCrl(int ok, X509_STORE_CTX* ctx) {
  if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL) return 1;
  return ok;
}

// Clears OpenSSL's error queue when a parser returns, whatever the path: a stale entry would
// be misread by the next SSL_get_error on this thread.
struct ClearErrorsOnReturn {
  ~ClearErrorsOnReturn() { ERR_clear_error(); }
};

// A CA as ALB takes one: basicConstraints present with CA:TRUE (X509_check_ca would also
// take an X.509 v1 self-signed certificate or keyUsage keyCertSign alone).
bool HasCaTrue(X509* cert) {
  const uint32_t flags = X509_get_extension_flags(cert);
  return (flags & EXFLAG_BCONS) != 0 && (flags & EXFLAG_CA) != 0;
}

}  // namespace

std::variant<std::vector<X509Ptr>, std::string> ParseCaBundle(std::string_view pem) {
  ClearErrorsOnReturn clear;
  BioPtr bio = MemoryBio(pem);
  if (!bio) return std::string("out of memory");
  std::vector<X509Ptr> cas;
  size_t names_bytes = 0;
  for (;;) {
    X509Ptr ca(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!ca) {
      if (AtEndOfPem()) break;
      return "certificate " + std::to_string(cas.size() + 1) + " is not a readable PEM X.509 " +
             "certificate";
    }
    std::string which = "certificate " + std::to_string(cas.size() + 1);
    if (cas.size() == kMaxTrustStoreCas) {
      return "more than " + std::to_string(kMaxTrustStoreCas) + " CA certificates";
    }
    int der = i2d_X509(ca.get(), nullptr);
    if (der <= 0 || static_cast<size_t>(der) > kMaxCaCertificateBytes) {
      return which + " is " + std::to_string(der) + " bytes; at most 16 KiB";
    }
    if (!HasCaTrue(ca.get())) {
      return which +
             " is not a CA certificate (basicConstraints CA:TRUE); the bundle holds "
             "CA certificates only";
    }
    if (std::string why = CheckCaKey(ca.get()); !why.empty()) return which + " " + why;
    names_bytes +=
        static_cast<size_t>(std::max(0, i2d_X509_NAME(X509_get_subject_name(ca.get()), nullptr)));
    if (names_bytes > kMaxCaNamesBytes) {
      return "the CA subject names add up to more than 10,000 bytes (at " + which + ")";
    }
    cas.push_back(std::move(ca));
  }
  if (cas.empty()) return std::string("holds no PEM certificate");
  return cas;
}

std::variant<std::vector<CrlPtr>, std::string> ParseRevocations(std::string_view bytes,
                                                                const std::vector<X509Ptr>& cas,
                                                                size_t* revoked) {
  ClearErrorsOnReturn clear;
  std::vector<CrlPtr> crls;
  BioPtr bio = MemoryBio(bytes);
  if (!bio) return std::string("out of memory");
  for (;;) {
    CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (!crl) {
      // The end of the PEM blocks, or (before any) not PEM at all: DER is tried below. A
      // damaged block after good ones is an error, never a shorter list.
      if (AtEndOfPem() || crls.empty()) break;
      return "CRL " + std::to_string(crls.size() + 1) + " is not a readable PEM CRL";
    }
    crls.push_back(std::move(crl));
  }
  ERR_clear_error();
  if (crls.empty()) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(bytes.size())));
    ERR_clear_error();
    if (!crl) return std::string("is not a CRL in PEM or DER");
    crls.push_back(std::move(crl));
  }
  for (size_t i = 0; i < crls.size(); ++i) {
    X509_CRL* crl = crls[i].get();
    const X509* issuer = nullptr;
    for (const X509Ptr& ca : cas) {
      if (X509_NAME_cmp(X509_get_subject_name(ca.get()), X509_CRL_get_issuer(crl)) == 0 &&
          X509_CRL_verify(crl, X509_get0_pubkey(ca.get())) == 1) {
        issuer = ca.get();
      }
    }
    ERR_clear_error();
    if (issuer == nullptr) {
      return "CRL " + std::to_string(i + 1) + " is not signed by a CA of the bundle";
    }
    STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl);
    *revoked += entries != nullptr ? static_cast<size_t>(sk_X509_REVOKED_num(entries)) : 0;
    if (*revoked > kMaxRevokedEntries) {
      return "more than " + std::to_string(kMaxRevokedEntries) + " revoked entries";
    }
  }
  return crls;
}

TrustStore::~TrustStore() { X509_STORE_free(store_); }

STACK_OF(X509_NAME) * TrustStore::CaNames() const {
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  if (names == nullptr) return nullptr;
  for (const X509Ptr& ca : cas_) {
    X509_NAME* n = X509_NAME_dup(X509_get_subject_name(ca.get()));
    if (n == nullptr || sk_X509_NAME_push(names, n) == 0) X509_NAME_free(n);
  }
  return names;
}

std::variant<std::shared_ptr<const TrustStore>, config::ConfigError> TrustStore::Load(
    const config::TrustStoreDefinition& def, const std::string& config_file) {
  const bool held = !def.ca_bundle_pem.empty();
  const std::string bundle_field =
      def.path + (held ? ".CaCertificatesBundle" : ".CaCertificatesBundleFile");
  const std::string source = held ? std::string("the bundle") : def.ca_bundle_file;
  std::string text;
  if (held) {
    if (def.ca_bundle_pem.size() > kMaxPemFileBytes) {
      return Located(config_file, def.ca_bundle_file_location, bundle_field,
                     "the bundle is over " + std::to_string(kMaxPemFileBytes) + " bytes");
    }
  } else if (std::string why = config::ReadBoundedFile(def.ca_bundle_file, kMaxPemFileBytes, &text);
             !why.empty()) {
    return Located(config_file, def.ca_bundle_file_location, bundle_field, source + ": " + why);
  }
  auto cas = ParseCaBundle(held ? std::string_view(def.ca_bundle_pem) : std::string_view(text));
  if (auto* why = std::get_if<std::string>(&cas)) {
    return Located(config_file, def.ca_bundle_file_location, bundle_field, source + ": " + *why);
  }
  std::shared_ptr<TrustStore> self(new TrustStore());
  self->cas_ = std::move(std::get<std::vector<X509Ptr>>(cas));
  self->store_ = X509_STORE_new();
  if (self->store_ == nullptr) return Located(config_file, def.location, def.path, "out of memory");
  for (const X509Ptr& ca : self->cas_) X509_STORE_add_cert(self->store_, ca.get());
  size_t revoked = 0;
  for (size_t i = 0; i < def.revocation_files.size(); ++i) {
    const std::string field = def.path + ".RevocationFiles[" + std::to_string(i) + "]";
    const std::string& path = def.revocation_files[i];
    std::string bytes;
    std::string why = config::ReadBoundedFile(path, kMaxCrlFileBytes, &bytes);
    std::variant<std::vector<CrlPtr>, std::string> crls = why;
    if (why.empty()) crls = ParseRevocations(bytes, self->cas_, &revoked);
    if (auto* problem = std::get_if<std::string>(&crls)) {
      return Located(config_file, def.revocation_file_locations[i], field, path + ": " + *problem);
    }
    for (const CrlPtr& crl : std::get<std::vector<CrlPtr>>(crls)) {
      X509_STORE_add_crl(self->store_, crl.get());
    }
  }
  for (size_t i = 0; i < def.revocations.size(); ++i) {
    const config::TrustStoreRevocation& rev = def.revocations[i];
    auto crls = ParseRevocations(rev.crl_pem, self->cas_, &revoked);
    if (auto* problem = std::get_if<std::string>(&crls)) {
      return Located(config_file, rev.location,
                     def.path + ".Revocations[" + std::to_string(i) + "].Crl",
                     "revocation " + std::to_string(rev.id) + ": " + *problem);
    }
    for (const CrlPtr& crl : std::get<std::vector<CrlPtr>>(crls)) {
      X509_STORE_add_crl(self->store_, crl.get());
    }
  }
  if (!def.revocation_files.empty() || !def.revocations.empty()) {
    X509_STORE_set_flags(self->store_, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    X509_STORE_set_verify_cb(self->store_, ForgiveMissingCrl);
  }
  ERR_clear_error();
  return std::shared_ptr<const TrustStore>(std::move(self));
}

std::variant<TrustStores, config::ConfigErrors> LoadTrustStores(const config::Config& config) {
  TrustStores stores;
  config::ConfigErrors errors;
  for (const config::TrustStoreDefinition& def : config.trust_stores) {
    auto loaded = TrustStore::Load(def, config.source_file);
    if (auto* e = std::get_if<config::ConfigError>(&loaded)) {
      errors.push_back(std::move(*e));
    } else {
      stores[def.name] = std::get<std::shared_ptr<const TrustStore>>(std::move(loaded));
    }
  }
  if (!errors.empty()) return errors;
  return stores;
}

}  // namespace sluice::tls
