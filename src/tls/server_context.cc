#include "tls/server_context.h"

#include <openssl/err.h>
#include <openssl/tls1.h>

#include <atomic>
#include <cstring>

#include "config/alpn_policies.h"
#include "tls/mutual_tls.h"
#include "tls/openssl_error.h"
#include "tls/policy_context.h"
#include "tls/sni.h"
#include "tls/ticket_keys.h"

namespace sluice::tls {
namespace {

std::atomic<uint64_t> g_failed{0};
std::atomic<uint64_t> g_timed_out{0};
std::atomic<uint64_t> g_target_failed{0};

constexpr unsigned char kSessionIdContext[] = "sluice";

// The offered protocol `name` in the client's ALPN list, or null.
const unsigned char* FindAlpn(const unsigned char* in, unsigned int in_len, std::string_view name) {
  for (unsigned int i = 0; i < in_len;) {
    unsigned int len = in[i];
    if (i + 1 + len > in_len) break;
    if (len == name.size() && std::memcmp(in + i + 1, name.data(), len) == 0) return in + i + 1;
    i += 1 + len;
  }
  return nullptr;
}

// ALPN (reference §4.1): h2 when the load balancer has routing.http2.enabled (`arg` non-null)
// and the client offers it, else http/1.1 when offered; otherwise no protocol is acknowledged
// and the client speaks HTTP/1.x.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
               unsigned int in_len, void* arg) {
  if (arg != nullptr) {
    if (const unsigned char* h2 = FindAlpn(in, in_len, "h2")) {
      *out = h2;
      *out_len = 2;
      return SSL_TLSEXT_ERR_OK;
    }
  }
  if (const unsigned char* h1 = FindAlpn(in, in_len, "http/1.1")) {
    *out = h1;
    *out_len = 8;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// ALPN of a TLS listener (reference §7.5): by its policy (`arg` points at it), the first of the
// policy's protocols that the client offered; none offered: no ALPN, the handshake goes on.
int SelectAlpnByPolicy(SSL*, const unsigned char** out, unsigned char* out_len,
                       const unsigned char* in, unsigned int in_len, void* arg) {
  const auto policy = *static_cast<const config::AlpnPolicy*>(arg);
  std::string_view chosen =
      config::SelectAlpn(policy, std::string_view(reinterpret_cast<const char*>(in), in_len));
  if (chosen.empty()) return SSL_TLSEXT_ERR_NOACK;
  *out = reinterpret_cast<const unsigned char*>(chosen.data());
  *out_len = static_cast<unsigned char>(chosen.size());
  return SSL_TLSEXT_ERR_OK;
}

// The policy's storage for SelectAlpnByPolicy's argument (static: contexts outlive nothing).
const config::AlpnPolicy* StoredAlpnPolicy(config::AlpnPolicy policy) {
  static const config::AlpnPolicy kAll[] = {
      config::AlpnPolicy::kNone, config::AlpnPolicy::kHttp1Only, config::AlpnPolicy::kHttp2Only,
      config::AlpnPolicy::kHttp2Optional, config::AlpnPolicy::kHttp2Preferred};
  return &kAll[static_cast<size_t>(policy)];
}

// The host name of the server_name extension (RFC 6066 §3), or empty.
std::string_view ServerNameOf(SSL* ssl) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1 || len < 5) return {};
  size_t list_len = (static_cast<size_t>(p[0]) << 8) | p[1];
  if (list_len + 2 > len || p[2] != TLSEXT_NAMETYPE_host_name) return {};
  size_t name_len = (static_cast<size_t>(p[3]) << 8) | p[4];
  if (5 + name_len > len) return {};
  return std::string_view(reinterpret_cast<const char*>(p + 5), name_len);
}

// Whether the client can take an ECDSA certificate: it offers a TLS 1.3 suite or an
// ECDHE-ECDSA suite, and (when it sends signature_algorithms) an ECDSA signature scheme.
bool ClientSupportsEcdsa(SSL* ssl) {
  const unsigned char* ciphers = nullptr;
  size_t n = SSL_client_hello_get0_ciphers(ssl, &ciphers);
  bool suite = false;
  for (size_t i = 0; i + 1 < n && !suite; i += 2) {
    unsigned id = (static_cast<unsigned>(ciphers[i]) << 8) | ciphers[i + 1];
    suite = (id >> 8) == 0x13 || id == 0xC02B || id == 0xC02C || id == 0xC023 || id == 0xC024 ||
            id == 0xC009 || id == 0xC00A || id == 0xCCA9;
  }
  if (!suite) return false;
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_signature_algorithms, &p, &len) != 1) {
    return true;  // TLS 1.2 without the extension: the cipher suite decides
  }
  for (size_t i = 2; i + 1 < len; i += 2) {
    if (p[i + 1] == 0x03 && p[i] >= 0x02 && p[i] <= 0x06) return true;  // ecdsa_*
  }
  return false;
}

// `alpn`: a TLS listener's policy; null for an HTTPS listener (its ALPN is HTTP's, `http2`).
SSL_CTX* NewContext(const config::SslPolicy& policy, bool http2, const config::AlpnPolicy* alpn,
                    std::string* error) {
  SSL_CTX* ctx = NewPolicyContext(TLS_server_method(), policy, error);
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Resumption by stateless tickets only (no server-side cache to share or lock), one per
  // handshake, under the process's rotating keys: valid on every worker and across reloads.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 1);
  UseProcessTicketKeys(ctx);
  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof(kSessionIdContext) - 1);
  SSL_CTX_set_read_ahead(ctx, 1);
  static int h2_marker = 0;
  if (alpn == nullptr) {
    SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, http2 ? &h2_marker : nullptr);
  } else if (*alpn != config::AlpnPolicy::kNone) {
    SSL_CTX_set_alpn_select_cb(ctx, SelectAlpnByPolicy, const_cast<config::AlpnPolicy*>(alpn));
  }
  return ctx;
}

bool UseCertificate(SSL_CTX* ctx, const LoadedCertificate& cert, std::string* error) {
  bool ok = SSL_CTX_use_certificate(ctx, cert.leaf.get()) == 1;
  for (const X509Ptr& c : cert.chain) ok = ok && SSL_CTX_add1_chain_cert(ctx, c.get()) == 1;
  ok =
      ok && SSL_CTX_use_PrivateKey(ctx, cert.key.get()) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  if (!ok) *error = "certificate " + cert.name + ": " + TakeOpenSslError("unknown reason");
  return ok;
}

}  // namespace

void HandshakeCounters::CountFailed() { g_failed.fetch_add(1, std::memory_order_relaxed); }
void HandshakeCounters::CountTimedOut() { g_timed_out.fetch_add(1, std::memory_order_relaxed); }
uint64_t HandshakeCounters::failed() { return g_failed.load(std::memory_order_relaxed); }
uint64_t HandshakeCounters::timed_out() { return g_timed_out.load(std::memory_order_relaxed); }
void HandshakeCounters::CountTargetFailed() {
  g_target_failed.fetch_add(1, std::memory_order_relaxed);
}
uint64_t HandshakeCounters::target_failed() {
  return g_target_failed.load(std::memory_order_relaxed);
}

std::variant<std::shared_ptr<const CertificateStore>, config::ConfigErrors> CertificateStore::Load(
    const config::Config& config, int64_t now) {
  auto store = std::make_shared<CertificateStore>();
  config::ConfigErrors errors;
  for (const config::CertificateDefinition& def : config.certificates) {
    auto loaded = LoadCertificate(def, config.source_file, now);
    if (auto* e = std::get_if<config::ConfigError>(&loaded)) {
      errors.push_back(std::move(*e));
      continue;
    }
    store->certificates_.emplace(def.name, std::move(std::get<LoadedCertificate>(loaded)));
  }
  if (!errors.empty()) return errors;
  return std::shared_ptr<const CertificateStore>(std::move(store));
}

const LoadedCertificate* CertificateStore::Find(const std::string& name) const {
  auto it = certificates_.find(name);
  return it == certificates_.end() ? nullptr : &it->second;
}

ServerContext::~ServerContext() {
  for (SSL_CTX* ctx : contexts_) SSL_CTX_free(ctx);
}

Result<std::shared_ptr<const ServerContext>> ServerContext::Build(
    const config::Listener& listener, std::shared_ptr<const CertificateStore> store,
    std::shared_ptr<const TrustStore> trust, bool http2) {
  std::shared_ptr<ServerContext> self(new ServerContext());
  self->store_ = std::move(store);
  self->trust_ = std::move(trust);
  self->policy_ = config::FindSslPolicy(listener.ssl_policy.empty() ? config::kDefaultSslPolicy
                                                                    : listener.ssl_policy);
  if (self->policy_ == nullptr) {
    return Error{ErrorSource::kConfig, "unknown SslPolicy " + listener.ssl_policy};
  }
  const config::AlpnPolicy* alpn = nullptr;
  if (listener.protocol == "TLS") {
    auto policy =
        config::ParseAlpnPolicy(listener.alpn_policy.empty() ? "None" : listener.alpn_policy);
    if (!policy) return Error{ErrorSource::kConfig, "unknown AlpnPolicy " + listener.alpn_policy};
    alpn = StoredAlpnPolicy(*policy);
  }
  for (const config::ListenerCertificate& ref : listener.certificates) {
    const LoadedCertificate* cert = self->store_->Find(ref.name);
    if (cert == nullptr) return Error{ErrorSource::kConfig, "unknown certificate " + ref.name};
    std::string error;
    SSL_CTX* ctx = NewContext(*self->policy_, http2, alpn, &error);
    if (ctx == nullptr) return Error{ErrorSource::kConfig, error};
    self->contexts_.push_back(ctx);
    if (!UseCertificate(ctx, *cert, &error) ||
        !ApplyMutualTls(ctx, listener.mutual_authentication, self->trust_.get(), &error)) {
      return Error{ErrorSource::kConfig, error};
    }
    self->facts_.push_back(&cert->facts);
    self->names_.push_back(&cert->name);
  }
  if (self->contexts_.empty()) {
    return Error{ErrorSource::kConfig, "a " + listener.protocol + " listener needs a certificate"};
  }
  SSL_CTX_set_client_hello_cb(self->contexts_[0], OnClientHello, self.get());
  return std::shared_ptr<const ServerContext>(std::move(self));
}

SSL* ServerContext::NewSession() const {
  SSL* ssl = SSL_new(contexts_[0]);
  if (ssl == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return ssl;
}

std::string_view ServerContext::ChosenCertificate(SSL* ssl) const {
  if (ssl == nullptr) return {};
  const SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  for (size_t i = 0; i < contexts_.size(); ++i) {
    if (contexts_[i] == ctx) return *names_[i];
  }
  return {};
}

int ServerContext::OnClientHello(SSL* ssl, int*, void* arg) {
  const auto* self = static_cast<const ServerContext*>(arg);
  if (self->contexts_.size() == 1) return SSL_CLIENT_HELLO_SUCCESS;
  std::string_view name = ServerNameOf(ssl);
  if (name.empty()) return SSL_CLIENT_HELLO_SUCCESS;
  size_t chosen = SelectCertificate(self->facts_, name, ClientSupportsEcdsa(ssl));
  if (chosen != 0 && SSL_set_SSL_CTX(ssl, self->contexts_[chosen]) == nullptr) {
    ERR_clear_error();
    return SSL_CLIENT_HELLO_ERROR;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

}  // namespace sluice::tls
