#include "health/checker.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <map>

#include "http/h1_parser.h"
#include "net/event_loop.h"
#include "net/socket.h"

namespace sluice::health {
namespace {

constexpr size_t kProbeBufferSize = 4096;  // enough for a status line and some headers

std::string KeyOf(const MonitoredTarget& t) { return t.group + "/" + t.address.ToString(); }

}  // namespace

class HealthChecker::Impl {
 public:
  struct Entry;

  // One probe in flight: a non-blocking connect, a request, and the status line back.
  class Probe final : public net::EventHandler {
   public:
    Probe(Impl* impl, Entry* entry, int fd) : impl_(impl), entry_(entry), fd_(fd) {}
    ~Probe() override {
      if (fd_ >= 0) close(fd_);
    }
    void OnEvents(uint32_t events) override;
    void Abandon() { entry_ = nullptr; }  // the target went away mid-probe
    int fd() const { return fd_; }
    std::string request;
    size_t sent = 0;
    bool connected = false;
    char buf[kProbeBufferSize];
    size_t len = 0;

   private:
    void Finish(const CheckResult& r);
    Impl* impl_;
    Entry* entry_;
    int fd_;
  };

  struct Entry {
    MonitoredTarget target;
    HealthStateMachine machine{5, 2, true};
    std::optional<StatusMatcher> matcher;
    int64_t next_check_ms = 0;
    int64_t probe_deadline_ms = 0;
    Probe* probe = nullptr;
    size_t order = 0;  // configuration order, for reports
  };

  void Run() {
    loop.SetWakeHandler([this] { ApplyUpdate(); });
    ApplyUpdate();
    loop.Run(100, [this] { Tick(); });
  }

  void ApplyUpdate();
  void Tick();
  void StartProbe(Entry& e);
  void Finish(Entry& e, const CheckResult& r);
  void Publish(Entry& e);
  void PublishReport();

  net::EventLoop loop;
  std::map<std::string, std::unique_ptr<Entry>> entries;  // by group/address

  mutable std::mutex mu;               // guards pending, the sequence numbers and report
  std::condition_variable applied_cv;  // signalled when applied_seq moves
  std::optional<std::vector<MonitoredTarget>> pending;
  uint64_t pending_seq = 0;  // sequence number of the last Update()
  uint64_t applied_seq = 0;  // of the last update whose targets are in `report`
  std::vector<TargetGroupHealth> report;
  bool stopping = false;
  std::thread thread;
};

void HealthChecker::Impl::Probe::OnEvents(uint32_t events) {
  if (entry_ == nullptr) return;
  if (!connected) {
    int err = net::SocketError(fd_);
    if (err != 0) {
      Finish({CheckOutcome::kFailed, 0});
      return;
    }
    if (!(events & EPOLLOUT)) return;
    connected = true;
    if (entry_->target.check.protocol == "TCP") {
      Finish({CheckOutcome::kSuccess, 0});
      return;
    }
  }
  while (sent < request.size()) {
    ssize_t n = send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    Finish({CheckOutcome::kFailed, 0});
    return;
  }
  while (true) {
    if (len == sizeof(buf)) break;
    ssize_t n = recv(fd_, buf + len, sizeof(buf) - len, 0);
    if (n > 0) {
      len += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    break;  // EOF or error: judge what arrived
  }
  // The verdict needs only the status line.
  std::string_view got(buf, len);
  size_t eol = got.find('\n');
  if (eol == std::string_view::npos) {
    if (len == sizeof(buf) || (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
      Finish({CheckOutcome::kFailed, 0});
    }
    return;
  }
  std::string_view line = got.substr(0, eol);
  int status = 0;
  if (line.size() >= 12 && line.substr(0, 7) == "HTTP/1." && line[8] == ' ') {
    for (size_t i = 9; i < 12; ++i) {
      if (line[i] < '0' || line[i] > '9') {
        status = -1;
        break;
      }
      status = status * 10 + (line[i] - '0');
    }
  } else {
    status = -1;
  }
  if (status < 100) {
    Finish({CheckOutcome::kFailed, 0});
  } else if (entry_->matcher && entry_->matcher->Matches(status)) {
    Finish({CheckOutcome::kSuccess, status});
  } else {
    Finish({CheckOutcome::kCodeMismatch, status});
  }
}

void HealthChecker::Impl::Probe::Finish(const CheckResult& r) {
  Entry* e = entry_;
  entry_ = nullptr;
  impl_->Finish(*e, r);
}

void HealthChecker::Impl::ApplyUpdate() {
  std::optional<std::vector<MonitoredTarget>> next;
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stopping) {
      loop.Stop();
      return;
    }
    next.swap(pending);
    seq = pending_seq;
  }
  if (!next) return;
  std::map<std::string, std::unique_ptr<Entry>> kept;
  int64_t now = net::MonotonicMillis();
  size_t order = 0;
  for (MonitoredTarget& t : *next) {
    std::string key = KeyOf(t);
    std::unique_ptr<Entry> e;
    if (auto it = entries.find(key); it != entries.end()) {
      e = std::move(it->second);
      entries.erase(it);
    } else {
      e = std::make_unique<Entry>();
      e->machine = HealthStateMachine(t.check.healthy_threshold, t.check.unhealthy_threshold,
                                      t.check.enabled);
      // The first check of a new target runs at once, so that it is in service (or known to
      // be out) as early as possible; later ones keep a stable per-target phase inside the
      // interval (see StartProbe), which spreads them.
      e->next_check_ms = now;
    }
    if (!t.draining && e->machine.state() == TargetState::kDraining) {
      // Registered again while draining: it starts over as a new registration.
      e->machine = HealthStateMachine(t.check.healthy_threshold, t.check.unhealthy_threshold,
                                      t.check.enabled);
      e->next_check_ms = now;
    }
    e->machine.SetThresholds(t.check.healthy_threshold, t.check.unhealthy_threshold);
    e->matcher = StatusMatcher::Parse(t.check.matcher);
    if (t.draining && e->machine.state() != TargetState::kDraining) e->machine.OnDeregistered();
    e->target = std::move(t);
    e->order = order++;
    Publish(*e);
    kept[key] = std::move(e);
  }
  for (auto& [key, e] : entries) {
    if (e->probe != nullptr) {
      e->probe->Abandon();
      loop.Remove(e->probe->fd());
      loop.DeferDelete(e->probe);
    }
  }
  entries = std::move(kept);
  PublishReport();
  {
    std::lock_guard<std::mutex> lock(mu);
    applied_seq = seq;
  }
  applied_cv.notify_all();
  Tick();  // start the first checks of new targets now, not at the next tick
}

void HealthChecker::Impl::Tick() {
  int64_t now = loop.now_ms();
  bool changed = false;
  for (auto& [key, e] : entries) {
    if (e->target.draining) continue;
    if (e->probe != nullptr) {
      if (now >= e->probe_deadline_ms) {
        Probe* p = e->probe;
        p->Abandon();
        e->probe = nullptr;
        loop.Remove(p->fd());
        loop.DeferDelete(p);
        Finish(*e, {CheckOutcome::kTimeout, 0});
        changed = true;
      }
      continue;
    }
    if (!e->target.check.enabled || now < e->next_check_ms) continue;
    StartProbe(*e);
    changed = true;
  }
  if (changed) PublishReport();
}

void HealthChecker::Impl::StartProbe(Entry& e) {
  int64_t now = loop.now_ms();
  int64_t interval = static_cast<int64_t>(e.target.check.interval_seconds) * 1000;
  // A fixed schedule: the next check is due at this target's own phase of the interval,
  // whatever this one takes (ALB: response time does not shift the schedule), so that the
  // checks of many targets stay spread over the whole interval instead of bunching up.
  // At least half an interval after this one: the check made at registration is not followed
  // at once by the first phase-aligned one; from then on checks are exactly one interval apart.
  int64_t phase = InitialCheckOffsetMs(KeyOf(e.target), interval);
  int64_t earliest = now + interval / 2;
  int64_t next = earliest - (earliest % interval) + phase;
  while (next < earliest) next += interval;
  e.next_check_ms = next;
  e.probe_deadline_ms = now + static_cast<int64_t>(e.target.check.timeout_seconds) * 1000;
  e.machine.OnCheckStarted();
  SocketAddress addr = e.target.address;
  addr.port = e.target.check_port;
  auto fd = net::ConnectNonBlocking(addr);
  if (!fd.ok()) {
    Finish(e, {CheckOutcome::kFailed, 0});
    return;
  }
  auto* p = new Probe(this, &e, fd.value());
  if (e.target.check.protocol != "TCP") {
    std::string host = addr.ToString();
    p->request = "GET " + e.target.check.path + " HTTP/1.1\r\nHost: " + host +
                 "\r\nUser-Agent: ELB-HealthChecker/2.0\r\nAccept: */*\r\n"
                 "Connection: close\r\n\r\n";
  }
  if (!loop.Add(fd.value(), p)) {
    delete p;
    Finish(e, {CheckOutcome::kFailed, 0});
    return;
  }
  e.probe = p;
}

void HealthChecker::Impl::Finish(Entry& e, const CheckResult& r) {
  if (e.probe != nullptr) {
    Probe* p = e.probe;
    e.probe = nullptr;
    loop.Remove(p->fd());
    loop.DeferDelete(p);
  }
  bool was_routable = e.machine.routable();
  e.machine.OnResult(r);
  if (!was_routable && e.machine.routable() && e.target.slow_start_seconds > 0) {
    // Slow start only when some other target of the group is already in service.
    bool others = false;
    for (auto& [key, o] : entries) {
      if (o.get() != &e && o->target.group == e.target.group && o->machine.routable()) {
        others = true;
        break;
      }
    }
    e.target.stats->slow_start_since_ms.store(others ? net::MonotonicMillis() : 0);
  }
  Publish(e);
  PublishReport();
}

void HealthChecker::Impl::Publish(Entry& e) {
  bool routable = e.machine.routable() || (!e.target.check.enabled && !e.target.draining);
  e.target.stats->routable.store(routable, std::memory_order_relaxed);
  if (!e.machine.routable()) e.target.stats->slow_start_since_ms.store(0);
}

void HealthChecker::Impl::PublishReport() {
  std::vector<const Entry*> ordered(entries.size());
  size_t i = 0;
  for (auto& [key, e] : entries) ordered[i++] = e.get();
  std::sort(ordered.begin(), ordered.end(),
            [](const Entry* a, const Entry* b) { return a->order < b->order; });
  std::vector<TargetGroupHealth> out;
  for (const Entry* e : ordered) {
    if (out.empty() || out.back().group != e->target.group) {
      out.push_back({e->target.group, {}});
    }
    TargetHealthRow row;
    row.id = e->target.id;
    row.port = e->target.address.port;
    row.health_check_port = std::to_string(e->target.check_port);
    row.state = e->machine.state();
    row.reason = e->machine.reason();
    row.description = Describe(row.reason, e->machine.last_status_code());
    out.back().targets.push_back(std::move(row));
  }
  std::lock_guard<std::mutex> lock(mu);
  report = std::move(out);
}

HealthChecker::HealthChecker() : impl_(std::make_unique<Impl>()) {}

HealthChecker::~HealthChecker() { Stop(); }

void HealthChecker::Start() {
  impl_->thread = std::thread([this] { impl_->Run(); });
}

void HealthChecker::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->loop.Wake();
  if (impl_->thread.joinable()) impl_->thread.join();
}

uint64_t HealthChecker::Update(std::vector<MonitoredTarget> targets) {
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->pending = std::move(targets);
    seq = ++impl_->pending_seq;
  }
  impl_->loop.Wake();
  return seq;
}

bool HealthChecker::WaitForUpdate(uint64_t seq, int timeout_ms) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->applied_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                    [&] { return impl_->applied_seq >= seq; });
}

bool HealthChecker::WaitForInitialChecks(int timeout_ms) const {
  int64_t deadline = net::MonotonicMillis() + timeout_ms;
  // Until the checker thread has taken the latest update the report is empty (or stale), and
  // an empty report has no target in `initial`: wait for it first.
  uint64_t latest = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    latest = impl_->pending_seq;
  }
  if (!WaitForUpdate(latest, timeout_ms)) return false;
  while (true) {
    bool pending = false;
    for (const TargetGroupHealth& g : Report()) {
      for (const TargetHealthRow& r : g.targets) {
        if (r.state == TargetState::kInitial) pending = true;
      }
    }
    if (!pending) return true;
    if (net::MonotonicMillis() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::vector<TargetGroupHealth> HealthChecker::Report() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->report;
}

}  // namespace sluice::health
