#include "proxy/udp_listener.h"

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "balancer/picker.h"
#include "net/socket.h"
#include "proxy/client_address.h"
#include "proxy/flow_termination.h"
#include "proxy/target_candidates.h"
#include "proxy/worker.h"

namespace sluice::proxy {

// The receive side of one recvmmsg call, allocated once per listener and worker: 1 MiB of
// payload buffers (reused as the scratch buffer for the targets' replies).
struct UdpListener::Batch {
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_storage peers[kBatch];
  alignas(cmsghdr) unsigned char control[kBatch][CMSG_SPACE(sizeof(in6_pktinfo))];
  char data[kBatch][kMaxDatagram];
};

// How a flow's replies reach its client: the client's address as the listener's socket saw it
// and, on a wildcard listener, the IP_PKTINFO / IPV6_PKTINFO that makes them leave from the
// address the client reached (pktinfo_len 0: none).
struct UdpListener::ReplyPath {
  sockaddr_storage client;
  socklen_t client_len = 0;
  int pktinfo_level = 0;
  int pktinfo_type = 0;
  size_t pktinfo_len = 0;
  unsigned char pktinfo[sizeof(in6_pktinfo)];
};

// A flow's socket towards its target, watched (level-triggered) for the target's replies.
// Owned by the flow table's entry: deleted when the flow is removed.
class UdpListener::FlowSocket final : public net::EventHandler {
 public:
  FlowSocket(UdpListener* owner, const nlb::FlowTuple& flow_tuple, int socket_fd)
      : tuple(flow_tuple), fd(socket_fd), owner_(owner) {}
  void OnEvents(uint32_t) override {
    if (fd >= 0) owner_->RelayReplies(this);  // -1: removed, waiting for burial
  }

  nlb::FlowTuple tuple;
  int fd;  // -1 once the flow is removed (its number may already belong to another socket)
  ReplyPath reply;
  // The load balancer's counters the flow was counted active on (a reload may move the
  // listener to another slot before the flow ends). The worker's, as long as it lives.
  observe::WorkerMetrics::LbRow* metrics = nullptr;
  // The flow's target and group in the snapshot it started with (kept alive by it), for
  // its termination (flow_termination.h).
  std::shared_ptr<const snapshot::Snapshot> snapshot;
  const snapshot::TargetGroupRuntime* group = nullptr;
  const balancer::TargetStats* target = nullptr;

 private:
  UdpListener* owner_;
};

namespace {

// Flow sockets open in the process, against FlowSocketBudget (relaxed: a budget, not a lock).
std::atomic<int64_t> g_flow_sockets{0};

// The destination of a received datagram from its IP_PKTINFO / IPV6_PKTINFO, as the reply's
// source; false when the datagram carried neither.
bool ReadPktinfo(msghdr& h, uint16_t port, SocketAddress* destination, int* level, int* type,
                 unsigned char* info, size_t* info_len) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    sockaddr_storage ss{};
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof(pi));
      auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
      sin->sin_family = AF_INET;
      sin->sin_addr = pi.ipi_addr;
      pi.ipi_spec_dst = pi.ipi_addr;  // reply from the address the client reached
      pi.ipi_ifindex = 0;             // by the routing table
      std::memcpy(info, &pi, sizeof(pi));
      *info_len = sizeof(pi);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof(pi));
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_addr = pi.ipi6_addr;
      // By the routing table, as for IPv4, unless the address is link-local (fe80::/10),
      // which only means something on its interface.
      if (!IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr)) pi.ipi6_ifindex = 0;
      std::memcpy(info, &pi, sizeof(pi));
      *info_len = sizeof(pi);
    } else {
      continue;
    }
    *level = c->cmsg_level;
    *type = c->cmsg_type;
    *destination = SocketAddress::FromSockaddr(ss);
    destination->port = port;
    return true;
  }
  return false;
}

}  // namespace

UdpListener::UdpListener(Worker* worker, int fd, const snapshot::ListenerRuntime* listener)
    : worker_(worker),
      fd_(fd),
      listener_(listener),
      wildcard_(listener->address.ip.IsUnspecified()),
      table_([&] {
        nlb::UdpFlowTable::Options o;
        o.capacity = kMaxFlows;
        o.key = worker->flow_key();
        o.on_remove = &UdpListener::OnFlowRemoved;
        o.on_remove_ctx = this;
        return o;
      }()),
      batch_(new Batch) {}

UdpListener::~UdpListener() {
  destroying_ = true;  // flows' sockets are deleted at once: no event can still reach them
  table_.Clear();
}

void UdpListener::OnEvents(uint32_t) {
  if (stopped_) return;  // removed by a reload or a shutdown; its socket may be closed
  Batch& b = *batch_;
  for (int round = 0; round < kReadsPerEvent; ++round) {
    for (size_t i = 0; i < kBatch; ++i) {
      b.iov[i] = {b.data[i], kMaxDatagram};
      msghdr& h = b.msgs[i].msg_hdr;
      h = {};
      h.msg_name = &b.peers[i];
      h.msg_namelen = sizeof(b.peers[i]);
      h.msg_iov = &b.iov[i];
      h.msg_iovlen = 1;
      if (wildcard_) {
        h.msg_control = b.control[i];
        h.msg_controllen = sizeof(b.control[i]);
      }
    }
    const int n = recvmmsg(fd_, b.msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;  // EAGAIN; an error is retried at the next (level-triggered) event
    for (int i = 0; i < n; ++i) Receive(i);
    if (static_cast<size_t>(n) < kBatch) return;
  }
  // More may wait: level-triggered, the loop calls again after the other handlers.
}

void UdpListener::Receive(int i) {
  Batch& b = *batch_;
  msghdr& h = b.msgs[i].msg_hdr;
  if ((h.msg_flags & MSG_TRUNC) != 0) {
    ++counters_.dropped;  // larger than any UDP payload: cannot happen, never half-sent
    return;
  }
  nlb::FlowTuple tuple{nlb::kIpProtoUdp, SocketAddress::FromSockaddr(b.peers[i]),
                       listener_->address};
  ReplyPath reply;  // filled only as far as needed: read only when a flow opens
  if (wildcard_ &&
      !ReadPktinfo(h, listener_->address.port, &tuple.destination, &reply.pktinfo_level,
                   &reply.pktinfo_type, reply.pktinfo, &reply.pktinfo_len)) {
    ++counters_.dropped;  // the kernel always adds it once asked; without it, no reply path
    return;
  }
  nlb::UdpFlow* flow = table_.Find(tuple, worker_->now_ms());
  if (flow == nullptr) {
    std::memcpy(&reply.client, &b.peers[i], h.msg_namelen);
    reply.client_len = h.msg_namelen;
    flow = OpenFlow(tuple, reply);
  }
  if (flow == nullptr) {
    ++counters_.dropped;
    return;
  }
  const size_t size = b.msgs[i].msg_len;
  auto* socket = static_cast<FlowSocket*>(flow->owner);
  if (send(flow->upstream_fd, b.data[i], size, MSG_DONTWAIT) < 0) {
    // A full socket buffer drops it, as the network would; ECONNREFUSED reports an ICMP
    // error for an earlier datagram (nothing listens at the target): this one is dropped,
    // the next may pass.
    ++counters_.dropped;
    return;
  }
  ++counters_.datagrams_in;
  ++flow->packets_in;
  flow->bytes_in += size;
  observe::WorkerMetrics::Add(*socket->metrics, observe::LbMetric::kProcessedBytesUdp, size);
  observe::WorkerMetrics::Add(*socket->metrics, observe::LbMetric::kProcessedPackets);
}

nlb::UdpFlow* UdpListener::OpenFlow(const nlb::FlowTuple& tuple, const ReplyPath& reply) {
  using observe::LbMetric;
  observe::WorkerMetrics::LbRow& metrics = worker_->metrics().Lb(listener_->lb_metrics_slot);
  const auto& actions = listener_->listener->default_actions;
  const std::shared_ptr<const snapshot::Snapshot>& snap = worker_->snapshot();
  const int tg =
      actions.empty() || !snap ? -1 : balancer::PickForwardGroup(actions.back(), worker_->rng());
  const snapshot::TargetGroupRuntime* group =
      tg < 0 ? nullptr : &snap->target_groups[static_cast<size_t>(tg)];
  // The process-wide budget of flow sockets: a flood of spoofed sources must not take the
  // descriptors and ports that connections, target connects and health checks need.
  if (group == nullptr || group->targets.empty() ||
      g_flow_sockets.load(std::memory_order_relaxed) >= FlowSocketBudget()) {
    observe::WorkerMetrics::Add(metrics, LbMetric::kRejectedFlowCountUdp);
    return nullptr;
  }
  // No salt: every datagram of a tuple would pick the same target (§8.2).
  const uint32_t chosen = ChooseFlowTargetIndex(*worker_, *group, tuple, 0);
  const SocketAddress& target = group->targets[chosen].address;
  auto fd = net::ConnectDatagram(target, PreservedClientSource(*group, tuple.source, target));
  if (!fd.ok()) {  // out of descriptors or ports, no route, the client's port taken: dropped
    observe::WorkerMetrics::Add(metrics, LbMetric::kRejectedFlowCountUdp);
    if (net::IsPortAllocationFailure(fd.error())) {
      observe::WorkerMetrics::Add(metrics, LbMetric::kPortAllocationErrorCount);
    }
    return nullptr;
  }
  g_flow_sockets.fetch_add(1, std::memory_order_relaxed);
  auto* socket = new FlowSocket(this, tuple, fd.value());
  socket->reply = reply;
  if (!worker_->loop().AddLevelInput(fd.value(), socket)) {
    close(fd.value());
    g_flow_sockets.fetch_sub(1, std::memory_order_relaxed);
    delete socket;
    observe::WorkerMetrics::Add(metrics, LbMetric::kRejectedFlowCountUdp);
    return nullptr;
  }
  socket->metrics = &metrics;
  socket->snapshot = snap;
  socket->group = group;
  socket->target = group->targets[chosen].stats.get();
  observe::WorkerMetrics::Add(metrics, LbMetric::kNewFlowCountUdp);
  observe::WorkerMetrics::Add(metrics, LbMetric::kActiveFlowCountUdp);
  if (!group->targets[chosen].stats->routable.load(std::memory_order_relaxed)) {
    observe::WorkerMetrics::Add(metrics, LbMetric::kUnhealthyRoutingFlowCount);  // fail-open
  }
  nlb::UdpFlow flow;
  flow.target = chosen;
  flow.upstream_fd = fd.value();
  flow.owner = socket;
  ++counters_.flows_opened;
  return table_.Insert(tuple, flow, worker_->now_ms()).first;
}

void UdpListener::RelayReplies(FlowSocket* socket) {
  char* buffer = batch_->data[0];  // free outside OnEvents
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(in6_pktinfo))];
  for (int i = 0; i < 64; ++i) {
    const ssize_t n = recv(socket->fd, buffer, kMaxDatagram, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == ECONNREFUSED) continue;  // ICMP: nothing listens there
      return;                                                 // EAGAIN: all read
    }
    // The flow's activity; it may have expired just now (then its socket is closing).
    nlb::UdpFlow* flow = table_.Find(socket->tuple, worker_->now_ms());
    if (flow == nullptr) return;
    iovec iov{buffer, static_cast<size_t>(n)};
    const ReplyPath& reply = socket->reply;
    msghdr h{};
    h.msg_name = const_cast<sockaddr_storage*>(&reply.client);
    h.msg_namelen = reply.client_len;
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    if (reply.pktinfo_len != 0) {
      h.msg_control = control;
      h.msg_controllen = CMSG_SPACE(reply.pktinfo_len);
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = reply.pktinfo_level;
      c->cmsg_type = reply.pktinfo_type;
      c->cmsg_len = CMSG_LEN(reply.pktinfo_len);
      std::memcpy(CMSG_DATA(c), reply.pktinfo, reply.pktinfo_len);
    }
    if (sendmsg(fd_, &h, MSG_DONTWAIT) < 0) {
      ++counters_.dropped;  // a full socket buffer: dropped, as the network would
      continue;
    }
    ++counters_.datagrams_out;
    ++flow->packets_out;
    flow->bytes_out += static_cast<uint64_t>(n);
    observe::WorkerMetrics::Add(*socket->metrics, observe::LbMetric::kProcessedBytesUdp,
                                static_cast<uint64_t>(n));
    observe::WorkerMetrics::Add(*socket->metrics, observe::LbMetric::kProcessedPackets);
  }
  // More may wait: level-triggered, the loop calls again after the other handlers.
}

void UdpListener::Tick(int64_t now_ms) {
  if (stopped_) return;
  table_.ExpireIdle(now_ms, 4096);
  EndTerminatedFlows(now_ms);
}

// Flows whose target was deregistered (with connection termination, UDP's default) or turned
// unhealthy end here: their sockets close, and the client's next datagram starts a new flow
// to a healthy target (NLB has no reset to send for UDP). The flows are looked at only when
// something may have changed: a target turned unhealthy since the last look, a target is
// draining, or an unhealthy target's draining interval is due.
void UdpListener::EndTerminatedFlows(int64_t now_ms) {
  if (table_.size() == 0) return;
  const snapshot::Snapshot* current = worker_->snapshot().get();
  const uint64_t transitions = balancer::UnhealthyTransitions();
  const bool draining = current != nullptr && !current->draining.empty();
  if (!draining && transitions == transitions_seen_ && now_ms < next_unhealthy_deadline_ms_) {
    return;
  }
  transitions_seen_ = transitions;
  int64_t next = INT64_MAX;
  ending_.clear();
  table_.ForEachByRecency([&](const nlb::FlowTuple& tuple, const nlb::UdpFlow& flow) {
    const auto* socket = static_cast<const FlowSocket*>(flow.owner);
    if (FlowMustEnd(socket->target, *socket->group, current, now_ms)) {
      ending_.push_back(tuple);
    } else {
      next = std::min(next, UnhealthyFlowDeadlineMs(socket->target));
    }
  });
  next_unhealthy_deadline_ms_ = next;
  for (const nlb::FlowTuple& tuple : ending_) table_.Erase(tuple);
  counters_.terminated += ending_.size();
}

void UdpListener::Stop() {
  stopped_ = true;
  table_.Clear();  // every flow's socket closed now, its handler buried after this iteration
}

int64_t UdpListener::FlowSocketBudget() {
  static const int64_t budget = [] {
    rlimit limit{};
    int64_t files = 1024;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
      files = static_cast<int64_t>(limit.rlim_cur);
    }
    // A quarter of the descriptors, and never more than the ephemeral ports (about 28,000
    // by default) could give: the rest stay for clients, targets and health checks.
    return std::clamp<int64_t>(files / 4, 16, kMaxFlowSockets);
  }();
  return budget;
}

void UdpListener::OnFlowRemoved(void* self, const nlb::FlowTuple&, const nlb::UdpFlow& flow,
                                nlb::UdpFlowRemoval) {
  auto* listener = static_cast<UdpListener*>(self);
  auto* socket = static_cast<FlowSocket*>(flow.owner);
  observe::WorkerMetrics::Add(*socket->metrics, observe::LbMetric::kActiveFlowCountUdp,
                              ~uint64_t{0});
  listener->worker_->loop().Remove(flow.upstream_fd);
  close(flow.upstream_fd);
  g_flow_sockets.fetch_sub(1, std::memory_order_relaxed);
  socket->fd = -1;  // an event already collected for it must not read the fd's next owner
  if (listener->destroying_) {
    delete socket;
  } else {
    listener->worker_->loop().DeferDelete(socket);  // an event for it may be in this batch
  }
}

}  // namespace sluice::proxy
