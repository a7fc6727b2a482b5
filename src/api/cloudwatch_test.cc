#include "api/cloudwatch.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sluice::api {
namespace {

using nlohmann::json;
using observe::Scalar;
using observe::SeriesKind;

const char* kLbDim = "app/web/0123456789abcdef";

void Fill(observe::MetricHistory& h) {
  const std::vector<observe::Dimension> lb = {{"LoadBalancer", kLbDim}};
  // 2026-12-05T15:00:00Z = 1796482800; intervals from 15:00 and 15:01.
  h.Record(1796482860, {Scalar("RequestCount", lb, SeriesKind::kCounterAlways, "Count", 7)});
  h.Record(1796482920, {Scalar("RequestCount", lb, SeriesKind::kCounterAlways, "Count", 10)});
}

json Body(const CloudWatchReply& r) { return json::parse(r.json); }

TEST(CloudWatchJson, GetMetricStatisticsShapedLikeCloudWatchsOutput) {
  observe::MetricHistory h(60, 3600);
  Fill(h);
  CloudWatchReply r = CloudWatchJson(
      h,
      "Action=GetMetricStatistics&Namespace=AWS%2FApplicationELB&MetricName=RequestCount"
      "&Dimensions.member.1.Name=LoadBalancer&Dimensions.member.1.Value=app%2Fweb%2F"
      "0123456789abcdef&StartTime=2026-12-05T15:00:00Z&EndTime=2026-12-05T15:05:00Z"
      "&Period=60&Statistics.member.1=Sum&Statistics.member.2=SampleCount");
  ASSERT_EQ(r.status, 200) << r.json;
  json j = Body(r);
  EXPECT_EQ(j["Label"], "RequestCount");
  ASSERT_EQ(j["Datapoints"].size(), 2u);
  EXPECT_EQ(j["Datapoints"][0]["Timestamp"], "2026-12-05T15:00:00Z");
  EXPECT_EQ(j["Datapoints"][0]["Sum"], 7.0);
  EXPECT_EQ(j["Datapoints"][0]["SampleCount"], 1.0);
  EXPECT_EQ(j["Datapoints"][0]["Unit"], "Count");
  EXPECT_EQ(j["Datapoints"][1]["Sum"], 3.0);
}

TEST(CloudWatchJson, PercentilesGoUnderExtendedStatistics) {
  observe::MetricHistory h(60, 3600);
  Fill(h);
  CloudWatchReply r = CloudWatchJson(
      h,
      "Action=GetMetricStatistics&Namespace=AWS/ApplicationELB&MetricName=RequestCount"
      "&Dimensions.member.1.Name=LoadBalancer&Dimensions.member.1.Value=" +
          std::string(kLbDim) +
          "&StartTime=1796482800&EndTime=1796482920&Period=120"
          "&ExtendedStatistics.member.1=p100");
  ASSERT_EQ(r.status, 200) << r.json;
  json j = Body(r);
  ASSERT_EQ(j["Datapoints"].size(), 1u);
  EXPECT_EQ(j["Datapoints"][0]["ExtendedStatistics"]["p100"], 7.0);
}

TEST(CloudWatchJson, AnotherNamespaceHasNoData) {
  observe::MetricHistory h(60, 3600);
  Fill(h);
  CloudWatchReply r =
      CloudWatchJson(h,
                     "Action=GetMetricStatistics&Namespace=AWS/EC2&MetricName=RequestCount"
                     "&StartTime=1796482800&EndTime=1796482920&Period=60&Statistics.member.1=Sum");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(Body(r)["Datapoints"].empty());
}

TEST(CloudWatchJson, ErrorsCarryCloudWatchsCodes) {
  observe::MetricHistory h(60, 3600);
  Fill(h);
  auto code = [&](const std::string& q) {
    CloudWatchReply r = CloudWatchJson(h, q);
    EXPECT_EQ(r.status, 400) << q;
    return Body(r)["Error"]["Code"].get<std::string>();
  };
  const std::string base =
      "Action=GetMetricStatistics&Namespace=AWS/ApplicationELB&MetricName=RequestCount"
      "&StartTime=1796482800&EndTime=1796482920";
  EXPECT_EQ(code(base + "&Statistics.member.1=Sum"), "MissingParameter");  // no Period
  EXPECT_EQ(code(base + "&Period=30&Statistics.member.1=Sum"), "InvalidParameterValue");
  EXPECT_EQ(code(base + "&Period=abc&Statistics.member.1=Sum"), "InvalidParameterValue");
  EXPECT_EQ(code(base + "&Period=60"), "InvalidParameterCombination");
  EXPECT_EQ(code(base + "&Period=60&Statistics.member.1=Sum&Dimensions.member.1.Name=X"),
            "InvalidParameterValue");
  EXPECT_EQ(code("MetricName=RequestCount"), "MissingAction");
  EXPECT_EQ(code("Action=PutMetricData"), "InvalidAction");
  EXPECT_EQ(code("Action=ListMetrics&Namespace=%zz"), "MalformedQueryString");
}

TEST(CloudWatchJson, BytesThatAreNotUtf8AreEchoedAsReplacementCharacters) {
  // Found by the fuzzer: the serializer threw on the echoed action name, which would have
  // ended the process from the admin thread.
  observe::MetricHistory h(60, 3600);
  CloudWatchReply r = CloudWatchJson(h, "Action=GetM%E0A%FF%01eti");
  ASSERT_EQ(r.status, 400);
  json j = Body(r);
  EXPECT_EQ(j["Error"]["Code"], "InvalidAction");
  EXPECT_NE(j["Error"]["Message"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);
  r = CloudWatchJson(h,
                     "Action=GetMetricStatistics&Namespace=x&MetricName=%FF&StartTime=1"
                     "&EndTime=2&Period=60&Statistics.member.1=Sum");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["Label"], "\xEF\xBF\xBD");
}

TEST(CloudWatchJson, ListMetricsFiltersByNameAndDimension) {
  observe::MetricHistory h(60, 3600);
  Fill(h);
  json all = Body(CloudWatchJson(h, "Action=ListMetrics"));
  ASSERT_EQ(all["Metrics"].size(), 1u);
  EXPECT_EQ(all["Metrics"][0]["Namespace"], "AWS/ApplicationELB");
  EXPECT_EQ(all["Metrics"][0]["Dimensions"][0]["Value"], kLbDim);
  EXPECT_EQ(
      Body(CloudWatchJson(h, "Action=ListMetrics&Dimensions.member.1.Name=LoadBalancer"))["Metrics"]
          .size(),
      1u);
  EXPECT_TRUE(
      Body(CloudWatchJson(h, "Action=ListMetrics&Dimensions.member.1.Name=TargetGroup"))["Metrics"]
          .empty());
  EXPECT_TRUE(Body(CloudWatchJson(h, "Action=ListMetrics&MetricName=Nope"))["Metrics"].empty());
}

TEST(Timestamps, IsoAndUnixSeconds) {
  int64_t t = 0;
  EXPECT_TRUE(ParseTimestamp("2026-12-05T15:00:00Z", &t));
  EXPECT_EQ(t, 1796482800);
  EXPECT_TRUE(ParseTimestamp("2026-12-05T15:00:00.123+00:00", &t));
  EXPECT_EQ(t, 1796482800);
  EXPECT_TRUE(ParseTimestamp("1796482800", &t));
  EXPECT_EQ(FormatTimestamp(1796482800), "2026-12-05T15:00:00Z");
  for (const char* bad : {"", "yesterday", "2026-13-05T15:00:00Z", "2026-12-05T15:00:00+02:00",
                          "2026-12-05T15:00:00.Z", "2026-12-05", "-1", "253402300800",
                          "-9223372036854775808", "9223372036854775807", "1969-12-31T23:59:59Z"}) {
    EXPECT_FALSE(ParseTimestamp(bad, &t)) << bad;
  }
}

}  // namespace
}  // namespace sluice::api

namespace sluice::api {
namespace {

TEST(CloudWatchXml, AnswersInCloudWatchsNamespaceWithItsMembers) {
  observe::MetricHistory h(60, 3600);
  const std::vector<observe::Dimension> lb = {{"LoadBalancer", "app/web/0123456789abcdef"}};
  h.Record(1796482860,
           {observe::Scalar("RequestCount", lb, observe::SeriesKind::kCounterAlways, "Count", 7)});
  auto params = QueryParams::Parse(
      "Action=GetMetricStatistics&Version=2010-08-01&Namespace=AWS/ApplicationELB"
      "&MetricName=RequestCount&Dimensions.member.1.Name=LoadBalancer"
      "&Dimensions.member.1.Value=app/web/0123456789abcdef&StartTime=1796482800"
      "&EndTime=1796482920&Period=60&Statistics.member.1=Sum");
  ASSERT_TRUE(params.ok());
  CloudWatchAnswer a = CloudWatchXml(h, params.value(), "rid");
  ASSERT_EQ(a.status, 200) << a.xml;
  EXPECT_NE(a.xml.find("<GetMetricStatisticsResponse "
                       "xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">"),
            std::string::npos)
      << a.xml;
  EXPECT_NE(a.xml.find("<Label>RequestCount</Label><Datapoints><member><Timestamp>2026-12-05T15:"
                       "00:00Z</Timestamp><Sum>7</Sum><Unit>Count</Unit></member></Datapoints>"),
            std::string::npos)
      << a.xml;
  auto list = QueryParams::Parse("Action=ListMetrics&Version=2010-08-01");
  a = CloudWatchXml(h, list.value(), "rid");
  EXPECT_NE(a.xml.find("<Metrics><member><Namespace>AWS/ApplicationELB</Namespace><MetricName>"
                       "RequestCount</MetricName><Dimensions><member><Name>LoadBalancer</Name>"),
            std::string::npos)
      << a.xml;
  auto bad = QueryParams::Parse("Action=PutMetricAlarm&Version=2010-08-01");
  a = CloudWatchXml(h, bad.value(), "rid");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.error_code, "InvalidAction");
  EXPECT_NE(a.xml.find("<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">"),
            std::string::npos)
      << a.xml;
}

}  // namespace
}  // namespace sluice::api
