// CloudWatch-style metric alarms over the metric history (config `Alarms`): each alarm is
// OK, ALARM or INSUFFICIENT_DATA, judged after every sample from its last EvaluationPeriods
// complete periods, M out of N, with TreatMissingData, as CloudWatch judges; a change is
// returned to the caller, which logs it and hands it to the webhook sender.
//
// Control plane. Apply runs on the control thread (a reload or an API change), Evaluate on
// the sampler's thread, DescribeJson on the admin thread: one mutex, never on the request
// path.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/model.h"
#include "observe/metric_history.h"

namespace sluice::control {

enum class AlarmState { kInsufficientData, kOk, kAlarm };
const char* AlarmStateName(AlarmState s);  // "INSUFFICIENT_DATA", "OK", "ALARM"

// One judgement. keep: the state stays as it is (TreatMissingData ignore with no data).
struct AlarmVerdict {
  AlarmState state = AlarmState::kInsufficientData;
  bool keep = false;
  std::string reason;  // CloudWatch's StateReason wording
};

// A period's value (nullopt: no data point), oldest first, with its start time.
struct PeriodValue {
  int64_t start_s = 0;
  std::optional<double> value;
};

// Pure: the verdict for these periods under `alarm`'s threshold, comparison, M of N and
// missing-data treatment.
AlarmVerdict Judge(const config::AlarmDefinition& alarm, const std::vector<PeriodValue>& periods);

// Whether a series' dimensions are the alarm's: the same names, each value equal to the
// alarm's or, when the alarm gives a bare name, to the name inside "app/<name>/<id>" or
// "targetgroup/<name>/<id>".
bool DimensionsMatch(const std::vector<config::AlarmDimension>& wanted,
                     const std::vector<observe::Dimension>& series);

struct AlarmChange {
  config::AlarmDefinition alarm;
  AlarmState old_state = AlarmState::kInsufficientData;
  AlarmState new_state = AlarmState::kInsufficientData;
  std::string reason;
  int64_t time_s = 0;
};

// The JSON body POSTed to an action: the shape of CloudWatch's SNS alarm notification
// (AlarmName, NewStateValue, NewStateReason, StateChangeTime, OldStateValue, Trigger{...}).
std::string NotificationJson(const AlarmChange& change, const std::string& region,
                             const std::string& account);

class Alarms {
 public:
  // The alarms of a new configuration; one whose definition did not change keeps its state.
  // An alarm whose Period is not a multiple of the running history's resolution (the config
  // changed Admin.MetricsResolutionSeconds, which applies at restart) is kept unchecked, and
  // its name returned so that the caller can say why.
  std::vector<std::string> Apply(const std::vector<config::AlarmDefinition>& alarms,
                                 int resolution_s);
  // Judges every alarm as of now_s (a sample time) and returns the state changes.
  std::vector<AlarmChange> Evaluate(const observe::MetricHistory& history, int64_t now_s);
  // {"MetricAlarms":[...]}, shaped like DescribeAlarms' output.
  std::string DescribeJson() const;

 private:
  struct Entry {
    config::AlarmDefinition alarm;
    AlarmState state = AlarmState::kInsufficientData;
    std::string reason = "Unchecked: Initial alarm creation";
    int64_t updated_s = 0;
    bool unchecked = false;  // its Period does not fit the running resolution
  };
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
};

}  // namespace sluice::control
