// Trust stores for mutual TLS (reference §7.4): CA certificates and certificate revocation
// lists read from the files of a TrustStores entry and checked as ALB checks an S3 bundle
// (CA certificates only, at most 25, each at most 16 KiB, their subject names at most 10,000
// bytes in all, RSA 2048..8192 bits or ECDSA P-256,
// P-384, P-521 keys; CRLs in PEM or DER signed by one of the CAs, at most 500,000 revoked
// entries in all). Control thread (loading); immutable afterwards and shared by the listener
// contexts that verify against it.
#pragma once

#include <openssl/x509.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/error.h"
#include "config/model.h"
#include "tls/certificate.h"

namespace sluice::tls {

struct CrlFree {
  void operator()(X509_CRL* c) const { X509_CRL_free(c); }
};
using CrlPtr = std::unique_ptr<X509_CRL, CrlFree>;

inline constexpr size_t kMaxTrustStoreCas = 25;
inline constexpr size_t kMaxCaCertificateBytes = 16 * 1024;
inline constexpr size_t kMaxCaNamesBytes = 10000;  // the CAs' subject names, DER, in all
inline constexpr size_t kMaxRevokedEntries = 500000;
inline constexpr size_t kMaxCrlFileBytes = 50u << 20;

// Parses a PEM bundle of CA certificates; the error says which certificate (1-based) and why.
std::variant<std::vector<X509Ptr>, std::string> ParseCaBundle(std::string_view pem);
// Parses one revocation file: every PEM CRL in it, else one DER CRL. Each must be signed by
// one of `cas`. `*revoked` grows by the entries read.
std::variant<std::vector<CrlPtr>, std::string> ParseRevocations(std::string_view bytes,
                                                                const std::vector<X509Ptr>& cas,
                                                                size_t* revoked);

class TrustStore {
 public:
  ~TrustStore();
  TrustStore(const TrustStore&) = delete;
  TrustStore& operator=(const TrustStore&) = delete;

  // Reads and checks the files of `def`; the error names the config file, line and field.
  static std::variant<std::shared_ptr<const TrustStore>, config::ConfigError> Load(
      const config::TrustStoreDefinition& def, const std::string& config_file);

  // The CAs and CRLs, with CRL checking on when there are CRLs (a CA without a CRL is not
  // checked for revocation: the verify callback forgives "unable to get CRL").
  X509_STORE* store() const { return store_; }
  // The CAs' subject names, for AdvertiseTrustStoreCaNames (a copy the caller owns).
  STACK_OF(X509_NAME) * CaNames() const;
  size_t ca_count() const { return cas_.size(); }

 private:
  TrustStore() = default;
  X509_STORE* store_ = nullptr;
  std::vector<X509Ptr> cas_;
};

// Every trust store of a config, by name; every problem reported.
using TrustStores = std::map<std::string, std::shared_ptr<const TrustStore>>;
std::variant<TrustStores, config::ConfigErrors> LoadTrustStores(const config::Config& config);

}  // namespace sluice::tls
