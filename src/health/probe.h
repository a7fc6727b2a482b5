// One health-check probe's I/O: open a non-blocking connection, send the check's request
// (HTTP) and judge the status line, or judge the connect alone (TCP). Used by the checker
// thread only. A probe owns no stream: the checker opens the socket with OpenProbeSocket,
// wraps it in a net::TcpTransport (every read and write goes through that seam) and closes
// it by destroying the transport.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/ip_address.h"
#include "health/target_health.h"
#include "net/transport.h"

namespace sluice::health {

enum class OpenStatus {
  kOpened,         // fd is connecting (or connected)
  kLocalShortage,  // this host ran short (descriptors, buffers, ports): retry later, no verdict
  kFailed,         // the connect failed at once (unreachable network...): a failed check
};

struct OpenedSocket {
  OpenStatus status = OpenStatus::kFailed;
  int fd = -1;  // kOpened only
  int err = 0;  // errno of the failure
};

// socket(SOCK_NONBLOCK|SOCK_CLOEXEC) and a non-blocking connect to `to`.
OpenedSocket OpenProbeSocket(const SocketAddress& to);

// True for errno values that say this host is short of a resource (EMFILE, ENFILE, ENOBUFS,
// ENOMEM, EADDRNOTAVAIL, EAGAIN), which says nothing about the target.
bool IsLocalShortage(int err);

// close(); returns 0 or the errno of a failed close (the descriptor is released either way).
int CloseProbeSocket(int fd);

// "HTTP/1.x NNN..." → NNN; -1 when `line` (a status line without its line end) is not one.
// The grammar is http::ParseStatusLine's, the one responses to proxied requests are read by.
int ParseStatusCode(std::string_view line);

// The I/O state of one probe in flight. Reused across probes (Reset), so that its request
// buffer keeps its capacity.
class ProbeIo {
 public:
  // tcp: the connect alone decides. Otherwise `request` is sent once connected and the status
  // line of the answer decides (see OnEvents).
  void Reset(bool tcp, std::string_view request);
  std::string& request() { return request_; }

  // Handles epoll readiness of `stream` (edge-triggered: reads and writes until it would
  // block). Returns the verdict when the probe is over, nullopt while it must wait for more
  // events. `accepts` says whether an HTTP status passes the group's matcher.
  template <class Accepts>
  std::optional<CheckResult> OnEvents(net::Transport& stream, uint32_t events,
                                      const Accepts& accepts) {
    std::optional<int> status = Progress(stream, events);
    if (!status) return std::nullopt;
    if (*status == kConnectedStatus) return CheckResult{CheckOutcome::kSuccess, 0};
    if (*status < 100) return CheckResult{CheckOutcome::kFailed, 0};
    if (accepts(*status)) return CheckResult{CheckOutcome::kSuccess, *status};
    return CheckResult{CheckOutcome::kCodeMismatch, *status};
  }

 private:
  static constexpr int kConnectedStatus = 1000;  // TCP check: connected
  // Longest status line accepted (bytes before its LF), like the former 4 KiB probe buffer.
  static constexpr size_t kMaxStatusLine = 4095;
  // nullopt: wait. Otherwise kConnectedStatus, a status code, or -1 (failed).
  std::optional<int> Progress(net::Transport& stream, uint32_t events);
  std::optional<int> Send(net::Transport& stream);
  std::optional<int> Receive(net::Transport& stream, uint32_t events);

  bool tcp_ = false;
  bool connected_ = false;
  std::string request_;
  size_t sent_ = 0;
  char line_[13] = {};       // the first 13 bytes of the answer: "HTTP/1.1 200 "
  size_t received_ = 0;      // bytes of the answer seen so far
  bool line_ended_ = false;  // the status line's LF has arrived
  size_t line_length_ = 0;   // bytes before that LF
};

}  // namespace sluice::health
