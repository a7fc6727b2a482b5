#include "tls/certificate.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "config/file.h"
#include "tls/openssl_error.h"

namespace sluice::tls {
namespace {

// A password callback that never asks (OpenSSL's default would prompt on the terminal).
int NoPassword(char*, int, int, void*) { return -1; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string> DnsNames(X509* leaf) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      if (n->type != GEN_DNS) continue;
      const ASN1_IA5STRING* s = n->d.dNSName;
      out.push_back(Lower(std::string_view(reinterpret_cast<const char*>(s->data),
                                           static_cast<size_t>(s->length))));
    }
    GENERAL_NAMES_free(names);
  }
  if (!out.empty()) return out;
  X509_NAME* subject = X509_get_subject_name(leaf);
  int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at >= 0) {
    ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
    out.push_back(Lower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                                         static_cast<size_t>(ASN1_STRING_length(cn)))));
  }
  return out;
}

// The key's type and size, or why ALB would not take it (reference §7.1).
std::string CheckKey(EVP_PKEY* key, CertificateFacts* facts) {
  facts->key_bits = EVP_PKEY_get_bits(key);
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      facts->key_type = KeyType::kRsa;
      if (facts->key_bits < 2048) {
        return "key is RSA " + std::to_string(facts->key_bits) +
               " bits; an HTTPS listener needs RSA 2048 bits or more, or ECDSA";
      }
      return "";
    case EVP_PKEY_EC: {
      facts->key_type = KeyType::kEcdsa;
      char group[64] = {0};
      size_t len = 0;
      if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1) group[0] = '\0';
      std::string_view g(group);
      if (g == "prime256v1" || g == "secp384r1" || g == "secp521r1" || g == "P-256" ||
          g == "P-384" || g == "P-521") {
        return "";
      }
      return "key is ECDSA on curve " + std::string(g.empty() ? "?" : g) +
             "; supported curves: P-256, P-384, P-521";
    }
    default:
      return "key type is not supported (only RSA and ECDSA keys are, as on ALB)";
  }
}

}  // namespace

BioPtr MemoryBio(std::string_view bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

int64_t AsnTimeSeconds(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::string FormatTime(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::variant<LoadedCertificate, PemProblem> ParseCertificatePem(std::string_view chain_pem,
                                                                std::string_view key_pem,
                                                                int64_t now) {
  ERR_clear_error();
  LoadedCertificate out;
  BioPtr chain_bio = MemoryBio(chain_pem);
  if (!chain_bio) return PemProblem{false, "certificate: out of memory"};
  out.leaf.reset(PEM_read_bio_X509(chain_bio.get(), nullptr, NoPassword, nullptr));
  if (!out.leaf) {
    std::string why = TakeOpenSslError();
    return PemProblem{false, "no PEM certificate found" + (why.empty() ? "" : " (" + why + ")")};
  }
  while (X509* next = PEM_read_bio_X509(chain_bio.get(), nullptr, NoPassword, nullptr)) {
    out.chain.emplace_back(next);
    if (out.chain.size() > 10) return PemProblem{false, "the chain has more than 10 certificates"};
  }
  ERR_clear_error();  // the end of the file reads as "no start line"
  BioPtr key_bio = MemoryBio(key_pem);
  if (!key_bio) return PemProblem{true, "key: out of memory"};
  out.key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassword, nullptr));
  if (!out.key) {
    std::string why = TakeOpenSslError();
    bool encrypted = key_pem.find("ENCRYPTED") != std::string_view::npos;
    return PemProblem{
        true, encrypted ? "the private key is encrypted; give an unencrypted key "
                          "(protect the file by its permissions)"
                        : "no PEM private key found" + (why.empty() ? "" : " (" + why + ")")};
  }
  if (std::string problem = CheckKey(out.key.get(), &out.facts); !problem.empty()) {
    return PemProblem{true, problem};
  }
  if (X509_check_private_key(out.leaf.get(), out.key.get()) != 1) {
    ERR_clear_error();
    return PemProblem{true,
                      "the private key does not match the certificate (the first one in "
                      "the certificate file)"};
  }
  out.facts.not_before = AsnTimeSeconds(X509_get0_notBefore(out.leaf.get()));
  out.facts.not_after = AsnTimeSeconds(X509_get0_notAfter(out.leaf.get()));
  if (now < out.facts.not_before) {
    return PemProblem{
        false, "the certificate is not valid yet: valid from " + FormatTime(out.facts.not_before)};
  }
  if (now > out.facts.not_after) {
    return PemProblem{false, "the certificate expired on " + FormatTime(out.facts.not_after)};
  }
  out.facts.dns_names = DnsNames(out.leaf.get());
  return out;
}

std::variant<LoadedCertificate, config::ConfigError> LoadCertificate(
    const config::CertificateDefinition& def, const std::string& config_file, int64_t now) {
  auto error = [&](bool about_key, std::string message) {
    const config::Location& at =
        about_key ? def.private_key_file_location : def.certificate_file_location;
    return config::ConfigError{config_file, at.line, at.column,
                               def.path + (about_key ? ".PrivateKeyFile" : ".CertificateFile"),
                               std::move(message)};
  };
  std::string chain_pem, key_pem;
  if (std::string p = config::ReadBoundedFile(def.certificate_file, kMaxPemFileBytes, &chain_pem);
      !p.empty()) {
    return error(false, def.certificate_file + ": " + p);
  }
  if (std::string p = config::ReadBoundedFile(def.private_key_file, kMaxPemFileBytes, &key_pem);
      !p.empty()) {
    return error(true, def.private_key_file + ": " + p);
  }
  auto parsed = ParseCertificatePem(chain_pem, key_pem, now);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (auto* problem = std::get_if<PemProblem>(&parsed)) {
    return error(problem->about_key,
                 (problem->about_key ? def.private_key_file : def.certificate_file) + ": " +
                     problem->message);
  }
  LoadedCertificate loaded = std::move(std::get<LoadedCertificate>(parsed));
  loaded.name = def.name;
  return loaded;
}

}  // namespace sluice::tls
