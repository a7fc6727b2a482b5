// Certificate selection by SNI, as ALB does it (reference §7.3): pure logic over the facts of
// a listener's certificates, so that every rule is testable without a handshake.
#pragma once

#include <span>
#include <string_view>

#include "tls/certificate.h"

namespace sluice::tls {

// True when `pattern` (a certificate's DNS name, lower case) covers `host`: equal ignoring
// case, or "*.rest" matching exactly one more label ("a.rest", not "rest", not "a.b.rest").
bool NameMatches(std::string_view pattern, std::string_view host);

// Index of the certificate to present. `certs[0]` is the listener's default. No SNI or no
// match: 0. Several matches: ECDSA before RSA when `client_ecdsa`, then the larger key, then
// the newest (latest not-before); ties keep the listener's order.
size_t SelectCertificate(std::span<const CertificateFacts* const> certs,
                         std::string_view server_name, bool client_ecdsa);

}  // namespace sluice::tls
