// The demo target's server (app/demo_target.cc: sockets, events, timers;
// app/demo_target_parse.cc: request parsing and responses). Internal to the demo target.
// One thread.
#pragma once

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "app/demo_target.h"
#include "app/demo_target_http.h"
#include "http/h1_framing.h"

namespace sluice::app::demo_server {

using demo::kMaxHeadBytes;
using demo::Request;

constexpr size_t kReadSize = 16 * 1024;
constexpr size_t kWriteBudget = 1024 * 1024;  // per wake-up, so one client cannot starve others
constexpr size_t kKeepCapacity = 8 * 1024;    // idle buffers larger than this are released
constexpr int64_t kIdleTimeoutMs = 300'000;   // no progress for this long closes a connection
constexpr int64_t kLingerMs = 2'000;          // drain time after a closing response
constexpr int64_t kPollMs = 100;              // stop flags are checked at least this often
constexpr int kMaxEvents = 256;

inline volatile sig_atomic_t g_signalled = 0;
inline void OnSignal(int /*signo*/) { g_signalled = 1; }

inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Empties a buffer, giving back its memory if it grew large.
inline void Release(std::string& s) {
  if (s.capacity() > kKeepCapacity) {
    std::string().swap(s);
  } else {
    s.clear();
  }
}

// "ip:port" or "[ip6]:port".
inline std::string FormatAddress(const sockaddr_storage& ss) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
    port = ntohs(sin->sin_port);
    return std::string(ip) + ":" + std::to_string(port);
  }
  if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
    port = ntohs(sin6->sin6_port);
    return "[" + std::string(ip) + "]:" + std::to_string(port);
  }
  return "unknown";
}

// Names go into a header value: no control characters.
inline std::string Sanitize(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
  }
  return out;
}

enum class Phase {
  kHead,     // reading the request head
  kBody,     // Content-Length body
  kChunked,  // chunked body (http::ChunkedDecoder)
  kDelay,    // request complete, waiting for delay_ms
  kWriting,  // sending a response
  kLinger,   // response sent with close: draining input before close()
};

inline bool IsReadPhase(Phase p) { return p <= Phase::kChunked; }

struct Conn {
  uint64_t id = 0;
  int fd = -1;
  bool closed = false;
  std::string peer;
  std::string in;
  size_t in_pos = 0;     // first unconsumed byte of `in`
  size_t head_scan = 0;  // start of the first head line not yet seen complete
  Phase phase = Phase::kHead;
  Request req;
  uint64_t remaining = 0;       // Content-Length bytes left
  http::ChunkedDecoder chunks;  // chunked bodies
  std::string out;
  size_t out_pos = 0;
  demo::StreamState stream;  // the rest of a bytes= body
  bool close_after = false;
  int64_t deadline = 0;  // 0 = none
  uint32_t interest = EPOLLIN;
};

enum class Flushed { kDone, kBlocked, kError };

class Server {
 public:
  Server(const DemoTargetOptions& options, const std::atomic<bool>* stop)
      : options_(options), stop_(stop) {}
  ~Server();

  int Run(std::atomic<int>* bound_port);

 private:
  bool Listen();
  bool ShouldStop() const { return stop_ != nullptr ? stop_->load() : g_signalled != 0; }
  void AcceptAll();
  void OnReadable(Conn& c);
  void Drive(Conn& c);
  bool ParseStep(Conn& c);
  bool ParseHead(Conn& c, size_t end);
  void RequestComplete(Conn& c);
  void StartResponse(Conn& c);
  void BadRequest(Conn& c, std::string_view why, bool close);
  void Reply(Conn& c, int status, std::string_view body, uint64_t stream_bytes, bool chunked);
  Flushed Flush(Conn& c);
  void ResetForNextRequest(Conn& c);
  void StartLinger(Conn& c);
  void SetDeadline(Conn& c, int64_t when);
  void Touch(Conn& c) { SetDeadline(c, NowMs() + kIdleTimeoutMs); }
  void UpdateInterest(Conn& c);
  void FireTimers();
  void Close(Conn& c);
  Conn* Find(uint64_t id);

  DemoTargetOptions options_;
  const std::atomic<bool>* stop_;
  std::string name_;
  std::string addr_;  // bound "ip:port"
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  bool accept_paused_ = false;
  int64_t accept_resume_at_ = 0;
  uint64_t next_id_ = 1;  // 0 is the listening socket
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::vector<uint64_t> dead_;
  std::set<std::pair<int64_t, uint64_t>> timers_;
  char read_buf_[kReadSize];
};

}  // namespace sluice::app::demo_server
