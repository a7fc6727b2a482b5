#include "control/webhook.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "config/webhook_url.h"

namespace sluice::control {
namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A connected blocking socket with send and receive timeouts, or -1 with *error.
int Connect(const std::string& host, int port, int timeout_ms, std::string* error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    *error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      *error = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    // SO_SNDTIMEO also bounds connect() on Linux.
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      *error = "connect to " + host + ":" + service + ": " + std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

bool SendAll(int fd, const std::string& data, std::string* error) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = std::string("send: ") + (n < 0 ? std::strerror(errno) : "closed");
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  return true;
}

// The status code of the response's status line ("HTTP/1.1 204 ..."), or 0; gives up at
// `deadline_ms` (steady clock) however slowly the bytes come.
int ReadStatus(int fd, int64_t deadline_ms, std::string* error) {
  char buf[512];
  size_t have = 0;
  while (have < sizeof(buf)) {
    const int64_t left = deadline_ms - SteadyMs();
    pollfd p{fd, POLLIN, 0};
    const int ready = left > 0 ? poll(&p, 1, static_cast<int>(left)) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      *error = ready == 0 ? "no response in time" : std::string("poll: ") + std::strerror(errno);
      return 0;
    }
    ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = std::string("no response: ") + std::strerror(errno);
      return 0;
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
    if (std::memchr(buf, '\n', have) != nullptr) break;
  }
  std::string_view line(buf, have);
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ') {
    *error = "not an HTTP response";
    return 0;
  }
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') {
      *error = "bad status line";
      return 0;
    }
    status = status * 10 + (line[i] - '0');
  }
  return status;
}

}  // namespace

PostResult PostJson(const std::string& url, const std::string& body, int timeout_ms) {
  const int64_t deadline_ms = SteadyMs() + timeout_ms;
  PostResult r;
  std::string host, path;
  int port = 0;
  if (!config::ParseWebhookUrl(url, &host, &port, &path, &r.error)) return r;
  int fd = Connect(host, port, timeout_ms, &r.error);
  if (fd < 0) return r;
  const bool v6 = host.find(':') != std::string::npos;
  std::string request = "POST " + path + " HTTP/1.1\r\nHost: " + (v6 ? "[" + host + "]" : host) +
                        ":" + std::to_string(port) +
                        "\r\nContent-Type: application/json\r\nUser-Agent: sluice-alarms\r\n"
                        "Content-Length: " +
                        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  if (SendAll(fd, request, &r.error)) r.status = ReadStatus(fd, deadline_ms, &r.error);
  close(fd);
  return r;
}

void WebhookSender::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void WebhookSender::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WebhookSender::Enqueue(std::string url, std::string body) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      ++stats_.dropped;
      return;
    }
    queue_.push_back(Job{std::move(url), std::move(body), 0, SteadyMs()});
  }
  wake_.notify_all();
}

WebhookSender::Stats WebhookSender::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void WebhookSender::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (queue_.empty()) {
      wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      continue;
    }
    // The job due first (retries wait; new notifications are due at once).
    auto next = queue_.begin();
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->due_ms < next->due_ms) next = it;
    }
    const int64_t wait = next->due_ms - SteadyMs();
    if (wait > 0) {
      wake_.wait_for(lock, std::chrono::milliseconds(wait));
      continue;
    }
    Job job = std::move(*next);
    queue_.erase(next);
    lock.unlock();
    PostResult r = PostJson(job.url, job.body, 5000);
    const bool ok = r.status >= 200 && r.status < 300;
    if (!ok) {
      log_("alarm action " + job.url + " attempt " + std::to_string(job.attempt + 1) + " of " +
           std::to_string(kAttempts) +
           " failed: " + (r.status != 0 ? "HTTP " + std::to_string(r.status) : r.error));
    }
    lock.lock();
    if (ok) {
      ++stats_.delivered;
    } else if (++job.attempt >= kAttempts) {
      ++stats_.failed;
    } else {
      job.due_ms = SteadyMs() + (int64_t{first_retry_ms_} << (job.attempt - 1));
      queue_.push_back(std::move(job));
    }
  }
}

}  // namespace sluice::control
