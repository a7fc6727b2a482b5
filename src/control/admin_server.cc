#include "control/admin_server.h"

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

std::string HttpResponse(int status, const char* reason, const std::string& content_type,
                         const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
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
      "unknown path; try /targets, /targets/<group>, /metrics, /cloudwatch, /alarms, /tls, "
      "/access-logs, /ping\n");
}

Result<bool> AdminServer::Start(const SocketAddress& address) {
  sockaddr_storage ss;
  socklen_t len = address.ToSockaddr(&ss);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

void AdminServer::Serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    timeval tv{2, 0};  // a slow or silent client cannot hold the endpoint
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char buf[kMaxRequest];
    size_t len = 0;
    size_t scan = 0;
    while (len < sizeof(buf)) {
      ssize_t n = recv(c, buf + len, sizeof(buf) - len, 0);
      if (n <= 0) break;  // closed, reset, or the 2 s timeout: answer what arrived
      len += static_cast<size_t>(n);
      if (http::FindHeadEnd(std::string_view(buf, len), &scan) != 0) break;
    }
    std::string out = Answer(std::string_view(buf, len));
    size_t sent = 0;
    while (sent < out.size()) {
      ssize_t n = send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    close(c);
  }
}

bool FormatTargetHealthTable(std::string_view json, std::string* out) {
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.contains("TargetGroups") || !doc["TargetGroups"].is_array()) {
    return false;
  }
  std::vector<std::array<std::string, 6>> rows = {
      {"GROUP", "TARGET", "PORT", "STATE", "REASON", "DESCRIPTION"}};
  for (const auto& g : doc["TargetGroups"]) {
    for (const auto& d : g.value("TargetHealthDescriptions", nlohmann::json::array())) {
      const auto& th = d.value("TargetHealth", nlohmann::json::object());
      const auto& t = d.value("Target", nlohmann::json::object());
      rows.push_back({g.value("TargetGroupName", ""), t.value("Id", ""),
                      std::to_string(t.value("Port", 0)), th.value("State", ""),
                      th.value("Reason", "-"), th.value("Description", "-")});
    }
  }
  std::array<size_t, 6> width{};
  for (const auto& r : rows) {
    for (size_t i = 0; i < 6; ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    for (size_t i = 0; i < 6; ++i) {
      out->append(r[i]);
      if (i + 1 < 6) out->append(width[i] - r[i].size() + 2, ' ');
    }
    out->push_back('\n');
  }
  return true;
}

Result<std::string> FetchAdmin(const SocketAddress& address, std::string_view path) {
  sockaddr_storage ss;
  socklen_t len = address.ToSockaddr(&ss);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{ErrorSource::kInternal, std::strerror(errno)};
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    Error e{ErrorSource::kInternal,
            "cannot reach the admin endpoint " + address.ToString() + ": " + std::strerror(errno)};
    close(fd);
    return e;
  }
  std::string req = "GET " + std::string(path) + " HTTP/1.1\r\nHost: " + address.ToString() +
                    "\r\nConnection: close\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    Error e{ErrorSource::kInternal, "cannot send to the admin endpoint " + address.ToString() +
                                        ": " + std::strerror(errno)};
    close(fd);
    return e;
  }
  std::string resp;
  char buf[8192];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return AdminResponseBody(resp);
}

Result<std::string> AdminResponseBody(std::string_view response) {
  size_t scan = 0;
  size_t head_len = http::FindHeadEnd(response, &scan);
  auto head = std::make_unique<http::ResponseHead>();
  http::ParseError error;
  if (head_len == 0 || http::ParseResponseHead(response, head_len, head.get(), &error) !=
                           http::ParseStatus::kComplete) {
    return Error{ErrorSource::kInternal,
                 "admin endpoint answered no HTTP response: " +
                     std::string(response.substr(0, std::min<size_t>(response.find("\r\n"), 80)))};
  }
  if (head->status != 200) {
    return Error{ErrorSource::kInternal, "admin endpoint answered " + std::to_string(head->status) +
                                             " " + std::string(head->reason)};
  }
  return std::string(response.substr(head_len));  // the server closes after the body
}

}  // namespace sluice::control
