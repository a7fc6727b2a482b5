#include "control/alarms.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config/loader.h"

namespace sluice::control {
namespace {

using observe::Scalar;
using observe::SeriesKind;
using ::testing::HasSubstr;

config::AlarmDefinition Alarm(const char* op = "GreaterThanThreshold", int n = 1, int m = 0,
                              const char* missing = "missing") {
  config::AlarmDefinition a;
  a.name = "web-5xx";
  a.metric = "HTTPCode_ELB_5XX_Count";
  a.dimensions = {{"LoadBalancer", "web"}};
  a.statistic = "Sum";
  a.period = 60;
  a.evaluation_periods = n;
  a.datapoints_to_alarm = m;
  a.threshold = "5";
  a.comparison = op;
  a.treat_missing_data = missing;
  return a;
}

std::vector<PeriodValue> Values(std::initializer_list<std::optional<double>> v) {
  std::vector<PeriodValue> out;
  int64_t t = 1796482800;  // 2026-12-05T15:00:00Z
  for (const auto& x : v) {
    out.push_back({t, x});
    t += 60;
  }
  return out;
}

TEST(AlarmJudge, OneDatapointAgainstEachComparison) {
  EXPECT_EQ(Judge(Alarm("GreaterThanThreshold"), Values({6})).state, AlarmState::kAlarm);
  EXPECT_EQ(Judge(Alarm("GreaterThanThreshold"), Values({5})).state, AlarmState::kOk);
  EXPECT_EQ(Judge(Alarm("GreaterThanOrEqualToThreshold"), Values({5})).state, AlarmState::kAlarm);
  EXPECT_EQ(Judge(Alarm("LessThanThreshold"), Values({4.5})).state, AlarmState::kAlarm);
  EXPECT_EQ(Judge(Alarm("LessThanOrEqualToThreshold"), Values({5})).state, AlarmState::kAlarm);
  EXPECT_EQ(Judge(Alarm("LessThanOrEqualToThreshold"), Values({5.1})).state, AlarmState::kOk);
  EXPECT_EQ(Judge(Alarm(), Values({7})).reason,
            "Threshold Crossed: 1 datapoint [7.0 (05/12/26 15:00:00)] was greater than the "
            "threshold (5.0).");
}

TEST(AlarmJudge, MOutOfN) {
  const auto a = Alarm("GreaterThanThreshold", 3, 2);
  EXPECT_EQ(Judge(a, Values({6, 1, 7})).state, AlarmState::kAlarm);
  EXPECT_EQ(Judge(a, Values({6, 1, 2})).state, AlarmState::kOk);
  EXPECT_THAT(Judge(a, Values({6, 1, 7})).reason,
              HasSubstr("2 out of the last 3 datapoints [7.0 (05/12/26 15:02:00), 1.0 "
                        "(05/12/26 15:01:00), 6.0 (05/12/26 15:00:00)] were greater than the "
                        "threshold (5.0) (minimum 2 datapoints for OK -> ALARM transition)."));
}

TEST(AlarmJudge, TreatMissingData) {
  // missing: no data at all is INSUFFICIENT_DATA; some data is judged on what is there.
  EXPECT_EQ(Judge(Alarm("GreaterThanThreshold", 2, 0, "missing"), Values({{}, {}})).state,
            AlarmState::kInsufficientData);
  EXPECT_EQ(Judge(Alarm("GreaterThanThreshold", 2, 1, "missing"), Values({{}, 9})).state,
            AlarmState::kAlarm);
  // notBreaching: a quiet 5XX counter (no data points) is OK, not INSUFFICIENT_DATA.
  EXPECT_EQ(Judge(Alarm("GreaterThanThreshold", 2, 0, "notBreaching"), Values({{}, {}})).state,
            AlarmState::kOk);
  EXPECT_EQ(Judge(Alarm("GreaterThanThreshold", 2, 0, "breaching"), Values({{}, {}})).state,
            AlarmState::kAlarm);
  AlarmVerdict ignore = Judge(Alarm("GreaterThanThreshold", 2, 0, "ignore"), Values({{}, {}}));
  EXPECT_TRUE(ignore.keep);
  EXPECT_EQ(Judge(Alarm("GreaterThanThreshold", 1, 0, "missing"), Values({{}})).reason,
            "Insufficient Data: 1 datapoint was unknown.");
}

TEST(AlarmDimensions, BareNamesMatchTheNameInsideTheDimensionValue) {
  const std::vector<observe::Dimension> lb = {{"LoadBalancer", "app/web/0123456789abcdef"}};
  EXPECT_TRUE(DimensionsMatch({{"LoadBalancer", "web"}}, lb));
  EXPECT_TRUE(DimensionsMatch({{"LoadBalancer", "app/web/0123456789abcdef"}}, lb));
  EXPECT_FALSE(DimensionsMatch({{"LoadBalancer", "we"}}, lb));
  EXPECT_FALSE(DimensionsMatch({{"TargetGroup", "web"}}, lb));
  EXPECT_FALSE(DimensionsMatch({}, lb));
  EXPECT_FALSE(DimensionsMatch({{"LoadBalancer", "web"}, {"TargetGroup", "x"}}, lb));
}

TEST(Alarms, EvaluateReportsEachChangeOnceAndApplyKeepsUnchangedState) {
  observe::MetricHistory h(60, 3600);
  const std::vector<observe::Dimension> lb = {{"LoadBalancer", "app/web/0123456789abcdef"}};
  auto five_xx = [&](double total) {
    return Scalar("HTTPCode_ELB_5XX_Count", lb, SeriesKind::kCounter, "Count", total);
  };
  Alarms alarms;
  alarms.Apply({Alarm("GreaterThanThreshold", 1, 0, "notBreaching")}, 60);
  h.Record(1796482860, {five_xx(0)});  // 15:00 quiet
  auto changes = alarms.Evaluate(h, 1796482860);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].old_state, AlarmState::kInsufficientData);
  EXPECT_EQ(changes[0].new_state, AlarmState::kOk);
  h.Record(1796482920, {five_xx(9)});  // 15:01: 9 errors
  changes = alarms.Evaluate(h, 1796482920);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].new_state, AlarmState::kAlarm);
  EXPECT_THAT(changes[0].reason, HasSubstr("[9.0 (05/12/26 15:01:00)]"));
  EXPECT_TRUE(alarms.Evaluate(h, 1796482920).empty());  // no change, no report
  // A reload with the same alarm keeps ALARM; a changed threshold starts it over.
  alarms.Apply({Alarm("GreaterThanThreshold", 1, 0, "notBreaching")}, 60);
  auto doc = nlohmann::json::parse(alarms.DescribeJson());
  EXPECT_EQ(doc["MetricAlarms"][0]["StateValue"], "ALARM");
  EXPECT_EQ(doc["MetricAlarms"][0]["Threshold"], 5.0);
  config::AlarmDefinition changed = Alarm("GreaterThanThreshold", 1, 0, "notBreaching");
  changed.threshold = "50";
  alarms.Apply({changed}, 60);
  doc = nlohmann::json::parse(alarms.DescribeJson());
  EXPECT_EQ(doc["MetricAlarms"][0]["StateValue"], "INSUFFICIENT_DATA");
  EXPECT_EQ(doc["MetricAlarms"][0]["StateReason"], "Unchecked: Initial alarm creation");
}

TEST(Alarms, APeriodTheRunningResolutionCannotGiveIsUncheckedAndSaysWhy) {
  // Admin.MetricsResolutionSeconds changed from 60 to 10 by a reload: the history still
  // samples every 60 s, so a 30 s period cannot be judged.
  Alarms alarms;
  config::AlarmDefinition a = Alarm();
  a.period = 30;
  EXPECT_EQ(alarms.Apply({a}, 60), std::vector<std::string>{"web-5xx"});
  observe::MetricHistory h(60, 3600);
  EXPECT_TRUE(alarms.Evaluate(h, 1796482860).empty());
  auto doc = nlohmann::json::parse(alarms.DescribeJson());
  EXPECT_THAT(doc["MetricAlarms"][0]["StateReason"].get<std::string>(),
              HasSubstr("Period 30 is not a multiple of the running metrics resolution (60 s)"));
}

TEST(Alarms, NotificationHasTheShapeOfCloudWatchsSnsMessage) {
  AlarmChange c{Alarm(), AlarmState::kOk, AlarmState::kAlarm, "Threshold Crossed: ...", 1796482920};
  auto j = nlohmann::json::parse(NotificationJson(c, "eu-west-3", "123456789012"));
  EXPECT_EQ(j["AlarmName"], "web-5xx");
  EXPECT_EQ(j["NewStateValue"], "ALARM");
  EXPECT_EQ(j["OldStateValue"], "OK");
  EXPECT_EQ(j["StateChangeTime"], "2026-12-05T15:02:00.000+0000");
  EXPECT_EQ(j["Region"], "eu-west-3");
  EXPECT_EQ(j["AWSAccountId"], "123456789012");
  EXPECT_EQ(j["Trigger"]["MetricName"], "HTTPCode_ELB_5XX_Count");
  EXPECT_EQ(j["Trigger"]["Statistic"], "SUM");
  EXPECT_EQ(j["Trigger"]["Dimensions"][0]["name"], "LoadBalancer");
  EXPECT_EQ(j["Trigger"]["Threshold"], 5.0);
}

TEST(Alarms, EveryRecordedMetricIsOneAnAlarmMayName) {
  observe::MetricSlots slots;
  slots.LoadBalancer("web", "app/web/1");
  slots.LoadBalancer("db", "net/db/3");
  slots.TargetGroup("tg", "targetgroup/tg/2");
  slots.TargetGroup("tcp", "targetgroup/tcp/4", true);
  observe::WorkerMetrics w;
  observe::MetricTotals totals = observe::CollectTotals(
      slots, {&w}, {{"targetgroup/tg/2", 1, 0, false}, {"targetgroup/tcp/4", 1, 0, true}});
  ASSERT_FALSE(totals.empty());
  bool network = false;
  for (const observe::SeriesTotal& t : totals) {
    network |= std::string(t.metric_namespace) == "AWS/NetworkELB";
    std::string yaml = "Alarms:\n  - {AlarmName: a, Namespace: " + std::string(t.metric_namespace) +
                       ", MetricName: " + t.metric +
                       ", Statistic: Sum, Period: 60, EvaluationPeriods: 1, Threshold: 1, "
                       "ComparisonOperator: GreaterThanThreshold, Dimensions: [{Name: "
                       "TargetGroup, Value: tg}]}\n";
    config::LoadResult r = config::LoadConfigFromString(yaml, "t.yaml");
    EXPECT_TRUE(std::holds_alternative<config::Config>(r)) << t.metric_namespace << " " << t.metric;
  }
  EXPECT_TRUE(network);
  // A metric of the other namespace is refused.
  config::LoadResult r = config::LoadConfigFromString(
      "Alarms:\n  - {AlarmName: a, Namespace: AWS/NetworkELB, MetricName: RequestCount, "
      "Statistic: Sum, Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: "
      "GreaterThanThreshold, Dimensions: [{Name: LoadBalancer, Value: db}]}\n",
      "t.yaml");
  EXPECT_FALSE(std::holds_alternative<config::Config>(r));
}

}  // namespace
}  // namespace sluice::control
