// Alarms: PutMetricAlarm's fields in the config, their errors, and their round trip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/export.h"
#include "config/loader.h"
#include "config/test_util.h"
#include "config/webhook_url.h"

namespace sluice::config {
namespace {

using ::testing::ElementsAre;
using testing::Errors;
using ::testing::HasSubstr;
using testing::MustLoad;

constexpr char kAlarm[] = R"(
Admin: {Port: 9901, MetricsResolutionSeconds: 5}
Alarms:
  - AlarmName: web-5xx
    AlarmDescription: "5XX from the load balancer"
    MetricName: HTTPCode_ELB_5XX_Count
    Dimensions: [{Name: LoadBalancer, Value: web}]
    Statistic: Sum
    Period: 60
    EvaluationPeriods: 3
    DatapointsToAlarm: 2
    Threshold: 2.5
    ComparisonOperator: GreaterThanOrEqualToThreshold
    TreatMissingData: notBreaching
    AlarmActions: ["http://127.0.0.1:9000/hooks/alarm"]
    OKActions: ["http://[::1]/ok"]
  - AlarmName: slow
    MetricName: TargetResponseTime
    Dimensions: [{Name: TargetGroup, Value: api}]
    ExtendedStatistic: p99
    Period: 10
    EvaluationPeriods: 1
    Threshold: 0.5
    ComparisonOperator: GreaterThanThreshold
)";

TEST(AlarmConfig, LoadsAndRoundTrips) {
  Config c = MustLoad(kAlarm);
  ASSERT_EQ(c.alarms.size(), 2u);
  const AlarmDefinition& a = c.alarms[0];
  EXPECT_EQ(a.name, "web-5xx");
  EXPECT_EQ(a.metric_namespace, "AWS/ApplicationELB");
  EXPECT_EQ(a.dimensions[0].value, "web");
  EXPECT_EQ(a.evaluation_periods, 3);
  EXPECT_EQ(a.datapoints_to_alarm, 2);
  EXPECT_EQ(a.threshold, "2.5");
  EXPECT_EQ(a.treat_missing_data, "notBreaching");
  EXPECT_THAT(a.ok_actions, ElementsAre("http://[::1]/ok"));
  EXPECT_EQ(c.alarms[1].extended_statistic, "p99");
  EXPECT_EQ(c.alarms[1].treat_missing_data, "missing");
  std::string diff;
  EXPECT_TRUE(SameModel(c, MustLoad(ExportYaml(c)), &diff)) << diff;
}

TEST(AlarmConfig, ErrorsNameTheField) {
  EXPECT_THAT(
      Errors("Alarms:\n  - {AlarmName: a, Dimensions: [{Name: LoadBalancer, Value: w}], "
             "MetricName: RequestCuont, Statistic: Sum, Period: "
             "60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: GreaterThanThreshold}\n"),
      ElementsAre(HasSubstr("Alarms[0].MetricName: metric 'RequestCuont' is not one Sluice "
                            "records")));
  EXPECT_THAT(Errors("Alarms:\n  - {AlarmName: a, Dimensions: [{Name: LoadBalancer, Value: w}], "
                     "MetricName: RequestCount, Period: 7, "
                     "EvaluationPeriods: 1, Threshold: x, ComparisonOperator: Above}\n"),
              ElementsAre(HasSubstr("give exactly one of Statistic and ExtendedStatistic"),
                          HasSubstr("Alarms[0].Period: period 7 s is not a multiple of "
                                    "Admin.MetricsResolutionSeconds (10)"),
                          HasSubstr("Alarms[0].Threshold: threshold 'x' is not a number"),
                          HasSubstr("Alarms[0].ComparisonOperator: comparison operator 'Above' "
                                    "is invalid")));
  EXPECT_THAT(Errors("Alarms:\n  - {AlarmName: a, Dimensions: [{Name: LoadBalancer, Value: w}], "
                     "MetricName: RequestCount, Statistic: Sum, "
                     "Period: 600, EvaluationPeriods: 7, DatapointsToAlarm: 2, Threshold: 1, "
                     "ComparisonOperator: LessThanThreshold, AlarmActions: "
                     "[\"https://x/\", \"arn:aws:sns:us-east-1:1:t\"]}\n"),
              ElementsAre(HasSubstr("7 periods of 600 s reach further back than the hour"),
                          HasSubstr("must be an http:// or https:// URL")));
  EXPECT_THAT(
      Errors("Alarms:\n  - {AlarmName: a, Dimensions: [{Name: LoadBalancer, Value: w}], Namespace: "
             "AWS/EC2, MetricName: RequestCount,"
             " ExtendedStatistic: p101, Period: 60, EvaluationPeriods: 1, "
             "Threshold: 1, ComparisonOperator: LessThanThreshold}\n"
             "  - {AlarmName: a, MetricName: RequestCount, Statistic: Sum, Period: 60, "
             "EvaluationPeriods: 1, DatapointsToAlarm: 2, Threshold: 1, "
             "ComparisonOperator: LessThanThreshold, Dimensions: [{Name: Zone, "
             "Value: x}]}\n"),
      ElementsAre(HasSubstr("namespace 'AWS/EC2' has no metrics here"),
                  HasSubstr("'p101' is not a percentile"), HasSubstr("duplicate alarm name 'a'"),
                  HasSubstr("DatapointsToAlarm 2 is more than EvaluationPeriods (1)"),
                  HasSubstr("dimension 'Zone' is invalid")));
}

TEST(AlarmConfig, DimensionsAreRequired) {
  EXPECT_THAT(Errors("Alarms:\n  - {AlarmName: a, MetricName: RequestCount, Statistic: Sum, "
                     "Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: "
                     "LessThanThreshold}\n"),
              ElementsAre(HasSubstr("Alarms[0].Dimensions: missing required field")));
  EXPECT_THAT(Errors("Alarms:\n  - {AlarmName: a, MetricName: RequestCount, Statistic: Sum, "
                     "Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: "
                     "LessThanThreshold, Dimensions: []}\n"),
              ElementsAre(HasSubstr("every series has a LoadBalancer or TargetGroup dimension")));
}

TEST(HttpUrl, Parts) {
  HttpUrl u;
  std::string why;
  EXPECT_TRUE(ParseHttpUrl("http://127.0.0.1:9000/a?b=c", &u, &why));
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 9000);
  EXPECT_EQ(u.path, "/a?b=c");
  EXPECT_TRUE(ParseHttpUrl("http://[::1]", &u, &why));
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.path, "/");
  EXPECT_TRUE(ParseHttpUrl("https://hooks.example/x", &u, &why));
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "hooks.example");
  EXPECT_EQ(u.port, 443);
  EXPECT_TRUE(ParseHttpUrl("https://[::1]:8443", &u, &why));
  EXPECT_EQ(u.port, 8443);
  EXPECT_TRUE(ParseHttpUrl("http://hooks.example:81/x", &u, &why));
  for (const char* bad : {"http://", "https://", "http://h:0/", "http://h:99999/", "http://h:x/",
                          "http://a b/", "http://h/a b", "ftp://h/", "http://[::1/", "HTTP://h/"}) {
    EXPECT_FALSE(ParseHttpUrl(bad, &u, &why)) << bad;
  }
}

}  // namespace
}  // namespace sluice::config
