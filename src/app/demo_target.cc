#include "app/demo_target.h"

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

#include "app/demo_target_http.h"

namespace sluice::app {
namespace {

using demo::kMaxChunkLine;
using demo::kMaxHeadBytes;
using demo::Request;

constexpr size_t kReadSize = 16 * 1024;
constexpr size_t kWriteBudget = 1024 * 1024;  // per wake-up, so one client cannot starve others
constexpr size_t kKeepCapacity = 8 * 1024;    // idle buffers larger than this are released
constexpr int64_t kIdleTimeoutMs = 300'000;   // no progress for this long closes a connection
constexpr int64_t kLingerMs = 2'000;          // drain time after a closing response
constexpr int64_t kPollMs = 100;              // stop flags are checked at least this often
constexpr int kMaxEvents = 256;

volatile sig_atomic_t g_signalled = 0;
void OnSignal(int /*signo*/) { g_signalled = 1; }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Empties a buffer, giving back its memory if it grew large.
void Release(std::string& s) {
  if (s.capacity() > kKeepCapacity) {
    std::string().swap(s);
  } else {
    s.clear();
  }
}

// "ip:port" or "[ip6]:port".
std::string FormatAddress(const sockaddr_storage& ss) {
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
std::string Sanitize(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
  }
  return out;
}

enum class Phase {
  kHead,       // reading the request head
  kBody,       // Content-Length body
  kChunkSize,  // chunked body: size line
  kChunkData,  // chunked body: data
  kChunkEnd,   // chunked body: CRLF after data
  kTrailer,    // chunked body: trailer section
  kDelay,      // request complete, waiting for delay_ms
  kWriting,    // sending a response
  kLinger,     // response sent with close: draining input before close()
};

bool IsReadPhase(Phase p) { return p <= Phase::kTrailer; }

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
  uint64_t remaining = 0;  // Content-Length bytes, or bytes left in the current chunk
  size_t trailer_bytes = 0;
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

Server::~Server() {
  for (auto& [id, c] : conns_) {
    if (!c->closed) ::close(c->fd);
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool Server::Listen() {
  std::string host = options_.listen_address;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  std::string where = options_.listen_address + ":" + std::to_string(options_.port);
  if (options_.port < 0 || options_.port > 65535) {
    std::fprintf(stderr, "demo-target: invalid port in %s\n", where.c_str());
    return false;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(options_.port);
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    std::fprintf(stderr, "demo-target: cannot resolve %s: %s\n", where.c_str(), gai_strerror(rc));
    return false;
  }
  int err = 0;
  for (addrinfo* ai = res; ai != nullptr && listen_fd_ < 0; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      err = errno;
      ::close(fd);
      continue;
    }
    listen_fd_ = fd;
  }
  freeaddrinfo(res);
  if (listen_fd_ < 0) {
    std::fprintf(stderr, "demo-target: cannot listen on %s: %s\n", where.c_str(),
                 std::strerror(err));
    return false;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  addr_ = FormatAddress(ss);
  return true;
}

int Server::Run(std::atomic<int>* bound_port) {
  name_ = Sanitize(options_.name);
  if (name_.empty()) {
    char host[256] = {};
    name_ = (gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0') ? Sanitize(host)
                                                                          : "demo-target";
  }
  if (!Listen()) {
    if (bound_port != nullptr) bound_port->store(-1);
    return 1;
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.u64 = 0;
  if (epoll_fd_ < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &lev) != 0) {
    std::fprintf(stderr, "demo-target: epoll setup failed for %s: %s\n", addr_.c_str(),
                 std::strerror(errno));
    if (bound_port != nullptr) bound_port->store(-1);
    return 1;
  }
  std::printf("demo-target %s listening on %s\n", name_.c_str(), addr_.c_str());
  std::fflush(stdout);
  if (bound_port != nullptr) {
    size_t colon = addr_.rfind(':');
    bound_port->store(std::atoi(addr_.c_str() + colon + 1));
  }

  epoll_event events[kMaxEvents];
  while (!ShouldStop()) {
    int64_t now = NowMs();
    int64_t timeout = kPollMs;
    if (!timers_.empty()) timeout = std::clamp<int64_t>(timers_.begin()->first - now, 0, timeout);
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, static_cast<int>(timeout));
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "demo-target: epoll_wait on %s: %s\n", addr_.c_str(),
                   std::strerror(errno));
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == 0) {
        AcceptAll();
        continue;
      }
      Conn* c = Find(events[i].data.u64);
      if (c == nullptr) continue;
      if ((events[i].events & EPOLLERR) != 0 ||
          (c->phase == Phase::kDelay && (events[i].events & EPOLLHUP) != 0)) {
        Close(*c);  // reset by the peer: nothing can be delivered any more
      } else if (c->phase == Phase::kWriting) {
        Drive(*c);
      } else if (c->phase != Phase::kDelay) {
        OnReadable(*c);
      }
    }
    FireTimers();
    if (accept_paused_ && NowMs() >= accept_resume_at_) {
      accept_paused_ = false;
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &lev);
    }
    for (uint64_t id : dead_) conns_.erase(id);
    dead_.clear();
  }
  return 0;
}

Conn* Server::Find(uint64_t id) {
  auto it = conns_.find(id);
  return (it == conns_.end() || it->second->closed) ? nullptr : it->second.get();
}

void Server::AcceptAll() {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    int fd =
        accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop accepting for a moment instead of spinning.
        std::fprintf(stderr, "demo-target: accept on %s: %s\n", addr_.c_str(),
                     std::strerror(errno));
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        accept_paused_ = true;
        accept_resume_at_ = NowMs() + kPollMs;
      }
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->fd = fd;
    c->peer = FormatAddress(ss);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c->id;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    Touch(*c);
    uint64_t id = c->id;
    conns_.emplace(id, std::move(c));
  }
}

void Server::OnReadable(Conn& c) {
  for (int i = 0; i < 8 && !c.closed; ++i) {
    if (!IsReadPhase(c.phase) && c.phase != Phase::kLinger) break;
    ssize_t n = ::recv(c.fd, read_buf_, sizeof(read_buf_), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {  // EOF or error: an incomplete request cannot be answered
      Close(c);
      return;
    }
    if (c.phase == Phase::kLinger) continue;  // discard
    // Compact before appending so that `in` holds only unconsumed bytes.
    if (c.in_pos > 0) {
      c.in.erase(0, c.in_pos);
      c.head_scan -= std::min(c.head_scan, c.in_pos);
      c.in_pos = 0;
    }
    c.in.append(read_buf_, static_cast<size_t>(n));
    Touch(c);
    Drive(c);
  }
  if (!c.closed) UpdateInterest(c);
}

void Server::Drive(Conn& c) {
  while (!c.closed) {
    if (IsReadPhase(c.phase)) {
      if (!ParseStep(c) && IsReadPhase(c.phase)) break;  // needs more input
      continue;
    }
    if (c.phase != Phase::kWriting) break;
    Flushed f = Flush(c);
    if (f == Flushed::kError) {
      Close(c);
      return;
    }
    if (f == Flushed::kBlocked) break;
    if (c.close_after) {
      StartLinger(c);
      break;
    }
    ResetForNextRequest(c);
  }
  if (!c.closed) UpdateInterest(c);
}

void Server::ResetForNextRequest(Conn& c) {
  c.phase = Phase::kHead;
  c.req = Request{};
  c.head_scan = c.in_pos;
  c.remaining = 0;
  c.trailer_bytes = 0;
  Release(c.out);
  c.out_pos = 0;
  if (c.in_pos == c.in.size()) {
    Release(c.in);
    c.in_pos = c.head_scan = 0;
  }
  Touch(c);
}

// Consumes what it can from `in`; returns false when more input is needed or the phase left
// the reading phases.
bool Server::ParseStep(Conn& c) {
  std::string_view avail(c.in.data() + c.in_pos, c.in.size() - c.in_pos);
  switch (c.phase) {
    case Phase::kHead: {
      // RFC 9112 2.2: ignore empty lines before the request line.
      while (c.head_scan == c.in_pos && !avail.empty() &&
             (avail.front() == '\n' ||
              (avail.size() >= 2 && avail.front() == '\r' && avail[1] == '\n'))) {
        size_t skip = avail.front() == '\n' ? 1 : 2;
        c.in_pos += skip;
        c.head_scan += skip;
        avail.remove_prefix(skip);
      }
      for (;;) {
        size_t nl = c.in.find('\n', c.head_scan);
        if (nl == std::string::npos) break;
        size_t line_start = c.head_scan;
        c.head_scan = nl + 1;
        size_t line_len = nl - line_start;
        if (line_len > 0 && c.in[nl - 1] == '\r') --line_len;
        if (line_len == 0 && line_start != c.in_pos) {
          if (c.head_scan - c.in_pos > kMaxHeadBytes) {
            BadRequest(c, "request head too large", true);
            return false;
          }
          return ParseHead(c, c.head_scan);
        }
      }
      if (c.in.size() - c.in_pos > kMaxHeadBytes) {
        BadRequest(c, "request head too large", true);
      }
      return false;
    }
    case Phase::kBody:
    case Phase::kChunkData: {
      uint64_t take = std::min<uint64_t>(c.remaining, avail.size());
      c.in_pos += take;
      c.remaining -= take;
      c.req.body_bytes += take;
      if (c.remaining > 0) return false;
      if (c.phase == Phase::kBody) {
        RequestComplete(c);
      } else {
        c.phase = Phase::kChunkEnd;
      }
      return true;
    }
    default: {  // a chunk-size line, the CRLF after chunk data, or a trailer line
      size_t limit = c.phase == Phase::kTrailer ? kMaxHeadBytes - c.trailer_bytes : kMaxChunkLine;
      size_t nl = avail.find('\n');
      if (nl == std::string_view::npos || nl >= limit) {
        if (std::min(nl, avail.size()) >= limit) BadRequest(c, "chunked body line too long", true);
        return false;
      }
      std::string_view line = avail.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      c.in_pos += nl + 1;
      if (c.phase == Phase::kTrailer) {
        c.trailer_bytes += nl + 1;
        if (line.empty()) RequestComplete(c);
        return true;
      }
      if (c.phase == Phase::kChunkEnd) {
        if (!line.empty()) {
          BadRequest(c, "missing CRLF after chunk data", true);
          return false;
        }
        c.phase = Phase::kChunkSize;
        return true;
      }
      uint64_t size = 0;
      if (!demo::ParseChunkSize(line, &size)) {
        BadRequest(c, "invalid chunk size", true);
        return false;
      }
      c.remaining = size;
      c.phase = size == 0 ? Phase::kTrailer : Phase::kChunkData;
      return true;
    }
  }
}

// Parses the complete head in in[in_pos, end) and sets up body reading.
bool Server::ParseHead(Conn& c, size_t end) {
  std::string_view head(c.in.data() + c.in_pos, end - c.in_pos);
  c.in_pos = end;
  demo::HeadResult head_result;
  if (const char* error = demo::ParseRequestHead(head, &c.req, &head_result)) {
    BadRequest(c, error, true);
    return false;
  }
  const bool chunked = head_result.chunked;
  const uint64_t length = head_result.content_length;
  // Send 100 Continue when the client waits for it; the previous response is fully flushed,
  // so this tiny write does not block. If it does not go out, the client times out and sends.
  if (head_result.expect_continue && !c.req.http10 && (chunked || length > 0) &&
      c.in_pos == c.in.size()) {
    static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
    [[maybe_unused]] ssize_t n = ::send(c.fd, k100.data(), k100.size(), MSG_NOSIGNAL);
  }
  if (chunked) {
    c.phase = Phase::kChunkSize;
  } else if (length > 0) {
    c.phase = Phase::kBody;
    c.remaining = length;
  } else {
    RequestComplete(c);
  }
  return true;
}

void Server::RequestComplete(Conn& c) {
  Request& r = c.req;
  c.close_after = !r.keep_alive;
  if (const char* error = demo::ApplyQueryParameters(&r, &c.close_after)) {
    BadRequest(c, error, c.close_after);
    return;
  }
  if (r.delay_ms == 0) {
    StartResponse(c);
    return;
  }
  c.phase = Phase::kDelay;
  // +1: NowMs() truncates, and the delay must be at least delay_ms.
  SetDeadline(c, NowMs() + static_cast<int64_t>(r.delay_ms) + 1);
}

void Server::StartResponse(Conn& c) {
  const Request& r = c.req;
  if (r.have_bytes) {
    Reply(c, r.status, "", r.bytes, r.chunked);
  } else if (demo::RequestPath(r.target) == options_.health_path) {
    Reply(c, r.status, "ok\n", 0, r.chunked);
  } else {
    Reply(c, r.status, demo::EchoBody(name_, addr_, c.peer, r), 0, r.chunked);
  }
}

void Server::BadRequest(Conn& c, std::string_view why, bool close) {
  c.close_after = c.close_after || close;
  std::string body = "bad request: ";
  body.append(why);
  body += '\n';
  Reply(c, 400, body, 0, false);
}

// Queues a response: either `body`, or `stream_bytes` 'x' characters produced while sending.
void Server::Reply(Conn& c, int status, std::string_view body, uint64_t stream_bytes,
                   bool chunked) {
  demo::ResponseSpec spec;
  spec.status = status;
  spec.chunked = chunked;
  spec.head_request = c.req.method == "HEAD";
  spec.http10 = c.req.http10;
  spec.close = c.close_after;
  spec.server_name = name_;
  c.stream = demo::BuildResponse(spec, body, stream_bytes, &c.out);
  c.out_pos = 0;
  c.phase = Phase::kWriting;
  Touch(c);
}

Flushed Server::Flush(Conn& c) {
  size_t sent_total = 0;
  Flushed result = Flushed::kDone;
  for (;;) {
    if (c.out_pos == c.out.size()) {
      if (c.stream.left == 0) break;
      // Next piece of a bytes= body.
      c.out.clear();
      c.out_pos = 0;
      demo::AppendStreamPiece(&c.stream, &c.out);
    }
    if (sent_total >= kWriteBudget) {
      result = Flushed::kBlocked;  // still writable; level-triggered epoll calls us again
      break;
    }
    ssize_t n = ::send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_pos += static_cast<size_t>(n);
      sent_total += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      result = Flushed::kBlocked;
      break;
    }
    return Flushed::kError;
  }
  if (sent_total > 0) Touch(c);
  return result;
}

void Server::StartLinger(Conn& c) {
  // Half-close and drain, so unread request bytes do not turn our FIN into a RST that could
  // destroy the response before the client reads it.
  ::shutdown(c.fd, SHUT_WR);
  c.phase = Phase::kLinger;
  Release(c.in);
  Release(c.out);
  c.in_pos = c.out_pos = c.head_scan = 0;
  SetDeadline(c, NowMs() + kLingerMs);
}

void Server::SetDeadline(Conn& c, int64_t when) {
  if (c.deadline != 0) timers_.erase({c.deadline, c.id});
  c.deadline = when;
  if (when != 0) timers_.emplace(when, c.id);
}

void Server::UpdateInterest(Conn& c) {
  uint32_t want = 0;
  if (IsReadPhase(c.phase) || c.phase == Phase::kLinger) want = EPOLLIN;
  if (c.phase == Phase::kWriting) want = EPOLLOUT;
  if (want == c.interest) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = c.id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) {
    Close(c);
    return;
  }
  c.interest = want;
}

void Server::FireTimers() {
  int64_t now = NowMs();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    uint64_t id = timers_.begin()->second;
    timers_.erase(timers_.begin());
    Conn* c = Find(id);
    if (c == nullptr) continue;
    c->deadline = 0;
    if (c->phase == Phase::kDelay) {
      StartResponse(*c);
      Drive(*c);
    } else {
      Close(*c);  // idle, stalled, or done lingering
    }
  }
}

void Server::Close(Conn& c) {
  if (c.closed) return;
  SetDeadline(c, 0);
  ::close(c.fd);  // also removes it from the epoll set
  c.closed = true;
  dead_.push_back(c.id);
}

}  // namespace

int RunDemoTarget(const DemoTargetOptions& options, const std::atomic<bool>* stop,
                  std::atomic<int>* bound_port) {
  struct sigaction old_int {};
  struct sigaction old_term {};
  if (stop == nullptr) {
    g_signalled = 0;
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
  }
  int rc = 0;
  {
    auto server = std::make_unique<Server>(options, stop);
    rc = server->Run(bound_port);
  }
  if (stop == nullptr) {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
  }
  return rc;
}

}  // namespace sluice::app
