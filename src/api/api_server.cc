#include "api/api_server.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "api/xml.h"
#include "http/desync.h"
#include "http/h1_framing.h"
#include "http/h1_parser.h"
#include "http/header.h"

namespace sluice::api {
namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

std::string HttpResponse(int status, std::string_view request_id, const std::string& body,
                         std::string_view content_type = "text/xml") {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) +
                    "\r\nx-amzn-RequestId: " + std::string(request_id) +
                    "\r\nContent-Type: " + std::string(content_type) +
                    "\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

std::string NowIso() {
  time_t now = time(nullptr);
  tm t;
  gmtime_r(&now, &t);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &t);
  return buf;
}

std::string_view HeaderValue(const http::RequestHead& head, std::string_view name) {
  for (const http::HeaderField& f : head.header_span()) {
    if (http::EqualsIgnoreCase(f.name, name)) return f.value;
  }
  return {};
}

}  // namespace

std::string ApiServer::Answer(std::string_view request, std::string source_ip) const {
  std::string request_id = NewRequestId();
  auto fail = [&](const ApiError& e) {
    return HttpResponse(e.http_status, request_id, ErrorXml(e, request_id));
  };
  size_t scan = 0;
  size_t head_len = http::FindHeadEnd(request, &scan);
  auto head = std::make_unique<http::RequestHead>();
  http::ParseError perr;
  if (head_len == 0 || http::ParseRequestHead(request, head_len, head.get(), &perr) !=
                           http::ParseStatus::kComplete) {
    return fail(SenderError("MalformedQueryString", "The request is not valid HTTP/1.1"));
  }
  // The API is strict where the data plane's desync modes may be lenient: anything past
  // "acceptable" (a bare LF, obs-fold, a line without a colon, "Name :") is refused.
  if (static_cast<int>(head->wire_verdict.tier) > static_cast<int>(http::DesyncTier::kAcceptable) ||
      head->whitespace_before_colon) {
    return fail(SenderError(
        "MalformedQueryString",
        std::string("The request head is ambiguous (") +
            (head->whitespace_before_colon ? "a header name ends in whitespace"
                                           : http::ToString(head->wire_verdict.reason)) +
            ")"));
  }
  http::Framing framing;
  if (!http::DetermineRequestFraming(*head, &framing, &perr) ||
      framing.kind == http::BodyKind::kChunked) {
    return fail(SenderError("MissingParameter", "A request body needs a Content-Length", 411));
  }
  std::string_view body = request.substr(head_len);
  if (framing.kind == http::BodyKind::kContentLength) body = body.substr(0, framing.length);
  std::string_view target = head->target;
  size_t q = target.find('?');
  HttpCall call{head->method,
                target.substr(0, q),
                q == std::string_view::npos ? std::string_view() : target.substr(q + 1),
                {},
                body,
                std::move(source_ip)};
  for (const http::HeaderField& f : head->header_span()) call.headers.emplace_back(f.name, f.value);
  if (call.method != "GET" && call.method != "POST") {
    return fail(SenderError("InvalidAction", "Only GET and POST are served", 405));
  }
  // A trust store's content (the Location of GetTrustStoreCaCertificatesBundle and
  // GetTrustStoreRevocationContent): a GET, checked as the call it names; any other path is
  // the Query API.
  const bool content = call.path == kTrustStoreContentPath;
  if (content && call.method != "GET") {
    return fail(SenderError("InvalidAction", "Trust store content is read with GET", 405));
  }
  const std::string origin = Origin(HeaderValue(*head, "host"));
  ApiResult<QueryParams> params = QueryParams::Parse(call.query);
  if (params.ok() && call.method == "POST") {
    ApiResult<QueryParams> form = QueryParams::Parse(call.body);
    if (!form.ok()) return fail(form.error());
    form.value().MergeMissing(params.value());
    params = std::move(form);
  }
  if (!params.ok()) return fail(params.error());
  AuditRecord audit{NowIso(),
                    "",
                    "",
                    call.source_ip,
                    std::string(HeaderValue(*head, "user-agent")),
                    request_id,
                    &params.value(),
                    0,
                    "",
                    ""};
  if (const std::string* a = params.value().Get("Action")) audit.event_name = *a;
  const std::string* version = params.value().Get("Version");
  const bool cloudwatch =
      !content && cloudwatch_ && version != nullptr && *version == kCloudWatchVersion;
  if (cloudwatch) {
    call.service = "monitoring";
    audit.event_source = "monitoring.amazonaws.com";
  }
  ApiResult<std::string> caller = authenticate_(call);
  Service::Answer answer;
  if (!caller.ok()) {
    answer = {caller.error().http_status, ErrorXml(caller.error(), request_id), caller.error().code,
              caller.error().message};
    audit.error_message = caller.error().message;
  } else {
    audit.access_key_id = caller.value();
    ApiResult<bool> allowed =
        authorize_ ? authorize_(caller.value(), params.value(), call) : ApiResult<bool>(true);
    if (!allowed.ok()) {
      answer = {allowed.error().http_status, ErrorXml(allowed.error(), request_id),
                allowed.error().code, allowed.error().message};
      audit.error_message = allowed.error().message;
    } else {
      if (cloudwatch) {
        CloudWatchAnswer a = cloudwatch_(params.value(), request_id);
        answer = {a.status, std::move(a.xml), a.error_code, a.error_message};
      } else if (content) {
        answer = service_->Content(params.value(), request_id);
      } else {
        answer = service_->Call(params.value(), request_id, caller.value(), origin);
      }
      audit.error_message = answer.error_message;
    }
  }
  audit.http_status = answer.status;
  audit.error_code = answer.error_code;
  if (audit_) audit_(audit);
  return HttpResponse(answer.status, request_id, answer.body, answer.content_type);
}

std::string ApiServer::Origin(std::string_view host) const {
  std::string out = tls_ ? "https://" : "http://";
  // A Host of a name or an address and a port only (it goes into URLs the answers give).
  const bool plain = !host.empty() && host.size() <= 255 &&
                     host.find_first_not_of(
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789.-:[]") == std::string_view::npos;
  if (!plain) return out.append(fallback_host_);
  // As URL parsers put it on the wire (WHATWG, urllib3): the name in lowercase, without the
  // scheme's default port; the signature covers the Host the fetch will send.
  std::string h(host);
  for (char& ch : h) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const std::string_view default_port = tls_ ? ":443" : ":80";
  if (h.ends_with(default_port)) h.resize(h.size() - default_port.size());
  return out.append(h);
}

Result<bool> ApiServer::Start(const SocketAddress& address) {
  sockaddr_storage ss;
  socklen_t len = address.ToSockaddr(&ss);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 64) != 0) {
    Error e{ErrorSource::kConfig,
            "API endpoint " + address.ToString() + ": " + std::strerror(errno), false};
    if (fd >= 0) close(fd);
    return e;
  }
  sockaddr_storage bound;
  socklen_t blen = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen) != 0) {
    close(fd);
    return Error{ErrorSource::kInternal, std::string("getsockname: ") + std::strerror(errno)};
  }
  SocketAddress here = SocketAddress::FromSockaddr(bound);
  port_ = here.port;
  if (here.ip.IsUnspecified()) here.ip = *IpAddress::Parse(here.ip.is_v4 ? "127.0.0.1" : "::1");
  fallback_host_ = here.ToString();
  listen_fd_ = fd;
  thread_ = std::thread([this] { Serve(); });
  return true;
}

void ApiServer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
  // Connection threads are detached; each holds the Service only while it answers.
  while (connections_.load() > 0) {
    timespec ts{0, 10 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
}

void ApiServer::Serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    int c = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_CLOEXEC);
    if (c < 0) continue;
    if (connections_.load() >= kMaxConnections) {
      close(c);  // over the cap: refused, the others keep being served
      continue;
    }
    ++connections_;
    std::string ip = SocketAddress::FromSockaddr(peer).ip.ToString();
    std::thread([this, c, ip] {
      HandleConnection(c, ip);
      --connections_;
    }).detach();
  }
}

namespace {

// recv(2) or SSL_read: > 0 bytes, <= 0 at the end or on an error (the connection is done).
long ReadSome(int fd, SSL* ssl, char* buf, size_t len) {
  if (ssl == nullptr) return recv(fd, buf, len, 0);
  size_t n = 0;
  return SSL_read_ex(ssl, buf, len, &n) == 1 ? static_cast<long>(n) : -1;
}

void WriteAll(int fd, SSL* ssl, std::string_view out) {
  size_t sent = 0;
  while (sent < out.size()) {
    long n = 0;
    if (ssl == nullptr) {
      n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    } else {
      size_t written = 0;
      n = SSL_write_ex(ssl, out.data() + sent, out.size() - sent, &written) == 1
              ? static_cast<long>(written)
              : -1;
    }
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace

std::string ApiServer::ReadRequest(int fd, SSL* ssl) {
  std::string in;
  size_t scan = 0;
  size_t head_len = 0;
  size_t want = 0;  // head + body once the head is known
  char buf[16384];
  while (true) {
    const long n = ReadSome(fd, ssl, buf, sizeof(buf));
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
    if (head_len == 0) {
      head_len = http::FindHeadEnd(in, &scan);
      if (head_len == 0 && in.size() > kMaxHead) break;
      if (head_len != 0) {
        auto head = std::make_unique<http::RequestHead>();
        http::ParseError perr;
        http::Framing framing;
        if (http::ParseRequestHead(in, head_len, head.get(), &perr) !=
                http::ParseStatus::kComplete ||
            !http::DetermineRequestFraming(*head, &framing, &perr)) {
          break;
        }
        if (framing.kind == http::BodyKind::kContentLength && framing.length > kMaxBody) {
          std::string id = NewRequestId();
          WriteAll(fd, ssl,
                   HttpResponse(413, id,
                                ErrorXml(SenderError("ValidationError",
                                                     "The request body is over " +
                                                         std::to_string(kMaxBody) + " bytes",
                                                     413),
                                         id)));
          return "";
        }
        want = head_len + (framing.kind == http::BodyKind::kContentLength ? framing.length : 0);
      }
    }
    if (head_len != 0 && in.size() >= want) return in;
  }
  return "";
}

void ApiServer::HandleConnection(int fd, std::string source_ip) {
  timeval tv{10, 0};  // bounds the TLS handshake too
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(nullptr, SSL_free);
  if (tls_ != nullptr) {
    ssl.reset(SSL_new(tls_.get()));
    if (ssl == nullptr || SSL_set_fd(ssl.get(), fd) != 1 || SSL_accept(ssl.get()) != 1) {
      ERR_clear_error();  // a client that is not TLS, or gave up: nothing to answer
      close(fd);
      return;
    }
  }
  const std::string in = ReadRequest(fd, ssl.get());
  if (!in.empty()) WriteAll(fd, ssl.get(), Answer(in, source_ip));
  if (ssl != nullptr) SSL_shutdown(ssl.get());
  close(fd);
}

std::string AuditJson(const AuditRecord& r) {
  nlohmann::ordered_json j;
  j["eventVersion"] = "1.08";
  j["eventTime"] = r.event_time;
  j["eventSource"] = r.event_source;
  j["eventName"] = r.event_name;
  j["userIdentity"] = {{"type", "IAMUser"}, {"accessKeyId", r.access_key_id}};
  j["sourceIPAddress"] = r.source_ip;
  j["userAgent"] = r.user_agent;
  nlohmann::ordered_json params = nlohmann::ordered_json::object();
  if (r.request_parameters) {
    for (const auto& [k, v] : r.request_parameters->all()) {
      if (k == "Action" || k == "Version" || k.rfind("X-Amz-", 0) == 0) continue;
      std::string lower;
      for (char c : k)
        lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      bool secret = lower.find("secret") != std::string::npos ||
                    lower.find("password") != std::string::npos ||
                    lower.find("token") != std::string::npos;
      params[k] = secret ? std::string("HIDDEN_DUE_TO_SECURITY_REASONS") : v;
    }
  }
  j["requestParameters"] = params;
  j["responseElements"] = nullptr;
  if (!r.error_code.empty()) {
    j["errorCode"] = r.error_code;
    j["errorMessage"] = r.error_message;
  }
  j["requestID"] = r.request_id;
  j["eventID"] = r.request_id;
  j["httpStatus"] = r.http_status;
  j["eventType"] = "AwsApiCall";
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace sluice::api
