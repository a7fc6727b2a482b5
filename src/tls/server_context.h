// The TLS side of an HTTPS or TLS listener: one OpenSSL context per certificate (the first is the
// default), all configured from the listener's security policy, with SNI selection
// (sni.h) in the ClientHello callback and ALPN. Built on the control thread when a snapshot
// is compiled; immutable afterwards; shared by every worker (OpenSSL contexts are safe to use
// from several threads) and kept alive by each connection that uses it.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"
#include "config/error.h"
#include "config/model.h"
#include "config/ssl_policies.h"
#include "tls/certificate.h"
#include "tls/trust_store.h"

namespace sluice::tls {

// Every certificate of a config, read and checked once per compile.
class CertificateStore {
 public:
  // Loads every entry of config.certificates; all problems are reported (file, line, field).
  static std::variant<std::shared_ptr<const CertificateStore>, config::ConfigErrors> Load(
      const config::Config& config, int64_t now);
  const LoadedCertificate* Find(const std::string& name) const;

 private:
  std::map<std::string, LoadedCertificate> certificates_;
};

// Counts of handshakes that did not complete, process-wide (relaxed atomics; read by
// tests and, later, metrics).
struct HandshakeCounters {
  static void CountFailed();
  static void CountTimedOut();
  // Handshakes with targets of HTTPS groups that failed or timed out
  // (TargetTLSNegotiationErrorCount).
  static void CountTargetFailed();
  static uint64_t failed();
  static uint64_t timed_out();
  static uint64_t target_failed();
};

class ServerContext {
 public:
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // The contexts of `listener` (HTTPS, or TLS with its AlpnPolicy) from its policy and
  // certificates; an error says why
  // OpenSSL refused (e.g. a PQ policy whose groups this OpenSSL lacks).
  // `trust`: the listener's trust store when its mutual TLS mode is verify. `http2`: ALPN
  // selects h2 when the client offers it (routing.http2.enabled), else http/1.1.
  static Result<std::shared_ptr<const ServerContext>> Build(
      const config::Listener& listener, std::shared_ptr<const CertificateStore> store,
      std::shared_ptr<const TrustStore> trust = nullptr, bool http2 = false);

  // A new server-side session for an accepted connection (owned by the caller), or null when
  // OpenSSL cannot allocate one.
  SSL* NewSession() const;

  const config::SslPolicy& policy() const { return *policy_; }
  size_t certificate_count() const { return contexts_.size(); }
  // The store's name of the certificate a session presents (the SNI choice; the default
  // before the ClientHello); empty for a session of another context. Any thread.
  std::string_view ChosenCertificate(SSL* ssl) const;

 private:
  ServerContext() = default;
  static int OnClientHello(SSL* ssl, int* alert, void* arg);

  const config::SslPolicy* policy_ = nullptr;
  std::vector<SSL_CTX*> contexts_;                 // [0]: the default certificate's
  std::vector<const CertificateFacts*> facts_;     // parallel; owned by the store
  std::vector<const std::string*> names_;          // parallel; owned by the store
  std::shared_ptr<const CertificateStore> store_;  // keeps facts_ alive
  std::shared_ptr<const TrustStore> trust_;
};

}  // namespace sluice::tls
