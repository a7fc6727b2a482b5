// The recent past of the AWS/ApplicationELB and AWS/NetworkELB metrics, kept as CloudWatch keeps
// it: one data point per series per interval of `resolution` seconds, for `retention` seconds,
// aggregated on read into the periods and statistics GetMetricStatistics asks for.
//
// Control plane only. Record runs on the sampler thread; Statistics and List on any thread
// (the admin endpoint's, the alarms'); one mutex, never taken on the request path, which only
// bumps the per-worker counters that CollectTotals (metrics.h) reads.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/percentile.h"
#include "observe/metrics.h"

namespace sluice::observe {

struct Dimension {
  std::string name;   // "LoadBalancer", "TargetGroup"
  std::string value;  // "app/web/0123456789abcdef"
  bool operator==(const Dimension&) const = default;
};

enum class SeriesKind : uint8_t {
  kCounter,        // cumulative total; a data point is its increase, none when it is 0
                   // (CloudWatch's "reporting criteria: there is a nonzero value")
  kCounterAlways,  // the same, but a 0 is a data point too (RequestCount: "always reported")
  kGauge,          // the value at the sampling instant (connections, healthy hosts)
  kRate,           // a cumulative total whose data point is its average increase per second
                   // over the interval (PeakBytesPerSecond: the Maximum of them is the peak)
  kHistogram,      // TargetResponseTime: per-interval count, sum and bucket counts
};

// TargetResponseTime's buckets as metrics.h counts them: bucket w holds the times whose bit
// width is w (upper bound 2^w - 1 ms), the last one everything above 65,535 ms.
struct HistogramTotals {
  uint64_t count = 0;
  uint64_t sum_ms = 0;
  std::array<uint64_t, kResponseTimeFiniteBuckets + 1> buckets{};
};

// One series at one instant.
struct SeriesTotal {
  const char* metric_namespace = "AWS/ApplicationELB";  // or "AWS/NetworkELB"; static text
  std::string metric;                                   // CloudWatch's name
  std::vector<Dimension> dimensions;                    // as CloudWatch would publish them
  SeriesKind kind = SeriesKind::kCounter;
  const char* unit = "Count";  // "Count", "Bytes", "Seconds"
  double value = 0;            // counter total or gauge value (unused for histograms)
  HistogramTotals histogram;   // histograms only
};

inline SeriesTotal Scalar(std::string metric, std::vector<Dimension> dims, SeriesKind kind,
                          const char* unit, double value) {
  SeriesTotal t;
  t.metric = std::move(metric);
  t.dimensions = std::move(dims);
  t.kind = kind;
  t.unit = unit;
  t.value = value;
  return t;
}

// Every series at one instant.
using MetricTotals = std::vector<SeriesTotal>;

// Every series the workers and the health checker have, summed over the workers (any thread;
// defined beside RenderPrometheus in metrics.cc): per load balancer {LoadBalancer}, per
// target group {TargetGroup}, with CloudWatch's names, units and reporting kinds.
MetricTotals CollectTotals(const MetricSlots& slots,
                           const std::vector<const WorkerMetrics*>& workers,
                           const std::vector<TargetGroupHealthCount>& health);

// A series' name: what ListMetrics returns and what Statistics selects by (the dimensions
// match as a set, in any order, as CloudWatch's do).
struct SeriesName {
  std::string metric;
  std::vector<Dimension> dimensions;
  const char* metric_namespace = "AWS/ApplicationELB";  // static text
};

struct StatisticsRequest {
  std::string metric_namespace = "AWS/ApplicationELB";
  std::string metric;
  std::vector<Dimension> dimensions;
  int64_t start_s = 0;  // Unix seconds; data points with start_s <= time < end_s
  int64_t end_s = 0;
  int64_t period_s = 60;
  std::vector<std::string> statistics;  // Sum, Average, Minimum, Maximum, SampleCount
  std::vector<std::string> extended;    // percentiles: p50, p99, p99.9
};

struct Datapoint {
  int64_t timestamp_s = 0;  // the period's start: StartTime + k * Period
  std::vector<std::pair<std::string, double>> statistics;  // in the order requested
  std::vector<std::pair<std::string, double>> extended;
  const char* unit = "Count";
};

struct StatisticsResult {
  std::string label;                  // the metric name, as CloudWatch labels it
  std::vector<Datapoint> datapoints;  // oldest first
};

// A refused request, with CloudWatch's error code (InvalidParameterValue,
// InvalidParameterCombination, MissingParameter) and a message naming the parameter.
struct MetricError {
  std::string code;
  std::string message;
};

inline constexpr int64_t kMaxDatapointsPerRequest = 1440;  // CloudWatch's limit

class MetricHistory {
 public:
  // resolution_s: seconds per data point (1..3600); retention_s: how far back reads reach.
  MetricHistory(int resolution_s, int retention_s);

  // Sampler thread: the totals as of now_s (Unix seconds). Each call closes the interval
  // that began at the previous call (the first call's interval began at process start, when
  // every counter was 0); its data points carry the interval's start time.
  void Record(int64_t now_s, const MetricTotals& totals);

  // Any thread.
  std::variant<StatisticsResult, MetricError> Statistics(const StatisticsRequest& request) const;
  std::vector<SeriesName> List() const;
  int resolution_s() const { return resolution_s_; }
  int retention_s() const { return retention_s_; }

 private:
  struct Series {
    SeriesName name;
    SeriesKind kind = SeriesKind::kCounter;
    const char* unit = "Count";
    double last_total = 0;
    HistogramTotals last_histogram;
    std::vector<double> points;              // per ring slot; NaN = no data point
    std::vector<HistogramTotals> intervals;  // histograms: per ring slot
  };
  Series& Find(const SeriesTotal& total);  // creates the series on first sight
  const Series* Find(std::string_view metric_namespace, const std::string& metric,
                     const std::vector<Dimension>& dims) const;

  const int resolution_s_;
  const int retention_s_;
  const size_t capacity_;  // ring slots
  mutable std::mutex mu_;
  std::vector<int64_t> slot_time_;  // interval start per slot; INT64_MIN = unused
  size_t next_slot_ = 0;
  int64_t last_record_s_ = INT64_MIN;
  std::vector<Series> series_;
};

// Statistic arithmetic, exposed for tests. A percentile of a histogram interpolates linearly
// inside the bucket that holds it; returns seconds.
double HistogramPercentile(const HistogramTotals& h, double percentile);

}  // namespace sluice::observe
