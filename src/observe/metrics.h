// CloudWatch's AWS/ApplicationELB and AWS/NetworkELB metrics (reference §6.1, §6.2), counted
// per worker without locks and merged on read. Each load balancer and target group has a slot
// (assigned by name by the snapshot compiler, never reused within a process); a worker's counters
// are written by its loop thread only (a relaxed load and store, no locked instruction) and read by
// any thread.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace sluice::observe {

inline constexpr size_t kMaxLoadBalancerSlots = 64;
inline constexpr size_t kMaxTargetGroupSlots = 256;

// Per load balancer (dimension LoadBalancer).
enum class LbMetric : uint8_t {
  kRequestCount,
  kHttpCodeElb3xx,
  kHttpCodeElb4xx,
  kHttpCodeElb5xx,
  kHttpCodeElb500,
  kHttpCodeElb502,
  kHttpCodeElb503,
  kHttpCodeElb504,
  kHttpCodeTarget2xx,
  kHttpCodeTarget3xx,
  kHttpCodeTarget4xx,
  kHttpCodeTarget5xx,
  kHttpFixedResponseCount,
  kHttpRedirectCount,
  kProcessedBytes,
  kNewConnectionCount,
  kActiveConnectionCount,  // a gauge: +1 at accept, -1 at close (wraps; summed as signed)
  kClientTlsNegotiationErrorCount,
  kDesyncNonCompliantRequestCount,
  kTargetConnectionErrorCount,
  kRejectedConnectionCount,  // reset at accept: the listener held sluice.max_connections
  // AWS/NetworkELB (reference §6.2): a network load balancer's flows, by transport. Its
  // ActiveFlowCount, NewFlowCount, ProcessedBytes and RejectedFlowCount are the sums of these
  // (RenderPrometheus); ClientTLSNegotiationErrorCount is shared with the ALB namespace.
  kNewFlowCountTcp,
  kNewFlowCountTls,
  kNewFlowCountUdp,
  kActiveFlowCountTcp,  // gauges, as kActiveConnectionCount
  kActiveFlowCountTls,
  kActiveFlowCountUdp,
  kProcessedBytesTcp,  // payload bytes both ways (AWS also counts the TCP/IP headers)
  kProcessedBytesTls,
  kProcessedBytesUdp,
  kRejectedFlowCountTcp,            // no target to forward to (TCP and TLS listeners)
  kRejectedFlowCountUdp,            // no target, or no flow socket left in the budget
  kTcpClientResetCount,             // a client reset its flow (ECONNRESET/EPIPE on its socket)
  kTcpElbResetCount,                // resets Sluice sent: one per side of a flow it reset
  kTcpTargetResetCount,             // a target reset its flow
  kTargetTlsNegotiationErrorCount,  // a TLS group's target failed its handshake
  kUnhealthyRoutingFlowCount,       // a flow sent to an unhealthy target (fail-open)
  // Packets Sluice received from either side of a flow: a UDP datagram relayed either way is
  // one; a TCP or TLS flow adds the segments its two sockets received (TCP_INFO, pure ACKs
  // included) when it ends. Health checks add theirs per target group (TargetGroupHealthCount).
  kProcessedPackets,
  // A flow whose target-side socket could not get a source port: the ephemeral range is
  // used up towards that target (EADDRNOTAVAIL), or with client IP preservation the
  // client's address and port are already bound towards it (EADDRINUSE).
  kPortAllocationErrorCount,
  kCount
};
// The first network load balancer metric; the ones before it are ALB's.
inline constexpr LbMetric kFirstNetworkMetric = LbMetric::kNewFlowCountTcp;

// TargetResponseTime's histogram: bucket w (0..16) holds the times whose bit width is w,
// so its upper bound is 2^w - 1 ms (0, 1, 3, 7, ... 65,535 ms); then +Inf. One instruction
// finds the bucket on the request path.
inline constexpr size_t kResponseTimeFiniteBuckets = 17;
constexpr int64_t ResponseTimeBucketBoundMs(size_t w) { return (int64_t{1} << w) - 1; }

// Per target group (dimension TargetGroup).
enum class TgMetric : uint8_t {
  kRequestCount,
  kHttpCodeTarget2xx,
  kHttpCodeTarget3xx,
  kHttpCodeTarget4xx,
  kHttpCodeTarget5xx,
  kTargetConnectionErrorCount,
  kResponseTimeCount,
  kResponseTimeSumMs,
  kResponseTimeBucket0,  // then one per kResponseTimeBucketsMs entry, then +Inf
  kCount = kResponseTimeBucket0 + kResponseTimeFiniteBuckets + 1
};

class WorkerMetrics {
 public:
  using LbRow = std::array<std::atomic<uint64_t>, static_cast<size_t>(LbMetric::kCount)>;
  using TgRow = std::array<std::atomic<uint64_t>, static_cast<size_t>(TgMetric::kCount)>;

  // Loop thread of the owning worker. A negative slot (none) counts into a spare row nobody
  // reads, so the request path needs no branch for it.
  LbRow& Lb(int slot) { return lb_[slot < 0 ? kMaxLoadBalancerSlots : static_cast<size_t>(slot)]; }
  TgRow& Tg(int slot) { return tg_[slot < 0 ? kMaxTargetGroupSlots : static_cast<size_t>(slot)]; }
  static void Add(LbRow& row, LbMetric m, uint64_t n = 1) { Bump(row[static_cast<size_t>(m)], n); }
  static void Add(TgRow& row, TgMetric m, uint64_t n = 1) { Bump(row[static_cast<size_t>(m)], n); }
  void Add(int lb_slot, LbMetric m, uint64_t n = 1) { Add(Lb(lb_slot), m, n); }
  void Add(int tg_slot, TgMetric m, uint64_t n = 1) { Add(Tg(tg_slot), m, n); }
  static void ObserveResponseTime(TgRow& row, int64_t ms) {
    size_t bucket = static_cast<size_t>(std::bit_width(static_cast<uint64_t>(ms)));
    if (bucket > kResponseTimeFiniteBuckets) bucket = kResponseTimeFiniteBuckets;  // +Inf
    Add(row, TgMetric::kResponseTimeCount);
    Add(row, TgMetric::kResponseTimeSumMs, static_cast<uint64_t>(ms));  // monotonic: ms >= 0
    Bump(row[static_cast<size_t>(TgMetric::kResponseTimeBucket0) + bucket], 1);
  }

  // Any thread.
  uint64_t Get(size_t lb_slot, LbMetric m) const {
    return lb_[lb_slot][static_cast<size_t>(m)].load(std::memory_order_relaxed);
  }
  uint64_t Get(size_t tg_slot, TgMetric m) const {
    return tg_[tg_slot][static_cast<size_t>(m)].load(std::memory_order_relaxed);
  }

 private:
  static void Bump(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::array<LbRow, kMaxLoadBalancerSlots + 1> lb_{};  // + the spare row
  std::array<TgRow, kMaxTargetGroupSlots + 1> tg_{};
};

// The names behind the slots: the dimension values CloudWatch would show
// ("app/<name>/<id>" or "net/<name>/<id>", "targetgroup/<name>/<id>"), and whether each is a
// network load balancer's (AWS/NetworkELB) or an application one's. Assigned on the control
// thread; read by any.
struct TargetGroupHealthCount;

class MetricSlots {
 public:
  // The slot of `name` (assigning the next free one); -1 when all are taken. A load
  // balancer is a network one when its dimension starts with "net/"; one whose type changes
  // gets a new slot. A target group is a network one when `network` (its protocol is TCP,
  // TLS, UDP or TCP_UDP); the latest call says.
  int LoadBalancer(const std::string& name, const std::string& dimension);
  int TargetGroup(const std::string& name, const std::string& dimension, bool network = false);
  // Slot → dimension value, in slot order.
  std::vector<std::string> LoadBalancerDimensions() const;
  std::vector<std::string> TargetGroupDimensions() const;
  // Slot → whether it is a network load balancer's / target group's, in slot order.
  std::vector<bool> NetworkTargetGroups() const;
  bool IsNetworkTargetGroup(const std::string& name) const;
  // The load balancer each target group serves (target group slot → load balancer slot; -1:
  // none, or several, which the loader refuses as AWS does), for TargetResponseTime per load
  // balancer. Replaced whole by each snapshot the compiler commits.
  void SetTargetGroupLoadBalancers(std::vector<int> lb_of_tg);
  std::vector<int> TargetGroupLoadBalancers() const;  // one entry per target group slot
  // The health checks' packets per load balancer slot, for its ProcessedPackets. Each network
  // group's count goes to the load balancer it serves now by its increase since the last
  // call, so a load balancer's total never falls when a group moves or goes away.
  std::vector<uint64_t> CheckPacketsByLoadBalancer(
      const std::vector<TargetGroupHealthCount>& health) const;

 private:
  static int Assign(std::map<std::string, int>& by_name, std::vector<std::string>& dims, size_t max,
                    const std::string& name, const std::string& dimension);
  mutable std::mutex mu_;
  std::map<std::string, int> lb_by_name_;  // by type and name
  std::map<std::string, int> tg_by_name_;
  std::vector<std::string> lb_dims_;
  std::vector<std::string> tg_dims_;
  std::vector<bool> tg_network_;
  std::vector<int> tg_lb_;
  // CheckPacketsByLoadBalancer's running sums (what a reader has seen, hence mutable).
  mutable std::map<std::string, uint64_t> check_packets_seen_;  // by group dimension
  mutable std::vector<uint64_t> lb_check_packets_;              // by load balancer slot
};

inline bool IsNetworkLoadBalancerDimension(const std::string& d) { return d.starts_with("net/"); }

// Target health at the moment of a scrape (HealthyHostCount / UnHealthyHostCount).
struct TargetGroupHealthCount {
  std::string dimension;  // "targetgroup/<name>/<id>"
  uint64_t healthy = 0;
  uint64_t unhealthy = 0;
  bool network = false;  // a network load balancer's group: AWS/NetworkELB
  // Packets of this group's health checks so far (sent and received; the checker's count,
  // kept across reloads): a network load balancer's ProcessedPackets includes them (§6.2).
  uint64_t check_packets = 0;
};

// The Prometheus text exposition (format 0.0.4) of every metric, summed over the workers.
// Names are CloudWatch's with the namespace as a prefix: AWS_ApplicationELB_RequestCount
// {LoadBalancer="app/web/..."}, AWS_NetworkELB_ActiveFlowCount{LoadBalancer="net/db/..."};
// TargetResponseTime is a histogram in seconds. The AWS_NetworkELB_ families are present
// when a network load balancer or target group is.
std::string RenderPrometheus(const MetricSlots& slots,
                             const std::vector<const WorkerMetrics*>& workers,
                             const std::vector<TargetGroupHealthCount>& health);

// CloudWatch's name of a metric.
const char* MetricName(LbMetric m);

}  // namespace sluice::observe
