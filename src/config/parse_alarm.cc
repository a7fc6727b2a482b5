// Alarms: CloudWatch's PutMetricAlarm fields, checked as CloudWatch checks them where Sluice
// can honour them, and refused with a message where it cannot (another namespace, a period
// the metric history cannot give, an SNS action).
#include <charconv>
#include <cmath>
#include <set>
#include <string>

#include "base/percentile.h"
#include "config/parse.h"
#include "config/quote.h"
#include "config/webhook_url.h"

namespace sluice::config::internal {
namespace {

// The metrics Sluice records (observe/metrics.cc: CollectTotals); control/alarms_test.cc
// checks that every one of them is accepted here.
constexpr std::string_view kMetrics[] = {
    "RequestCount",
    "HTTPCode_ELB_3XX_Count",
    "HTTPCode_ELB_4XX_Count",
    "HTTPCode_ELB_5XX_Count",
    "HTTPCode_ELB_500_Count",
    "HTTPCode_ELB_502_Count",
    "HTTPCode_ELB_503_Count",
    "HTTPCode_ELB_504_Count",
    "HTTPCode_Target_2XX_Count",
    "HTTPCode_Target_3XX_Count",
    "HTTPCode_Target_4XX_Count",
    "HTTPCode_Target_5XX_Count",
    "HTTP_Fixed_Response_Count",
    "HTTP_Redirect_Count",
    "ProcessedBytes",
    "NewConnectionCount",
    "ActiveConnectionCount",
    "ClientTLSNegotiationErrorCount",
    "DesyncMitigationMode_NonCompliant_Request_Count",
    "TargetConnectionErrorCount",
    "RejectedConnectionCount",
    "TargetResponseTime",
    "HealthyHostCount",
    "UnHealthyHostCount",
};
// The same for AWS/NetworkELB (observe/metrics.cc: kNetworkFamilies).
constexpr std::string_view kNetworkMetrics[] = {
    "ActiveFlowCount",
    "ActiveFlowCount_TCP",
    "ActiveFlowCount_TLS",
    "ActiveFlowCount_UDP",
    "ClientTLSNegotiationErrorCount",
    "NewFlowCount",
    "NewFlowCount_TCP",
    "NewFlowCount_TLS",
    "NewFlowCount_UDP",
    "ProcessedBytes",
    "ProcessedBytes_TCP",
    "ProcessedBytes_TLS",
    "ProcessedBytes_UDP",
    "RejectedFlowCount",
    "RejectedFlowCount_TCP",
    "TargetTLSNegotiationErrorCount",
    "TCP_Client_Reset_Count",
    "TCP_ELB_Reset_Count",
    "TCP_Target_Reset_Count",
    "UnhealthyRoutingFlowCount",
    "ProcessedPackets",
    "PortAllocationErrorCount",
    "PeakBytesPerSecond",
    "PeakPacketsPerSecond",
    "HealthyHostCount",
    "UnHealthyHostCount",
};
constexpr std::string_view kApplicationNamespace = "AWS/ApplicationELB";
constexpr std::string_view kNetworkNamespace = "AWS/NetworkELB";
constexpr int kHistorySeconds = 3600;  // what the metric history keeps (app/server.cc)

bool KnownMetric(std::string_view ns, std::string_view m) {
  if (ns == kNetworkNamespace) {
    for (std::string_view k : kNetworkMetrics) {
      if (k == m) return true;
    }
    return false;
  }
  for (std::string_view k : kMetrics) {
    if (k == m) return true;
  }
  return false;
}

bool IsDecimal(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size() && std::isfinite(v);
}

void ReadDimensions(Reader& r, const Field& field, std::vector<AlarmDimension>* out) {
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items) return;
  std::set<std::string> names;
  for (const Field& item : *items) {
    MapReader m(r, item, {"Name", "Value"});
    if (!m.ok()) continue;
    AlarmDimension d;
    Field name = m.Require("Name");
    if (auto n = ReadEnum(r, name, "dimension", {"LoadBalancer", "TargetGroup"})) {
      if (!names.insert(*n).second) {
        r.AddError(name, "dimension " + QuoteValue(*n) + " is given twice");
      }
      d.name = *n;
    }
    if (auto v = ReadString(r, m.Require("Value"))) d.value = *v;
    out->push_back(std::move(d));
  }
}

void ReadActions(Reader& r, const Field& field, std::vector<std::string>* out) {
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items) return;
  for (const Field& item : *items) {
    std::optional<std::string> url = ReadString(r, item);
    if (!url) continue;
    HttpUrl parsed;
    std::string why;
    if (!ParseHttpUrl(*url, &parsed, &why)) {
      r.AddError(item, "action " + QuoteValue(*url) + ": " + why);
      continue;
    }
    out->push_back(*url);
  }
}

void ReadStatistic(Reader& r, const MapReader& m, AlarmDefinition* a) {
  Field stat = m.Get("Statistic");
  Field ext = m.Get("ExtendedStatistic");
  if (stat.present == ext.present) {
    const char* message = "give exactly one of Statistic and ExtendedStatistic";
    if (stat.present) {
      r.AddError(stat, message);
    } else {
      r.AddError(m.mark(), m.path(), message);
    }
    return;
  }
  if (stat.present) {
    if (auto s = ReadEnum(r, stat, "statistic",
                          {"SampleCount", "Average", "Sum", "Minimum", "Maximum"})) {
      a->statistic = *s;
    }
  } else if (auto e = ReadString(r, ext)) {
    double percentile = 0;
    if (!ParsePercentile(*e, &percentile)) {
      r.AddError(ext, "extended statistic " + QuoteValue(*e) +
                          " is not a percentile such as p99 or p99.9");
    } else {
      a->extended_statistic = *e;
    }
  }
}

void ReadEvaluation(Reader& r, const MapReader& m, int resolution, AlarmDefinition* a) {
  Field period = m.Require("Period");
  if (auto p = ReadInt(r, period, 1, kHistorySeconds, "period")) {
    if (*p % resolution != 0) {
      r.AddError(period, "period " + std::to_string(*p) + " s is not a multiple of " +
                             "Admin.MetricsResolutionSeconds (" + std::to_string(resolution) + ")");
    } else {
      a->period = static_cast<int>(*p);
    }
  }
  Field evaluations = m.Require("EvaluationPeriods");
  bool evaluations_ok = false;
  if (auto n = ReadInt(r, evaluations, 1, kHistorySeconds, "evaluation periods")) {
    if (*n * a->period > kHistorySeconds) {
      r.AddError(evaluations, std::to_string(*n) + " periods of " + std::to_string(a->period) +
                                  " s reach further back than the hour of metric history");
    } else {
      a->evaluation_periods = static_cast<int>(*n);
      evaluations_ok = true;
    }
  }
  Field datapoints = m.Get("DatapointsToAlarm");
  if (auto n = ReadInt(r, datapoints, 1, kHistorySeconds, "datapoints to alarm")) {
    if (evaluations_ok && *n > a->evaluation_periods) {
      r.AddError(datapoints, "DatapointsToAlarm " + std::to_string(*n) +
                                 " is more than EvaluationPeriods (" +
                                 std::to_string(a->evaluation_periods) + ")");
    } else {
      a->datapoints_to_alarm = static_cast<int>(*n);
    }
  }
  Field threshold = m.Require("Threshold");
  if (auto t = ReadString(r, threshold)) {
    if (!IsDecimal(*t)) {
      r.AddError(threshold, "threshold " + QuoteValue(*t) + " is not a number");
    } else {
      a->threshold = *t;
    }
  }
  if (auto c = ReadEnum(r, m.Require("ComparisonOperator"), "comparison operator",
                        {"GreaterThanOrEqualToThreshold", "GreaterThanThreshold",
                         "LessThanThreshold", "LessThanOrEqualToThreshold"})) {
    a->comparison = *c;
  }
  if (auto t = ReadEnum(r, m.Get("TreatMissingData"), "TreatMissingData",
                        {"breaching", "notBreaching", "ignore", "missing"})) {
    a->treat_missing_data = *t;
  }
}

void ReadAlarm(LoadContext& ctx, const Field& item, int resolution, std::set<std::string>* names,
               std::vector<AlarmDefinition>* out) {
  Reader& r = ctx.reader;
  MapReader m(r, item,
              {"AlarmName", "AlarmDescription", "Namespace", "MetricName", "Dimensions",
               "Statistic", "ExtendedStatistic", "Period", "EvaluationPeriods", "DatapointsToAlarm",
               "Threshold", "ComparisonOperator", "TreatMissingData", "ActionsEnabled",
               "AlarmActions", "OKActions", "InsufficientDataActions"});
  if (!m.ok()) return;
  AlarmDefinition a;
  a.path = item.path;
  a.location = LocationOf(item.mark);
  Field name = m.Require("AlarmName");
  if (auto n = ReadString(r, name)) {
    if (n->empty() || n->size() > 255) {
      r.AddError(name, "alarm name must be 1..255 characters");
    } else if (!names->insert(*n).second) {
      r.AddError(name, "duplicate alarm name " + QuoteValue(*n));
    }
    a.name = *n;
  }
  if (auto d = ReadString(r, m.Get("AlarmDescription"))) a.description = *d;
  Field ns = m.Get("Namespace");
  if (auto n = ReadString(r, ns)) {
    if (*n != kApplicationNamespace && *n != kNetworkNamespace) {
      r.AddError(ns, "namespace " + QuoteValue(*n) +
                         " has no metrics here; use AWS/ApplicationELB or AWS/NetworkELB");
    } else {
      a.metric_namespace = *n;
    }
  }
  Field metric = m.Require("MetricName");
  if (auto n = ReadString(r, metric)) {
    if (!KnownMetric(a.metric_namespace, *n)) {
      r.AddError(metric, "metric " + QuoteValue(*n) + " is not one Sluice records in " +
                             a.metric_namespace + " (see docs/config.md, Metrics)");
    }
    a.metric = *n;
  }
  Field dimensions = m.Require("Dimensions");
  ReadDimensions(r, dimensions, &a.dimensions);
  if (dimensions.present && a.dimensions.empty()) {
    r.AddError(dimensions, "every series has a LoadBalancer or TargetGroup dimension; name one");
  }
  ReadStatistic(r, m, &a);
  ReadEvaluation(r, m, resolution, &a);
  if (auto e = ReadBool(r, m.Get("ActionsEnabled"))) a.actions_enabled = *e;
  ReadActions(r, m.Get("AlarmActions"), &a.alarm_actions);
  ReadActions(r, m.Get("OKActions"), &a.ok_actions);
  ReadActions(r, m.Get("InsufficientDataActions"), &a.insufficient_data_actions);
  out->push_back(std::move(a));
}

}  // namespace
}  // namespace sluice::config::internal

namespace sluice::config {

bool ParseHttpUrl(std::string_view url, HttpUrl* out, std::string* why) {
  std::string_view rest;
  if (url.starts_with("http://")) {
    out->tls = false;
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    out->tls = true;
    rest = url.substr(8);
  } else {
    *why = "must be an http:// or https:// URL (SNS topic ARNs have no meaning here)";
    return false;
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string* path = &out->path;
  int* port = &out->port;
  *path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  size_t colon = authority.rfind(':');
  const bool bracketed = !authority.empty() && authority[0] == '[';
  if (colon != std::string_view::npos && (!bracketed || authority[colon - 1] == ']')) {
    int p = 0;
    std::string_view digits = authority.substr(colon + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p);
    if (ec != std::errc() || end != digits.data() + digits.size() || p < 1 || p > 65535) {
      *why = "port must be 1..65535";
      return false;
    }
    *port = p;
    authority = authority.substr(0, colon);
  } else {
    *port = out->tls ? 443 : 80;
  }
  if (bracketed) {
    if (authority.size() < 3 || authority.back() != ']') {
      *why = "bad IPv6 address";
      return false;
    }
    authority = authority.substr(1, authority.size() - 2);
  }
  if (authority.empty()) {
    *why = "no host";
    return false;
  }
  for (char c : authority) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':';
    if (!ok) {
      *why = "bad host";
      return false;
    }
  }
  for (char c : *path) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      *why = "the path has a space or a control character";
      return false;
    }
  }
  out->host = std::string(authority);
  return true;
}

}  // namespace sluice::config

namespace sluice::config::internal {

void ParseAlarms(LoadContext& ctx, const Field& field, int resolution_seconds,
                 std::vector<AlarmDefinition>* out) {
  std::optional<std::vector<Field>> items = ReadList(ctx.reader, field);
  if (!items) return;
  std::set<std::string> names;
  for (const Field& item : *items) ReadAlarm(ctx, item, resolution_seconds, &names, out);
}

}  // namespace sluice::config::internal
