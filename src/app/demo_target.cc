#include "app/demo_target_server.h"

namespace sluice::app {
namespace demo_server {

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

}  // namespace demo_server

using demo_server::g_signalled;
using demo_server::OnSignal;
using demo_server::Server;

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
