// A certificate of the store, read and checked: the leaf, its chain and its private key,
// with the facts SNI selection needs (names, key type and size, validity). Control thread
// (loading); the loaded objects are immutable afterwards and shared by the TLS contexts.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/error.h"
#include "config/model.h"

namespace sluice::tls {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// A read-only memory BIO over `bytes` (which must outlive it).
BioPtr MemoryBio(std::string_view bytes);

enum class KeyType : uint8_t { kRsa, kEcdsa };

// What SNI selection reads of a certificate (reference §7.3).
struct CertificateFacts {
  std::vector<std::string> dns_names;  // subjectAltName DNS entries, else the subject CN;
                                       // lower case; "*.example.com" for wildcards
  KeyType key_type = KeyType::kRsa;
  int key_bits = 0;
  int64_t not_before = 0;  // seconds since the epoch
  int64_t not_after = 0;
};

struct LoadedCertificate {
  std::string name;  // the store's Name
  X509Ptr leaf;
  std::vector<X509Ptr> chain;  // intermediates, in file order
  PkeyPtr key;
  CertificateFacts facts;
};

// Largest certificate or key file read (a chain of a few certificates is ~10 KiB).
inline constexpr size_t kMaxPemFileBytes = 1 << 20;

// Parses and checks a PEM chain (leaf first) and a PEM private key: at least one
// certificate, an unencrypted RSA (2048 bits or more) or ECDSA (P-256, P-384, P-521) key that
// matches the leaf, valid at `now` (seconds since the epoch). The error says what is wrong
// and which of the two inputs it is about ("certificate" or "key" first word).
struct PemProblem {
  bool about_key = false;
  std::string message;
};
std::variant<LoadedCertificate, PemProblem> ParseCertificatePem(std::string_view chain_pem,
                                                                std::string_view key_pem,
                                                                int64_t now);

// Reads the files of `def` and parses them; the error names the config file, the line and
// the field (CertificateFile or PrivateKeyFile) of the problem.
std::variant<LoadedCertificate, config::ConfigError> LoadCertificate(
    const config::CertificateDefinition& def, const std::string& config_file, int64_t now);

// "2026-12-04T13:05:00Z".
std::string FormatTime(int64_t seconds);
// An ASN.1 time as seconds since the epoch; 0 when it cannot be read.
int64_t AsnTimeSeconds(const ASN1_TIME* t);

}  // namespace sluice::tls
