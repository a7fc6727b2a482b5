// Fuzzes the certificate-store parser (tls::ParseCertificatePem): a PEM chain and a PEM key
// from untrusted bytes. The input is split at the first NUL byte (chain before, key after;
// without one, the whole input is tried as both). Asserts: no crash or leak; a success has a
// leaf, a key and at least one name or none (never garbage facts).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tls/certificate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string_view chain = nul == std::string_view::npos ? in : in.substr(0, nul);
  std::string_view key = nul == std::string_view::npos ? in : in.substr(nul + 1);
  // A fixed "now" (2027-12) inside the seeds' validity, so that they pass the checks.
  auto parsed = sluice::tls::ParseCertificatePem(chain, key, 1830000000);
  if (auto* ok = std::get_if<sluice::tls::LoadedCertificate>(&parsed)) {
    if (!ok->leaf || !ok->key || ok->facts.key_bits <= 0) std::abort();
    if (ok->facts.not_after < ok->facts.not_before) std::abort();
  } else if (std::get<sluice::tls::PemProblem>(parsed).message.empty()) {
    std::abort();  // every refusal says why
  }
  return 0;
}
