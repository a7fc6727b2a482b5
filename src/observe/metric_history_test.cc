#include "observe/metric_history.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sluice::observe {
namespace {

const std::vector<Dimension> kLb = {{"LoadBalancer", "app/web/0123456789abcdef"}};
const std::vector<Dimension> kTg = {{"TargetGroup", "targetgroup/api/fedcba9876543210"}};

SeriesTotal Counter(const char* metric, double total, SeriesKind kind = SeriesKind::kCounter) {
  return Scalar(metric, kLb, kind, "Count", total);
}

StatisticsRequest Ask(const char* metric, int64_t start, int64_t end, int64_t period,
                      std::vector<std::string> stats, std::vector<Dimension> dims = kLb) {
  StatisticsRequest r;
  r.metric = metric;
  r.dimensions = std::move(dims);
  r.start_s = start;
  r.end_s = end;
  r.period_s = period;
  r.statistics = std::move(stats);
  return r;
}

StatisticsResult Ok(const std::variant<StatisticsResult, MetricError>& v) {
  EXPECT_TRUE(std::holds_alternative<StatisticsResult>(v))
      << (std::holds_alternative<MetricError>(v) ? std::get<MetricError>(v).message : "");
  return std::holds_alternative<StatisticsResult>(v) ? std::get<StatisticsResult>(v)
                                                     : StatisticsResult{};
}

MetricError Err(const std::variant<StatisticsResult, MetricError>& v) {
  EXPECT_TRUE(std::holds_alternative<MetricError>(v));
  return std::holds_alternative<MetricError>(v) ? std::get<MetricError>(v) : MetricError{};
}

double Stat(const Datapoint& dp, const std::string& name) {
  for (const auto& [n, v] : dp.statistics) {
    if (n == name) return v;
  }
  for (const auto& [n, v] : dp.extended) {
    if (n == name) return v;
  }
  ADD_FAILURE() << "no " << name;
  return NAN;
}

TEST(MetricHistory, CountersBecomeIncreasesPerIntervalSummedPerPeriod) {
  MetricHistory h(10, 3600);
  // Samples at 1010, 1020, ... : the totals 5, 5, 12, 20 → increases 5, 0, 7, 8.
  const double totals[] = {5, 5, 12, 20};
  for (int i = 0; i < 4; ++i)
    h.Record(1010 + 10 * i, {Counter("RequestCount", totals[i], SeriesKind::kCounterAlways)});
  // Intervals start at 1000, 1010, 1020, 1030; one 20 s period from 1000, one from 1020.
  StatisticsResult r = Ok(h.Statistics(
      Ask("RequestCount", 1000, 1040, 20, {"Sum", "SampleCount", "Maximum", "Minimum"})));
  EXPECT_EQ(r.label, "RequestCount");
  ASSERT_EQ(r.datapoints.size(), 2u);
  EXPECT_EQ(r.datapoints[0].timestamp_s, 1000);
  EXPECT_EQ(Stat(r.datapoints[0], "Sum"), 5);
  EXPECT_EQ(Stat(r.datapoints[0], "SampleCount"), 2);  // RequestCount reports its zeros
  EXPECT_EQ(Stat(r.datapoints[0], "Minimum"), 0);
  EXPECT_EQ(r.datapoints[1].timestamp_s, 1020);
  EXPECT_EQ(Stat(r.datapoints[1], "Sum"), 15);
  EXPECT_EQ(Stat(r.datapoints[1], "Maximum"), 8);
  EXPECT_STREQ(r.datapoints[1].unit, "Count");
}

TEST(MetricHistory, ACounterThatDidNotMoveHasNoDataPoint) {
  // CloudWatch publishes HTTPCode_ELB_5XX_Count only when it is nonzero: an alarm on it
  // sees missing data, not zeros, in a quiet period.
  MetricHistory h(10, 3600);
  h.Record(1010, {Counter("HTTPCode_ELB_5XX_Count", 0)});
  h.Record(1020, {Counter("HTTPCode_ELB_5XX_Count", 3)});
  h.Record(1030, {Counter("HTTPCode_ELB_5XX_Count", 3)});
  StatisticsResult r =
      Ok(h.Statistics(Ask("HTTPCode_ELB_5XX_Count", 1000, 1030, 10, {"Sum", "SampleCount"})));
  ASSERT_EQ(r.datapoints.size(), 1u);
  EXPECT_EQ(r.datapoints[0].timestamp_s, 1010);
  EXPECT_EQ(Stat(r.datapoints[0], "Sum"), 3);
  EXPECT_EQ(Stat(r.datapoints[0], "SampleCount"), 1);
}

TEST(MetricHistory, ARateIsTheIncreasePerSecondAndItsMaximumThePeak) {
  // PeakBytesPerSecond (§6.2): the highest 10 s average rate. Totals 0 (the first interval,
  // taken as one resolution long), 1,000, 1,000, 31,000 over 10 s intervals: rates 100,
  // no data point while nothing moved, 3,000.
  MetricHistory h(10, 3600);
  const double totals[] = {0, 1000, 1000, 31000};
  for (int i = 0; i < 4; ++i) {
    h.Record(1010 + 10 * i,
             {Scalar("PeakBytesPerSecond", kLb, SeriesKind::kRate, "Bytes/Second", totals[i])});
  }
  StatisticsResult r = Ok(h.Statistics(
      Ask("PeakBytesPerSecond", 1000, 1060, 60, {"Maximum", "Minimum", "SampleCount"})));
  ASSERT_EQ(r.datapoints.size(), 1u);
  EXPECT_EQ(Stat(r.datapoints[0], "Maximum"), 3000);
  EXPECT_EQ(Stat(r.datapoints[0], "Minimum"), 100);
  EXPECT_EQ(Stat(r.datapoints[0], "SampleCount"), 2);
  EXPECT_STREQ(r.datapoints[0].unit, "Bytes/Second");
  // A late sample (the sampler thread was held up) divides by the seconds that passed.
  h.Record(1065, {Scalar("PeakBytesPerSecond", kLb, SeriesKind::kRate, "Bytes/Second", 53500)});
  r = Ok(h.Statistics(Ask("PeakBytesPerSecond", 1040, 1050, 10, {"Maximum"})));
  ASSERT_EQ(r.datapoints.size(), 1u);
  EXPECT_EQ(Stat(r.datapoints[0], "Maximum"), 900);
}

TEST(MetricHistory, GaugesKeepTheirSampledValues) {
  MetricHistory h(10, 3600);
  const double healthy[] = {2, 1, 3};
  for (int i = 0; i < 3; ++i) {
    h.Record(1010 + 10 * i,
             {Scalar("HealthyHostCount", kTg, SeriesKind::kGauge, "Count", healthy[i])});
  }
  StatisticsResult r = Ok(h.Statistics(
      Ask("HealthyHostCount", 1000, 1030, 30, {"Average", "Minimum", "Maximum"}, kTg)));
  ASSERT_EQ(r.datapoints.size(), 1u);
  EXPECT_EQ(Stat(r.datapoints[0], "Average"), 2);
  EXPECT_EQ(Stat(r.datapoints[0], "Minimum"), 1);
  EXPECT_EQ(Stat(r.datapoints[0], "Maximum"), 3);
}

TEST(MetricHistory, ResponseTimeStatisticsComeFromTheHistogram) {
  MetricHistory h(10, 3600);
  SeriesTotal t = Scalar("TargetResponseTime", kTg, SeriesKind::kHistogram, "Seconds", 0);
  h.Record(1010, {t});  // nothing yet
  // 4 responses: 2 in bucket 2 (2..3 ms), 2 in bucket 5 (16..31 ms), 40 ms in all.
  t.histogram.count = 4;
  t.histogram.sum_ms = 40;
  t.histogram.buckets[2] = 2;
  t.histogram.buckets[5] = 2;
  h.Record(1020, {t});
  StatisticsResult r =
      Ok(h.Statistics(Ask("TargetResponseTime", 1000, 1020, 10,
                          {"Average", "SampleCount", "Sum", "Minimum", "Maximum"}, kTg)));
  ASSERT_EQ(r.datapoints.size(), 1u);  // the empty interval has no data point
  const Datapoint& dp = r.datapoints[0];
  EXPECT_EQ(dp.timestamp_s, 1010);
  EXPECT_STREQ(dp.unit, "Seconds");
  EXPECT_DOUBLE_EQ(Stat(dp, "Average"), 0.010);
  EXPECT_EQ(Stat(dp, "SampleCount"), 4);
  EXPECT_DOUBLE_EQ(Stat(dp, "Sum"), 0.040);
  EXPECT_DOUBLE_EQ(Stat(dp, "Minimum"), 0.002);  // the bounds of the outer buckets
  EXPECT_DOUBLE_EQ(Stat(dp, "Maximum"), 0.031);

  StatisticsRequest p = Ask("TargetResponseTime", 1000, 1020, 20, {}, kTg);
  p.extended = {"p50", "p100"};
  r = Ok(h.Statistics(p));
  ASSERT_EQ(r.datapoints.size(), 1u);
  EXPECT_DOUBLE_EQ(Stat(r.datapoints[0], "p50"), 0.003);   // top of bucket 2
  EXPECT_DOUBLE_EQ(Stat(r.datapoints[0], "p100"), 0.031);  // top of bucket 5
}

TEST(MetricHistory, AResponseReadMidwayIsCountedWithItsBucketNotBefore) {
  // The sampler can read a response's count before its bucket; that interval must not
  // report a response with no bucket (Maximum would read as 65.536 s).
  MetricHistory h(10, 3600);
  SeriesTotal t = Scalar("TargetResponseTime", kTg, SeriesKind::kHistogram, "Seconds", 0);
  t.histogram.count = 1;
  t.histogram.sum_ms = 2;
  h.Record(1010, {t});  // count seen, bucket not yet
  t.histogram.buckets[2] = 1;
  h.Record(1020, {t});
  StatisticsResult r =
      Ok(h.Statistics(Ask("TargetResponseTime", 1000, 1020, 10, {"SampleCount", "Maximum"}, kTg)));
  ASSERT_EQ(r.datapoints.size(), 1u);
  EXPECT_EQ(r.datapoints[0].timestamp_s, 1010);
  EXPECT_EQ(Stat(r.datapoints[0], "SampleCount"), 1);
  EXPECT_DOUBLE_EQ(Stat(r.datapoints[0], "Maximum"), 0.003);
}

TEST(MetricHistory, ListsOnlySeriesWithData) {
  MetricHistory h(10, 3600);
  h.Record(1010, {Counter("HTTPCode_ELB_504_Count", 0), Counter("HTTPCode_ELB_502_Count", 1)});
  ASSERT_EQ(h.List().size(), 1u);
  EXPECT_EQ(h.List()[0].metric, "HTTPCode_ELB_502_Count");
}

TEST(MetricHistory, ANamespaceIsPartOfASeriesName) {
  MetricHistory h(10, 600);
  SeriesTotal network = Counter("ProcessedBytes", 0);
  network.metric_namespace = "AWS/NetworkELB";
  h.Record(1010, {Counter("ProcessedBytes", 0), network});
  network.value = 50;
  h.Record(1020, {Counter("ProcessedBytes", 7), network});
  StatisticsRequest r = Ask("ProcessedBytes", 1000, 1100, 100, {"Sum"});
  EXPECT_EQ(Ok(h.Statistics(r)).datapoints.at(0).statistics[0].second, 7);
  r.metric_namespace = "AWS/NetworkELB";
  EXPECT_EQ(Ok(h.Statistics(r)).datapoints.at(0).statistics[0].second, 50);
  r.metric_namespace = "AWS/EC2";
  EXPECT_TRUE(Ok(h.Statistics(r)).datapoints.empty());
  const std::vector<SeriesName> names = h.List();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_STRNE(names[0].metric_namespace, names[1].metric_namespace);
}

TEST(HistogramPercentile, InterpolatesInsideTheBucket) {
  HistogramTotals h;
  h.count = 10;
  h.buckets[4] = 10;  // 8..15 ms
  EXPECT_DOUBLE_EQ(HistogramPercentile(h, 50), (8 + 7 * 0.5) / 1000);
  EXPECT_DOUBLE_EQ(HistogramPercentile(h, 0), 0.008);
  h.buckets[4] = 0;
  h.buckets[kResponseTimeFiniteBuckets] = 10;  // beyond 65.535 s: its lower bound
  EXPECT_DOUBLE_EQ(HistogramPercentile(h, 99), 65.536);
  EXPECT_TRUE(std::isnan(HistogramPercentile(HistogramTotals{}, 50)));
}

TEST(MetricHistory, DimensionsMatchAsASetAndUnknownSeriesAreEmpty) {
  MetricHistory h(1, 60);
  const std::vector<Dimension> two = {{"LoadBalancer", "app/a/1"}, {"TargetGroup", "tg/b/2"}};
  h.Record(101, {Scalar("RequestCount", two, SeriesKind::kCounterAlways, "Count", 4)});
  const std::vector<Dimension> swapped = {two[1], two[0]};
  EXPECT_EQ(Ok(h.Statistics(Ask("RequestCount", 100, 101, 1, {"Sum"}, swapped))).datapoints.size(),
            1u);
  EXPECT_TRUE(
      Ok(h.Statistics(Ask("RequestCount", 100, 101, 1, {"Sum"}, {two[0]}))).datapoints.empty());
  EXPECT_TRUE(Ok(h.Statistics(Ask("NoSuchMetric", 100, 101, 1, {"Sum"}))).datapoints.empty());
  ASSERT_EQ(h.List().size(), 1u);
  EXPECT_EQ(h.List()[0].metric, "RequestCount");
}

TEST(MetricHistory, ForgetsWhatIsOlderThanItsRetention) {
  MetricHistory h(10, 30);  // 4 slots
  for (int i = 1; i <= 6; ++i) {
    h.Record(1000 + 10 * i, {Counter("RequestCount", i, SeriesKind::kCounterAlways)});
  }
  StatisticsResult r = Ok(h.Statistics(Ask("RequestCount", 0, 2000, 10, {"Sum"})));
  ASSERT_EQ(r.datapoints.size(), 4u);
  EXPECT_EQ(r.datapoints.front().timestamp_s, 1020);
  EXPECT_EQ(r.datapoints.back().timestamp_s, 1050);
}

TEST(MetricHistory, RefusesWhatCloudWatchRefuses) {
  MetricHistory h(10, 3600);
  EXPECT_EQ(Err(h.Statistics(Ask("RequestCount", 0, 60, 15, {"Sum"}))).code,
            "InvalidParameterValue");  // not a multiple of the resolution
  EXPECT_EQ(Err(h.Statistics(Ask("RequestCount", 60, 60, 10, {"Sum"}))).code,
            "InvalidParameterValue");  // empty range
  EXPECT_EQ(Err(h.Statistics(Ask("RequestCount", 0, 60, 10, {"Median"}))).message,
            "The statistic 'Median' is not one of Average, Sum, SampleCount, Maximum, Minimum.");
  EXPECT_EQ(Err(h.Statistics(Ask("RequestCount", 0, 60, 10, {}))).code,
            "InvalidParameterCombination");  // neither kind of statistic
  StatisticsRequest both = Ask("RequestCount", 0, 60, 10, {"Sum"});
  both.extended = {"p99"};
  EXPECT_EQ(Err(h.Statistics(both)).code, "InvalidParameterCombination");
  StatisticsRequest bad = Ask("RequestCount", 0, 60, 10, {});
  bad.extended = {"p101"};
  EXPECT_EQ(Err(h.Statistics(bad)).code, "InvalidParameterValue");
  EXPECT_EQ(Err(h.Statistics(Ask("RequestCount", 0, 14410, 10, {"Sum"}))).code,
            "InvalidParameterCombination");  // 1,441 data points
  EXPECT_EQ(Err(h.Statistics(Ask("", 0, 60, 10, {"Sum"}))).code, "MissingParameter");
  EXPECT_EQ(
      Err(h.Statistics(Ask("RequestCount", 0, 60, 10, {"Sum", "Sum", "Sum", "Sum", "Sum", "Sum"})))
          .code,
      "InvalidParameterValue");  // CloudWatch's limit of 5 bounds the answer too
}

TEST(ParsePercentile, AcceptsCloudWatchsForms) {
  double p = 0;
  EXPECT_TRUE(ParsePercentile("p99", &p));
  EXPECT_EQ(p, 99);
  EXPECT_TRUE(ParsePercentile("p99.9", &p));
  EXPECT_DOUBLE_EQ(p, 99.9);
  EXPECT_TRUE(ParsePercentile("p0", &p));
  for (const char* bad : {"", "p", "99", "p-1", "p100.5", "p9x", "P99", "p.5", "p1e2"}) {
    EXPECT_FALSE(ParsePercentile(bad, &p)) << bad;
  }
}

}  // namespace
}  // namespace sluice::observe

#include "observe/metric_sampler.h"

namespace sluice::observe {
namespace {

TEST(MetricSampler, RecordsWhatItCollectsThenRunsTheHookAndStopsWithoutWaiting) {
  MetricHistory h(60, 3600);
  int collected = 0;
  int64_t hooked = 0;
  MetricSampler sampler(
      &h,
      [&] {
        ++collected;
        return MetricTotals{Scalar("RequestCount", kLb, SeriesKind::kCounterAlways, "Count", 2)};
      },
      [&](int64_t now) { hooked = now; });
  sampler.SampleOnce(1060);
  EXPECT_EQ(collected, 1);
  EXPECT_EQ(hooked, 1060);
  EXPECT_EQ(Ok(h.Statistics(Ask("RequestCount", 1000, 1060, 60, {"Sum"}))).datapoints.size(), 1u);
  sampler.Start();  // its next sample is up to a minute away: Stop must not wait for it
  sampler.Stop();
  sampler.Stop();  // twice is harmless
}

}  // namespace
}  // namespace sluice::observe
