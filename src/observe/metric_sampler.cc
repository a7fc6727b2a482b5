#include "observe/metric_sampler.h"

#include <chrono>

namespace sluice::observe {

void MetricSampler::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void MetricSampler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MetricSampler::SampleOnce(int64_t now_s) {
  history_->Record(now_s, collect_());
  if (after_) after_(now_s);
}

void MetricSampler::Run() {
  using std::chrono::system_clock;
  const int64_t resolution = history_->resolution_s();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    const int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(system_clock::now().time_since_epoch())
            .count();
    const int64_t next = (now / resolution + 1) * resolution;
    // The wall clock may step: wait_until re-checks it, and a sample is taken only once the
    // boundary has passed.
    if (wake_.wait_until(lock, system_clock::time_point(std::chrono::seconds(next)),
                         [this] { return stop_; })) {
      break;
    }
    lock.unlock();
    SampleOnce(next);
    lock.lock();
  }
}

}  // namespace sluice::observe
