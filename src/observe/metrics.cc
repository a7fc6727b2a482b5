#include "observe/metrics.h"

#include <cstdio>
#include <string_view>
#include <unordered_map>

#include "observe/metric_history.h"

namespace sluice::observe {

int MetricSlots::Assign(std::map<std::string, int>& by_name, std::vector<std::string>& dims,
                        size_t max, const std::string& name, const std::string& dimension) {
  auto it = by_name.find(name);
  if (it != by_name.end()) return it->second;
  if (dims.size() >= max) return -1;
  const int slot = static_cast<int>(dims.size());
  by_name.emplace(name, slot);
  dims.push_back(dimension);
  return slot;
}

int MetricSlots::LoadBalancer(const std::string& name, const std::string& dimension) {
  std::lock_guard<std::mutex> lock(mu_);
  const char* type = IsNetworkLoadBalancerDimension(dimension) ? "net:" : "app:";
  return Assign(lb_by_name_, lb_dims_, kMaxLoadBalancerSlots, type + name, dimension);
}

int MetricSlots::TargetGroup(const std::string& name, const std::string& dimension, bool network) {
  std::lock_guard<std::mutex> lock(mu_);
  const int slot = Assign(tg_by_name_, tg_dims_, kMaxTargetGroupSlots, name, dimension);
  if (slot >= 0) {
    tg_network_.resize(tg_dims_.size());
    tg_network_[static_cast<size_t>(slot)] = network;
  }
  return slot;
}

std::vector<bool> MetricSlots::NetworkTargetGroups() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<bool> out = tg_network_;
  out.resize(tg_dims_.size());
  return out;
}

void MetricSlots::SetTargetGroupLoadBalancers(std::vector<int> lb_of_tg) {
  std::lock_guard<std::mutex> lock(mu_);
  tg_lb_ = std::move(lb_of_tg);
}

std::vector<int> MetricSlots::TargetGroupLoadBalancers() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int> out = tg_lb_;
  out.resize(tg_dims_.size(), -1);
  return out;
}

bool MetricSlots::IsNetworkTargetGroup(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tg_by_name_.find(name);
  return it != tg_by_name_.end() && static_cast<size_t>(it->second) < tg_network_.size() &&
         tg_network_[static_cast<size_t>(it->second)];
}

std::vector<uint64_t> MetricSlots::CheckPacketsByLoadBalancer(
    const std::vector<TargetGroupHealthCount>& health) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::unordered_map<std::string_view, size_t> slot_of;
  for (size_t s = 0; s < tg_dims_.size(); ++s) slot_of.emplace(tg_dims_[s], s);
  lb_check_packets_.resize(lb_dims_.size());
  for (const TargetGroupHealthCount& h : health) {
    if (!h.network) continue;
    uint64_t& seen = check_packets_seen_[h.dimension];
    const uint64_t increase = h.check_packets >= seen ? h.check_packets - seen : h.check_packets;
    seen = h.check_packets;
    auto it = slot_of.find(h.dimension);
    if (increase == 0 || it == slot_of.end() || it->second >= tg_lb_.size()) continue;
    const int lb = tg_lb_[it->second];
    if (lb >= 0 && static_cast<size_t>(lb) < lb_check_packets_.size()) {
      lb_check_packets_[static_cast<size_t>(lb)] += increase;
    }
  }
  return lb_check_packets_;
}

std::vector<std::string> MetricSlots::LoadBalancerDimensions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lb_dims_;
}

std::vector<std::string> MetricSlots::TargetGroupDimensions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tg_dims_;
}

const char* MetricName(LbMetric m) {
  switch (m) {
    case LbMetric::kRequestCount:
      return "RequestCount";
    case LbMetric::kHttpCodeElb3xx:
      return "HTTPCode_ELB_3XX_Count";
    case LbMetric::kHttpCodeElb4xx:
      return "HTTPCode_ELB_4XX_Count";
    case LbMetric::kHttpCodeElb5xx:
      return "HTTPCode_ELB_5XX_Count";
    case LbMetric::kHttpCodeElb500:
      return "HTTPCode_ELB_500_Count";
    case LbMetric::kHttpCodeElb502:
      return "HTTPCode_ELB_502_Count";
    case LbMetric::kHttpCodeElb503:
      return "HTTPCode_ELB_503_Count";
    case LbMetric::kHttpCodeElb504:
      return "HTTPCode_ELB_504_Count";
    case LbMetric::kHttpCodeTarget2xx:
      return "HTTPCode_Target_2XX_Count";
    case LbMetric::kHttpCodeTarget3xx:
      return "HTTPCode_Target_3XX_Count";
    case LbMetric::kHttpCodeTarget4xx:
      return "HTTPCode_Target_4XX_Count";
    case LbMetric::kHttpCodeTarget5xx:
      return "HTTPCode_Target_5XX_Count";
    case LbMetric::kHttpFixedResponseCount:
      return "HTTP_Fixed_Response_Count";
    case LbMetric::kHttpRedirectCount:
      return "HTTP_Redirect_Count";
    case LbMetric::kProcessedBytes:
      return "ProcessedBytes";
    case LbMetric::kNewConnectionCount:
      return "NewConnectionCount";
    case LbMetric::kActiveConnectionCount:
      return "ActiveConnectionCount";
    case LbMetric::kClientTlsNegotiationErrorCount:
      return "ClientTLSNegotiationErrorCount";
    case LbMetric::kDesyncNonCompliantRequestCount:
      return "DesyncMitigationMode_NonCompliant_Request_Count";
    case LbMetric::kTargetConnectionErrorCount:
      return "TargetConnectionErrorCount";
    case LbMetric::kRejectedConnectionCount:
      return "RejectedConnectionCount";
    case LbMetric::kNewFlowCountTcp:
      return "NewFlowCount_TCP";
    case LbMetric::kNewFlowCountTls:
      return "NewFlowCount_TLS";
    case LbMetric::kNewFlowCountUdp:
      return "NewFlowCount_UDP";
    case LbMetric::kActiveFlowCountTcp:
      return "ActiveFlowCount_TCP";
    case LbMetric::kActiveFlowCountTls:
      return "ActiveFlowCount_TLS";
    case LbMetric::kActiveFlowCountUdp:
      return "ActiveFlowCount_UDP";
    case LbMetric::kProcessedBytesTcp:
      return "ProcessedBytes_TCP";
    case LbMetric::kProcessedBytesTls:
      return "ProcessedBytes_TLS";
    case LbMetric::kProcessedBytesUdp:
      return "ProcessedBytes_UDP";
    case LbMetric::kRejectedFlowCountTcp:
      return "RejectedFlowCount_TCP";
    case LbMetric::kRejectedFlowCountUdp:
      return "RejectedFlowCount_UDP";
    case LbMetric::kTcpClientResetCount:
      return "TCP_Client_Reset_Count";
    case LbMetric::kTcpElbResetCount:
      return "TCP_ELB_Reset_Count";
    case LbMetric::kTcpTargetResetCount:
      return "TCP_Target_Reset_Count";
    case LbMetric::kTargetTlsNegotiationErrorCount:
      return "TargetTLSNegotiationErrorCount";
    case LbMetric::kUnhealthyRoutingFlowCount:
      return "UnhealthyRoutingFlowCount";
    case LbMetric::kProcessedPackets:
      return "ProcessedPackets";
    case LbMetric::kPortAllocationErrorCount:
      return "PortAllocationErrorCount";
    case LbMetric::kCount:
      break;
  }
  return "?";
}

namespace {

constexpr const char* kAlbPrefix = "AWS_ApplicationELB_";
constexpr const char* kNlbPrefix = "AWS_NetworkELB_";
constexpr const char* kAlbNamespace = "AWS/ApplicationELB";
constexpr const char* kNlbNamespace = "AWS/NetworkELB";

// An AWS/NetworkELB metric: the sum of up to three per-transport counters (kCount: none),
// plus the health checks' packets where `with_checks`. A kRate family is a counter whose
// history data point is its average rate over the sampling interval (Peak*PerSecond: the
// Maximum of those is the peak); /metrics leaves it out, Prometheus derives rates itself.
struct NetworkFamily {
  const char* name;
  SeriesKind kind;
  const char* unit;
  std::array<LbMetric, 3> parts;
  bool with_checks = false;
};

constexpr LbMetric kNo = LbMetric::kCount;
constexpr NetworkFamily kNetworkFamilies[] = {
    {"ActiveFlowCount",
     SeriesKind::kGauge,
     "Count",
     {LbMetric::kActiveFlowCountTcp, LbMetric::kActiveFlowCountTls, LbMetric::kActiveFlowCountUdp}},
    {"ActiveFlowCount_TCP", SeriesKind::kGauge, "Count", {LbMetric::kActiveFlowCountTcp, kNo, kNo}},
    {"ActiveFlowCount_TLS", SeriesKind::kGauge, "Count", {LbMetric::kActiveFlowCountTls, kNo, kNo}},
    {"ActiveFlowCount_UDP", SeriesKind::kGauge, "Count", {LbMetric::kActiveFlowCountUdp, kNo, kNo}},
    {"ClientTLSNegotiationErrorCount",
     SeriesKind::kCounter,
     "Count",
     {LbMetric::kClientTlsNegotiationErrorCount, kNo, kNo}},
    {"NewFlowCount",
     SeriesKind::kCounter,
     "Count",
     {LbMetric::kNewFlowCountTcp, LbMetric::kNewFlowCountTls, LbMetric::kNewFlowCountUdp}},
    {"NewFlowCount_TCP", SeriesKind::kCounter, "Count", {LbMetric::kNewFlowCountTcp, kNo, kNo}},
    {"NewFlowCount_TLS", SeriesKind::kCounter, "Count", {LbMetric::kNewFlowCountTls, kNo, kNo}},
    {"NewFlowCount_UDP", SeriesKind::kCounter, "Count", {LbMetric::kNewFlowCountUdp, kNo, kNo}},
    {"ProcessedBytes",
     SeriesKind::kCounter,
     "Bytes",
     {LbMetric::kProcessedBytesTcp, LbMetric::kProcessedBytesTls, LbMetric::kProcessedBytesUdp}},
    {"ProcessedBytes_TCP", SeriesKind::kCounter, "Bytes", {LbMetric::kProcessedBytesTcp, kNo, kNo}},
    {"ProcessedBytes_TLS", SeriesKind::kCounter, "Bytes", {LbMetric::kProcessedBytesTls, kNo, kNo}},
    {"ProcessedBytes_UDP", SeriesKind::kCounter, "Bytes", {LbMetric::kProcessedBytesUdp, kNo, kNo}},
    {"RejectedFlowCount",
     SeriesKind::kCounter,
     "Count",
     {LbMetric::kRejectedFlowCountTcp, LbMetric::kRejectedFlowCountUdp, kNo}},
    {"RejectedFlowCount_TCP",
     SeriesKind::kCounter,
     "Count",
     {LbMetric::kRejectedFlowCountTcp, kNo, kNo}},
    {"TargetTLSNegotiationErrorCount",
     SeriesKind::kCounter,
     "Count",
     {LbMetric::kTargetTlsNegotiationErrorCount, kNo, kNo}},
    {"TCP_Client_Reset_Count",
     SeriesKind::kCounter,
     "Count",
     {LbMetric::kTcpClientResetCount, kNo, kNo}},
    {"TCP_ELB_Reset_Count", SeriesKind::kCounter, "Count", {LbMetric::kTcpElbResetCount, kNo, kNo}},
    {"TCP_Target_Reset_Count",
     SeriesKind::kCounter,
     "Count",
     {LbMetric::kTcpTargetResetCount, kNo, kNo}},
    {"UnhealthyRoutingFlowCount",
     SeriesKind::kCounter,
     "Count",
     {LbMetric::kUnhealthyRoutingFlowCount, kNo, kNo}},
    {"ProcessedPackets",
     SeriesKind::kCounter,
     "Count",
     {LbMetric::kProcessedPackets, kNo, kNo},
     true},
    {"PortAllocationErrorCount",
     SeriesKind::kCounter,
     "Count",
     {LbMetric::kPortAllocationErrorCount, kNo, kNo}},
    {"PeakBytesPerSecond",
     SeriesKind::kRate,
     "Bytes/Second",
     {LbMetric::kProcessedBytesTcp, LbMetric::kProcessedBytesTls, LbMetric::kProcessedBytesUdp}},
    {"PeakPacketsPerSecond",
     SeriesKind::kRate,
     "Count/Second",
     {LbMetric::kProcessedPackets, kNo, kNo},
     true},
};

void Line(std::string* out, const char* prefix, const char* name, const char* label,
          const std::string& value_of_label, const std::string& value,
          const char* extra_label = nullptr) {
  out->append(prefix);
  out->append(name);
  out->push_back('{');
  out->append(label);
  out->append("=\"");
  out->append(value_of_label);
  out->push_back('"');
  if (extra_label != nullptr) out->append(extra_label);
  out->append("} ");
  out->append(value);
  out->push_back('\n');
}

void Type(std::string* out, const char* prefix, const char* name, const char* type) {
  out->append("# TYPE ");
  out->append(prefix);
  out->append(name);
  out->push_back(' ');
  out->append(type);
  out->push_back('\n');
}

uint64_t SumLb(const std::vector<const WorkerMetrics*>& w, size_t slot, LbMetric m) {
  uint64_t s = 0;
  for (const WorkerMetrics* x : w) s += x->Get(slot, m);
  return s;
}

uint64_t SumTg(const std::vector<const WorkerMetrics*>& w, size_t slot, TgMetric m) {
  uint64_t s = 0;
  for (const WorkerMetrics* x : w) s += x->Get(slot, m);
  return s;
}

// A network family's value for a load balancer: its parts summed (a gauge's parts wrap, so
// their sum is read as signed), plus `checks` (its groups' health-check packets) where the
// family counts them.
double FamilyValue(const NetworkFamily& f, const std::vector<const WorkerMetrics*>& w, size_t slot,
                   uint64_t checks) {
  uint64_t v = f.with_checks ? checks : 0;
  for (LbMetric m : f.parts) {
    if (m != kNo) v += SumLb(w, slot, m);
  }
  return f.kind == SeriesKind::kGauge ? static_cast<double>(static_cast<int64_t>(v))
                                      : static_cast<double>(v);
}

std::string Integer(double v) { return std::to_string(static_cast<int64_t>(v)); }

// The target-group counterpart of a load-balancer metric (CloudWatch publishes both
// dimension sets under one name); kCount when there is none.
TgMetric PerTargetGroup(LbMetric m) {
  switch (m) {
    case LbMetric::kRequestCount:
      return TgMetric::kRequestCount;
    case LbMetric::kHttpCodeTarget2xx:
      return TgMetric::kHttpCodeTarget2xx;
    case LbMetric::kHttpCodeTarget3xx:
      return TgMetric::kHttpCodeTarget3xx;
    case LbMetric::kHttpCodeTarget4xx:
      return TgMetric::kHttpCodeTarget4xx;
    case LbMetric::kHttpCodeTarget5xx:
      return TgMetric::kHttpCodeTarget5xx;
    case LbMetric::kTargetConnectionErrorCount:
      return TgMetric::kTargetConnectionErrorCount;
    default:
      return TgMetric::kCount;
  }
}

// The slots as the renderers read them.
struct SlotView {
  std::vector<std::string> lbs;
  std::vector<std::string> tgs;
  std::vector<bool> tg_network;
  std::vector<int> tg_lb;               // the load balancer slot each group serves, or -1
  bool any_network = false;             // a network load balancer or target group exists
  std::vector<uint64_t> check_packets;  // per load balancer slot: its groups' health checks
  SlotView(const MetricSlots& slots, const std::vector<TargetGroupHealthCount>& health)
      : lbs(slots.LoadBalancerDimensions()),
        tgs(slots.TargetGroupDimensions()),
        tg_network(slots.NetworkTargetGroups()),
        tg_lb(slots.TargetGroupLoadBalancers()) {
    tg_lb.resize(tgs.size(), -1);
    tg_network.resize(tgs.size());
    for (const std::string& d : lbs) any_network |= IsNetworkLoadBalancerDimension(d);
    for (bool n : tg_network) any_network |= n;
    check_packets = slots.CheckPacketsByLoadBalancer(health);
    check_packets.resize(lbs.size());
  }
};

// One AWS/ApplicationELB family per metric: the application load balancers' series, then
// the application target groups' ones if any.
void RenderCounters(const SlotView& v, const std::vector<const WorkerMetrics*>& workers,
                    std::string* out) {
  for (size_t m = 0; m < static_cast<size_t>(kFirstNetworkMetric); ++m) {
    const LbMetric metric = static_cast<LbMetric>(m);
    const bool gauge = metric == LbMetric::kActiveConnectionCount;
    Type(out, kAlbPrefix, MetricName(metric), gauge ? "gauge" : "counter");
    for (size_t slot = 0; slot < v.lbs.size(); ++slot) {
      if (IsNetworkLoadBalancerDimension(v.lbs[slot])) continue;
      const uint64_t x = SumLb(workers, slot, metric);
      Line(out, kAlbPrefix, MetricName(metric), "LoadBalancer", v.lbs[slot],
           gauge ? std::to_string(static_cast<int64_t>(x)) : std::to_string(x));
    }
    const TgMetric tg_metric = PerTargetGroup(metric);
    if (tg_metric == TgMetric::kCount) continue;
    for (size_t slot = 0; slot < v.tgs.size(); ++slot) {
      if (v.tg_network[slot]) continue;
      Line(out, kAlbPrefix, MetricName(metric), "TargetGroup", v.tgs[slot],
           std::to_string(SumTg(workers, slot, tg_metric)));
    }
  }
}

// The AWS/NetworkELB families, one series per network load balancer.
void RenderNetworkCounters(const SlotView& v, const std::vector<const WorkerMetrics*>& workers,
                           std::string* out) {
  for (const NetworkFamily& f : kNetworkFamilies) {
    if (f.kind == SeriesKind::kRate) continue;  // Prometheus takes rates of the counters
    Type(out, kNlbPrefix, f.name, f.kind == SeriesKind::kGauge ? "gauge" : "counter");
    for (size_t slot = 0; slot < v.lbs.size(); ++slot) {
      if (!IsNetworkLoadBalancerDimension(v.lbs[slot])) continue;
      Line(out, kNlbPrefix, f.name, "LoadBalancer", v.lbs[slot],
           Integer(FamilyValue(f, workers, slot, v.check_packets[slot])));
    }
  }
}

void RenderResponseTime(const SlotView& v, const std::vector<const WorkerMetrics*>& workers,
                        std::string* out) {
  Type(out, kAlbPrefix, "TargetResponseTime", "histogram");
  for (size_t slot = 0; slot < v.tgs.size(); ++slot) {
    if (v.tg_network[slot]) continue;
    const std::string& dim = v.tgs[slot];
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= kResponseTimeFiniteBuckets; ++b) {
      cumulative +=
          SumTg(workers, slot,
                static_cast<TgMetric>(static_cast<size_t>(TgMetric::kResponseTimeBucket0) + b));
      char le[48];
      if (b < kResponseTimeFiniteBuckets) {
        std::snprintf(le, sizeof(le), ",le=\"%g\"",
                      static_cast<double>(ResponseTimeBucketBoundMs(b)) / 1000.0);
      } else {
        std::snprintf(le, sizeof(le), ",le=\"+Inf\"");
      }
      Line(out, kAlbPrefix, "TargetResponseTime_bucket", "TargetGroup", dim,
           std::to_string(cumulative), le);
    }
    char sum[48];
    std::snprintf(sum, sizeof(sum), "%.3f",
                  static_cast<double>(SumTg(workers, slot, TgMetric::kResponseTimeSumMs)) / 1000.0);
    Line(out, kAlbPrefix, "TargetResponseTime_sum", "TargetGroup", dim, sum);
    Line(out, kAlbPrefix, "TargetResponseTime_count", "TargetGroup", dim,
         std::to_string(SumTg(workers, slot, TgMetric::kResponseTimeCount)));
  }
}

// HealthyHostCount and UnHealthyHostCount of one namespace's target groups.
void RenderHostCounts(const std::vector<TargetGroupHealthCount>& health, bool network,
                      std::string* out) {
  const char* prefix = network ? kNlbPrefix : kAlbPrefix;
  Type(out, prefix, "HealthyHostCount", "gauge");
  for (const TargetGroupHealthCount& h : health) {
    if (h.network != network) continue;
    Line(out, prefix, "HealthyHostCount", "TargetGroup", h.dimension, std::to_string(h.healthy));
  }
  Type(out, prefix, "UnHealthyHostCount", "gauge");
  for (const TargetGroupHealthCount& h : health) {
    if (h.network != network) continue;
    Line(out, prefix, "UnHealthyHostCount", "TargetGroup", h.dimension,
         std::to_string(h.unhealthy));
  }
}

SeriesKind KindOf(LbMetric m) {
  if (m == LbMetric::kRequestCount) return SeriesKind::kCounterAlways;
  if (m == LbMetric::kActiveConnectionCount) return SeriesKind::kGauge;
  return SeriesKind::kCounter;
}

HistogramTotals TargetGroupResponseTimes(const std::vector<const WorkerMetrics*>& workers,
                                         size_t slot) {
  HistogramTotals h;
  h.count = SumTg(workers, slot, TgMetric::kResponseTimeCount);
  h.sum_ms = SumTg(workers, slot, TgMetric::kResponseTimeSumMs);
  for (size_t b = 0; b < h.buckets.size(); ++b) {
    h.buckets[b] =
        SumTg(workers, slot,
              static_cast<TgMetric>(static_cast<size_t>(TgMetric::kResponseTimeBucket0) + b));
  }
  return h;
}

// TargetResponseTime per target group, and per application load balancer as the sum of the
// groups it serves (CloudWatch publishes both; a group serving none or several counts for no
// load balancer).
void CollectResponseTimes(const SlotView& v, const std::vector<const WorkerMetrics*>& workers,
                          MetricTotals* out) {
  std::vector<SeriesTotal> per_lb(v.lbs.size());
  for (size_t slot = 0; slot < v.tgs.size(); ++slot) {
    if (v.tg_network[slot]) continue;
    SeriesTotal t = Scalar("TargetResponseTime", {{"TargetGroup", v.tgs[slot]}},
                           SeriesKind::kHistogram, "Seconds", 0);
    t.histogram = TargetGroupResponseTimes(workers, slot);
    const int lb = v.tg_lb[slot];
    if (lb >= 0 && static_cast<size_t>(lb) < v.lbs.size()) {
      SeriesTotal& sum = per_lb[static_cast<size_t>(lb)];
      if (sum.metric.empty()) {
        sum = Scalar("TargetResponseTime", {{"LoadBalancer", v.lbs[static_cast<size_t>(lb)]}},
                     SeriesKind::kHistogram, "Seconds", 0);
      }
      sum.histogram.count += t.histogram.count;
      sum.histogram.sum_ms += t.histogram.sum_ms;
      for (size_t b = 0; b < t.histogram.buckets.size(); ++b) {
        sum.histogram.buckets[b] += t.histogram.buckets[b];
      }
    }
    out->push_back(std::move(t));
  }
  for (size_t slot = 0; slot < per_lb.size(); ++slot) {
    if (!per_lb[slot].metric.empty() && !IsNetworkLoadBalancerDimension(v.lbs[slot])) {
      out->push_back(std::move(per_lb[slot]));
    }
  }
}

void CollectApplication(const SlotView& v, const std::vector<const WorkerMetrics*>& workers,
                        MetricTotals* out) {
  for (size_t m = 0; m < static_cast<size_t>(kFirstNetworkMetric); ++m) {
    const LbMetric metric = static_cast<LbMetric>(m);
    const SeriesKind kind = KindOf(metric);
    const char* unit = metric == LbMetric::kProcessedBytes ? "Bytes" : "Count";
    for (size_t slot = 0; slot < v.lbs.size(); ++slot) {
      if (IsNetworkLoadBalancerDimension(v.lbs[slot])) continue;
      const uint64_t x = SumLb(workers, slot, metric);
      out->push_back(Scalar(MetricName(metric), {{"LoadBalancer", v.lbs[slot]}}, kind, unit,
                            kind == SeriesKind::kGauge
                                ? static_cast<double>(static_cast<int64_t>(x))
                                : static_cast<double>(x)));
    }
    const TgMetric tg_metric = PerTargetGroup(metric);
    if (tg_metric == TgMetric::kCount) continue;
    for (size_t slot = 0; slot < v.tgs.size(); ++slot) {
      if (v.tg_network[slot]) continue;
      out->push_back(Scalar(MetricName(metric), {{"TargetGroup", v.tgs[slot]}}, kind, unit,
                            static_cast<double>(SumTg(workers, slot, tg_metric))));
    }
  }
  CollectResponseTimes(v, workers, out);
}

void CollectNetwork(const SlotView& v, const std::vector<const WorkerMetrics*>& workers,
                    MetricTotals* out) {
  for (const NetworkFamily& f : kNetworkFamilies) {
    for (size_t slot = 0; slot < v.lbs.size(); ++slot) {
      if (!IsNetworkLoadBalancerDimension(v.lbs[slot])) continue;
      SeriesTotal t = Scalar(f.name, {{"LoadBalancer", v.lbs[slot]}}, f.kind, f.unit,
                             FamilyValue(f, workers, slot, v.check_packets[slot]));
      t.metric_namespace = kNlbNamespace;
      out->push_back(std::move(t));
    }
  }
}

}  // namespace

MetricTotals CollectTotals(const MetricSlots& slots,
                           const std::vector<const WorkerMetrics*>& workers,
                           const std::vector<TargetGroupHealthCount>& health) {
  MetricTotals out;
  const SlotView v(slots, health);
  CollectApplication(v, workers, &out);
  CollectNetwork(v, workers, &out);
  for (const TargetGroupHealthCount& h : health) {
    const char* ns = h.network ? kNlbNamespace : kAlbNamespace;
    out.push_back(Scalar("HealthyHostCount", {{"TargetGroup", h.dimension}}, SeriesKind::kGauge,
                         "Count", static_cast<double>(h.healthy)));
    out.back().metric_namespace = ns;
    out.push_back(Scalar("UnHealthyHostCount", {{"TargetGroup", h.dimension}}, SeriesKind::kGauge,
                         "Count", static_cast<double>(h.unhealthy)));
    out.back().metric_namespace = ns;
  }
  return out;
}

std::string RenderPrometheus(const MetricSlots& slots,
                             const std::vector<const WorkerMetrics*>& workers,
                             const std::vector<TargetGroupHealthCount>& health) {
  std::string out;
  const SlotView v(slots, health);
  RenderCounters(v, workers, &out);
  RenderResponseTime(v, workers, &out);
  RenderHostCounts(health, false, &out);
  if (v.any_network) {
    RenderNetworkCounters(v, workers, &out);
    RenderHostCounts(health, true, &out);
  }
  return out;
}

}  // namespace sluice::observe
