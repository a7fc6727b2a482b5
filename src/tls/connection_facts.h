// What ALB's connection log says about a client's TLS connection (reference §5.5): the leaf
// certificate of mutual TLS, the verification status with ALB's Failed: codes, and the key
// exchange group. Read from the session once, when its handshake finished or failed.
// Any thread (the session's owner); pure over OpenSSL objects.
#pragma once

#include <string>

typedef struct ssl_st SSL;

namespace sluice::tls {

struct ConnectionFacts {
  std::string cert_subject;               // RFC 2253 subject of the client's leaf; empty: none
  std::string cert_validity;              // "NotBefore=...Z;NotAfter=...Z"; empty: none
  std::string cert_serial;                // upper-case hex; empty: none
  const char* verify_status = "Success";  // "Success" or "Failed:<ALB code>"
  const char* key_exchange = "";          // "secp256r1", "X25519", ...; "" unknown
};

// `handshake_done`: the handshake completed (then the status is Success); else it failed and
// the status names why, from the certificate verification result when there is one.
ConnectionFacts DescribeConnection(SSL* ssl, bool handshake_done);

// ALB's Failed: code for an X509_V_ERR_* verification result (X509_V_OK: nullptr).
const char* VerifyFailureCode(long verify_result);

}  // namespace sluice::tls
