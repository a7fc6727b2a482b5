#include "tls/client_context.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "config/ssl_policies.h"
#include "tls/openssl_error.h"
#include "tls/policy_context.h"

namespace sluice::tls {
namespace {

// ALB's backend policy offers TLS 1.0 to 1.3 ([infer] §7.1: ELBSecurityPolicy-TLS13-1-0-2021-06
// for TLS 1.3 listeners, 2016-08 otherwise; Sluice offers the superset to every target). With
// verification on, Sluice asks for TLS 1.2 at least and OpenSSL's default security level.
constexpr std::string_view kBackendPolicy = "ELBSecurityPolicy-TLS13-1-0-2021-06";
constexpr std::string_view kVerifiedBackendPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06";

// The ex_data slot of a client SSL that points at its CachedSession (or holds null).
int SessionIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

config::ConfigError CaFileError(const config::TargetGroupAttributes& a,
                                const std::string& config_file, const std::string& why) {
  config::ConfigError e;
  e.file = config_file;
  e.line = a.tls_verify_ca_file_location.line;
  e.column = a.tls_verify_ca_file_location.column;
  e.field = a.tls_verify_ca_file_path;
  e.message = "CA file " + a.tls_verify_ca_file + ": " + why;
  return e;
}

// Loads the trust anchors; false and `*why` when the file is missing, unreadable or holds no
// certificate.
bool LoadTrust(SSL_CTX* ctx, const std::string& ca_file, std::string* why) {
  if (ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) == 1) return true;
    *why = "cannot load the system's trust store: " + TakeOpenSslError("unknown reason");
    return false;
  }
  struct stat st {};
  if (stat(ca_file.c_str(), &st) != 0) {
    *why = std::strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *why = "not a regular file";
    return false;
  }
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    *why = "holds no PEM certificate OpenSSL can read (" + TakeOpenSslError("unknown reason") + ")";
    return false;
  }
  return true;
}

// The number of a settings text: 1, 2, ... in the order first seen in this process. Control
// thread (compiles and `sluice validate`); the lock only guards against a second caller.
uint32_t ProfileNumber(const std::string& settings) {
  static std::mutex mu;
  static std::map<std::string, uint32_t> numbers;
  std::lock_guard<std::mutex> lock(mu);
  auto [it, added] = numbers.emplace(settings, static_cast<uint32_t>(numbers.size() + 1));
  return it->second;
}

}  // namespace

ClientContext::~ClientContext() {
  for (SessionCache& cache : slots_) {
    for (auto& [key, cached] : cache) SSL_SESSION_free(cached.session);
  }
  SSL_CTX_free(ctx_);
}

std::shared_ptr<const ClientContext> ClientContext::Build(const config::TargetGroup& group,
                                                          const std::string& config_file,
                                                          size_t session_slots,
                                                          config::ConfigError* error) {
  const config::TargetGroupAttributes& a = group.attributes;
  std::shared_ptr<ClientContext> self(new ClientContext());
  self->verify_ = a.tls_verify;
  self->server_name_ = a.tls_server_name;
  std::string why;
  const config::SslPolicy* policy =
      config::FindSslPolicy(a.tls_verify ? kVerifiedBackendPolicy : kBackendPolicy);
  self->ctx_ = policy != nullptr ? NewPolicyContext(TLS_client_method(), *policy, &why) : nullptr;
  if (self->ctx_ == nullptr) {
    error->file = config_file;
    error->field = "TargetGroups." + group.name;
    error->message = "cannot make the TLS client context: " + why;
    return nullptr;
  }
  // HTTP2 and GRPC groups speak HTTP/2 to their targets (and health checks): ALPN h2 only.
  // TLS groups (network load balancers) offer nothing here: each connection offers what its
  // client negotiated (SetOfferedAlpn), reference §7.5.
  static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  static const unsigned char kAlpnH2[] = {2, 'h', '2'};
  const bool tls_group = group.protocol == "TLS";
  const bool h2 = !tls_group && group.protocol_version != "HTTP1";
  if (h2) {
    SSL_CTX_set_alpn_protos(self->ctx_, kAlpnH2, sizeof(kAlpnH2));
  } else if (!tls_group) {
    SSL_CTX_set_alpn_protos(self->ctx_, kAlpn, sizeof(kAlpn));
  }
  SSL_CTX_set_read_ahead(self->ctx_, 1);
  if (a.tls_verify) {
    if (!LoadTrust(self->ctx_, a.tls_verify_ca_file, &why)) {
      *error = CaFileError(a, config_file, why);
      return nullptr;
    }
    SSL_CTX_set_verify(self->ctx_, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(self->ctx_, SSL_VERIFY_NONE, nullptr);
  }
  // Client-side resumption: OpenSSL hands each new session (TLS 1.3 tickets arrive after the
  // handshake) to OnNewSession, which keeps it in the connection's worker slot.
  SSL_CTX_set_session_cache_mode(self->ctx_,
                                 SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(self->ctx_, OnNewSession);
  self->slots_.resize(session_slots);
  std::string settings = std::string(a.tls_verify ? "verify" : "none") + '\n' +
                         a.tls_verify_ca_file + '\n' + a.tls_server_name + (h2 ? "\nh2" : "") +
                         (tls_group ? "\ntls-group" : "");
  self->profile_ = ProfileNumber(settings);
  return self;
}

SSL* ClientContext::NewSession(const SocketAddress& target, size_t slot) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_connect_state(ssl);
  bool ok = true;
  if (!server_name_.empty()) {
    ok = SSL_set_tlsext_host_name(ssl, server_name_.c_str()) == 1;
    if (ok && verify_) ok = SSL_set1_host(ssl, server_name_.c_str()) == 1;
  } else if (verify_) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), target.ip.ToString().c_str()) == 1;
  }
  if (ok && slot < slots_.size()) {
    SessionCache& cache = slots_[slot];
    std::string key = target.ToString();
    auto it = cache.find(key);
    if (it == cache.end() && cache.size() < kMaxSessionsPerSlot) {
      it = cache.emplace(std::move(key), CachedSession{}).first;
    }
    if (it != cache.end()) {
      SSL_set_ex_data(ssl, SessionIndex(), &it->second);
      if (it->second.session != nullptr) ok = SSL_set_session(ssl, it->second.session) == 1;
    }
  }
  if (!ok) {
    ERR_clear_error();
    SSL_free(ssl);
    return nullptr;
  }
  return ssl;
}

int ClientContext::OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* cached = static_cast<CachedSession*>(SSL_get_ex_data(ssl, SessionIndex()));
  if (cached == nullptr) return 0;  // not kept: OpenSSL frees it
  SSL_SESSION_free(cached->session);
  cached->session = session;
  return 1;  // the reference is ours
}

config::ConfigErrors CheckTargetTls(const config::Config& config) {
  config::ConfigErrors errors;
  for (const config::TargetGroup& group : config.target_groups) {
    if (group.protocol != "HTTPS" && group.protocol != "TLS" &&
        group.health_check.protocol != "HTTPS") {
      continue;
    }
    config::ConfigError error;
    if (ClientContext::Build(group, config.source_file, 0, &error) == nullptr) {
      errors.push_back(std::move(error));
    }
  }
  return errors;
}

}  // namespace sluice::tls
