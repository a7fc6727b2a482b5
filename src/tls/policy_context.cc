#include "tls/policy_context.h"

#include <openssl/err.h>

#include "tls/openssl_error.h"

namespace sluice::tls {
namespace {

int MinVersion(uint8_t versions) {
  if (versions & config::kTls10) return TLS1_VERSION;
  if (versions & config::kTls11) return TLS1_1_VERSION;
  if (versions & config::kTls12) return TLS1_2_VERSION;
  return TLS1_3_VERSION;
}

int MaxVersion(uint8_t versions) {
  if (versions & config::kTls13) return TLS1_3_VERSION;
  if (versions & config::kTls12) return TLS1_2_VERSION;
  if (versions & config::kTls11) return TLS1_1_VERSION;
  return TLS1_VERSION;
}

}  // namespace

SSL_CTX* NewPolicyContext(const SSL_METHOD* method, const config::SslPolicy& policy,
                          std::string* error) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) {
    *error = "SSL_CTX_new: " + TakeOpenSslError("unknown reason");
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, MinVersion(policy.versions));
  SSL_CTX_set_max_proto_version(ctx, MaxVersion(policy.versions));
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  std::string tls12, tls13;
  for (std::string_view c : policy.ciphers) {
    std::string& list = c.rfind("TLS_", 0) == 0 ? tls13 : tls12;
    if (!list.empty()) list += ':';
    list += c;
  }
  // TLS 1.0 and 1.1 need security level 0 with OpenSSL 3 (SHA-1 in their handshakes).
  if (policy.versions & (config::kTls10 | config::kTls11)) tls12 += ":@SECLEVEL=0";
  bool ok = (tls12.empty() || SSL_CTX_set_cipher_list(ctx, tls12.c_str()) == 1) &&
            (tls13.empty() ? SSL_CTX_set_ciphersuites(ctx, "") == 1
                           : SSL_CTX_set_ciphersuites(ctx, tls13.c_str()) == 1) &&
            SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384:P-521") == 1;
  if (ok && policy.post_quantum) {
    ok = SSL_CTX_set1_groups_list(ctx, "X25519MLKEM768:X25519:P-256:P-384:P-521") == 1;
    if (!ok) {
      SSL_CTX_free(ctx);
      ERR_clear_error();
      *error = "SslPolicy " + std::string(policy.name) +
               " needs the ML-KEM hybrid groups, which "
               "the linked OpenSSL (" +
               OpenSSL_version(OPENSSL_VERSION) +
               ") does not offer; "
               "use its classic namesake (without -PQ)";
      return nullptr;
    }
  }
  if (!ok) {
    *error = "SslPolicy " + std::string(policy.name) + ": " + TakeOpenSslError("unknown reason");
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

}  // namespace sluice::tls
