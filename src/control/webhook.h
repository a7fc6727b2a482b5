// Delivers alarm notifications: POSTs JSON bodies to http:// and https:// URLs (the server's
// certificate verified, control/blocking_http.h) from one thread, with
// retries (after 1, 2 and 4 s; 4 attempts in all, each with a 5 s timeout). A full queue
// drops the newest notification and counts it; every failed attempt is logged.
//
// Control plane. Enqueue from any thread (the sampler's); the sender's own thread does the
// network I/O with blocking sockets; Stop joins it, abandoning what is still queued.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace sluice::control {

// The outcome of one POST: the HTTP status (2xx is success), or 0 with the reason.
struct PostResult {
  int status = 0;
  std::string error;
};

// One POST of `body` to `url` (http[s]://host[:port]/path), blocking: `timeout_ms` bounds the
// connection (per address) and each write, and the response must have its status line
// within `timeout_ms` of the start. Name resolution is not bounded (use an IP address for a
// webhook that must never delay shutdown). Exposed for tests.
PostResult PostJson(const std::string& url, const std::string& body, int timeout_ms);

class WebhookSender {
 public:
  using LogFn = std::function<void(const std::string&)>;
  struct Stats {
    uint64_t delivered = 0;
    uint64_t failed = 0;   // gave up after the last attempt
    uint64_t dropped = 0;  // the queue was full
  };
  static constexpr size_t kMaxQueued = 1000;
  static constexpr int kAttempts = 4;

  explicit WebhookSender(LogFn log, int first_retry_ms = 1000)
      : log_(std::move(log)), first_retry_ms_(first_retry_ms) {}
  ~WebhookSender() { Stop(); }
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  void Start();
  void Stop();
  void Enqueue(std::string url, std::string body);
  Stats stats() const;

 private:
  struct Job {
    std::string url;
    std::string body;
    int attempt = 0;
    int64_t due_ms = 0;  // steady clock
  };
  void Run();
  LogFn log_;
  const int first_retry_ms_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  Stats stats_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sluice::control
