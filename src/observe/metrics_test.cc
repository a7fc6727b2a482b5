#include "observe/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>

#include "observe/metric_history.h"

namespace sluice::observe {
namespace {

TEST(MetricSlots, StableByNameAndBounded) {
  MetricSlots slots;
  EXPECT_EQ(slots.LoadBalancer("a", "app/a/1"), 0);
  EXPECT_EQ(slots.LoadBalancer("b", "app/b/2"), 1);
  EXPECT_EQ(slots.LoadBalancer("a", "app/a/1"), 0);
  EXPECT_EQ(slots.TargetGroup("a", "targetgroup/a/3"), 0);  // its own numbering
  EXPECT_EQ(slots.LoadBalancerDimensions(), (std::vector<std::string>{"app/a/1", "app/b/2"}));
  for (size_t i = 2; i < kMaxLoadBalancerSlots; ++i) {
    EXPECT_EQ(slots.LoadBalancer("lb" + std::to_string(i), "x"), static_cast<int>(i));
  }
  EXPECT_EQ(slots.LoadBalancer("one too many", "x"), -1);
}

TEST(WorkerMetrics, NoSlotCountsIntoASpareRowNobodyReads) {
  WorkerMetrics m;
  m.Add(-1, LbMetric::kRequestCount, 5);
  m.Add(-1, TgMetric::kRequestCount, 5);
  for (size_t s = 0; s < kMaxLoadBalancerSlots; ++s)
    EXPECT_EQ(m.Get(s, LbMetric::kRequestCount), 0u);
  for (size_t s = 0; s < kMaxTargetGroupSlots; ++s)
    EXPECT_EQ(m.Get(s, TgMetric::kRequestCount), 0u);
}

TEST(WorkerMetrics, ResponseTimeBucketsByBitWidth) {
  WorkerMetrics m;
  auto bucket = [](size_t b) {
    return static_cast<TgMetric>(static_cast<size_t>(TgMetric::kResponseTimeBucket0) + b);
  };
  WorkerMetrics::ObserveResponseTime(m.Tg(0), 0);      // ≤ 0 ms
  WorkerMetrics::ObserveResponseTime(m.Tg(0), 1);      // ≤ 1 ms
  WorkerMetrics::ObserveResponseTime(m.Tg(0), 3);      // ≤ 3 ms
  WorkerMetrics::ObserveResponseTime(m.Tg(0), 4);      // ≤ 7 ms
  WorkerMetrics::ObserveResponseTime(m.Tg(0), 65535);  // ≤ 65.535 s
  WorkerMetrics::ObserveResponseTime(m.Tg(0), 65536);  // +Inf
  EXPECT_EQ(m.Get(0, bucket(0)), 1u);
  EXPECT_EQ(m.Get(0, bucket(1)), 1u);
  EXPECT_EQ(m.Get(0, bucket(2)), 1u);
  EXPECT_EQ(m.Get(0, bucket(3)), 1u);
  EXPECT_EQ(m.Get(0, bucket(16)), 1u);
  EXPECT_EQ(m.Get(0, bucket(kResponseTimeFiniteBuckets)), 1u);
  EXPECT_EQ(m.Get(0, TgMetric::kResponseTimeCount), 6u);
  EXPECT_EQ(m.Get(0, TgMetric::kResponseTimeSumMs), 0u + 1 + 3 + 4 + 65535 + 65536);
}

TEST(RenderPrometheus, SumsWorkersWithCloudWatchNamesAndDimensions) {
  MetricSlots slots;
  const int lb = slots.LoadBalancer("web", "app/web/0123456789abcdef");
  const int tg = slots.TargetGroup("api", "targetgroup/api/fedcba9876543210");
  WorkerMetrics w1, w2;
  w1.Add(lb, LbMetric::kRequestCount, 3);
  w2.Add(lb, LbMetric::kRequestCount, 4);
  w1.Add(lb, LbMetric::kActiveConnectionCount, 2);
  w2.Add(lb, LbMetric::kActiveConnectionCount, 1);
  w2.Add(lb, LbMetric::kActiveConnectionCount, ~uint64_t{0});  // a close
  w1.Add(tg, TgMetric::kHttpCodeTarget5xx, 2);
  WorkerMetrics::ObserveResponseTime(w1.Tg(tg), 2);
  WorkerMetrics::ObserveResponseTime(w2.Tg(tg), 10);
  const std::string text =
      RenderPrometheus(slots, {&w1, &w2}, {{"targetgroup/api/fedcba9876543210", 2, 1}});
  auto has = [&](const std::string& s) { return text.find(s) != std::string::npos; };
  EXPECT_TRUE(
      has("# TYPE AWS_ApplicationELB_RequestCount counter\n"
          "AWS_ApplicationELB_RequestCount{LoadBalancer=\"app/web/0123456789abcdef\"} 7\n"))
      << text;
  EXPECT_TRUE(
      has("# TYPE AWS_ApplicationELB_ActiveConnectionCount gauge\n"
          "AWS_ApplicationELB_ActiveConnectionCount{LoadBalancer=\"app/web/0123456789abcdef\"}"
          " 2\n"))
      << text;
  EXPECT_TRUE(
      has("AWS_ApplicationELB_HTTPCode_Target_5XX_Count{TargetGroup=\"targetgroup/api/"
          "fedcba9876543210\"} 2\n"))
      << text;
  EXPECT_TRUE(
      has("AWS_ApplicationELB_TargetResponseTime_bucket{TargetGroup=\"targetgroup/api/"
          "fedcba9876543210\",le=\"0.003\"} 1\n"))
      << text;
  EXPECT_TRUE(
      has("AWS_ApplicationELB_TargetResponseTime_bucket{TargetGroup=\"targetgroup/api/"
          "fedcba9876543210\",le=\"0.015\"} 2\n"))
      << text;
  EXPECT_TRUE(
      has("AWS_ApplicationELB_TargetResponseTime_bucket{TargetGroup=\"targetgroup/api/"
          "fedcba9876543210\",le=\"+Inf\"} 2\n"))
      << text;
  EXPECT_TRUE(
      has("AWS_ApplicationELB_TargetResponseTime_sum{TargetGroup=\"targetgroup/api/"
          "fedcba9876543210\"} 0.012\n"))
      << text;
  EXPECT_TRUE(
      has("AWS_ApplicationELB_HealthyHostCount{TargetGroup=\"targetgroup/api/"
          "fedcba9876543210\"} 2\n"))
      << text;
  EXPECT_TRUE(
      has("AWS_ApplicationELB_UnHealthyHostCount{TargetGroup=\"targetgroup/api/"
          "fedcba9876543210\"} 1\n"))
      << text;
  // Every TYPE line names a family once.
  size_t types = 0;
  for (size_t at = text.find("# TYPE "); at != std::string::npos;
       at = text.find("# TYPE ", at + 1)) {
    ++types;
  }
  // Only ALB's families: there is no network load balancer.
  EXPECT_EQ(types, static_cast<size_t>(kFirstNetworkMetric) + 3);
  EXPECT_FALSE(has("AWS_NetworkELB_")) << text;
}

TEST(RenderPrometheus, NetworkLoadBalancersAreTheNetworkElbNamespacesWithTransportSums) {
  MetricSlots slots;
  const int app = slots.LoadBalancer("web", "app/web/1");
  const int net = slots.LoadBalancer("db", "net/db/2");
  EXPECT_NE(slots.LoadBalancer("db", "app/db/2"), net);  // a changed type: another slot
  slots.TargetGroup("http", "targetgroup/http/3");
  slots.TargetGroup("tcp", "targetgroup/tcp/4", true);
  EXPECT_TRUE(slots.IsNetworkTargetGroup("tcp"));
  EXPECT_FALSE(slots.IsNetworkTargetGroup("http"));
  EXPECT_FALSE(slots.IsNetworkTargetGroup("unknown"));
  WorkerMetrics w1, w2;
  w1.Add(net, LbMetric::kNewFlowCountTcp, 3);
  w2.Add(net, LbMetric::kNewFlowCountUdp, 2);
  w1.Add(net, LbMetric::kActiveFlowCountTcp, 3);
  w2.Add(net, LbMetric::kActiveFlowCountTcp, ~uint64_t{0});  // one ended on the other worker
  w1.Add(net, LbMetric::kProcessedBytesTls, 100);
  w2.Add(net, LbMetric::kProcessedBytesUdp, 20);
  w1.Add(net, LbMetric::kTcpElbResetCount, 2);
  w1.Add(net, LbMetric::kProcessedPackets, 30);
  w2.Add(net, LbMetric::kProcessedPackets, 4);
  w2.Add(net, LbMetric::kPortAllocationErrorCount);
  w1.Add(app, LbMetric::kProcessedBytes, 7);
  // The tcp group serves the network load balancer; its checks' 6 packets count there.
  std::vector<int> lb_of_tg(2, -1);
  lb_of_tg[1] = net;
  slots.SetTargetGroupLoadBalancers(lb_of_tg);
  const std::vector<TargetGroupHealthCount> health = {{"targetgroup/http/3", 1, 0, false, 9},
                                                      {"targetgroup/tcp/4", 2, 1, true, 6}};
  const std::string text = RenderPrometheus(slots, {&w1, &w2}, health);
  auto has = [&](const std::string& s) { return text.find(s) != std::string::npos; };
  EXPECT_TRUE(
      has("# TYPE AWS_NetworkELB_NewFlowCount counter\n"
          "AWS_NetworkELB_NewFlowCount{LoadBalancer=\"net/db/2\"} 5\n"))
      << text;
  EXPECT_TRUE(has("AWS_NetworkELB_NewFlowCount_UDP{LoadBalancer=\"net/db/2\"} 2\n")) << text;
  EXPECT_TRUE(
      has("# TYPE AWS_NetworkELB_ActiveFlowCount gauge\n"
          "AWS_NetworkELB_ActiveFlowCount{LoadBalancer=\"net/db/2\"} 2\n"))
      << text;
  EXPECT_TRUE(has("AWS_NetworkELB_ProcessedBytes{LoadBalancer=\"net/db/2\"} 120\n")) << text;
  EXPECT_TRUE(has("AWS_NetworkELB_ProcessedBytes_TLS{LoadBalancer=\"net/db/2\"} 100\n")) << text;
  EXPECT_TRUE(has("AWS_NetworkELB_TCP_ELB_Reset_Count{LoadBalancer=\"net/db/2\"} 2\n")) << text;
  EXPECT_TRUE(has("AWS_NetworkELB_ProcessedPackets{LoadBalancer=\"net/db/2\"} 40\n")) << text;
  EXPECT_TRUE(has("AWS_NetworkELB_PortAllocationErrorCount{LoadBalancer=\"net/db/2\"} 1\n"))
      << text;
  // Rates are for the history: Prometheus takes them from the counters itself.
  EXPECT_FALSE(has("PeakBytesPerSecond")) << text;
  EXPECT_TRUE(has("AWS_NetworkELB_HealthyHostCount{TargetGroup=\"targetgroup/tcp/4\"} 2\n"))
      << text;
  EXPECT_TRUE(has("AWS_ApplicationELB_HealthyHostCount{TargetGroup=\"targetgroup/http/3\"} 1\n"))
      << text;
  EXPECT_TRUE(has("AWS_ApplicationELB_ProcessedBytes{LoadBalancer=\"app/web/1\"} 7\n")) << text;
  // Each load balancer and group in its own namespace only.
  EXPECT_FALSE(has("AWS_ApplicationELB_ProcessedBytes{LoadBalancer=\"net/")) << text;
  EXPECT_FALSE(has("AWS_NetworkELB_ProcessedBytes{LoadBalancer=\"app/")) << text;
  EXPECT_FALSE(has("AWS_ApplicationELB_RequestCount{TargetGroup=\"targetgroup/tcp/")) << text;
  EXPECT_FALSE(has("AWS_NetworkELB_HealthyHostCount{TargetGroup=\"targetgroup/http/")) << text;

  // The same series for the metric history, each with its namespace.
  bool found = false;
  int peaks = 0;
  for (const SeriesTotal& t : CollectTotals(slots, {&w1, &w2}, health)) {
    if (t.metric == "PeakBytesPerSecond" || t.metric == "PeakPacketsPerSecond") {
      ++peaks;
      EXPECT_EQ(t.kind, SeriesKind::kRate);
      EXPECT_EQ(t.value, t.metric == "PeakBytesPerSecond" ? 120 : 40);  // cumulative totals
    }
    if (t.metric != "ActiveFlowCount") continue;
    found = true;
    EXPECT_STREQ(t.metric_namespace, "AWS/NetworkELB");
    EXPECT_EQ(t.kind, SeriesKind::kGauge);
    EXPECT_EQ(t.value, 2);
    ASSERT_EQ(t.dimensions.size(), 1u);
    EXPECT_EQ(t.dimensions[0].value, "net/db/2");
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(peaks, 2);
}

TEST(MetricSlots, ACheckPacketCountNeverFallsWhenItsGroupMovesOrGoes) {
  MetricSlots slots;
  const int a = slots.LoadBalancer("a", "net/a/1");
  const int b = slots.LoadBalancer("b", "net/b/2");
  slots.TargetGroup("g", "targetgroup/g/3", true);
  slots.SetTargetGroupLoadBalancers({a});
  auto health = [](uint64_t packets) {
    return std::vector<TargetGroupHealthCount>{{"targetgroup/g/3", 1, 0, true, packets}};
  };
  EXPECT_EQ(slots.CheckPacketsByLoadBalancer(health(6)), (std::vector<uint64_t>{6, 0}));
  EXPECT_EQ(slots.CheckPacketsByLoadBalancer(health(6)), (std::vector<uint64_t>{6, 0}));
  slots.SetTargetGroupLoadBalancers({b});  // the group now serves b: a keeps what it had
  EXPECT_EQ(slots.CheckPacketsByLoadBalancer(health(10)), (std::vector<uint64_t>{6, 4}));
  EXPECT_EQ(slots.CheckPacketsByLoadBalancer({}), (std::vector<uint64_t>{6, 4}));  // gone
  // An application group's checks are not network packets.
  EXPECT_EQ(slots.CheckPacketsByLoadBalancer({{"targetgroup/g/3", 1, 0, false, 99}}),
            (std::vector<uint64_t>{6, 4}));
}

TEST(WorkerMetrics, ReadersSeeWhatOneWriterCounts) {
  WorkerMetrics m;
  std::thread writer([&] {
    for (int i = 0; i < 100000; ++i) m.Add(0, LbMetric::kRequestCount);
  });
  uint64_t last = 0;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t now = m.Get(0, LbMetric::kRequestCount);
    EXPECT_GE(now, last);  // a reader never sees a counter go back
    last = now;
  }
  writer.join();
  EXPECT_EQ(m.Get(0, LbMetric::kRequestCount), 100000u);
}

}  // namespace
}  // namespace sluice::observe

namespace sluice::observe {
namespace {

// TargetResponseTime per load balancer is the sum of the histograms of the groups it serves;
// a group the compiler marked as serving none (or several) counts for no load balancer.
TEST(CollectTotals, ResponseTimePerLoadBalancerSumsItsGroups) {
  MetricSlots slots;
  const int web = slots.LoadBalancer("web", "app/web/1");
  const int api = slots.LoadBalancer("api", "app/api/2");
  const int a = slots.TargetGroup("a", "targetgroup/a/1");
  const int b = slots.TargetGroup("b", "targetgroup/b/2");
  const int c = slots.TargetGroup("c", "targetgroup/c/3");
  const int d = slots.TargetGroup("d", "targetgroup/d/4");
  std::vector<int> owners(4, -1);
  owners[static_cast<size_t>(a)] = web;
  owners[static_cast<size_t>(b)] = web;
  owners[static_cast<size_t>(c)] = api;  // d: none
  slots.SetTargetGroupLoadBalancers(owners);
  WorkerMetrics w1, w2;
  WorkerMetrics::ObserveResponseTime(w1.Tg(a), 3);   // bucket 2
  WorkerMetrics::ObserveResponseTime(w2.Tg(b), 40);  // bucket 6
  WorkerMetrics::ObserveResponseTime(w2.Tg(b), 40);
  WorkerMetrics::ObserveResponseTime(w1.Tg(c), 1);  // bucket 1
  WorkerMetrics::ObserveResponseTime(w1.Tg(d), 900);
  std::map<std::string, HistogramTotals> by_lb;
  for (const SeriesTotal& t : CollectTotals(slots, {&w1, &w2}, {})) {
    if (t.metric != "TargetResponseTime" || t.dimensions[0].name != "LoadBalancer") continue;
    ASSERT_EQ(t.dimensions.size(), 1u);
    EXPECT_EQ(t.kind, SeriesKind::kHistogram);
    by_lb[t.dimensions[0].value] = t.histogram;
  }
  ASSERT_EQ(by_lb.size(), 2u);
  EXPECT_EQ(by_lb["app/web/1"].count, 3u);
  EXPECT_EQ(by_lb["app/web/1"].sum_ms, 83u);
  EXPECT_EQ(by_lb["app/web/1"].buckets[2], 1u);
  EXPECT_EQ(by_lb["app/web/1"].buckets[6], 2u);
  EXPECT_EQ(by_lb["app/api/2"].count, 1u);
  EXPECT_EQ(by_lb["app/api/2"].buckets[1], 1u);
}

}  // namespace
}  // namespace sluice::observe
