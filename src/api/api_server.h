// The elbv2 API endpoint: HTTP/1.1 on its own address (reference §9.1-§9.4). Control plane:
// an accept thread and one short-lived thread per connection (at most kMaxConnections at
// once, each with 10 s read and write timeouts), so that a slow or hostile caller holds
// neither the data plane nor the other callers. One call per connection
// (`Connection: close`); bodies are capped at kMaxBody.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/cloudwatch.h"
#include "api/error.h"
#include "api/service.h"
#include "base/ip_address.h"
#include "base/result.h"

namespace sluice::api {

// One request as it arrived: what authentication needs.
struct HttpCall {
  std::string_view method;
  std::string_view path;   // before '?', as sent
  std::string_view query;  // after '?', as sent
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;
  std::string source_ip;
  // The service the call is for, by its Version: "elasticloadbalancing" (2015-12-01) or
  // "monitoring" (CloudWatch, 2010-08-01): the signature's scope must name it.
  std::string_view service = "elasticloadbalancing";
};

// What the audit log records of a call (CloudTrail's record, reference §13 of the issue).
struct AuditRecord {
  std::string event_time;  // ISO 8601 UTC
  std::string event_name;  // the Action
  std::string access_key_id;
  std::string source_ip;
  std::string user_agent;
  std::string request_id;
  const QueryParams* request_parameters = nullptr;
  int http_status = 0;
  std::string error_code;
  std::string error_message;
  const char* event_source = "elasticloadbalancing.amazonaws.com";  // or monitoring's
};

class ApiServer {
 public:
  static constexpr size_t kMaxHead = 64 * 1024;
  static constexpr size_t kMaxBody = 8 * 1024 * 1024;
  static constexpr int kMaxConnections = 32;

  // `authenticate` returns the caller's access key id, or the error to answer with.
  using Authenticate = std::function<ApiResult<std::string>(const HttpCall&)>;
  using Audit = std::function<void(const AuditRecord&)>;
  // Whether the caller may make this call (its access policy); the error to answer if not.
  using Authorize = std::function<ApiResult<bool>(const std::string& caller,
                                                  const QueryParams& params, const HttpCall&)>;
  ApiServer(Service* service, Authenticate authenticate, Authorize authorize, Audit audit)
      : service_(service),
        authenticate_(std::move(authenticate)),
        authorize_(std::move(authorize)),
        audit_(std::move(audit)) {}
  ~ApiServer() { Stop(); }
  // CloudWatch calls (Version 2010-08-01), authenticated and authorized like the others
  // (set before Start; without it they are InvalidAction).
  using CloudWatch =
      std::function<CloudWatchAnswer(const QueryParams& params, std::string_view request_id)>;
  void set_cloudwatch(CloudWatch fn) { cloudwatch_ = std::move(fn); }

  // Serve HTTPS with `ctx` (a server context with a certificate; the server owns it from
  // here and frees it). Before Start.
  void set_tls(SSL_CTX* ctx) { tls_.reset(ctx); }

  Result<bool> Start(const SocketAddress& address);
  void Stop();
  uint16_t port() const { return port_; }

  // The whole HTTP response to the bytes of one request (head and body); for tests.
  std::string Answer(std::string_view request, std::string source_ip) const;

 private:
  void Serve();
  void HandleConnection(int fd, std::string source_ip);
  // The request's bytes from `fd` (or `ssl`), or "" when none came whole (or one too large
  // was refused with 413 already).
  std::string ReadRequest(int fd, SSL* ssl);
  // "http(s)://" + the request's Host (when it is a plain host[:port]; else the bound address,
  // loopback for an any-address): where the caller reaches the API.
  std::string Origin(std::string_view host) const;

  Service* service_;
  Authenticate authenticate_;
  Authorize authorize_;
  Audit audit_;
  CloudWatch cloudwatch_;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> tls_{nullptr, SSL_CTX_free};
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::string fallback_host_ = "127.0.0.1:0";  // the bound address (loopback for "any")
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// Renders an audit record as one JSON line (secrets never appear: parameters whose name
// says secret, password or token are redacted).
std::string AuditJson(const AuditRecord& record);

}  // namespace sluice::api
