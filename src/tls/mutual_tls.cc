#include "tls/mutual_tls.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls/openssl_error.h"

namespace sluice::tls {
namespace {

// Passthrough: any certificate (or none) is taken as it is.
int AcceptAny(int, X509_STORE_CTX*) { return 1; }

// Verify: OpenSSL's verdict, except that a CA without a CRL is not a failure (ALB checks
// revocation only where a CRL was imported); and the client's certificate must be X.509 v3,
// as ALB requires.
int Verify(int ok, X509_STORE_CTX* ctx) {
  if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL) return 1;
  if (ok && X509_STORE_CTX_get_error_depth(ctx) == 0) {
    X509* leaf = X509_STORE_CTX_get_current_cert(ctx);
    if (leaf != nullptr && X509_get_version(leaf) != X509_VERSION_3) {
      X509_STORE_CTX_set_error(ctx, X509_V_ERR_APPLICATION_VERIFICATION);
      return 0;
    }
  }
  return ok;
}

// Verify with IgnoreClientCertificateExpiry: the client's own certificate may be outside its
// dates [infer: the flag is about the client certificate, not the CAs].
int VerifyIgnoringExpiry(int ok, X509_STORE_CTX* ctx) {
  if (!ok && X509_STORE_CTX_get_error_depth(ctx) == 0) {
    int err = X509_STORE_CTX_get_error(ctx);
    if (err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID) return 1;
  }
  return Verify(ok, ctx);
}

// What `write` puts into a memory BIO, as a string ("" when it fails).
template <class Write>
std::string WrittenText(Write write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  std::string out;
  if (bio && write(bio.get())) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    if (n > 0) out.assign(data, static_cast<size_t>(n));
  }
  ERR_clear_error();
  return out;
}

std::string Pem(X509* cert) {
  return WrittenText([cert](BIO* b) { return PEM_write_bio_X509(b, cert) == 1; });
}

std::string Time(const ASN1_TIME* t) { return t == nullptr ? "-" : FormatTime(AsnTimeSeconds(t)); }

// A header line. RFC 2253 output escapes control characters already; a value byte that
// could still end the line or is not visible ASCII is replaced, so a certificate can never
// inject a header.
void AppendHeader(std::string_view name, std::string_view value, std::string* out) {
  out->append(name);
  out->append(": ");
  for (char c : value) {
    const auto b = static_cast<unsigned char>(c);
    out->push_back(b >= 0x20 && b < 0x7f ? c : '?');
  }
  out->append("\r\n");
}

}  // namespace

bool ApplyMutualTls(SSL_CTX* ctx, const config::MutualAuthentication& mode, const TrustStore* trust,
                    std::string* error) {
  if (mode.mode == config::MutualTlsMode::kOff) return true;
  // ALB turns resumption off with mTLS (§7.1): every connection presents its certificate.
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx, 0);
  if (mode.mode == config::MutualTlsMode::kPassthrough) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, AcceptAny);
    SSL_CTX_set_client_CA_list(ctx, sk_X509_NAME_new_null());
    return true;
  }
  if (trust == nullptr) {
    *error = "mutual TLS verify needs a trust store";
    return false;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     mode.ignore_client_certificate_expiry ? VerifyIgnoringExpiry : Verify);
  SSL_CTX_set_verify_depth(ctx, kClientChainDepth);
  if (SSL_CTX_set1_verify_cert_store(ctx, trust->store()) != 1) {
    *error = "cannot use the trust store: " + TakeOpenSslError("unknown reason");
    return false;
  }
  SSL_CTX_set_client_CA_list(
      ctx, mode.advertise_trust_store_ca_names ? trust->CaNames() : sk_X509_NAME_new_null());
  return true;
}

void AppendUrlEncoded(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : text) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '=' ||
                      c == '/';
    if (keep) {
      out->push_back(c);
    } else {
      const auto b = static_cast<unsigned char>(c);
      out->push_back('%');
      out->push_back(kHex[b >> 4]);
      out->push_back(kHex[b & 15]);
    }
  }
}

std::string SerialHex(const X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (bn == nullptr) return "-";
  char* hex = BN_bn2hex(bn);  // upper case; "0" for zero; "-" prefix for a negative serial
  std::string out = hex != nullptr ? hex : "-";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

std::string Rfc2253(const X509_NAME* name) {
  return WrittenText(
      [name](BIO* b) { return X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0; });
}

std::string Validity(const X509* cert) {
  return "NotBefore=" + Time(X509_get0_notBefore(cert)) +
         ";NotAfter=" + Time(X509_get0_notAfter(cert));
}

void AppendClientCertHeaders(SSL* ssl, config::MutualTlsMode mode,
                             const config::ListenerAttributes& names, std::string* out) {
  if (mode == config::MutualTlsMode::kOff || ssl == nullptr) return;
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (leaf == nullptr) return;
  if (mode == config::MutualTlsMode::kPassthrough) {
    std::string chain = Pem(leaf);
    // On the server side the peer chain does not hold the leaf.
    STACK_OF(X509)* rest = SSL_get_peer_cert_chain(ssl);
    for (int i = 0; rest != nullptr && i < sk_X509_num(rest); ++i) {
      X509* c = sk_X509_value(rest, i);
      if (X509_cmp(c, leaf) != 0) chain += Pem(c);
    }
    out->append(names.mtls_clientcert);
    out->append(": ");
    AppendUrlEncoded(chain, out);
    out->append("\r\n");
    return;
  }
  AppendHeader(names.mtls_serial_number, SerialHex(leaf), out);
  AppendHeader(names.mtls_issuer, Rfc2253(X509_get_issuer_name(leaf)), out);
  AppendHeader(names.mtls_subject, Rfc2253(X509_get_subject_name(leaf)), out);
  AppendHeader(names.mtls_validity, Validity(leaf), out);
  out->append(names.mtls_leaf);
  out->append(": ");
  AppendUrlEncoded(Pem(leaf), out);
  out->append("\r\n");
}

}  // namespace sluice::tls
