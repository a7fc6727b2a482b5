#include "app/api_runtime.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "api/policy.h"
#include "api/sigv4.h"
#include "app/access_logs.h"
#include "app/s3_get.h"
#include "app/s3_upload.h"
#include "tls/openssl_error.h"

namespace sluice::app {

ApiRuntime::ApiRuntime(std::unique_ptr<store::StateStore> keys, std::string file_managed,
                       ApiOptions options)
    : store_(std::move(keys)),
      file_managed_(std::move(file_managed)),
      options_(std::move(options)) {
  wakeup_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

ApiRuntime::~ApiRuntime() {
  Stop();
  if (wakeup_fd_ >= 0) close(wakeup_fd_);
}

Result<bool> ApiRuntime::Start(const config::Config& config, api::ServiceHooks hooks,
                               ApplyFn apply) {
  std::string addr = config.api.address;
  int port = config.api.port;
  bool wanted = port > 0;
  if (!options_.address.empty()) {
    size_t colon = options_.address.rfind(':');
    addr = options_.address.substr(0, colon);
    port = std::stoi(options_.address.substr(colon + 1));
    wanted = true;
  }
  if (!wanted) return false;
  if (wakeup_fd_ < 0) {
    return Error{ErrorSource::kInternal, std::string("API: eventfd: ") + std::strerror(errno)};
  }
  auto sa = SocketAddress::Parse(addr, static_cast<uint16_t>(port));
  if (!sa) return Error{ErrorSource::kConfig, "API: bad address " + addr};
  bool loopback = Cidr::Parse("127.0.0.0/8")->Contains(sa->ip) || sa->ip.ToString() == "::1";
  if (options_.allow_unsigned && !loopback) {
    return Error{ErrorSource::kConfig,
                 "API: --api-allow-unsigned is only allowed on a loopback address, not " + addr};
  }
  if (!options_.audit_log_path.empty()) {
    auto opened = RotatingLog::Open(options_.audit_log_path, options_.audit_log_max_bytes,
                                    options_.audit_log_keep);
    if (!opened.ok()) return Error{ErrorSource::kConfig, "API audit log " + opened.error().message};
    audit_ = std::move(opened.value());
  }
  apply_ = std::move(apply);
  hooks.file_managed = file_managed_;
  hooks.fetch_s3_object = FetchS3Object;
  hooks.presign = [this](std::string_view caller, std::string_view region, std::string_view origin,
                         std::string_view path_and_query) {
    return Presign(caller, region, origin, path_and_query);
  };
  hooks.apply = [this](const config::Config& next, const std::string& reason,
                       const api::ChangeScope& scope) { return Submit(next, reason, scope); };
  service_ = std::make_unique<api::Service>(config, std::move(hooks));
  server_ = std::make_unique<api::ApiServer>(
      service_.get(), [this](const api::HttpCall& c) { return Authenticate(c); },
      [this](const std::string& caller, const api::QueryParams& p, const api::HttpCall& c) {
        return Authorize(caller, p, c);
      },
      [this](const api::AuditRecord& r) { Audit(r); });
  if (history_ != nullptr) {
    server_->set_cloudwatch([history = history_](const api::QueryParams& p, std::string_view id) {
      return api::CloudWatchXml(*history, p, id);
    });
  }
  if (!config.api.certificate.empty()) {
    auto ctx = ApiTlsContext(config);
    if (!ctx.ok()) return ctx.error();
    server_->set_tls(ctx.value());
    tls_ = true;
  }
  return server_->Start(*sa);
}

api::ApiResult<std::string> FetchS3Object(const config::Config& where, const std::string& bucket,
                                          const std::string& key, const std::string& version) {
  auto not_found = [](const std::string& why) {
    return api::SenderError("CaCertificatesBundleNotFound",
                            "The specified ca certificate bundle does not exist: " + why);
  };
  std::string why;
  std::optional<S3Target> target = S3TargetOf(where, &why);
  if (!target) {
    return not_found(why.empty() ? "this Sluice reads S3 objects from the store of its config's "
                                   "S3 section, and the config has none"
                                 : "the config's S3 section cannot be used: " + why);
  }
  constexpr int kTimeoutMs = 10000;
  S3GetResult r =
      GetObjectFromS3(*target, bucket, key, version, api::kMaxCaBundleObjectBytes, kTimeoutMs);
  if (r.error.empty()) return std::move(r.body);
  return not_found("s3://" + bucket + "/" + key + ": " + r.error);
}

Result<SSL_CTX*> ApiTlsContext(const config::Config& config) {
  const auto def = std::find_if(
      config.certificates.begin(), config.certificates.end(),
      [&](const config::CertificateDefinition& d) { return d.name == config.api.certificate; });
  if (def == config.certificates.end()) {
    return Error{ErrorSource::kConfig, "API: no certificate " + config.api.certificate};
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  const bool ok =
      ctx != nullptr && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
      SSL_CTX_use_certificate_chain_file(ctx, def->certificate_file.c_str()) == 1 &&
      SSL_CTX_use_PrivateKey_file(ctx, def->private_key_file.c_str(), SSL_FILETYPE_PEM) == 1 &&
      SSL_CTX_check_private_key(ctx) == 1;
  if (!ok) {
    SSL_CTX_free(ctx);
    return Error{ErrorSource::kConfig, "API certificate " + def->name + " (" +
                                           def->certificate_file + ", " + def->private_key_file +
                                           "): " + tls::TakeOpenSslError("cannot be used")};
  }
  return ctx;
}

void ApiRuntime::Stop() {
  {
    // A call waiting for the control thread is answered now: the control thread is the one
    // stopping, and the endpoint waits for its connections.
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (pending_ != nullptr && !result_) {
      result_ = api::ReceiverError("ServiceUnavailable", "Sluice is stopping", 503);
      cv_.notify_all();
    }
  }
  if (server_) server_->Stop();
}

void ApiRuntime::SetConfig(const config::Config& config) {
  if (service_) service_->SetConfig(config);
}

api::ApiResult<bool> ApiRuntime::Submit(const config::Config& next, const std::string& reason,
                                        const api::ChangeScope& scope) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return api::ReceiverError("ServiceUnavailable", "Sluice is stopping", 503);
  pending_ = &next;
  pending_reason_ = &reason;
  pending_scope_ = scope;
  result_.reset();
  uint64_t one = 1;
  if (write(wakeup_fd_, &one, sizeof(one)) != sizeof(one)) {
    pending_ = nullptr;
    return api::ReceiverError("InternalFailure", "cannot wake the control thread");
  }
  // The control thread applies within its poll interval; a change that cannot be applied
  // in 30 s is answered as a server fault (and not applied later: pending_ is cleared).
  if (!cv_.wait_for(lock, std::chrono::seconds(30), [this] { return result_.has_value(); })) {
    pending_ = nullptr;
    return api::ReceiverError("ServiceUnavailable", "the change could not be applied in time", 503);
  }
  pending_ = nullptr;
  return *result_;
}

void ApiRuntime::RunPending() {
  uint64_t count = 0;
  if (read(wakeup_fd_, &count, sizeof(count)) < 0 && errno != EAGAIN) return;
  std::unique_lock<std::mutex> lock(mu_);
  if (pending_ == nullptr || result_.has_value()) return;
  // The API thread waits under Submit; the model it handed over lives until it is woken.
  api::ApiResult<bool> r = apply_(*pending_, pending_scope_, *pending_reason_);
  result_ = std::move(r);
  cv_.notify_all();
}

api::ApiResult<std::string> ApiRuntime::Authenticate(const api::HttpCall& call) {
  bool has_auth = false;
  for (const auto& [name, value] : call.headers) {
    if (name.size() == 13 && strncasecmp(name.data(), "authorization", 13) == 0) has_auth = true;
    // The body is the whole operation here: a signature that leaves it out signs nothing.
    if (name.size() == 20 && strncasecmp(name.data(), "x-amz-content-sha256", 20) == 0 &&
        value == "UNSIGNED-PAYLOAD") {
      return api::SenderError("IncompleteSignature",
                              "UNSIGNED-PAYLOAD is not accepted: the request body must be signed");
    }
  }
  if (call.query.find("X-Amz-Algorithm=") != std::string_view::npos) has_auth = true;
  if (!has_auth && options_.allow_unsigned) return std::string("anonymous");
  api::SignedRequest req{call.method, call.path, call.query, call.headers, call.body};
  auto lookup = [this](std::string_view key) -> std::optional<std::string> {
    std::lock_guard<std::mutex> lock(keys_mu_);
    if (store_ == nullptr) return std::nullopt;
    auto secret = store_->SecretFor(key);
    if (!secret.ok()) return std::nullopt;
    return secret.value();
  };
  auto identity = api::VerifySigV4(req, call.service, "", lookup, time(nullptr));
  if (!identity.ok()) return identity.error();
  return identity.value().access_key_id;
}

std::string ApiRuntime::Presign(std::string_view caller, std::string_view region,
                                std::string_view origin, std::string_view path_and_query) {
  std::string url = std::string(origin) + std::string(path_and_query);
  std::optional<std::string> secret;
  {
    std::lock_guard<std::mutex> lock(keys_mu_);
    // Unsigned loopback mode: nothing signs (the URL is taken as the call was).
    if (store_ == nullptr || (options_.allow_unsigned && caller == "anonymous")) return url;
    auto s = store_->SecretFor(caller);
    if (s.ok()) secret = std::move(s.value());
  }
  if (!secret) return std::string();
  const size_t q = path_and_query.find('?');
  const size_t scheme_end = origin.find("://");
  std::string_view host =
      scheme_end == std::string_view::npos ? origin : origin.substr(scheme_end + 3);
  std::vector<std::pair<std::string_view, std::string_view>> headers{{"host", host}};
  api::SignedRequest req{
      "GET", path_and_query.substr(0, q),
      q == std::string_view::npos ? std::string_view() : path_and_query.substr(q + 1), headers, ""};
  std::string query = api::PresignQuery(req, caller, *secret, region, "elasticloadbalancing",
                                        S3AmzDateNow(), api::kTrustStoreContentUrlSeconds);
  if (query.empty()) return std::string();
  return std::string(origin) + std::string(req.path) + "?" + query;
}

namespace {

// The ARNs a call names at its top level (LoadBalancerArn, TargetGroupArns.member.N, ...):
// the resources its policy is evaluated against. None: "*".
std::vector<std::string> ResourcesOf(const api::QueryParams& params) {
  std::vector<std::string> out;
  for (const auto& [name, value] : params.all()) {
    size_t dot = name.find('.');
    std::string_view head = std::string_view(name).substr(0, dot);
    bool single =
        dot == std::string::npos && head.size() > 3 && head.substr(head.size() - 3) == "Arn";
    bool listed = dot != std::string::npos && head.size() > 4 &&
                  head.substr(head.size() - 4) == "Arns" && name.compare(dot, 8, ".member.") == 0 &&
                  name.find('.', dot + 8) == std::string::npos;
    if (single || listed) out.push_back(value);
  }
  return out;
}

}  // namespace

api::ApiResult<bool> ApiRuntime::Authorize(const std::string& caller,
                                           const api::QueryParams& params,
                                           const api::HttpCall& call) {
  std::unique_lock<std::mutex> lock(keys_mu_);
  if (store_ == nullptr) return true;  // unsigned loopback mode: no keys, no policies
  auto keys = store_->ListAccessKeys();
  lock.unlock();
  if (!keys.ok()) return api::ReceiverError("InternalFailure", "the key store cannot be read");
  const store::StateStore::AccessKey* key = nullptr;  // in `keys`, a copy
  for (const auto& k : keys.value()) {
    if (k.access_key_id == caller) key = &k;
  }
  if (key == nullptr)
    return api::SenderError("InvalidClientTokenId",
                            "The security token included in the request is "
                            "invalid.",
                            403);
  auto policy = api::Policy::Parse(key->policy_json);
  if (!policy.ok()) {
    return api::ReceiverError("InternalFailure", "the caller's policy cannot be read");
  }
  api::RequestContext ctx;
  const std::string* action = params.Get("Action");
  // The service the server took the call for (and checked its signature's scope against): a
  // trust store's content is elbv2's, whatever its Version.
  const bool cloudwatch = call.service == "monitoring";
  ctx.action =
      (cloudwatch ? "cloudwatch:" : "elasticloadbalancing:") + (action ? *action : std::string());
  // CloudWatch calls name no elbv2 resource: evaluated against "*", whatever ARNs they carry.
  if (!cloudwatch) ctx.resources = ResourcesOf(params);
  ctx.source_ip = call.source_ip;
  ctx.now_unix = time(nullptr);
  ctx.resource_tag = [this](std::string_view arn, std::string_view key) {
    return service_->ResourceTag(arn, key);
  };
  for (const std::string& arn : ctx.resources) {
    // Wildcard matching costs pattern × ARN length: bound the ARN (AWS's are well under 2 KiB).
    if (arn.size() > 2048)
      return api::SenderError("ValidationError", "An ARN is over 2048 characters");
  }
  api::Evaluation e = api::EvaluateDetailed(policy.value(), ctx);
  if (e.decision == api::Decision::kAllow) return true;
  config::Config current = service_->CurrentConfig();
  return api::AccessDenied(current.account.id, key->user_name, ctx, e);
}

void ApiRuntime::Audit(const api::AuditRecord& record) {
  if (audit_ == nullptr) return;
  if (std::string problem = audit_->Append(api::AuditJson(record)); !problem.empty()) {
    std::fprintf(stderr, "sluice: API audit log: %s\n", problem.c_str());
  }
}

void ApiRuntime::ReopenAuditLog() {
  if (audit_ == nullptr) return;
  if (std::string problem = audit_->Reopen(); !problem.empty()) {
    std::fprintf(stderr, "sluice: API audit log: %s\n", problem.c_str());
  }
}

}  // namespace sluice::app
