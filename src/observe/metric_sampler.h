// Feeds a MetricHistory: one thread that wakes at each multiple of the history's resolution
// (wall-clock seconds, so data points line up with CloudWatch's minute boundaries), reads
// the totals and records them, then runs the after-sample hook (the alarms).
//
// Control plane. Start and Stop on the owning thread; `collect` and `after` run on the
// sampler's thread and must be safe there (CollectTotals reads the workers' counters with
// relaxed loads; the checker's report takes its own lock).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "observe/metric_history.h"

namespace sluice::observe {

class MetricSampler {
 public:
  using CollectFn = std::function<MetricTotals()>;
  using AfterFn = std::function<void(int64_t now_s)>;

  MetricSampler(MetricHistory* history, CollectFn collect, AfterFn after = nullptr)
      : history_(history), collect_(std::move(collect)), after_(std::move(after)) {}
  ~MetricSampler() { Stop(); }
  MetricSampler(const MetricSampler&) = delete;
  MetricSampler& operator=(const MetricSampler&) = delete;

  void Start();
  void Stop();
  // One sample now (the thread's body; exposed for tests).
  void SampleOnce(int64_t now_s);

 private:
  void Run();
  MetricHistory* history_;
  CollectFn collect_;
  AfterFn after_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sluice::observe
