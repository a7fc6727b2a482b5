// CloudWatch's GetMetricStatistics and ListMetrics over Sluice's metric history, with
// CloudWatch's Query-protocol parameter names (Namespace, MetricName,
// Dimensions.member.N.Name/Value, StartTime, EndTime, Period, Statistics.member.N,
// ExtendedStatistics.member.N) and its error codes, answered as JSON shaped like the
// operations' outputs. Served by the admin endpoint at GET /cloudwatch?Action=...
// Pure: the history is read under its own lock; control plane only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "api/query.h"
#include "observe/metric_history.h"

namespace sluice::api {

inline constexpr std::string_view kAlbNamespace = "AWS/ApplicationELB";
inline constexpr std::string_view kNlbNamespace = "AWS/NetworkELB";

inline constexpr std::string_view kCloudWatchVersion = "2010-08-01";
inline constexpr std::string_view kCloudWatchXmlNamespace =
    "http://monitoring.amazonaws.com/doc/2010-08-01/";

struct CloudWatchReply {
  int status = 200;  // 400 with {"Error":{"Type":"Sender","Code":..,"Message":..}}
  std::string json;
};

// The same operations in the AWS Query protocol, for the API endpoint (`aws cloudwatch
// --endpoint-url`, boto3's cloudwatch client: Version 2010-08-01, XML in CloudWatch's
// namespace). `params` are the decoded call; the caller authenticated and authorized it.
struct CloudWatchAnswer {
  int status = 200;
  std::string xml;
  std::string error_code;
  std::string error_message;
};
CloudWatchAnswer CloudWatchXml(const observe::MetricHistory& history, const QueryParams& params,
                               std::string_view request_id);

// `query` is the URL's query string (without '?').
CloudWatchReply CloudWatchJson(const observe::MetricHistory& history, std::string_view query);

// "2026-12-05T15:20:00Z" (fractions and a +00:00 offset accepted) or Unix seconds → Unix
// seconds; false otherwise. Exposed for tests.
bool ParseTimestamp(std::string_view text, int64_t* unix_s);
std::string FormatTimestamp(int64_t unix_s);  // "2026-12-05T15:20:00Z"

}  // namespace sluice::api
