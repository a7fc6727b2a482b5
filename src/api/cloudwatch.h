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

#include "observe/metric_history.h"

namespace sluice::api {

inline constexpr std::string_view kAlbNamespace = "AWS/ApplicationELB";

struct CloudWatchReply {
  int status = 200;  // 400 with {"Error":{"Type":"Sender","Code":..,"Message":..}}
  std::string json;
};

// `query` is the URL's query string (without '?').
CloudWatchReply CloudWatchJson(const observe::MetricHistory& history, std::string_view query);

// "2026-12-05T15:20:00Z" (fractions and a +00:00 offset accepted) or Unix seconds → Unix
// seconds; false otherwise. Exposed for tests.
bool ParseTimestamp(std::string_view text, int64_t* unix_s);
std::string FormatTimestamp(int64_t unix_s);  // "2026-12-05T15:20:00Z"

}  // namespace sluice::api
