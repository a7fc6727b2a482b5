// Helpers for the checker's tests: loopback listeners, monitored sets, bounded polling.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "health/checker.h"
#include "net/event_loop.h"

namespace sluice::health::testing {

// A listening TCP socket on 127.0.0.1 that never accepts: the kernel completes handshakes
// into its backlog, so TCP checks pass and HTTP checks hang (no answer) until they time out.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(fd_, 512) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port_ = ntohs(a.sin_port);
  }
  ~Listener() {
    if (fd_ >= 0) close(fd_);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  uint16_t port() const { return port_; }  // 0 when the listener could not be set up
  // Stops listening: checks of port() are refused from now on.
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

inline MonitoredGroup Group(std::string name, std::string protocol, int interval_seconds = 5,
                            bool in_use = true) {
  MonitoredGroup g;
  g.name = std::move(name);
  g.check.protocol = std::move(protocol);
  g.check.path = "/health";
  g.check.interval_seconds = interval_seconds;
  g.check.timeout_seconds = 1;
  g.check.healthy_threshold = 2;
  g.check.unhealthy_threshold = 2;
  g.in_use = in_use;
  return g;
}

inline MonitoredTarget At(size_t group, const std::string& ip, uint16_t port) {
  MonitoredTarget t;
  t.group = group;
  t.id = ip;
  t.address = *SocketAddress::Parse(ip, port);
  t.check_port = port;
  t.stats = std::make_shared<balancer::TargetStats>();
  return t;
}

// Polls `done` every 5 ms until it holds or timeout_ms passes; returns its last value.
inline bool Eventually(const std::function<bool()>& done, int timeout_ms) {
  int64_t deadline = net::MonotonicMillis() + timeout_ms;
  while (!done()) {
    if (net::MonotonicMillis() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The row of target `id`:`port` in group `group` of c's report, or nullptr.
inline std::unique_ptr<TargetHealthRow> RowOf(const HealthChecker& c, const std::string& group,
                                              int port) {
  for (const TargetGroupHealth& g : c.Report()) {
    if (g.group != group) continue;
    for (const TargetHealthRow& r : g.targets) {
      if (r.port == port) return std::make_unique<TargetHealthRow>(r);
    }
  }
  return nullptr;
}

}  // namespace sluice::health::testing
