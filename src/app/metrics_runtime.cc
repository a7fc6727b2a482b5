#include "app/metrics_runtime.h"

#include "api/cloudwatch.h"

namespace sluice::app {

MetricsRuntime::MetricsRuntime(const config::Config& config,
                               observe::MetricSampler::CollectFn collect, LogFn log)
    : log_(std::move(log)),
      history_(config.admin.metrics_resolution_seconds, 3600),
      webhooks_(log_),
      sampler_(&history_, std::move(collect), [this](int64_t now_s) { AfterSample(now_s); }) {
  Apply(config);
}

void MetricsRuntime::Attach(control::AdminServer& admin) {
  admin.set_cloudwatch([this](std::string_view query) {
    api::CloudWatchReply r = api::CloudWatchJson(history_, query);
    return std::make_pair(r.status, std::move(r.json));
  });
  admin.set_alarms([this] { return alarms_.DescribeJson(); });
}

void MetricsRuntime::Start() {
  webhooks_.Start();
  sampler_.Start();
}

void MetricsRuntime::Stop() {
  sampler_.Stop();  // no more alarm changes
  webhooks_.Stop();
}

void MetricsRuntime::Apply(const config::Config& config) {
  {
    std::lock_guard<std::mutex> lock(account_mu_);
    account_ = config.account.id;
    region_ = config.account.region;
  }
  for (const std::string& name : alarms_.Apply(config.alarms, history_.resolution_s())) {
    log_("alarm " + name + " is not checked: its Period is not a multiple of the running " +
         "metrics resolution (" + std::to_string(history_.resolution_s()) +
         " s); Admin.MetricsResolutionSeconds changes apply at restart");
  }
}

// Sampler thread: judge the alarms on the sample just recorded; log and notify each change.
void MetricsRuntime::AfterSample(int64_t now_s) {
  std::vector<control::AlarmChange> changes = alarms_.Evaluate(history_, now_s);
  if (changes.empty()) return;
  std::string account, region;
  {
    std::lock_guard<std::mutex> lock(account_mu_);
    account = account_;
    region = region_;
  }
  for (const control::AlarmChange& c : changes) {
    log_("alarm " + c.alarm.name + ": " + control::AlarmStateName(c.old_state) + " -> " +
         control::AlarmStateName(c.new_state) + ": " + c.reason);
    if (!c.alarm.actions_enabled) continue;
    const std::vector<std::string>& actions =
        c.new_state == control::AlarmState::kAlarm ? c.alarm.alarm_actions
        : c.new_state == control::AlarmState::kOk  ? c.alarm.ok_actions
                                                   : c.alarm.insufficient_data_actions;
    if (actions.empty()) continue;
    const std::string body = control::NotificationJson(c, region, account);
    for (const std::string& url : actions) webhooks_.Enqueue(url, body);
  }
}

}  // namespace sluice::app
