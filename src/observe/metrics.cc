#include "observe/metrics.h"

#include <cstdio>

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
  return Assign(lb_by_name_, lb_dims_, kMaxLoadBalancerSlots, name, dimension);
}

int MetricSlots::TargetGroup(const std::string& name, const std::string& dimension) {
  std::lock_guard<std::mutex> lock(mu_);
  return Assign(tg_by_name_, tg_dims_, kMaxTargetGroupSlots, name, dimension);
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
    case LbMetric::kCount:
      break;
  }
  return "?";
}

namespace {

constexpr const char* kPrefix = "AWS_ApplicationELB_";

void Line(std::string* out, const char* name, const char* label, const std::string& value_of_label,
          const std::string& value, const char* extra_label = nullptr) {
  out->append(kPrefix);
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

void Type(std::string* out, const char* name, const char* type) {
  out->append("# TYPE ");
  out->append(kPrefix);
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

// One family per metric: the LoadBalancer series, then the TargetGroup ones if any.
void RenderCounters(const std::vector<std::string>& lbs, const std::vector<std::string>& tgs,
                    const std::vector<const WorkerMetrics*>& workers, std::string* out) {
  for (size_t m = 0; m < static_cast<size_t>(LbMetric::kCount); ++m) {
    const LbMetric metric = static_cast<LbMetric>(m);
    const bool gauge = metric == LbMetric::kActiveConnectionCount;
    Type(out, MetricName(metric), gauge ? "gauge" : "counter");
    for (size_t slot = 0; slot < lbs.size(); ++slot) {
      const uint64_t v = SumLb(workers, slot, metric);
      Line(out, MetricName(metric), "LoadBalancer", lbs[slot],
           gauge ? std::to_string(static_cast<int64_t>(v)) : std::to_string(v));
    }
    const TgMetric tg_metric = PerTargetGroup(metric);
    if (tg_metric == TgMetric::kCount) continue;
    for (size_t slot = 0; slot < tgs.size(); ++slot) {
      Line(out, MetricName(metric), "TargetGroup", tgs[slot],
           std::to_string(SumTg(workers, slot, tg_metric)));
    }
  }
}

void RenderResponseTime(const std::vector<std::string>& dims,
                        const std::vector<const WorkerMetrics*>& workers, std::string* out) {
  Type(out, "TargetResponseTime", "histogram");
  const std::string name = std::string(kPrefix) + "TargetResponseTime";
  for (size_t slot = 0; slot < dims.size(); ++slot) {
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
      Line(out, "TargetResponseTime_bucket", "TargetGroup", dims[slot], std::to_string(cumulative),
           le);
    }
    char sum[48];
    std::snprintf(sum, sizeof(sum), "%.3f",
                  static_cast<double>(SumTg(workers, slot, TgMetric::kResponseTimeSumMs)) / 1000.0);
    Line(out, "TargetResponseTime_sum", "TargetGroup", dims[slot], sum);
    Line(out, "TargetResponseTime_count", "TargetGroup", dims[slot],
         std::to_string(SumTg(workers, slot, TgMetric::kResponseTimeCount)));
  }
}

SeriesKind KindOf(LbMetric m) {
  if (m == LbMetric::kRequestCount) return SeriesKind::kCounterAlways;
  if (m == LbMetric::kActiveConnectionCount) return SeriesKind::kGauge;
  return SeriesKind::kCounter;
}

}  // namespace

MetricTotals CollectTotals(const MetricSlots& slots,
                           const std::vector<const WorkerMetrics*>& workers,
                           const std::vector<TargetGroupHealthCount>& health) {
  MetricTotals out;
  const std::vector<std::string> lbs = slots.LoadBalancerDimensions();
  const std::vector<std::string> tgs = slots.TargetGroupDimensions();
  for (size_t m = 0; m < static_cast<size_t>(LbMetric::kCount); ++m) {
    const LbMetric metric = static_cast<LbMetric>(m);
    const SeriesKind kind = KindOf(metric);
    const char* unit = metric == LbMetric::kProcessedBytes ? "Bytes" : "Count";
    for (size_t slot = 0; slot < lbs.size(); ++slot) {
      const uint64_t v = SumLb(workers, slot, metric);
      out.push_back(Scalar(MetricName(metric), {{"LoadBalancer", lbs[slot]}}, kind, unit,
                           kind == SeriesKind::kGauge ? static_cast<double>(static_cast<int64_t>(v))
                                                      : static_cast<double>(v)));
    }
    const TgMetric tg_metric = PerTargetGroup(metric);
    if (tg_metric == TgMetric::kCount) continue;
    for (size_t slot = 0; slot < tgs.size(); ++slot) {
      out.push_back(Scalar(MetricName(metric), {{"TargetGroup", tgs[slot]}}, kind, unit,
                           static_cast<double>(SumTg(workers, slot, tg_metric))));
    }
  }
  for (size_t slot = 0; slot < tgs.size(); ++slot) {
    SeriesTotal t = Scalar("TargetResponseTime", {{"TargetGroup", tgs[slot]}},
                           SeriesKind::kHistogram, "Seconds", 0);
    t.histogram.count = SumTg(workers, slot, TgMetric::kResponseTimeCount);
    t.histogram.sum_ms = SumTg(workers, slot, TgMetric::kResponseTimeSumMs);
    for (size_t b = 0; b < t.histogram.buckets.size(); ++b) {
      t.histogram.buckets[b] =
          SumTg(workers, slot,
                static_cast<TgMetric>(static_cast<size_t>(TgMetric::kResponseTimeBucket0) + b));
    }
    out.push_back(std::move(t));
  }
  for (const TargetGroupHealthCount& h : health) {
    out.push_back(Scalar("HealthyHostCount", {{"TargetGroup", h.dimension}}, SeriesKind::kGauge,
                         "Count", static_cast<double>(h.healthy)));
    out.push_back(Scalar("UnHealthyHostCount", {{"TargetGroup", h.dimension}}, SeriesKind::kGauge,
                         "Count", static_cast<double>(h.unhealthy)));
  }
  return out;
}

std::string RenderPrometheus(const MetricSlots& slots,
                             const std::vector<const WorkerMetrics*>& workers,
                             const std::vector<TargetGroupHealthCount>& health) {
  std::string out;
  const std::vector<std::string> tgs = slots.TargetGroupDimensions();
  RenderCounters(slots.LoadBalancerDimensions(), tgs, workers, &out);
  RenderResponseTime(tgs, workers, &out);
  Type(&out, "HealthyHostCount", "gauge");
  for (const TargetGroupHealthCount& h : health) {
    Line(&out, "HealthyHostCount", "TargetGroup", h.dimension, std::to_string(h.healthy));
  }
  Type(&out, "UnHealthyHostCount", "gauge");
  for (const TargetGroupHealthCount& h : health) {
    Line(&out, "UnHealthyHostCount", "TargetGroup", h.dimension, std::to_string(h.unhealthy));
  }
  return out;
}

}  // namespace sluice::observe
