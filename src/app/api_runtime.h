// The elbv2 API inside the server process: the state store (when Sluice runs from one), the
// access keys, the Service, its HTTP endpoint and the audit log. A mutation accepted on the
// API thread is handed to the control thread (which alone compiles and publishes
// snapshots) and the call is answered once it is in force or refused.
//
// Thread: constructed and Started on the control thread; Submit() is called by the API
// thread and blocks until the control thread ran RunPending().
#pragma once

#include <condition_variable>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/api_server.h"
#include "api/service.h"
#include "app/rotating_log.h"
#include "base/result.h"
#include "config/model.h"
#include "observe/metric_history.h"
#include "store/state_store.h"

namespace sluice::app {

struct ApiOptions {
  std::string address;         // "" = the config's Api:, else ADDRESS:PORT (port 0 = any)
  std::string audit_log_path;  // "" = no audit log
  uint64_t audit_log_max_bytes = RotatingLog::kDefaultMaxBytes;  // rotates past this size
  int audit_log_keep = RotatingLog::kDefaultKeep;                // rotated files kept
  bool allow_unsigned = false;  // accept calls without SigV4 (tests, loopback demos)
};

// The server context of Api.Certificate (TLS 1.2+, the certificate's chain and key checked),
// owned by the caller, or the error naming the files.
Result<SSL_CTX*> ApiTlsContext(const config::Config& config);

// The API's ServiceHooks::fetch_s3_object: GET bucket/key from the store of `where.s3`
// (at most api::kMaxCaBundleObjectBytes; each step bounded by 10 s, GetObjectFromS3); every
// failure (no S3 section, the store down, a 403 or 404) is CaCertificatesBundleNotFound
// naming the object and why.
api::ApiResult<std::string> FetchS3Object(const config::Config& where, const std::string& bucket,
                                          const std::string& key, const std::string& version);

class ApiRuntime {
 public:
  // Applies a model on the control thread: check (as much as `scope` leaves to check),
  // compile, persist, publish.
  using ApplyFn = std::function<api::ApiResult<bool>(config::Config, api::ChangeScope scope,
                                                     std::string reason)>;

  // `keys`: a connection to the state store of its own, for the access keys (used by the
  // API's connection threads under keys_mu_); null when there is no store (then only
  // unsigned calls can be accepted, with allow_unsigned). `file_managed`: the config file
  // when Sluice serves one (mutations are refused).
  ApiRuntime(std::unique_ptr<store::StateStore> keys, std::string file_managed, ApiOptions options);
  ~ApiRuntime();

  // The metric history CloudWatch calls read (aws cloudwatch --endpoint-url); set before
  // Start, outliving Stop.
  void set_metric_history(const observe::MetricHistory* history) { history_ = history; }
  // Starts the endpoint when the config or the options ask for one; logs where.
  Result<bool> Start(const config::Config& config, api::ServiceHooks hooks, ApplyFn apply);
  void Stop();
  uint16_t port() const { return server_ ? server_->port() : 0; }
  // Whether the endpoint speaks HTTPS (Api.Certificate).
  bool tls() const { return tls_; }
  // After a reload of a file-managed config.
  void SetConfig(const config::Config& config);
  // Starts a new audit log file at the same path (SIGHUP, after an external rotation).
  void ReopenAuditLog();

  // The eventfd the control thread polls; readable when a change waits.
  int wakeup_fd() const { return wakeup_fd_; }
  // Runs the waiting change, if any (control thread).
  void RunPending();

 private:
  api::ApiResult<bool> Submit(const config::Config& next, const std::string& reason,
                              const api::ChangeScope& scope);
  api::ApiResult<std::string> Authenticate(const api::HttpCall& call);
  api::ApiResult<bool> Authorize(const std::string& caller, const api::QueryParams& params,
                                 const api::HttpCall& call);
  void Audit(const api::AuditRecord& record);
  // ServiceHooks::presign: signed with the caller's secret from the key store.
  std::string Presign(std::string_view caller, std::string_view region, std::string_view origin,
                      std::string_view path_and_query);

  std::unique_ptr<store::StateStore> store_;
  std::mutex keys_mu_;  // guards store_
  std::string file_managed_;
  ApiOptions options_;
  ApplyFn apply_;
  std::unique_ptr<api::Service> service_;
  std::unique_ptr<api::ApiServer> server_;
  int wakeup_fd_ = -1;
  std::unique_ptr<RotatingLog> audit_;  // thread-safe on its own
  bool tls_ = false;
  const observe::MetricHistory* history_ = nullptr;

  std::mutex mu_;
  std::condition_variable cv_;
  const config::Config* pending_ = nullptr;
  const std::string* pending_reason_ = nullptr;
  api::ChangeScope pending_scope_;
  std::optional<api::ApiResult<bool>> result_;
  bool stopping_ = false;
};

}  // namespace sluice::app
