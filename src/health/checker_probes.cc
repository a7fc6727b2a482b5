#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>

#include "health/checker_impl.h"
#include "net/event_loop.h"
#include "nlb/proxy_protocol.h"

namespace sluice::health {

namespace {

// PROXY protocol v2's LOCAL command (no addresses): what NLB's health checks send first to a
// group with proxy_protocol_v2.enabled (reference §8.7).
std::string_view LocalProxyHeader() {
  static const std::string header = [] {
    uint8_t bytes[16];
    const size_t n = nlb::EncodeProxyV2Local(bytes);
    return std::string(reinterpret_cast<const char*>(bytes), n);
  }();
  return header;
}

}  // namespace

// Due checks join the queue; checks in flight past their deadline time out.
void HealthChecker::Impl::RunDueTimers(int64_t now) {
  while (!heap_.empty() && heap_.top_due() <= now) {
    uint32_t i = heap_.Pop();
    if (entries_[i].probe >= 0) {
      Finish(i, {CheckOutcome::kTimeout, 0});
    } else {
      queue_.push_back(i);
    }
  }
}

// Starts queued checks while the socket budget allows and no local shortage is being waited
// out.
void HealthChecker::Impl::StartQueued(int64_t now) {
  while (!queue_.empty() && in_flight_ < max_probes && now >= paused_until_ms_) {
    uint32_t i = queue_.front();
    queue_.pop_front();
    if (!StartProbe(i, now)) {
      queue_.push_front(i);  // first in line once the back-off has passed
      break;
    }
  }
}

// Returns false when this host is short of descriptors (or other socket resources): no
// check started, no verdict, retried after kLocalShortageBackoffMs.
bool HealthChecker::Impl::StartProbe(uint32_t i, int64_t now) {
  Entry& e = entries_[i];
  const Group& g = groups_[e.group];
  SocketAddress to = e.address;
  to.port = e.check_port;
  OpenedSocket s = OpenProbeSocket(to);
  if (s.status == OpenStatus::kLocalShortage ||
      (s.status == OpenStatus::kOpened && !AttachProbe(i, s.fd, now))) {
    probes_deferred.fetch_add(1, std::memory_order_relaxed);
    paused_until_ms_ = now + kLocalShortageBackoffMs;
    return false;
  }
  probes_started.fetch_add(1, std::memory_order_relaxed);
  e.next_check_ms = NextCheckMs(now, g.interval_ms, e.phase_ms);
  e.machine.OnCheckStarted();
  e.started_ms = now;
  UpdateRow(e);
  if (s.status == OpenStatus::kFailed) Finish(i, {CheckOutcome::kFailed, 0});
  return true;
}

// Puts a connecting socket's stream in a free probe slot, watched by the loop. False (socket
// closed) when no stream can be made or the loop cannot watch it.
bool HealthChecker::Impl::AttachProbe(uint32_t i, int fd, int64_t now) {
  Entry& e = entries_[i];
  const Group& g = groups_[e.group];
  uint32_t slot = free_probes_.back();
  Probe& p = probes_[slot];
  std::unique_ptr<net::Transport> stream = OpenStream(e, g, fd);
  if (stream == nullptr) return false;  // fd closed
  if (!stream->Watch(loop, &p.events)) {
    int err = errno;  // epoll_ctl's
    if (!IsLocalShortage(err) && err != ENOSPC) CountError("epoll_ctl", err);
    return false;  // the stream closes its socket
  }
  if (!StartRequest(p, e, g)) return false;  // the stream closes its socket
  free_probes_.pop_back();
  p.stream = std::move(stream);
  p.entry = i;
  p.deadline_ms = now + g.timeout_ms;
  e.probe = static_cast<int32_t>(slot);
  ++in_flight_;
  if (static_cast<uint64_t>(in_flight_) > max_in_flight.load(std::memory_order_relaxed)) {
    max_in_flight.store(static_cast<uint64_t>(in_flight_), std::memory_order_relaxed);
  }
  heap_.Set(i, p.deadline_ms);
  return true;
}

// Readies slot p's I/O for a check of e: the HTTP/1.1 request (or the PROXY header of a TCP
// check) in p.io, or, for HTTP and HTTPS checks of HTTP2 and GRPC groups, an HTTP/2 session in
// p.h2 whose :authority is what the HTTP/1.1 check sends as Host. False (no check started,
// this host's shortage) when nghttp2 cannot allocate the session.
bool HealthChecker::Impl::StartRequest(Probe& p, const Entry& e, const Group& g) {
  SocketAddress to = e.address;
  to.port = e.check_port;
  if (!g.tcp && g.version != CheckVersion::kHttp1) {
    const std::string authority = to.ToString();
    H2ProbeIo::Request r;
    r.kind = g.version == CheckVersion::kGrpc ? H2CheckKind::kGrpc : H2CheckKind::kHttp2;
    r.tls = g.tls != nullptr;
    r.path = g.check.path;
    r.authority = authority;
    return p.h2.Start(r);
  }
  // (An HTTPS check's header goes before its handshake: OpenStream.)
  p.io.Reset(g.tcp,
             g.proxy_protocol_v2 && g.tls == nullptr ? LocalProxyHeader() : std::string_view());
  if (!g.tcp) {
    p.io.request()
        .append("GET ")
        .append(g.check.path)
        .append(" HTTP/1.1\r\nHost: ")
        .append(to.ToString())
        .append(
            "\r\nUser-Agent: ELB-HealthChecker/2.0\r\nAccept: */*\r\nConnection: close\r\n\r\n");
  }
  return true;
}

// The probe's stream over `fd`: TLS for HTTPS checks (a fresh session each time, as ALB's
// checks use a fresh connection), else TCP. An HTTP/2 check (HTTP2 and GRPC groups) offers
// only "h2" by ALPN. Null (fd closed) when OpenSSL cannot make a session, which is this
// host's shortage, not the target's fault.
std::unique_ptr<net::Transport> HealthChecker::Impl::OpenStream(const Entry& e, const Group& g,
                                                                int fd) {
  if (g.tls == nullptr) return std::make_unique<net::TcpTransport>(fd);
  SocketAddress to = e.address;
  to.port = e.check_port;
  SSL* ssl = g.tls->NewSession(to, tls::ClientContext::kNoSessionSlot);
  static constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};
  // SSL_set_alpn_protos returns 0 on success.
  if (ssl != nullptr && !g.tcp && g.version != CheckVersion::kHttp1 &&
      SSL_set_alpn_protos(ssl, kAlpnH2, sizeof(kAlpnH2)) != 0) {
    SSL_free(ssl);
    ssl = nullptr;
  }
  if (ssl == nullptr) {
    if (int c = CloseProbeSocket(fd); c != 0) CountError("close", c);
    return nullptr;
  }
  auto stream = std::make_unique<net::TlsTransport>(fd, ssl, g.tls);
  if (g.proxy_protocol_v2) stream->SetCleartextPrefix(LocalProxyHeader());
  return stream;
}

void HealthChecker::Impl::OnProbeEvents(uint32_t slot, uint32_t events) {
  Probe& p = probes_[slot];
  if (!p.stream) return;  // an event for a probe that is already over
  const Group& g = groups_[entries_[p.entry].group];
  if (p.h2.active()) {
    const StatusMatcher* http = g.matcher ? &*g.matcher : nullptr;
    const StatusMatcher* grpc = g.grpc_matcher ? &*g.grpc_matcher : nullptr;
    if (std::optional<CheckResult> r = p.h2.OnEvents(*p.stream, events, http, grpc)) {
      Finish(p.entry, *r);
    }
    return;
  }
  auto accepts = [&g](int status) { return g.matcher && g.matcher->Matches(status); };
  if (std::optional<CheckResult> r = p.io.OnEvents(*p.stream, events, accepts)) Finish(p.entry, *r);
}

// Applies a check's result: state machine, routable flag, slow start, report row, next check.
void HealthChecker::Impl::Finish(uint32_t i, const CheckResult& r) {
  Entry& e = entries_[i];
  Group& g = groups_[e.group];
  if (e.probe >= 0 && probes_[e.probe].stream) {  // its packets, before the socket goes
    const net::TcpSegments s = probes_[e.probe].stream->Segments();
    g.packets->fetch_add(s.in + s.out, std::memory_order_relaxed);
  }
  ReleaseProbe(e);
  heap_.Erase(i);
  if (check_log_sink && !g.check_logs.empty()) {
    CheckLogRecord rec;
    rec.streams = &g.check_logs;
    rec.group_id = &g.log_group_id;
    rec.unix_us = loop.unix_ms() * 1000;
    rec.target = e.address;
    rec.target.port = e.check_port;
    rec.connection = g.tcp;
    rec.result = r;
    rec.latency_ms = std::max<int64_t>(0, loop.now_ms() - e.started_ms);
    check_log_sink(rec);
  }
  bool was_routable = e.machine.routable();
  e.machine.OnResult(r);
  bool routable = e.machine.routable();
  if (was_routable != routable) routable ? ++g.routable : --g.routable;
  if (!was_routable && routable && g.slow_start_seconds > 0) {
    // Slow start only when some other target of the group is already in service.
    e.stats->slow_start_since_ms.store(g.routable > 1 ? net::MonotonicMillis() : 0);
  }
  PublishTarget(e);
  UpdateRow(e);
  if (Schedulable(e)) heap_.Set(i, e.next_check_ms);
}

void HealthChecker::Impl::ReleaseProbe(Entry& e) {
  if (e.probe < 0) return;
  Probe& p = probes_[e.probe];
  // Closing takes the stream out of the loop (Unwatch) and closes its socket; an HTTP/2
  // check's session goes with it (a fresh connection per check).
  p.stream.reset();
  p.h2.Close();
  free_probes_.push_back(static_cast<uint32_t>(e.probe));
  --in_flight_;
  e.probe = -1;
}

void HealthChecker::Impl::PublishTarget(const Entry& e) const {
  const Group& g = groups_[e.group];
  bool routable = !e.draining && g.in_use && (e.machine.routable() || !g.check.enabled);
  // Release: a worker that sees the target routable (acquire) also sees its slow-start start.
  e.stats->routable.store(routable, std::memory_order_release);
  if (!e.machine.routable()) e.stats->slow_start_since_ms.store(0);
  // Network load balancers reset (or drain) an unhealthy target's flows (reference §8.6):
  // the workers learn of it from the stats and the transition count.
  const bool unhealthy = g.check.enabled && e.machine.state() == TargetState::kUnhealthy;
  if (unhealthy != (e.stats->unhealthy_since_ms.load(std::memory_order_relaxed) != 0)) {
    e.stats->unhealthy_since_ms.store(unhealthy ? std::max<int64_t>(1, net::MonotonicMillis()) : 0,
                                      std::memory_order_relaxed);
    if (unhealthy) balancer::CountUnhealthyTransition();
  }
}

// Set by PublishTarget before the row is updated; for a row rebuilt later, the stamp of
// the transition it kept.
int64_t HealthChecker::Impl::UnhealthyDrainingUntilMs(const Entry& e, TargetState state) const {
  const int32_t grace = e.stats->unhealthy_flow_grace_ms.load(std::memory_order_relaxed);
  const int64_t since = e.stats->unhealthy_since_ms.load(std::memory_order_relaxed);
  if (state != TargetState::kUnhealthy || grace <= 0 || since == 0) return 0;
  return since + grace;
}

void HealthChecker::Impl::VisibleState(const Entry& e, TargetState* state, Reason* reason,
                                       int* code) const {
  if (!e.draining && !groups_[e.group].in_use) {
    *state = TargetState::kUnused;
    *reason = Reason::kTargetNotInUse;
    *code = 0;
    return;
  }
  *state = e.machine.state();
  *reason = e.machine.reason();
  *code = e.machine.last_status_code();
}

// O(1): one row of the live report; marks the report for publishing if the row changed.
void HealthChecker::Impl::UpdateRow(const Entry& e) {
  Group& g = groups_[e.group];
  TargetHealthRow& row = g.rows.targets[e.row];
  TargetState state;
  Reason reason;
  int code;
  VisibleState(e, &state, &reason, &code);
  if (state == row.state && reason == row.reason && code == row.status_code) return;
  if (row.state == TargetState::kInitial) {
    --initial_rows_;
    --g.initial_rows;
  }
  if (state == TargetState::kInitial) {
    ++initial_rows_;
    ++g.initial_rows;
  }
  if (state != row.state) row.unhealthy_draining_until_ms = UnhealthyDrainingUntilMs(e, state);
  row.state = state;
  row.reason = reason;
  row.status_code = code;
  g.dirty = true;
  dirty_ = true;
}

void HealthChecker::Impl::MaybePublish(int64_t now) {
  if (dirty_ && now >= last_publish_ms_ + publish_interval_ms) Publish(now, 0);
}

// Copies the groups of the live report that changed for readers (outside the lock); the
// others' last copies are shared. applied_seq: the update it carries, or 0.
void HealthChecker::Impl::Publish(int64_t now, uint64_t applied) {
  auto list = std::make_shared<std::vector<std::shared_ptr<const TargetGroupHealth>>>();
  list->reserve(groups_.size());
  for (Group& g : groups_) {
    if (g.dirty || g.published == nullptr) {
      g.published = std::make_shared<const TargetGroupHealth>(g.rows);
      g.dirty = false;
    }
    list->push_back(g.published);
  }
  std::shared_ptr<const std::vector<std::shared_ptr<const TargetGroupHealth>>> copy =
      std::move(list);
  {
    std::lock_guard<std::mutex> lock(mu);
    report.swap(copy);  // the old copy is freed below, outside the lock
    report_initial = initial_rows_;
    if (applied != 0) applied_seq = applied;
  }
  published.notify_all();
  copy.reset();
  dirty_ = false;
  last_publish_ms_ = now;
  reports_published.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace sluice::health
