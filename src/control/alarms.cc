#include "control/alarms.h"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "config/export.h"

namespace sluice::control {
namespace {

using Json = nlohmann::ordered_json;

double Threshold(const config::AlarmDefinition& a) {
  double v = 0;
  std::from_chars(a.threshold.data(), a.threshold.data() + a.threshold.size(), v);
  return v;  // validated by the loader
}

bool Breaches(const config::AlarmDefinition& a, double value) {
  const double t = Threshold(a);
  if (a.comparison == "GreaterThanThreshold") return value > t;
  if (a.comparison == "GreaterThanOrEqualToThreshold") return value >= t;
  if (a.comparison == "LessThanThreshold") return value < t;
  return value <= t;  // LessThanOrEqualToThreshold
}

const char* ComparisonWords(const std::string& op) {
  if (op == "GreaterThanThreshold") return "greater than";
  if (op == "GreaterThanOrEqualToThreshold") return "greater than or equal to";
  if (op == "LessThanThreshold") return "less than";
  return "less than or equal to";
}

std::string Number(double v) {
  char buf[40];
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v > -1e15 && v < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.1f", v);
  } else {
    std::snprintf(buf, sizeof(buf), "%.6g", v);
  }
  return buf;
}

// CloudWatch's "dd/mm/yy HH:MM:SS" inside a StateReason.
std::string ReasonTime(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%d/%m/%y %H:%M:%S", &tm);
  return buf;
}

std::string Iso(int64_t unix_s, bool millis) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), millis ? "%Y-%m-%dT%H:%M:%S.000+0000" : "%Y-%m-%dT%H:%M:%SZ",
                &tm);
  return buf;
}

// "[7.0 (05/12/26 15:20:00), 6.0 (05/12/26 15:19:00)]": the present values, newest first.
std::string ValueList(const std::vector<PeriodValue>& periods) {
  std::string out = "[";
  for (auto it = periods.rbegin(); it != periods.rend(); ++it) {
    if (!it->value) continue;
    if (out.size() > 1) out += ", ";
    out += Number(*it->value) + " (" + ReasonTime(it->start_s) + ")";
  }
  return out + "]";
}

std::string Datapoints(size_t n) {
  return n == 1 ? "1 datapoint" : std::to_string(n) + " datapoints";
}

// The values to judge after TreatMissingData: a missing period counts as breaching or not
// (breaching, notBreaching) or is left out (missing, ignore).
struct Tally {
  size_t breaching = 0;
  size_t judged = 0;  // periods that count (present, or missing with a set meaning)
  size_t present = 0;
};

Tally Count(const config::AlarmDefinition& a, const std::vector<PeriodValue>& periods) {
  Tally t;
  for (const PeriodValue& p : periods) {
    if (p.value) {
      ++t.present;
      ++t.judged;
      if (Breaches(a, *p.value)) ++t.breaching;
    } else if (a.treat_missing_data == "breaching") {
      ++t.judged;
      ++t.breaching;
    } else if (a.treat_missing_data == "notBreaching") {
      ++t.judged;
    }
  }
  return t;
}

}  // namespace

const char* AlarmStateName(AlarmState s) {
  switch (s) {
    case AlarmState::kOk:
      return "OK";
    case AlarmState::kAlarm:
      return "ALARM";
    case AlarmState::kInsufficientData:
      break;
  }
  return "INSUFFICIENT_DATA";
}

AlarmVerdict Judge(const config::AlarmDefinition& a, const std::vector<PeriodValue>& periods) {
  const size_t n = periods.size();
  const size_t m = a.datapoints_to_alarm > 0 ? static_cast<size_t>(a.datapoints_to_alarm) : n;
  const Tally t = Count(a, periods);
  AlarmVerdict v;
  if (t.judged == 0) {
    // Every period missing, and missing data means nothing: no verdict.
    v.keep = a.treat_missing_data == "ignore";
    v.state = AlarmState::kInsufficientData;
    v.reason = "Insufficient Data: " + Datapoints(n) + (n == 1 ? " was" : " were") + " unknown.";
    return v;
  }
  const std::string words = ComparisonWords(a.comparison);
  const std::string threshold = "the threshold (" + Number(Threshold(a)) + ")";
  const std::string values = ValueList(periods);
  const std::string of_last =
      n == 1 ? Datapoints(1) + " " + values
             : std::to_string(t.breaching) + " out of the last " + Datapoints(n) + " " + values;
  if (t.breaching >= m) {
    v.state = AlarmState::kAlarm;
    v.reason = "Threshold Crossed: " + of_last + (t.breaching == 1 ? " was " : " were ") + words +
               " " + threshold;
    if (m < n) v.reason += " (minimum " + Datapoints(m) + " for OK -> ALARM transition)";
    v.reason += ".";
    return v;
  }
  v.state = AlarmState::kOk;
  const size_t not_breaching = t.judged - t.breaching;
  v.reason = "Threshold Crossed: " +
             (n == 1 ? Datapoints(1) + " " + values
                     : std::to_string(not_breaching) + " out of the last " + Datapoints(n) + " " +
                           values) +
             (not_breaching == 1 ? " was not " : " were not ") + words + " " + threshold;
  if (m > 1) v.reason += " (minimum " + Datapoints(m) + " for ALARM)";
  v.reason += ".";
  return v;
}

bool DimensionsMatch(const std::vector<config::AlarmDimension>& wanted,
                     const std::vector<observe::Dimension>& series) {
  if (wanted.size() != series.size()) return false;
  for (const config::AlarmDimension& w : wanted) {
    bool found = false;
    for (const observe::Dimension& d : series) {
      if (d.name != w.name) continue;
      if (d.value == w.value) {
        found = true;
      } else if (w.value.find('/') == std::string::npos) {
        // "app/<name>/<id>", "targetgroup/<name>/<id>": compare the name.
        size_t first = d.value.find('/');
        size_t last = d.value.rfind('/');
        found = first != std::string::npos && last > first &&
                d.value.compare(first + 1, last - first - 1, w.value) == 0;
      }
    }
    if (!found) return false;
  }
  return true;
}

std::string NotificationJson(const AlarmChange& c, const std::string& region,
                             const std::string& account) {
  const config::AlarmDefinition& a = c.alarm;
  Json j;
  j["AlarmName"] = a.name;
  j["AlarmDescription"] = a.description.empty() ? Json(nullptr) : Json(a.description);
  j["AWSAccountId"] = account;
  j["NewStateValue"] = AlarmStateName(c.new_state);
  j["NewStateReason"] = c.reason;
  j["StateChangeTime"] = Iso(c.time_s, true);
  j["Region"] = region;
  j["OldStateValue"] = AlarmStateName(c.old_state);
  Json trigger;
  trigger["MetricName"] = a.metric;
  trigger["Namespace"] = a.metric_namespace;
  trigger["StatisticType"] = a.statistic.empty() ? "ExtendedStatistic" : "Statistic";
  if (a.statistic.empty()) {
    trigger["ExtendedStatistic"] = a.extended_statistic;
  } else {
    trigger["Statistic"] = a.statistic == "SampleCount" ? "SAMPLE_COUNT" : [&] {
      std::string s = a.statistic;
      for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      return s;
    }();
  }
  trigger["Dimensions"] = Json::array();
  for (const config::AlarmDimension& d : a.dimensions) {
    trigger["Dimensions"].push_back({{"value", d.value}, {"name", d.name}});
  }
  trigger["Period"] = a.period;
  trigger["EvaluationPeriods"] = a.evaluation_periods;
  if (a.datapoints_to_alarm > 0) trigger["DatapointsToAlarm"] = a.datapoints_to_alarm;
  trigger["ComparisonOperator"] = a.comparison;
  trigger["Threshold"] = Threshold(a);
  trigger["TreatMissingData"] = a.treat_missing_data;
  j["Trigger"] = std::move(trigger);
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::vector<std::string> Alarms::Apply(const std::vector<config::AlarmDefinition>& alarms,
                                       int resolution_s) {
  std::vector<std::string> unchecked;
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Entry> next;
  next.reserve(alarms.size());
  for (const config::AlarmDefinition& a : alarms) {
    Entry e;
    for (const Entry& old : entries_) {
      if (config::SameAlarmDefinition(old.alarm, a)) e = old;
    }
    e.alarm = a;
    e.unchecked = resolution_s <= 0 || a.period % resolution_s != 0;
    if (e.unchecked) {
      e.state = AlarmState::kInsufficientData;
      e.reason = "Unchecked: Period " + std::to_string(a.period) +
                 " is not a multiple of the running metrics resolution (" +
                 std::to_string(resolution_s) +
                 " s); Admin.MetricsResolutionSeconds changes apply at restart";
      unchecked.push_back(a.name);
    }
    next.push_back(std::move(e));
  }
  entries_ = std::move(next);
  return unchecked;
}

std::vector<AlarmChange> Alarms::Evaluate(const observe::MetricHistory& history, int64_t now_s) {
  const std::vector<observe::SeriesName> series = history.List();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<AlarmChange> changes;
  for (Entry& e : entries_) {
    if (e.unchecked) continue;
    const config::AlarmDefinition& a = e.alarm;
    const int64_t end = now_s / a.period * a.period;
    const int64_t start = end - int64_t{a.evaluation_periods} * a.period;
    std::vector<PeriodValue> periods(static_cast<size_t>(a.evaluation_periods));
    for (size_t k = 0; k < periods.size(); ++k) {
      periods[k].start_s = start + static_cast<int64_t>(k) * a.period;
    }
    for (const observe::SeriesName& s : series) {
      if (s.metric != a.metric || a.metric_namespace != s.metric_namespace ||
          !DimensionsMatch(a.dimensions, s.dimensions)) {
        continue;
      }
      observe::StatisticsRequest r{
          a.metric_namespace, a.metric, s.dimensions, start, end, a.period, {}, {}};
      (a.statistic.empty() ? r.extended : r.statistics)
          .push_back(a.statistic.empty() ? a.extended_statistic : a.statistic);
      auto answer = history.Statistics(r);
      if (auto* result = std::get_if<observe::StatisticsResult>(&answer)) {
        for (const observe::Datapoint& dp : result->datapoints) {
          const size_t k = static_cast<size_t>((dp.timestamp_s - start) / a.period);
          const auto& values = dp.statistics.empty() ? dp.extended : dp.statistics;
          if (k < periods.size() && !values.empty()) periods[k].value = values[0].second;
        }
      }
      break;
    }
    AlarmVerdict v = Judge(a, periods);
    if (v.keep || v.state == e.state) continue;
    changes.push_back(AlarmChange{a, e.state, v.state, v.reason, now_s});
    e.state = v.state;
    e.reason = std::move(v.reason);
    e.updated_s = now_s;
  }
  return changes;
}

std::string Alarms::DescribeJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  Json out;
  out["MetricAlarms"] = Json::array();
  for (const Entry& e : entries_) {
    const config::AlarmDefinition& a = e.alarm;
    Json j;
    j["AlarmName"] = a.name;
    if (!a.description.empty()) j["AlarmDescription"] = a.description;
    j["ActionsEnabled"] = a.actions_enabled;
    j["OKActions"] = a.ok_actions;
    j["AlarmActions"] = a.alarm_actions;
    j["InsufficientDataActions"] = a.insufficient_data_actions;
    j["StateValue"] = AlarmStateName(e.state);
    j["StateReason"] = e.reason;
    if (e.updated_s > 0) j["StateUpdatedTimestamp"] = Iso(e.updated_s, false);
    j["MetricName"] = a.metric;
    j["Namespace"] = a.metric_namespace;
    if (!a.statistic.empty()) j["Statistic"] = a.statistic;
    if (!a.extended_statistic.empty()) j["ExtendedStatistic"] = a.extended_statistic;
    j["Dimensions"] = Json::array();
    for (const config::AlarmDimension& d : a.dimensions) {
      j["Dimensions"].push_back({{"Name", d.name}, {"Value", d.value}});
    }
    j["Period"] = a.period;
    j["EvaluationPeriods"] = a.evaluation_periods;
    if (a.datapoints_to_alarm > 0) j["DatapointsToAlarm"] = a.datapoints_to_alarm;
    j["Threshold"] = Threshold(a);
    j["ComparisonOperator"] = a.comparison;
    j["TreatMissingData"] = a.treat_missing_data;
    out["MetricAlarms"].push_back(std::move(j));
  }
  return out.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace sluice::control
