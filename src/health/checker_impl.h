// The health checker's internals, shared by checker.cc (thread, loop, public API),
// checker_update.cc (applying a new monitored set) and checker_probes.cc (starting and
// finishing checks, the live report). Private to src/health.
//
// Threads: everything in Impl marked "checker thread" is touched only by the checker thread
// (after Start; before it, only by the constructor). The members under `mu` are shared with
// the control thread (Update, Wait*) and the admin thread (Report). Lifetime: Impl is owned by
// HealthChecker and outlives its thread (Stop joins it).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "health/checker.h"
#include "health/probe.h"
#include "health/probe_h2.h"
#include "health/schedule.h"
#include "net/event_loop.h"
#include "net/tcp_transport.h"
#include "net/tls_transport.h"

namespace sluice::health {

// After a probe could not get a socket (EMFILE...), no probe starts for this long; the checks
// that fall due meanwhile wait in the queue. Not a verdict on any target.
inline constexpr int64_t kLocalShortageBackoffMs = 250;

class HealthChecker::Impl {
 public:
  // A target group, with what its checks need parsed once.
  struct Group {
    std::string name;
    config::HealthCheck check;
    std::optional<StatusMatcher> matcher;
    std::optional<StatusMatcher> grpc_matcher;  // GRPC groups: Matcher.GrpcCode
    CheckVersion version = CheckVersion::kHttp1;
    int slow_start_seconds = 0;
    bool in_use = true;
    bool tcp = false;
    // Send PROXY v2's LOCAL header first: before the request (HTTP), as the only bytes (TCP),
    // in the clear before the handshake (HTTPS).
    bool proxy_protocol_v2 = false;
    std::shared_ptr<const tls::ClientContext> tls;  // HTTPS checks only
    int64_t interval_ms = 0;
    int64_t timeout_ms = 0;
    uint32_t routable = 0;  // its targets whose machine is routable (for slow start)
    std::vector<CheckLogStream> check_logs;  // health-check logs (empty: none)
    std::string log_group_id;
    std::shared_ptr<std::atomic<uint64_t>> packets;  // packets_by_group's counter for `name`
    // Its targets, as slots of entries_, in report order (an entry's `row`).
    std::vector<uint32_t> members;
    // Its part of the live report, updated row by row, and the copy last published; dirty:
    // `rows` changed since (Publish copies only the dirty groups).
    TargetGroupHealth rows;
    std::shared_ptr<const TargetGroupHealth> published;
    bool dirty = true;
    size_t initial_rows = 0;  // rows in state initial
  };

  // A monitored target. Lives in a slot of entries_, which it keeps across updates (the timer
  // heap, the queue and probes refer to it by slot); a free slot has live == false.
  struct Entry {
    std::string id;
    SocketAddress address;
    std::shared_ptr<balancer::TargetStats> stats;
    HealthStateMachine machine{5, 2, true};
    int64_t next_check_ms = 0;
    int64_t phase_ms = 0;    // this target's phase of the interval
    int64_t started_ms = 0;  // loop time the last check started (health-check log latency)
    uint32_t group = 0;
    uint32_t row = 0;    // index in groups_[group].members and .rows.targets
    int32_t probe = -1;  // slot in probes_ while a check is in flight
    uint16_t check_port = 0;
    bool draining = false;
    bool live = false;
  };

  // Receives a probe slot's readiness from the loop (its stream is watched with it).
  class ProbeEvents final : public net::EventHandler {
   public:
    void Bind(Impl* impl, uint32_t slot) {
      impl_ = impl;
      slot_ = slot;
    }
    void OnEvents(uint32_t events) override { impl_->OnProbeEvents(slot_, events); }

   private:
    Impl* impl_ = nullptr;
    uint32_t slot_ = 0;
  };

  // A check in flight. Slots are reused, but never within one batch of events (checks start
  // after the batch), so an event for a slot whose stream is gone is a stale one.
  struct Probe {
    std::unique_ptr<net::Transport> stream;  // TCP or TLS; null while the slot is free
    uint32_t entry = 0;
    int64_t deadline_ms = 0;
    ProbeIo io;    // TCP and HTTP/1.1 checks
    H2ProbeIo h2;  // HTTP/2 checks (HTTP2 and GRPC groups): active while one is in flight
    ProbeEvents events;
  };

  explicit Impl(const CheckerOptions& options);
  ~Impl();

  // Checker thread: the loop (checker.cc).
  void Run();
  bool HandleWake(int64_t now);
  int WaitMs(int64_t now) const;
  // Any thread: counts an unexpected system call failure and reports the first few.
  void CountError(const char* what, int err);

  // Checker thread: applying a new monitored set (checker_update.cc).
  void ApplyUpdate(MonitoredSet set, uint64_t seq, int64_t now);
  void TakeGroups(std::vector<MonitoredGroup>& groups);
  bool KeepGroup(Group& old, size_t g, std::vector<uint32_t>& fresh);
  bool Adopt(MonitoredTarget& t, bool was_active, int64_t old_interval_ms, Entry& e);
  uint32_t NewSlot();
  void FreeSlot(uint32_t slot);
  void RebuildGroup(size_t g, int64_t now);
  void RequeueStillDue(const std::deque<uint32_t>& queued);
  void ScheduleFirstChecks(const std::vector<uint32_t>& fresh, int64_t now);
  bool Schedulable(const Entry& e) const;  // checked now: used group, checks on, not draining

  // Checker thread: checks and the live report (checker_probes.cc).
  void RunDueTimers(int64_t now);
  void StartQueued(int64_t now);
  bool StartProbe(uint32_t i, int64_t now);
  bool AttachProbe(uint32_t i, int fd, int64_t now);
  std::unique_ptr<net::Transport> OpenStream(const Entry& e, const Group& g, int fd);
  bool StartRequest(Probe& p, const Entry& e, const Group& g);
  void OnProbeEvents(uint32_t slot, uint32_t events);
  void Finish(uint32_t i, const CheckResult& r);
  void ReleaseProbe(Entry& e);
  void PublishTarget(const Entry& e) const;
  void VisibleState(const Entry& e, TargetState* state, Reason* reason, int* code) const;
  int64_t UnhealthyDrainingUntilMs(const Entry& e, TargetState state) const;
  void UpdateRow(const Entry& e);
  void MaybePublish(int64_t now);
  void Publish(int64_t now, uint64_t applied_seq);

  // Set before Start, read-only afterwards (checker thread calls it).
  CheckLogSink check_log_sink;

  // Set by the constructor, read-only afterwards.
  const int max_probes;           // the probe socket budget
  const int publish_interval_ms;  // see CheckerOptions
  // The checker thread's loop: probe streams are watched in it; Update and Stop wake it
  // (Wake is thread-safe). Declared before probes_: their streams leave it as they close.
  net::EventLoop loop;

  // Checker thread only.
  std::vector<Group> groups_;
  std::vector<Entry> entries_;        // by slot
  std::vector<uint32_t> free_slots_;  // slots of entries_ to reuse
  std::vector<Probe> probes_;         // max_probes slots
  std::vector<uint32_t> free_probes_;
  bool wake_pending_ = false;  // the loop was woken: look at `pending` and `stopping`
  int in_flight_ = 0;
  TimerHeap heap_;               // next check, or the deadline of the check in flight
  std::deque<uint32_t> queue_;   // due checks waiting for a probe slot
  int64_t paused_until_ms_ = 0;  // local shortage back-off
  size_t initial_rows_ = 0;      // rows of the live report in state initial
  bool dirty_ = false;           // some group's rows changed since the last publish
  int64_t last_publish_ms_ = 0;

  // Shared with other threads.
  mutable std::mutex mu;              // guards everything down to `stopping`
  std::condition_variable published;  // signalled at every publish
  std::optional<MonitoredSet> pending;
  uint64_t pending_seq = 0;  // sequence number of the last Update()
  uint64_t applied_seq = 0;  // of the last update whose targets are in `report`
  std::shared_ptr<const std::vector<std::shared_ptr<const TargetGroupHealth>>> report;
  size_t report_initial = 0;  // rows of `report` in state initial
  bool stopping = false;
  std::thread thread;

  // Each group's check packets by name, kept across updates (a group that comes back goes on
  // counting). The counters are bumped by the checker thread, read by Report().
  mutable std::mutex packets_mu;  // guards the map, not the counters
  std::unordered_map<std::string, std::shared_ptr<std::atomic<uint64_t>>> packets_by_group;

  // Counters for Stats(): written by the checker thread, read by any.
  std::atomic<uint64_t> probes_started{0};
  std::atomic<uint64_t> probes_deferred{0};
  std::atomic<uint64_t> max_in_flight{0};
  std::atomic<uint64_t> reports_published{0};
  std::atomic<uint64_t> system_call_errors{0};
};

}  // namespace sluice::health
