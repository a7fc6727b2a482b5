#include "tls/sni.h"

#include "http/header.h"

namespace sluice::tls {
namespace {

using http::EqualsIgnoreCase;

bool Matches(const CertificateFacts& facts, std::string_view host) {
  for (const std::string& name : facts.dns_names) {
    if (NameMatches(name, host)) return true;
  }
  return false;
}

// True when `a` is the better of two matching certificates for this client.
bool Better(const CertificateFacts& a, const CertificateFacts& b, bool client_ecdsa) {
  if (client_ecdsa && a.key_type != b.key_type) return a.key_type == KeyType::kEcdsa;
  if (!client_ecdsa && a.key_type != b.key_type) return a.key_type == KeyType::kRsa;
  if (a.key_bits != b.key_bits) return a.key_bits > b.key_bits;
  return a.not_before > b.not_before;
}

}  // namespace

bool NameMatches(std::string_view pattern, std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // absolute form
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    size_t dot = host.find('.');
    if (dot == 0 || dot == std::string_view::npos) return false;
    return EqualsIgnoreCase(pattern.substr(1), host.substr(dot));
  }
  return EqualsIgnoreCase(pattern, host);
}

size_t SelectCertificate(std::span<const CertificateFacts* const> certs,
                         std::string_view server_name, bool client_ecdsa) {
  if (server_name.empty() || certs.empty()) return 0;
  size_t best = certs.size();
  for (size_t i = 0; i < certs.size(); ++i) {
    if (!Matches(*certs[i], server_name)) continue;
    // A client that cannot use ECDSA never gets an ECDSA certificate while an RSA one matches.
    if (best == certs.size() || Better(*certs[i], *certs[best], client_ecdsa)) best = i;
  }
  return best == certs.size() ? 0 : best;
}

}  // namespace sluice::tls
