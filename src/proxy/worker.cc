#include "proxy/worker.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <system_error>

#include "net/socket.h"
#include "proxy/downstream_connection.h"
#include "proxy/local_response.h"
#include "proxy/udp_listener.h"

namespace sluice::proxy {

namespace {
constexpr int kTickMs = 250;  // timeouts are checked this often
}  // namespace

// Accepts connections on one listening socket of this worker.
class Acceptor final : public ListenHandler {
 public:
  Acceptor(Worker* worker, int fd, const ListenerRuntime* listener,
           std::shared_ptr<std::atomic<int>> open)
      : worker_(worker), fd_(fd), listener_(listener), open_(std::move(open)) {}
  void set_listener(const ListenerRuntime* l) override { listener_ = l; }
  void OnEvents(uint32_t) override { worker_->Accept(fd_, listener_, open_); }

 private:
  Worker* worker_;
  int fd_;
  const ListenerRuntime* listener_;
  std::shared_ptr<std::atomic<int>> open_;  // the socket set's count of open connections
};

namespace {

// One flow-hash key for the whole process, as the hash is per NLB node (reference §8.2):
// source-IP stickiness needs every worker to send one client's flows to the same target.
nlb::FlowHashKey ProcessFlowKey() {
  static const nlb::FlowHashKey key = [] {
    std::random_device random;  // /dev/urandom
    auto next64 = [&random] { return (static_cast<uint64_t>(random()) << 32) ^ random(); };
    return nlb::FlowHashKey{next64(), next64()};
  }();
  return key;
}

}  // namespace

Worker::Worker(int index, net::EventLoop::Clock monotonic, net::EventLoop::Clock realtime)
    : index_(index),
      loop_(monotonic, realtime),
      pools_(&loop_),
      rng_(std::random_device{}() ^ (static_cast<uint64_t>(index) << 32)),
      head_scratch_(std::make_unique<http::RequestHead>()),
      response_scratch_(std::make_unique<http::ResponseHead>()) {
  loop_.SetWakeHandler([this] { OnWake(); });
  UpdateDate();
  flow_key_ = ProcessFlowKey();
}

Worker::~Worker() {
  Join();
  CloseAllConnections();
  for (auto& [fd, acceptor] : acceptors_) loop_.Remove(fd);
}

void Worker::Publish(std::shared_ptr<const Snapshot> snapshot,
                     std::shared_ptr<const ListenerSocketTable> sockets) {
  {
    std::lock_guard<std::mutex> lock(mailbox_mu_);
    mailbox_ = std::move(snapshot);
    mailbox_sockets_ = std::move(sockets);
  }
  loop_.Wake();
}

void Worker::BeginShutdown(int64_t deadline_ms) {
  {
    std::lock_guard<std::mutex> lock(mailbox_mu_);
    mailbox_shutdown_deadline_ = deadline_ms;
  }
  loop_.Wake();
}

Result<bool> Worker::StartInline() {
  const std::string who = "worker " + std::to_string(index_) + ": ";
  if (!loop_.ok()) return Error{ErrorSource::kInternal, who + loop_.error()};
  OnWake();  // adopt the first snapshot: its listening sockets are watched from here on
  if (!adopt_error_.empty()) return Error{ErrorSource::kInternal, who + adopt_error_};
  return true;
}

int Worker::RunPending() {
  OnWake();
  return loop_.RunPending(kTickMs, [this] { Tick(); });
}

Result<bool> Worker::Start() {
  auto ready = StartInline();
  if (!ready.ok()) return ready;
  const std::string who = "worker " + std::to_string(index_) + ": ";
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error& e) {
    return Error{ErrorSource::kInternal, who + "cannot start its thread: " + e.what()};
  }
  return true;
}

bool Worker::WatchListener(int fd, ListenHandler* acceptor) {
  if (loop_.AddLevelInput(fd, acceptor)) return true;
  if (adopt_error_.empty()) {
    adopt_error_ = "cannot watch listening socket " + std::to_string(fd) +
                   " (epoll_ctl): " + std::strerror(errno);
  }
  return false;
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::Run() {
  OnWake();  // a snapshot published since Start()
  loop_.Run(kTickMs, [this] { Tick(); });
  if (!loop_.ok()) {
    // Cannot wait for events any more: say so, and close what it holds so that clients are
    // refused rather than left waiting; the control thread's stop still joins this thread.
    std::fprintf(stderr, "sluice: worker %d stopped: %s\n", index_, loop_.error().c_str());
    CloseAllConnections();
  }
}

void Worker::OnWake() {
  std::shared_ptr<const Snapshot> next;
  std::shared_ptr<const ListenerSocketTable> next_sockets;
  int64_t shutdown_deadline = -1;
  {
    std::lock_guard<std::mutex> lock(mailbox_mu_);
    next = std::move(mailbox_);
    next_sockets = std::move(mailbox_sockets_);
    shutdown_deadline = mailbox_shutdown_deadline_;
    mailbox_shutdown_deadline_ = -1;
  }
  if (next) Adopt(std::move(next), std::move(next_sockets));
  if (shutdown_deadline >= 0 && !shutting_down_) {
    shutting_down_ = true;
    shutdown_deadline_ms_ = shutdown_deadline;
    for (auto& [fd, acceptor] : acceptors_) {
      if (accept_paused_until_ms_ == 0) loop_.Remove(fd);
      acceptor->Stop();
      loop_.DeferDelete(acceptor.release());  // an event for it may still be in this batch
    }
    acceptors_.clear();
    timers_.ForEach([](DownstreamConnection* c) { c->BeginShutdown(); });
    if (timers_.size() == 0) loop_.Stop();
  }
}

void Worker::Adopt(std::shared_ptr<const Snapshot> next,
                   std::shared_ptr<const ListenerSocketTable> sockets) {
  // Listening sockets: keep those still present, add new ones, drop removed ones.
  // fd -> its listener and socket set.
  std::map<int, std::pair<const ListenerRuntime*, const ListenSocketSet*>> wanted;
  if (!shutting_down_ && sockets != nullptr) {
    const auto k = static_cast<size_t>(index_);
    for (size_t i = 0; i < next->listeners.size() && i < sockets->by_listener.size(); ++i) {
      const ListenerRuntime* l = &next->listeners[i];
      wanted[sockets->by_listener[i]->fds[k]] = {l, sockets->by_listener[i].get()};
      if (i < sockets->udp_by_listener.size() && sockets->udp_by_listener[i] != nullptr) {
        wanted[sockets->udp_by_listener[i]->fds[k]] = {l, sockets->udp_by_listener[i].get()};
      }
    }
  }
  for (auto it = acceptors_.begin(); it != acceptors_.end();) {
    if (wanted.count(it->first) == 0) {
      if (accept_paused_until_ms_ == 0) loop_.Remove(it->first);
      it->second->Stop();
      loop_.DeferDelete(it->second.release());  // an event for it may still be in this batch
      it = acceptors_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [fd, wanted_listener] : wanted) {
    const auto [listener, set] = wanted_listener;
    auto it = acceptors_.find(fd);
    if (it != acceptors_.end()) {
      it->second->set_listener(listener);
    } else {
      std::unique_ptr<ListenHandler> acceptor;
      if (set->datagram) {
        acceptor = std::make_unique<UdpListener>(this, fd, listener);
      } else {
        acceptor = std::make_unique<Acceptor>(this, fd, listener, set->open_connections);
      }
      if (accept_paused_until_ms_ != 0 || WatchListener(fd, acceptor.get())) {
        acceptors_[fd] = std::move(acceptor);
      }
    }
  }
  // Pickers are per worker and per snapshot.
  pickers_.clear();
  for (const TargetGroupRuntime& tg : next->target_groups) {
    pickers_.push_back(balancer::MakePicker(tg.config->attributes.algorithm, rng_));
  }
  current_ = std::move(next);
  current_sockets_ = std::move(sockets);
  // A reload may start a target's deregistration delay: every check time is recomputed.
  timers_.ForEach([this](DownstreamConnection* c) { timers_.Arm(c, c->NextCheckMs()); });
  // Idle upstream connections no group reaches any more (target gone, or its group's
  // protocol changed) are closed now.
  std::vector<UpstreamKey> live;
  for (const TargetGroupRuntime& tg : current_->target_groups) {
    for (const TargetRuntime& t : tg.targets) {
      live.push_back({t.address, tg.protocol, tg.protocol_version, tg.tls_profile});
    }
  }
  auto keep = [&](const UpstreamKey& k) {
    for (const UpstreamKey& l : live) {
      if (l == k) return true;
    }
    return false;
  };
  pools_.Retain(keep);
  h2_clients_.Retain(keep);
  adopted_generation_.store(current_->generation);
}

namespace {

// sluice.max_connections, or half the descriptor limit (at least 64) when it is not set.
int ListenerConnectionCap(const ListenerRuntime& listener) {
  if (listener.listener->attributes.max_connections > 0) {
    return listener.listener->attributes.max_connections;
  }
  static const int half_of_descriptors = [] {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 1 << 20;
    return static_cast<int>(std::clamp<rlim_t>(limit.rlim_cur / 2, 64, 1 << 20));
  }();
  return half_of_descriptors;
}

// A connection beyond the listener's cap: reset at once (SO_LINGER 0), counted.
void RejectConnection(int fd, const ListenerRuntime& listener, observe::WorkerMetrics& metrics) {
  linger reset{1, 0};
  (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));  // else a FIN: as good
  close(fd);
  const bool network = listener.protocol == snapshot::ListenerProtocol::kTcp ||
                       listener.protocol == snapshot::ListenerProtocol::kTcpUdp ||
                       listener.protocol == snapshot::ListenerProtocol::kTls;
  observe::WorkerMetrics::Add(metrics.Lb(listener.lb_metrics_slot),
                              network ? observe::LbMetric::kRejectedFlowCountTcp
                                      : observe::LbMetric::kRejectedConnectionCount);
}

}  // namespace

void Worker::Accept(int listen_fd, const ListenerRuntime* listener,
                    const std::shared_ptr<std::atomic<int>>& open) {
  const int cap = ListenerConnectionCap(*listener);
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd =
        accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        PauseAccepting();  // a level-triggered listener would otherwise spin
      }
      return;
    }
    if (open->load(std::memory_order_relaxed) >= cap) {
      RejectConnection(fd, *listener, *metrics_);
      continue;
    }
    net::SetNoDelay(fd);
    ServeDownstream(DownstreamTransport(fd, *listener), SocketAddress::FromSockaddr(ss), listener,
                    open);
  }
}

std::unique_ptr<net::Transport> Worker::DownstreamTransport(int fd,
                                                            const ListenerRuntime& listener) {
  if (listener.tls == nullptr) return std::make_unique<net::TcpTransport>(fd);
  // A session that cannot be allocated fails Watch(), which closes the connection. Plain HTTP
  // sent to an HTTPS port gets ALB's 400; on a TLS listener (NLB) it only closes.
  const bool https = listener.protocol == snapshot::ListenerProtocol::kHttps;
  return std::make_unique<net::TlsTransport>(fd, listener.tls->NewSession(), listener.tls,
                                             https ? &plain_http_answer_ : nullptr);
}

void Worker::ServeDownstream(std::unique_ptr<net::Transport> transport, const SocketAddress& peer,
                             const ListenerRuntime* listener,
                             std::shared_ptr<std::atomic<int>> open) {
  auto* conn = new DownstreamConnection(this, std::move(transport), peer, listener);
  conn->CountOn(std::move(open));
  conn->Start();  // on failure the connection has closed itself
}

void Worker::PauseAccepting() {
  if (accept_paused_until_ms_ != 0) return;
  accept_paused_until_ms_ = loop_.now_ms() + 100;
  for (auto& [fd, acceptor] : acceptors_) loop_.Remove(fd);
}

void Worker::ResumeAccepting() {
  accept_paused_until_ms_ = 0;
  for (auto& [fd, acceptor] : acceptors_) {
    if (!loop_.AddLevelInput(fd, acceptor.get())) {
      // Still short of memory for epoll: unwatch the ones added and try again later.
      for (auto& [added, a] : acceptors_) {
        if (added == fd) break;
        loop_.Remove(added);
      }
      accept_paused_until_ms_ = loop_.now_ms() + 100;
      return;
    }
  }
}

namespace {
constexpr size_t kMaxSpareBuffers = 1024;  // at most 16 MiB kept for reuse
constexpr size_t kMaxSpareStrings = 4096;
constexpr size_t kMaxPooledStringCapacity = 64 * 1024;
}  // namespace

void Worker::TakeBuffer(net::Buffer& b) {
  if (b.capacity() != 0) return;
  if (spare_buffers_.empty()) {
    b.Reserve(kDownstreamBufferSize);
    return;
  }
  b.Swap(spare_buffers_.back());
  spare_buffers_.pop_back();
}

void Worker::GiveBuffer(net::Buffer& b) {
  if (b.capacity() == 0 || !b.empty()) return;
  if (b.capacity() != kDownstreamBufferSize || spare_buffers_.size() >= kMaxSpareBuffers) {
    b.Release();
    return;
  }
  b.Clear();
  spare_buffers_.emplace_back();
  spare_buffers_.back().Swap(b);
}

void Worker::TakeString(std::string& s) {
  if (s.capacity() > 15 || spare_strings_.empty()) return;
  s = std::move(spare_strings_.back());  // s is empty and small: this takes the buffer
  spare_strings_.pop_back();
}

void Worker::PoolString(std::string& s) {
  if (s.capacity() > kMaxPooledStringCapacity || spare_strings_.size() >= kMaxSpareStrings) {
    std::string().swap(s);
    return;
  }
  spare_strings_.push_back(std::move(s));
  s = std::string();  // a moved-from string is valid but unspecified: make it small again
}

void Worker::TakeTransform(std::unique_ptr<routing::TransformResult>& t) {
  if (t != nullptr) return;
  if (spare_transforms_.empty()) {
    t = std::make_unique<routing::TransformResult>();
    return;
  }
  t = std::move(spare_transforms_.back());
  spare_transforms_.pop_back();
}

void Worker::GiveTransform(std::unique_ptr<routing::TransformResult>& t) {
  if (t == nullptr) return;
  constexpr size_t kMaxSpareTransforms = 1024;
  if (spare_transforms_.size() >= kMaxSpareTransforms ||
      t->transformed_uri.capacity() > kMaxPooledStringCapacity) {
    t.reset();
    return;
  }
  t->Reset();
  spare_transforms_.push_back(std::move(t));
}

void Worker::Register(DownstreamConnection* conn) { timers_.Arm(conn, conn->NextCheckMs()); }

void Worker::Unregister(DownstreamConnection* conn) {
  timers_.Disarm(conn);
  if (shutting_down_ && timers_.size() == 0) loop_.Stop();
}

void Worker::CheckSooner(DownstreamConnection* conn, int64_t at_ms) {
  if (conn->wheel_slot != kNotArmed) timers_.ArmIfEarlier(conn, at_ms);  // not while due
}

void Worker::CloseAllConnections() {
  while (DownstreamConnection* c = timers_.Any()) c->ForceClose();
}

void Worker::UpdateDate() {
  int64_t now = unix_seconds();
  if (now == date_second_) return;
  date_second_ = now;
  date_len_ = FormatHttpDate(now, date_);
  // ALB answers a plain HTTP request on an HTTPS port with its 400 page (reference §4.6).
  LocalResponseOptions options;
  options.close = true;
  options.date = http_date();
  plain_http_answer_.clear();
  AppendErrorResponse(400, options, &plain_http_answer_);
}

void Worker::Tick() {
  UpdateDate();
  int64_t now = loop_.now_ms();
  if (const uint64_t seen = balancer::UnhealthyTransitions(); seen != unhealthy_transitions_seen_)
      [[unlikely]] {
    // Some target turned unhealthy: every connection's next check is looked at again, so a
    // network load balancer's flow to it ends (or gets its draining deadline) now.
    unhealthy_transitions_seen_ = seen;
    timers_.ForEach([this, now](DownstreamConnection* c) {
      if (c->closed()) return;  // closed by an earlier one's check; freed after this turn
      c->CheckTimers(now);
      if (!c->closed()) timers_.Arm(c, c->NextCheckMs());
    });
  }
  // Only the connections whose check time has come; each is re-armed at its next one.
  timers_.Expire(now, [this, now](DownstreamConnection* c) {
    c->CheckTimers(now);
    if (!c->closed()) timers_.Arm(c, c->NextCheckMs());
  });
  pools_.Sweep(now, false);
  h2_clients_.Sweep(now, false);
  for (auto& [fd, acceptor] : acceptors_) acceptor->Tick(now);  // UDP flows' idle timeout
  if (accept_paused_until_ms_ != 0 && now >= accept_paused_until_ms_ && !shutting_down_) {
    ResumeAccepting();
  }
  if (shutting_down_ && now >= shutdown_deadline_ms_) {
    CloseAllConnections();
    loop_.Stop();
  }
}

Result<std::unique_ptr<net::Transport>> Worker::ConnectTls(
    const SocketAddress& address, const std::shared_ptr<const tls::ClientContext>& tls,
    std::string_view alpn, const SocketAddress* source) {
  SSL* ssl = tls->NewSession(address, static_cast<size_t>(index_));
  if (ssl == nullptr) return Error{ErrorSource::kInternal, "no memory for a TLS session"};
  if (!alpn.empty()) {
    unsigned char wire[256];  // a protocol name is at most 255 bytes (RFC 7301 §3.1)
    const size_t n = alpn.size() < 255 ? alpn.size() : 255;
    wire[0] = static_cast<unsigned char>(n);
    std::memcpy(wire + 1, alpn.data(), n);
    // SSL_set_alpn_protos returns 0 on success.
    if (n != alpn.size() || SSL_set_alpn_protos(ssl, wire, static_cast<unsigned>(1 + n)) != 0) {
      SSL_free(ssl);
      return Error{ErrorSource::kInternal, "cannot offer ALPN to the target"};
    }
  }
  return connector_->ConnectTls(address, source, ssl, tls);
}

void Worker::ReportTargetTlsFailure(const SocketAddress& target, const std::string& group,
                                    const char* why, const char* outcome) {
  tls::HandshakeCounters::CountTargetFailed();
  const int64_t now = now_ms();
  if (now - tls_failure_logged_ms_ < 1000) {
    ++tls_failures_unlogged_;
    return;
  }
  // An error path, at most once a second: stdio's lock is acceptable here.
  char more[64] = "";
  if (tls_failures_unlogged_ > 0) {
    std::snprintf(more, sizeof(more), " (and %llu more since the last line)",
                  static_cast<unsigned long long>(tls_failures_unlogged_));
  }
  char stamp[32] = "";
  const time_t seconds = static_cast<time_t>(unix_seconds());
  struct tm utc {};
  if (gmtime_r(&seconds, &utc) != nullptr)
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &utc);
  std::fprintf(stderr,
               "%s sluice: worker %d: TLS handshake with target %s of target group %s failed: "
               "%s; %s%s\n",
               stamp, index_, target.ToString().c_str(), group.c_str(), why, outcome, more);
  tls_failure_logged_ms_ = now;
  tls_failures_unlogged_ = 0;
}

}  // namespace sluice::proxy
