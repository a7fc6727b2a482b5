// Mutual TLS on HTTPS listeners (reference §7.4, §4.5): how a listener context asks for and
// checks client certificates, and the X-Amzn-Mtls-Clientcert* headers made from what the
// client presented. The context setup runs on the control thread; the header builders run
// on a worker once per connection, after its handshake.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <string_view>

#include "config/model.h"
#include "tls/trust_store.h"

namespace sluice::tls {

// Maximum CA certificates between a client's leaf and its trust anchor (OpenSSL's verify
// depth): 2, so a chain holds at most 4 certificates, leaf and anchor included (ALB's "max
// chain depth 4" [infer: counted in certificates]).
inline constexpr int kClientChainDepth = 2;

// Configures `ctx` for `mode`: passthrough asks for a certificate and accepts any (or none);
// verify requires one that chains to `trust` (CRLs checked where given), optionally
// ignoring the leaf's validity dates, optionally advertising the CA names. Either mode turns
// session resumption off (as ALB). False and `*error` when OpenSSL refuses.
bool ApplyMutualTls(SSL_CTX* ctx, const config::MutualAuthentication& mode, const TrustStore* trust,
                    std::string* error);

// Appends the request header lines ("Name: value\r\n") for the client certificate of `ssl`
// under `mode` with the names of `names`: passthrough the whole chain (leaf first, PEM,
// URL-encoded); verify the leaf's serial, issuer, subject, validity and PEM. Nothing when
// the client sent no certificate or the mode is off.
void AppendClientCertHeaders(SSL* ssl, config::MutualTlsMode mode,
                             const config::ListenerAttributes& names, std::string* out);

// The pieces, pure over OpenSSL objects (unit-tested):
// PEM text URL-encoded, leaving unreserved characters and '+', '=', '/' as they are.
void AppendUrlEncoded(std::string_view text, std::string* out);
// The serial number in upper-case hex without separators ("03A5B7C9"); "0" for zero.
std::string SerialHex(const X509* cert);
// A distinguished name in RFC 2253 form ("CN=client,O=Example,C=US").
std::string Rfc2253(const X509_NAME* name);
// "NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z".
std::string Validity(const X509* cert);

}  // namespace sluice::tls
