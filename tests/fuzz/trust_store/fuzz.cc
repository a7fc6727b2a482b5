// Fuzzes the trust-store parsers (tls::ParseCaBundle, tls::ParseRevocations): a PEM CA bundle
// and CRL bytes (PEM or DER) from untrusted input, split at the first NUL byte (bundle before,
// CRLs after; without one, the whole input is tried as both). Asserts: no crash or leak; an
// accepted bundle holds 1..25 CA certificates; accepted CRLs are non-empty and each names a
// CA of the bundle as issuer; every refusal says why.
#include <openssl/x509v3.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tls/trust_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string_view bundle = nul == std::string_view::npos ? in : in.substr(0, nul);
  std::string_view crls = nul == std::string_view::npos ? in : in.substr(nul + 1);
  auto cas = sluice::tls::ParseCaBundle(bundle);
  if (auto* why = std::get_if<std::string>(&cas)) {
    if (why->empty()) std::abort();
    return 0;
  }
  const auto& list = std::get<std::vector<sluice::tls::X509Ptr>>(cas);
  if (list.empty() || list.size() > sluice::tls::kMaxTrustStoreCas) std::abort();
  for (const auto& ca : list) {
    if ((X509_get_extension_flags(ca.get()) & EXFLAG_CA) == 0) std::abort();
  }
  size_t revoked = 0;
  auto parsed = sluice::tls::ParseRevocations(crls, list, &revoked);
  if (auto* why = std::get_if<std::string>(&parsed)) {
    if (why->empty()) std::abort();
    return 0;
  }
  const auto& accepted = std::get<std::vector<sluice::tls::CrlPtr>>(parsed);
  if (accepted.empty() || revoked > sluice::tls::kMaxRevokedEntries) std::abort();
  for (const auto& crl : accepted) {
    bool known = false;
    for (const auto& ca : list) {
      known |= X509_NAME_cmp(X509_get_subject_name(ca.get()), X509_CRL_get_issuer(crl.get())) == 0;
    }
    if (!known) std::abort();
  }
  return 0;
}
