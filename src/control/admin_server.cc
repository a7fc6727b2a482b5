#include "control/admin_server.h"

#include <openssl/crypto.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "control/dashboard_assets.h"
#include "control/dashboard_model.h"
#include "http/h1_parser.h"
#include "net/splice_pipe.h"
#include "tls/server_context.h"

namespace sluice::control {
namespace {

nlohmann::ordered_json GroupDescriptions(const health::TargetGroupHealth& group) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const health::TargetHealthRow& row : group.targets) {
    nlohmann::ordered_json th;
    th["State"] = health::StateName(row, MonotonicMillis());
    if (row.reason != health::Reason::kNone) {
      th["Reason"] = health::ToString(row.reason);
      th["Description"] = health::Describe(row.reason, row.status_code);
    }
    nlohmann::ordered_json d;
    d["Target"] = {{"Id", row.id}, {"Port", row.port}};
    d["HealthCheckPort"] = std::to_string(row.health_check_port);
    d["TargetHealth"] = th;
    list.push_back(d);
  }
  return list;
}

// `extra` is more header lines, each ending in CRLF.
std::string HttpResponse(int status, const char* reason, std::string_view content_type,
                         std::string_view body, std::string_view extra = {}) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: ";
  out.append(content_type);
  out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  out.append(extra);
  out += "Connection: close\r\n\r\n";
  out.append(body);
  return out;
}

// The dashboard's files: what they are, and headers that keep the page to its own origin.
constexpr std::string_view kPageHeaders =
    "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: "
    "no-referrer\r\nX-Frame-Options: DENY\r\nContent-Security-Policy: default-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'\r\n";

std::string_view ContentTypeOf(std::string_view file) {
  if (file.ends_with(".html")) return "text/html; charset=utf-8";
  if (file.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (file.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

// The value of `name` in a list of name=value pairs split by `separator` (a Cookie header's
// "a=1; sluice_admin=xyz", a query string's "a=1&token=xyz"; spaces before a name skipped), or
// "". No percent-decoding: a token is of characters that need none.
std::string_view PairValue(std::string_view list, char separator, std::string_view name) {
  while (!list.empty()) {
    size_t end = list.find(separator);
    std::string_view pair = list.substr(0, end);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
    if (end == std::string_view::npos) break;
    list.remove_prefix(end + 1);
  }
  return {};
}

// `target` without its token=... parameter (the dashboard's address once the cookie is set).
std::string WithoutToken(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q));
  std::string_view query = target.substr(q + 1);
  char sep = '?';
  while (!query.empty()) {
    size_t end = query.find('&');
    std::string_view pair = query.substr(0, end);
    if (!pair.starts_with("token=") && !pair.empty()) {
      out.push_back(sep);
      out.append(pair);
      sep = '&';
    }
    if (end == std::string_view::npos) break;
    query.remove_prefix(end + 1);
  }
  return out;
}

}  // namespace

std::string TargetHealthJson(const health::TargetGroupHealth& group) {
  nlohmann::ordered_json out;
  out["TargetHealthDescriptions"] = GroupDescriptions(group);
  return out.dump(2) + "\n";
}

std::string AllTargetHealthJson(const std::vector<health::TargetGroupHealth>& groups) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const health::TargetGroupHealth& g : groups) {
    nlohmann::ordered_json item;
    item["TargetGroupName"] = g.group;
    item["TargetHealthDescriptions"] = GroupDescriptions(g);
    list.push_back(item);
  }
  nlohmann::ordered_json out;
  out["TargetGroups"] = list;
  return out.dump(2) + "\n";
}

bool AdminServer::TokenMatches(std::string_view presented) const {
  return presented.size() == token_.size() &&
         CRYPTO_memcmp(presented.data(), token_.data(), token_.size()) == 0;
}

AdminServer::Auth AdminServer::Authorize(const http::RequestHead& head) const {
  if (token_.empty()) return Auth::kOpen;
  for (const http::HeaderField& f : head.header_span()) {
    if (http::EqualsIgnoreCase(f.name, "Authorization")) {
      std::string_view v = f.value;
      if (v.size() > 7 && http::EqualsIgnoreCase(v.substr(0, 7), "Bearer ") &&
          TokenMatches(v.substr(7))) {
        return Auth::kHeader;
      }
    } else if (http::EqualsIgnoreCase(f.name, "Cookie")) {
      if (TokenMatches(PairValue(f.value, ';', kTokenCookie))) return Auth::kHeader;
    }
  }
  size_t q = head.target.find('?');
  if (q != std::string_view::npos &&
      TokenMatches(PairValue(head.target.substr(q + 1), '&', "token"))) {
    return Auth::kQuery;
  }
  return Auth::kDenied;
}

std::string AdminServer::Answer(std::string_view received) const {
  size_t scan = 0;
  size_t head_len = http::FindHeadEnd(received, &scan);
  if (head_len == 0) {
    return received.size() >= kMaxRequest
               ? HttpResponse(431, "Request Header Fields Too Large", "text/plain",
                              "request head over 8 KiB\n")
               : HttpResponse(400, "Bad Request", "text/plain", "incomplete request head\n");
  }
  auto head = std::make_unique<http::RequestHead>();  // 256 fields: too large for the stack
  http::ParseError error;
  if (http::ParseRequestHead(received, head_len, head.get(), &error) !=
      http::ParseStatus::kComplete) {
    const char* reason = error.status == 414   ? "URI Too Long"
                         : error.status == 505 ? "HTTP Version Not Supported"
                         : error.status == 501 ? "Not Implemented"
                                               : "Bad Request";
    return HttpResponse(error.status, reason, "text/plain", std::string(error.reason) + "\n");
  }
  switch (Authorize(*head)) {
    case Auth::kDenied:
      return HttpResponse(401, "Unauthorized", "text/plain",
                          "this admin endpoint needs its token (Admin.TokenFile): send "
                          "Authorization: Bearer <token>, or open /dashboard?token=<token>\n",
                          "WWW-Authenticate: Bearer realm=\"sluice-admin\"\r\n");
    case Auth::kQuery: {
      // The browser keeps the token as a cookie the page's own requests carry (HttpOnly: the
      // page's script never sees it), and the address bar loses it.
      const std::string cookie = "Set-Cookie: " + std::string(kTokenCookie) + "=" + token_ +
                                 "; Path=/; HttpOnly; SameSite=Strict\r\n";
      if (head->method == "GET") {
        return HttpResponse(303, "See Other", "text/plain", "",
                            cookie + "Location: " + WithoutToken(head->target) + "\r\n");
      }
      break;
    }
    case Auth::kOpen:
    case Auth::kHeader:
      break;
  }
  return Respond(head->method, head->target);
}

std::string AdminServer::Respond(std::string_view method, std::string_view path) const {
  if (method != "GET") {
    return HttpResponse(405, "Method Not Allowed", "text/plain", "only GET is served\n");
  }
  std::string_view query;
  if (size_t q = path.find('?'); q != std::string_view::npos) {
    query = path.substr(q + 1);
    path = path.substr(0, q);
  }
  if (path == "/ping") return HttpResponse(200, "OK", "text/plain", "ok\n");
  if (path == "/") {
    return HttpResponse(302, "Found", "text/plain", "", "Location: /dashboard\r\n");
  }
  if (path == "/dashboard" || path == "/dashboard/") {
    return HttpResponse(200, "OK", ContentTypeOf(".html"), DashboardFile("index.html"),
                        kPageHeaders);
  }
  if (path == "/dashboard/model") {
    return HttpResponse(200, "OK", "application/json", ModelJson(), "Cache-Control: no-store\r\n");
  }
  if (path.starts_with("/dashboard/")) {
    std::string_view file = path.substr(11);
    if (std::string_view body = DashboardFile(file); !body.empty() && file != "index.html") {
      return HttpResponse(200, "OK", ContentTypeOf(file), body, kPageHeaders);
    }
  }

  if (path == "/tls") {
    // Handshakes on HTTPS listeners that did not complete, since start.
    nlohmann::ordered_json tls;
    tls["HandshakesFailed"] = tls::HandshakeCounters::failed();
    tls["HandshakesTimedOut"] = tls::HandshakeCounters::timed_out();
    tls["TargetHandshakesFailed"] = tls::HandshakeCounters::target_failed();
    return HttpResponse(200, "OK", "application/json", tls.dump(2) + "\n");
  }
  if (path == "/splice") {
    // Tunnels relaying by splice (net/splice_pipe.h): bytes moved, pipes open now, and pipes
    // refused (budget spent or pipe2 failed: those tunnels kept copying), since start.
    nlohmann::ordered_json splice;
    splice["SplicedBytes"] = net::PipePool::SplicedBytes();
    splice["PipesOpen"] = net::PipePool::PipesOpen();
    splice["PipesRefused"] = net::PipePool::PipesRefused();
    splice["PipeBudget"] = net::PipePool::Budget();
    return HttpResponse(200, "OK", "application/json", splice.dump(2) + "\n");
  }
  if (path == "/metrics" && metrics_) {
    // CloudWatch's AWS/ApplicationELB metrics in Prometheus' text format (observe/metrics.h).
    return HttpResponse(200, "OK", "text/plain; version=0.0.4", metrics_());
  }
  if (path == "/cloudwatch" && cloudwatch_) {
    auto [status, json] = cloudwatch_(query);
    return HttpResponse(status, status == 200 ? "OK" : "Bad Request", "application/json", json);
  }
  if (path == "/alarms" && alarms_) {
    return HttpResponse(200, "OK", "application/json", alarms_());
  }
  if (path == "/access-logs") {
    // Entries written, dropped (ring full / file error), files completed, since start.
    observe::AccessLogStats s = access_log_stats_ ? access_log_stats_() : observe::AccessLogStats{};
    nlohmann::ordered_json j;
    j["EntriesWritten"] = s.written;
    j["EntriesDroppedRingFull"] = s.dropped_full;
    j["EntriesDroppedFileError"] = s.dropped_error;
    j["FilesCompleted"] = s.files;
    j["FileErrors"] = s.errors;
    return HttpResponse(200, "OK", "application/json", j.dump(2) + "\n");
  }
  if (path == "/targets" || path == "/targets/") {
    return HttpResponse(200, "OK", "application/json", AllTargetHealthJson(report_()));
  }
  if (path.substr(0, 9) == "/targets/") {
    std::string_view name = path.substr(9);
    for (const health::TargetGroupHealth& g : report_()) {
      if (g.group == name) {
        return HttpResponse(200, "OK", "application/json", TargetHealthJson(g));
      }
    }
    return HttpResponse(404, "Not Found", "application/json",
                        "{\"Error\":{\"Code\":\"TargetGroupNotFound\",\"Message\":\"One or more "
                        "target groups not found\"}}\n");
  }
  return HttpResponse(
      404, "Not Found", "text/plain",
      "unknown path; try /dashboard, /targets, /targets/<group>, /metrics, /cloudwatch, "
      "/alarms, /tls, /splice, /access-logs, /ping\n");
}

Result<bool> AdminServer::Start(const SocketAddress& address) {
  sockaddr_storage ss;
  socklen_t len = address.ToSockaddr(&ss);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 64) != 0) {
    Error e{ErrorSource::kConfig,
            "admin endpoint " + address.ToString() + ": " + std::strerror(errno), false};
    if (fd >= 0) close(fd);
    return e;
  }
  sockaddr_storage bound;
  socklen_t blen = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  port_ = SocketAddress::FromSockaddr(bound).port;
  listen_fd_ = fd;
  thread_ = std::thread([this] { Serve(); });
  return true;
}

void AdminServer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
}

// One admin connection: its request head as it arrives, then the answer as it leaves.
struct AdminServer::Connection {
  int fd = -1;
  std::string in;
  std::string out;  // empty until the head is complete (or the client closed)
  size_t sent = 0;
  int64_t deadline_ms = 0;
};

// Admin thread: reads what arrived, answers once the head is complete, writes what the socket
// takes. Closes the connection (fd = -1) when the answer is out or on any error.
void AdminServer::Advance(Connection& c) const {
  if (c.out.empty()) {
    char buf[4096];
    bool closed = false;
    while (c.in.size() < kMaxRequest) {
      ssize_t n = recv(c.fd, buf, std::min(sizeof(buf), kMaxRequest - c.in.size()), 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      closed = true;  // EOF or reset: answer what arrived (a reset's send fails below)
      break;
    }
    size_t scan = 0;
    if (!closed && c.in.size() < kMaxRequest && http::FindHeadEnd(c.in, &scan) == 0) return;
    c.out = Answer(c.in);
    c.deadline_ms = MonotonicMillis() + kWriteTimeoutMs;
  }
  while (c.sent < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    break;
  }
  close(c.fd);
  c.fd = -1;
}

void AdminServer::Serve() {
  std::vector<Connection> conns;
  std::vector<pollfd> fds;
  while (!stop_) {
    fds.clear();
    const bool room = conns.size() < kMaxConnections;
    fds.push_back({listen_fd_, static_cast<short>(room ? POLLIN : 0), 0});
    for (const Connection& c : conns) {
      fds.push_back({c.fd, static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
    }
    if (poll(fds.data(), fds.size(), 200) < 0 && errno != EINTR) break;
    for (size_t i = 0; i < conns.size(); ++i) {
      if (fds[i + 1].revents != 0) Advance(conns[i]);
    }
    while (room && (fds[0].revents & POLLIN) != 0 && conns.size() < kMaxConnections) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) break;  // EAGAIN, or a failed accept (EMFILE...): the next poll retries
      conns.push_back(Connection{fd, {}, {}, 0, MonotonicMillis() + kReadTimeoutMs});
    }
    // A silent or slow client loses its connection at its deadline; the others go on.
    const int64_t now = MonotonicMillis();
    std::erase_if(conns, [now](Connection& c) {
      if (c.fd >= 0 && now < c.deadline_ms) return false;
      if (c.fd >= 0) close(c.fd);
      return true;
    });
  }
  for (Connection& c : conns) close(c.fd);
}

void AdminServer::set_model(std::string json) {
  std::lock_guard<std::mutex> lock(model_mu_);
  model_ = std::move(json);
  model_config_.reset();
}

void AdminServer::set_model(std::shared_ptr<const config::Config> config, int resolution_s) {
  std::lock_guard<std::mutex> lock(model_mu_);
  model_config_ = std::move(config);
  model_resolution_s_ = resolution_s;
}

// Built outside the lock (milliseconds at 10,000 rules); kept unless a newer model arrived
// meanwhile.
std::string AdminServer::ModelJson() const {
  std::shared_ptr<const config::Config> pending;
  int resolution_s = 0;
  {
    std::lock_guard<std::mutex> lock(model_mu_);
    if (!model_config_) return model_;
    pending = model_config_;
    resolution_s = model_resolution_s_;
  }
  std::string json = DashboardModelJson(*pending, resolution_s);
  std::lock_guard<std::mutex> lock(model_mu_);
  if (model_config_ == pending) {
    model_ = json;
    model_config_.reset();
  }
  return json;
}

}  // namespace sluice::control
