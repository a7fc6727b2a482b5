#include "health/checker.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include "health/checker_impl.h"
#include "net/event_loop.h"

namespace sluice::health {

HealthChecker::Impl::Impl(const CheckerOptions& options)
    : max_probes(options.max_probes > 0 ? options.max_probes : ProbeSocketBudgetFromRlimit()),
      publish_interval_ms(std::max(0, options.publish_interval_ms)) {
  probes_.resize(static_cast<size_t>(max_probes));  // never resized: handlers stay put
  for (uint32_t s = 0; s < probes_.size(); ++s) probes_[s].events.Bind(this, s);
  for (uint32_t s = static_cast<uint32_t>(max_probes); s > 0; --s) free_probes_.push_back(s - 1);
  loop.SetWakeHandler([this] { wake_pending_ = true; });
  report = std::make_shared<const std::vector<std::shared_ptr<const TargetGroupHealth>>>();
}

HealthChecker::Impl::~Impl() {
  for (Probe& p : probes_) p.stream.reset();
}

void HealthChecker::Impl::CountError(const char* what, int err) {
  // Rare and not fatal to the checker; counted for tests and reported once per kind of call.
  if (system_call_errors.fetch_add(1) < 8) {
    std::fprintf(stderr, "sluice: health checker: %s: %s\n", what, std::strerror(err));
  }
}

// The thread's loop: probe streams' readiness and the wake-up from the event loop, the timer
// heap for due checks and deadlines, and the publishing deadline.
void HealthChecker::Impl::Run() {
  while (loop.RunOnce(WaitMs(net::MonotonicMillis()))) {
    const int64_t now = loop.now_ms();
    if (wake_pending_) {
      wake_pending_ = false;
      if (!HandleWake(now)) return;
    }
    RunDueTimers(now);
    StartQueued(now);
    MaybePublish(now);
  }
  if (!loop.ok()) {  // epoll_wait failed: nothing more can be checked
    system_call_errors.fetch_add(1);
    std::fprintf(stderr, "sluice: health checker: %s\n", loop.error().c_str());
  }
}

// Stops (returns false) or applies the pending update.
bool HealthChecker::Impl::HandleWake(int64_t now) {
  std::optional<MonitoredSet> next;
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stopping) return false;
    next.swap(pending);
    seq = pending_seq;
  }
  if (next) ApplyUpdate(std::move(*next), seq, now);
  return true;
}

int HealthChecker::Impl::WaitMs(int64_t now) const {
  int64_t next = now + 1000;
  if (!heap_.empty()) next = std::min(next, heap_.top_due());
  if (!queue_.empty() && in_flight_ < max_probes) next = std::min(next, paused_until_ms_);
  if (dirty_) next = std::min(next, last_publish_ms_ + publish_interval_ms);
  return static_cast<int>(std::clamp<int64_t>(next - now, 0, 1000));
}

HealthChecker::HealthChecker(CheckerOptions options) : impl_(std::make_unique<Impl>(options)) {
  if (!impl_->loop.ok()) {
    impl_->system_call_errors.fetch_add(1);
    std::fprintf(stderr, "sluice: health checker: %s\n", impl_->loop.error().c_str());
  }
}

HealthChecker::~HealthChecker() { Stop(); }

void HealthChecker::set_check_log_sink(CheckLogSink sink) {
  impl_->check_log_sink = std::move(sink);
}

bool HealthChecker::Start() {
  if (!impl_->loop.ok()) return false;  // reported by the constructor
  try {
    impl_->thread = std::thread([this] { impl_->Run(); });
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "sluice: health checker: cannot start its thread: %s\n", e.what());
    return false;
  }
  return true;
}

void HealthChecker::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->loop.Wake();
  if (impl_->thread.joinable()) impl_->thread.join();
}

namespace {

// `newer` keeps groups as the update before it left them; `older`, that update, was never
// taken. Each group `newer` keeps and `older` lists takes older's listing (its targets are
// moved over), and a kept group older does not have becomes empty, as the checker would have
// it after older. O(older's targets).
void ComposeOnto(MonitoredSet& newer, MonitoredSet& older) {
  if (newer.kept.empty()) return;  // a whole set: nothing of older's counts
  std::unordered_map<std::string_view, size_t> older_named;
  for (size_t g = 0; g < older.groups.size(); ++g) older_named.emplace(older.groups[g].name, g);
  std::vector<int64_t> taken_by(older.groups.size(), -1);  // older group → newer group
  for (size_t g = 0; g < newer.groups.size() && g < newer.kept.size(); ++g) {
    if (!newer.kept[g]) continue;
    auto it = older_named.find(newer.groups[g].name);
    if (it != older_named.end() && it->second < older.kept.size() && older.kept[it->second]) {
      continue;  // kept by both: what the checker holds
    }
    newer.kept[g] = false;
    if (it != older_named.end()) taken_by[it->second] = static_cast<int64_t>(g);
  }
  for (MonitoredTarget& t : older.targets) {
    if (t.group >= taken_by.size() || taken_by[t.group] < 0) continue;
    t.group = static_cast<size_t>(taken_by[t.group]);
    newer.targets.push_back(std::move(t));
  }
}

}  // namespace

uint64_t HealthChecker::Update(MonitoredSet set) {
  uint64_t seq = 0;
  std::optional<MonitoredSet> replaced;  // freed outside the lock
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->pending) ComposeOnto(set, *impl_->pending);
    replaced.swap(impl_->pending);
    impl_->pending = std::move(set);
    seq = ++impl_->pending_seq;
  }
  impl_->loop.Wake();
  return seq;
}

bool HealthChecker::WaitForUpdate(uint64_t seq, int timeout_ms) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->published.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                   [&] { return impl_->applied_seq >= seq; });
}

bool HealthChecker::WaitForInitialChecks(int timeout_ms) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  // Until the checker thread has taken the latest update the report is empty (or stale), and
  // an empty report has no target in `initial`: wait for that update too.
  uint64_t latest = impl_->pending_seq;
  return impl_->published.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return impl_->applied_seq >= latest && impl_->report_initial == 0;
  });
}

std::vector<TargetGroupHealth> HealthChecker::Report() const {
  std::shared_ptr<const std::vector<std::shared_ptr<const TargetGroupHealth>>> r;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    r = impl_->report;
  }
  std::vector<TargetGroupHealth> copy;  // copied outside the lock
  copy.reserve(r->size());
  for (const std::shared_ptr<const TargetGroupHealth>& g : *r) copy.push_back(*g);
  std::lock_guard<std::mutex> lock(impl_->packets_mu);
  for (TargetGroupHealth& g : copy) {
    auto it = impl_->packets_by_group.find(g.group);
    if (it != impl_->packets_by_group.end()) g.check_packets = it->second->load();
  }
  return copy;
}

CheckerStats HealthChecker::Stats() const {
  CheckerStats s;
  s.max_probes = impl_->max_probes;
  s.probes_started = impl_->probes_started.load();
  s.probes_deferred = impl_->probes_deferred.load();
  s.max_probes_in_flight = impl_->max_in_flight.load();
  s.reports_published = impl_->reports_published.load();
  s.system_call_errors = impl_->system_call_errors.load();
  return s;
}

}  // namespace sluice::health
