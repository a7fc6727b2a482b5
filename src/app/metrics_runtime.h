// The metric history, its sampler, the alarms judged after each sample and the webhook
// sender that delivers their notifications, wired together for the server (app/server.cc).
//
// Control plane. Construct, Attach and Start on the main thread before serving; Apply on the
// control thread after each reload or API change; Stop before the workers are freed (the
// sampler reads their counters). The admin endpoint must be stopped before this is destroyed.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "config/model.h"
#include "control/admin_server.h"
#include "control/alarms.h"
#include "control/webhook.h"
#include "observe/metric_history.h"
#include "observe/metric_sampler.h"

namespace sluice::app {

class MetricsRuntime {
 public:
  using LogFn = std::function<void(const std::string&)>;
  MetricsRuntime(const config::Config& config, observe::MetricSampler::CollectFn collect,
                 LogFn log);
  // GET /cloudwatch and GET /alarms on the admin endpoint.
  void Attach(control::AdminServer& admin);
  void Start();
  void Apply(const config::Config& config);
  void Stop();
  const observe::MetricHistory& history() const { return history_; }

 private:
  void AfterSample(int64_t now_s);
  LogFn log_;
  observe::MetricHistory history_;
  control::Alarms alarms_;
  control::WebhookSender webhooks_;
  std::mutex account_mu_;
  std::string account_;
  std::string region_;
  observe::MetricSampler sampler_;  // last: destroyed (stopped) first
};

}  // namespace sluice::app
