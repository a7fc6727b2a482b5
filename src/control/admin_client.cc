// The CLI's side of the admin endpoint (`sluice targets`): fetch a path, read the body,
// render /targets as a table. Blocking sockets with 2 s timeouts; never on the request path.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "control/admin_server.h"
#include "http/h1_parser.h"

namespace sluice::control {

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

Result<std::string> FetchAdmin(const SocketAddress& address, std::string_view path,
                               std::string_view token) {
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
                    "\r\nConnection: close\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + std::string(token) + "\r\n";
  req += "\r\n";
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
