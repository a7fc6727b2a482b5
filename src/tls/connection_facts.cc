#include "tls/connection_facts.h"

#include <openssl/obj_mac.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "tls/mutual_tls.h"

namespace sluice::tls {

const char* VerifyFailureCode(long verify_result) {
  switch (verify_result) {
    case X509_V_OK:
      return nullptr;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "Failed:ClientCertExpired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "Failed:ClientCertNotYetValid";
    case X509_V_ERR_CERT_REVOKED:
      return "Failed:ClientCertCrlHit";
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
      return "Failed:ClientCertCrlProcessingError";
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
      return "Failed:ClientCertMaxChainDepthExceeded";
    case X509_V_ERR_INVALID_PURPOSE:
      return "Failed:ClientCertPurposeInvalid";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "Failed:ClientCertUntrusted";
    default:
      return "Failed:ClientCertInvalid";
  }
}

namespace {

const char* GroupName(int nid) {
  switch (nid) {
    case NID_X9_62_prime256v1:
      return "secp256r1";  // ALB's (IANA's) name for OpenSSL's prime256v1
    case NID_secp384r1:
      return "secp384r1";
    case NID_secp521r1:
      return "secp521r1";
    case NID_X25519:
      return "X25519";
    case NID_X448:
      return "X448";
    default:
      return "";
  }
}

}  // namespace

ConnectionFacts DescribeConnection(SSL* ssl, bool handshake_done) {
  ConnectionFacts f;
  if (ssl == nullptr) return f;
  const int group = SSL_get_negotiated_group(ssl);
  f.key_exchange = GroupName(group & ~TLSEXT_nid_unknown);
  if (X509* leaf = SSL_get0_peer_certificate(ssl)) {
    f.cert_subject = Rfc2253(X509_get_subject_name(leaf));
    f.cert_validity = Validity(leaf);
    f.cert_serial = SerialHex(leaf);
  }
  if (!handshake_done) {
    const char* code = VerifyFailureCode(SSL_get_verify_result(ssl));
    // Not a certificate verification failure: a protocol or policy mismatch, a client that
    // aborted, or no certificate where one is required.
    f.verify_status = code != nullptr ? code : "Failed:UnmappedConnectionError";
  }
  return f;
}

}  // namespace sluice::tls
