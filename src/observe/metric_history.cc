#include "observe/metric_history.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

namespace sluice::observe {
namespace {

constexpr double kNoData = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kStatisticNames[] = {"Sum", "Average", "Minimum", "Maximum", "SampleCount"};

bool SameDimensions(const std::vector<Dimension>& a, const std::vector<Dimension>& b) {
  if (a.size() != b.size()) return false;
  for (const Dimension& d : a) {
    if (std::find(b.begin(), b.end(), d) == b.end()) return false;
  }
  return true;
}

// A bucket's bounds in milliseconds: bucket w holds the values whose bit width is w.
double BucketLowerMs(size_t w) { return w == 0 ? 0.0 : std::ldexp(1.0, static_cast<int>(w) - 1); }
double BucketUpperMs(size_t w) {
  return w >= kResponseTimeFiniteBuckets ? BucketLowerMs(w)  // +Inf: its lower bound
                                         : static_cast<double>(ResponseTimeBucketBoundMs(w));
}

HistogramTotals Minus(const HistogramTotals& now, const HistogramTotals& before) {
  HistogramTotals d;
  if (now.count < before.count) return now;  // a reset: count from zero
  d.count = now.count - before.count;
  d.sum_ms = now.sum_ms - before.sum_ms;
  for (size_t b = 0; b < d.buckets.size(); ++b) d.buckets[b] = now.buckets[b] - before.buckets[b];
  return d;
}

void AddTo(HistogramTotals* into, const HistogramTotals& h) {
  into->count += h.count;
  into->sum_ms += h.sum_ms;
  for (size_t b = 0; b < h.buckets.size(); ++b) into->buckets[b] += h.buckets[b];
}

// What one period gathered: the data points' values, or the merged histogram.
struct Period {
  std::vector<double> values;
  HistogramTotals histogram;
};

double ValuesStatistic(const std::vector<double>& v, const std::string& name) {
  double sum = 0;
  for (double x : v) sum += x;
  if (name == "Sum") return sum;
  if (name == "SampleCount") return static_cast<double>(v.size());
  if (name == "Average") return sum / static_cast<double>(v.size());
  if (name == "Minimum") return *std::min_element(v.begin(), v.end());
  return *std::max_element(v.begin(), v.end());  // Maximum
}

// Nearest rank over the period's data points.
double ValuesPercentile(std::vector<double> v, double percentile) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(percentile / 100.0 * static_cast<double>(v.size())));
  return v[rank == 0 ? 0 : rank - 1];
}

double HistogramStatistic(const HistogramTotals& h, const std::string& name) {
  const double sum_s = static_cast<double>(h.sum_ms) / 1000.0;
  if (name == "Sum") return sum_s;
  if (name == "SampleCount") return static_cast<double>(h.count);
  if (name == "Average") return sum_s / static_cast<double>(h.count);
  // Minimum and Maximum: the bounds of the outermost buckets that hold a response.
  size_t lo = 0, hi = h.buckets.size() - 1;
  while (lo < hi && h.buckets[lo] == 0) ++lo;
  while (hi > lo && h.buckets[hi] == 0) --hi;
  return (name == "Minimum" ? BucketLowerMs(lo) : BucketUpperMs(hi)) / 1000.0;
}

Datapoint MakeDatapoint(const StatisticsRequest& request, SeriesKind kind, const char* unit,
                        int64_t timestamp_s, const Period& p) {
  Datapoint dp;
  dp.timestamp_s = timestamp_s;
  dp.unit = unit;
  const bool histogram = kind == SeriesKind::kHistogram;
  for (const std::string& name : request.statistics) {
    dp.statistics.emplace_back(
        name, histogram ? HistogramStatistic(p.histogram, name) : ValuesStatistic(p.values, name));
  }
  for (const std::string& name : request.extended) {
    double percentile = 0;
    ParsePercentile(name, &percentile);  // validated before
    dp.extended.emplace_back(name, histogram ? HistogramPercentile(p.histogram, percentile)
                                             : ValuesPercentile(p.values, percentile));
  }
  return dp;
}

std::variant<bool, MetricError> Validate(const StatisticsRequest& r, int resolution_s) {
  auto invalid = [](std::string message) {
    return MetricError{"InvalidParameterValue", std::move(message)};
  };
  if (r.metric.empty()) return MetricError{"MissingParameter", "MetricName is required."};
  if (r.period_s <= 0 || r.period_s % resolution_s != 0) {
    return invalid("The parameter Period must be a positive multiple of " +
                   std::to_string(resolution_s) +
                   " (the sampling resolution, Admin.MetricsResolutionSeconds).");
  }
  if (r.end_s <= r.start_s) {
    return invalid("The parameter StartTime must be less than the parameter EndTime.");
  }
  if (r.statistics.empty() == r.extended.empty()) {
    return MetricError{"InvalidParameterCombination",
                       "Must specify either Statistics or ExtendedStatistics, but not both."};
  }
  // CloudWatch's limits; they also bound the answer (1,440 points x 15 values).
  if (r.statistics.size() > 5 || r.extended.size() > 10) {
    return invalid("At most 5 Statistics and 10 ExtendedStatistics may be requested.");
  }
  for (const std::string& s : r.statistics) {
    if (std::find(std::begin(kStatisticNames), std::end(kStatisticNames), s) ==
        std::end(kStatisticNames)) {
      return invalid("The statistic '" + s +
                     "' is not one of Average, Sum, SampleCount, Maximum, Minimum.");
    }
  }
  for (const std::string& s : r.extended) {
    double p = 0;
    if (!ParsePercentile(s, &p)) {
      return invalid("The extended statistic '" + s + "' is not a percentile such as p99.9.");
    }
  }
  const int64_t points = (r.end_s - r.start_s + r.period_s - 1) / r.period_s;
  if (points > kMaxDatapointsPerRequest) {
    return MetricError{"InvalidParameterCombination",
                       "You have requested up to " + std::to_string(points) +
                           " datapoints, which exceeds the limit of 1,440. You may reduce the "
                           "datapoints requested by increasing Period, or decreasing the time "
                           "range."};
  }
  return true;
}

}  // namespace

double HistogramPercentile(const HistogramTotals& h, double percentile) {
  if (h.count == 0) return kNoData;
  const double rank = percentile / 100.0 * static_cast<double>(h.count);
  double before = 0;
  for (size_t w = 0; w < h.buckets.size(); ++w) {
    const double n = static_cast<double>(h.buckets[w]);
    if (n == 0) continue;
    if (rank <= before + n || w + 1 == h.buckets.size()) {
      const double fraction = std::clamp((rank - before) / n, 0.0, 1.0);
      const double lo = BucketLowerMs(w), hi = BucketUpperMs(w);
      return (lo + (hi - lo) * fraction) / 1000.0;
    }
    before += n;
  }
  return kNoData;
}

MetricHistory::MetricHistory(int resolution_s, int retention_s)
    : resolution_s_(std::clamp(resolution_s, 1, 3600)),
      retention_s_(std::max(retention_s, resolution_s_)),
      capacity_(static_cast<size_t>(retention_s_ / resolution_s_) + 1),
      slot_time_(capacity_, INT64_MIN) {}

MetricHistory::Series& MetricHistory::Find(const SeriesTotal& total) {
  for (Series& s : series_) {
    if (s.name.metric == total.metric && SameDimensions(s.name.dimensions, total.dimensions) &&
        std::string_view(s.name.metric_namespace) == total.metric_namespace) {
      return s;
    }
  }
  Series& s = series_.emplace_back();
  s.name = {total.metric, total.dimensions, total.metric_namespace};
  s.kind = total.kind;
  s.unit = total.unit;
  s.points.assign(capacity_, kNoData);
  if (s.kind == SeriesKind::kHistogram) s.intervals.assign(capacity_, HistogramTotals{});
  return s;
}

const MetricHistory::Series* MetricHistory::Find(std::string_view metric_namespace,
                                                 const std::string& metric,
                                                 const std::vector<Dimension>& dims) const {
  for (const Series& s : series_) {
    if (s.name.metric == metric && SameDimensions(s.name.dimensions, dims) &&
        metric_namespace == s.name.metric_namespace) {
      return &s;
    }
  }
  return nullptr;
}

void MetricHistory::Record(int64_t now_s, const MetricTotals& totals) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t start = last_record_s_ == INT64_MIN ? now_s - resolution_s_ : last_record_s_;
  last_record_s_ = now_s;
  const size_t slot = next_slot_;
  next_slot_ = (next_slot_ + 1) % capacity_;
  slot_time_[slot] = start;
  for (Series& s : series_) {  // a series absent from this sample has no data point
    s.points[slot] = kNoData;
    if (s.kind == SeriesKind::kHistogram) s.intervals[slot] = HistogramTotals{};
  }
  for (const SeriesTotal& total : totals) {
    Series& s = Find(total);
    switch (s.kind) {
      case SeriesKind::kCounter:
      case SeriesKind::kCounterAlways: {
        double delta = total.value - s.last_total;
        if (delta < 0) delta = total.value;  // the counter restarted from zero
        s.last_total = total.value;
        if (delta != 0 || s.kind == SeriesKind::kCounterAlways) s.points[slot] = delta;
        break;
      }
      case SeriesKind::kRate: {
        const int64_t seconds = now_s - start;
        if (seconds <= 0) break;  // a clock stepped back: the increase goes to the next one
        double delta = total.value - s.last_total;
        if (delta < 0) delta = total.value;
        s.last_total = total.value;
        if (delta != 0) s.points[slot] = delta / static_cast<double>(seconds);
        break;
      }
      case SeriesKind::kGauge:
        s.points[slot] = total.value;
        break;
      case SeriesKind::kHistogram: {
        HistogramTotals d = Minus(total.histogram, s.last_histogram);
        s.last_histogram = total.histogram;
        // Workers bump count, sum, then a bucket; the totals are read in that order too, so
        // a response caught midway has its count but not its bucket. Count the buckets.
        d.count = 0;
        for (uint64_t b : d.buckets) d.count += b;
        if (d.count > 0) s.points[slot] = static_cast<double>(d.count);
        s.intervals[slot] = d;
        break;
      }
    }
  }
}

std::variant<StatisticsResult, MetricError> MetricHistory::Statistics(
    const StatisticsRequest& request) const {
  if (auto v = Validate(request, resolution_s_); std::holds_alternative<MetricError>(v)) {
    return std::get<MetricError>(v);
  }
  StatisticsResult result;
  result.label = request.metric;
  std::lock_guard<std::mutex> lock(mu_);
  const Series* s = Find(request.metric_namespace, request.metric, request.dimensions);
  if (s == nullptr) return result;  // CloudWatch: an unknown series has no data points
  std::map<int64_t, Period> periods;
  for (size_t slot = 0; slot < capacity_; ++slot) {
    const int64_t t = slot_time_[slot];
    if (t == INT64_MIN || t < request.start_s || t >= request.end_s) continue;
    if (std::isnan(s->points[slot])) continue;
    Period& p =
        periods[request.start_s + (t - request.start_s) / request.period_s * request.period_s];
    if (s->kind == SeriesKind::kHistogram) {
      AddTo(&p.histogram, s->intervals[slot]);
    } else {
      p.values.push_back(s->points[slot]);
    }
  }
  for (const auto& [timestamp, p] : periods) {
    result.datapoints.push_back(MakeDatapoint(request, s->kind, s->unit, timestamp, p));
  }
  return result;
}

std::vector<SeriesName> MetricHistory::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SeriesName> names;
  names.reserve(series_.size());
  for (const Series& s : series_) {
    // Only series with a data point in the retained hour, as CloudWatch lists what has data.
    if (std::any_of(s.points.begin(), s.points.end(), [](double v) { return !std::isnan(v); })) {
      names.push_back(s.name);
    }
  }
  return names;
}

}  // namespace sluice::observe
