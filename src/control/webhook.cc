#include "control/webhook.h"

#include <unistd.h>

#include <chrono>

#include "config/webhook_url.h"
#include "control/blocking_http.h"

namespace sluice::control {

PostResult PostJson(const std::string& url, const std::string& body, int timeout_ms) {
  const int64_t deadline_ms = SteadyMs() + timeout_ms;
  PostResult r;
  config::HttpUrl u;
  if (!config::ParseHttpUrl(url, &u, &r.error)) return r;
  auto c = BlockingConnection::Open(u.host, u.port, u.tls, timeout_ms, &r.error);
  if (c == nullptr) return r;
  std::string request = "POST " + u.path + " HTTP/1.1\r\nHost: " + HostHeader(u.host, u.port) +
                        "\r\nContent-Type: application/json\r\nUser-Agent: sluice-alarms\r\n"
                        "Content-Length: " +
                        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  if (c->Send(request, &r.error)) r.status = c->ReadStatus(deadline_ms, &r.error);
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
