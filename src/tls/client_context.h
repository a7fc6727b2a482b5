// The TLS side of an HTTPS target group (and of HTTPS health checks): one OpenSSL client
// context from the backend security policy, with Sluice's opt-in SNI and verification
// (attributes sluice.tls.*), and per-worker caches of the last session to each target for
// resumption. ALB verifies no target certificate and sends no SNI: that is the default.
//
// Contract: built on the control thread when a snapshot is compiled (or by `sluice validate`);
// immutable afterwards except the session caches, where slot i is touched only by worker i's
// thread (NewSession and OpenSSL's new-session callback on that thread). Kept alive by every
// connection that uses it (the session's ex_data points into the caches).
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/ip_address.h"
#include "config/error.h"
#include "config/model.h"

namespace sluice::tls {

class ClientContext {
 public:
  // No resumption cache (health checks, which ALB runs on a fresh connection each time).
  static constexpr size_t kNoSessionSlot = ~size_t{0};
  // Sessions remembered per slot (distinct targets); past it, new targets are not cached.
  static constexpr size_t kMaxSessionsPerSlot = 1024;

  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  // The context of `group` with `session_slots` resumption caches (one per worker). Null
  // and `*error` (file, line, field: e.g. an unreadable CA file) when it cannot be built.
  static std::shared_ptr<const ClientContext> Build(const config::TargetGroup& group,
                                                    const std::string& config_file,
                                                    size_t session_slots,
                                                    config::ConfigError* error);

  // A new client session to `target` (owned by the caller, in connect state): SNI and the
  // identity to verify (the server name, else the target's IP address), and the last
  // session to `target` cached in `slot` when there is one. Null when OpenSSL cannot
  // allocate one.
  SSL* NewSession(const SocketAddress& target, size_t slot) const;

  // Equal for two contexts with the same settings, different otherwise, never 0 (settings
  // are numbered in the order the process first meets them): part of the upstream pool key,
  // so that a connection made without verification never serves a group that asks for it.
  uint32_t profile() const { return profile_; }
  bool verify() const { return verify_; }
  const std::string& server_name() const { return server_name_; }

 private:
  struct CachedSession {
    SSL_SESSION* session = nullptr;
  };
  using SessionCache = std::map<std::string, CachedSession>;  // by "ip:port"
  ClientContext() = default;
  static int OnNewSession(SSL* ssl, SSL_SESSION* session);

  SSL_CTX* ctx_ = nullptr;
  std::string server_name_;
  bool verify_ = false;
  uint32_t profile_ = 0;
  mutable std::vector<SessionCache> slots_;
};

// Builds the client context of every target group that needs one (HTTPS traffic or HTTPS
// health checks) and returns every problem, as `sluice validate` reports them.
config::ConfigErrors CheckTargetTls(const config::Config& config);

}  // namespace sluice::tls
