#include "health/target_health.h"

#include <algorithm>
#include <limits>

namespace sluice::health {
namespace {

// Thresholds below 1 would make a single result flip the state in both directions at once;
// the config layer allows 2..10, this only guards against nonsense.
int SaneThreshold(int n) { return std::max(1, n); }

Reason ReasonFor(CheckOutcome outcome) {
  switch (outcome) {
    case CheckOutcome::kTimeout:
      return Reason::kTargetTimeout;
    case CheckOutcome::kCodeMismatch:
      return Reason::kTargetResponseCodeMismatch;
    case CheckOutcome::kSuccess:  // not a failure; never asked
    case CheckOutcome::kFailed:
      break;
  }
  return Reason::kTargetFailedHealthChecks;
}

// Parses a decimal number made only of digits, without a leading zero (except "0" itself),
// at most `max` in value. Returns -1 for anything else (empty, sign, space, letters,
// overflow).
int ParseCode(std::string_view s, int max) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
    if (v > max) return -1;  // also stops any overflow early
  }
  return static_cast<int>(v);
}

// FNV-1a 64 followed by the SplitMix64 finaliser, so that keys differing only in their last
// characters ("10.0.0.1:80", "10.0.0.2:80") still land far apart modulo any interval.
uint64_t SpreadHash(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace

const char* ToString(TargetState state) {
  switch (state) {
    case TargetState::kInitial:
      return "initial";
    case TargetState::kHealthy:
      return "healthy";
    case TargetState::kUnhealthy:
      return "unhealthy";
    case TargetState::kUnused:
      return "unused";
    case TargetState::kDraining:
      return "draining";
    case TargetState::kUnavailable:
      return "unavailable";
  }
  return "";
}

const char* ToString(Reason reason) {
  switch (reason) {
    case Reason::kNone:
      return "";
    case Reason::kElbRegistrationInProgress:
      return "Elb.RegistrationInProgress";
    case Reason::kElbInitialHealthChecking:
      return "Elb.InitialHealthChecking";
    case Reason::kTargetResponseCodeMismatch:
      return "Target.ResponseCodeMismatch";
    case Reason::kTargetTimeout:
      return "Target.Timeout";
    case Reason::kTargetFailedHealthChecks:
      return "Target.FailedHealthChecks";
    case Reason::kElbInternalError:
      return "Elb.InternalError";
    case Reason::kTargetNotRegistered:
      return "Target.NotRegistered";
    case Reason::kTargetNotInUse:
      return "Target.NotInUse";
    case Reason::kTargetDeregistrationInProgress:
      return "Target.DeregistrationInProgress";
    case Reason::kTargetHealthCheckDisabled:
      return "Target.HealthCheckDisabled";
  }
  return "";
}

// Texts from the reference §2.4 table. Target.NotInUse has two texts there; this is the one
// for a target group that no listener or rule references (the only case Sluice has).
std::string Describe(Reason reason, int last_status_code) {
  switch (reason) {
    case Reason::kNone:
      return "";
    case Reason::kElbRegistrationInProgress:
      return "Target registration is in progress";
    case Reason::kElbInitialHealthChecking:
      return "Initial health checks in progress";
    case Reason::kTargetResponseCodeMismatch:
      if (last_status_code >= kGrpcStatusMissing) {
        return "Health checks failed: the gRPC answer had no grpc-status";
      }
      if (last_status_code >= kGrpcStatusBase) {
        return "Health checks failed with these gRPC codes: [" +
               std::to_string(last_status_code - kGrpcStatusBase) + "]";
      }
      return "Health checks failed with these codes: [" + std::to_string(last_status_code) + "]";
    case Reason::kTargetTimeout:
      return "Request timed out";
    case Reason::kTargetFailedHealthChecks:
      return "Health checks failed";
    case Reason::kElbInternalError:
      return "Health checks failed due to an internal error";
    case Reason::kTargetNotRegistered:
      return "Target is not registered to the target group";
    case Reason::kTargetNotInUse:
      return "Target group is not configured to receive traffic from the load balancer";
    case Reason::kTargetDeregistrationInProgress:
      return "Target deregistration is in progress";
    case Reason::kTargetHealthCheckDisabled:
      return "Health checks are disabled";
  }
  return "";
}

HealthStateMachine::HealthStateMachine(int healthy_threshold, int unhealthy_threshold,
                                       bool checks_enabled)
    : healthy_threshold_(SaneThreshold(healthy_threshold)),
      unhealthy_threshold_(SaneThreshold(unhealthy_threshold)),
      state_(checks_enabled ? TargetState::kInitial : TargetState::kUnavailable),
      reason_(checks_enabled ? Reason::kElbRegistrationInProgress
                             : Reason::kTargetHealthCheckDisabled) {}

void HealthStateMachine::OnCheckStarted() {
  if (state_ == TargetState::kInitial) reason_ = Reason::kElbInitialHealthChecking;
}

bool HealthStateMachine::OnResult(const CheckResult& result) {
  // Only initial, healthy and unhealthy targets are being checked; a result that arrives
  // after deregistration (or for a target whose checks are disabled) is stale.
  if (state_ != TargetState::kInitial && state_ != TargetState::kHealthy &&
      state_ != TargetState::kUnhealthy) {
    return false;
  }
  const TargetState before = state_;
  if (result.outcome == CheckOutcome::kSuccess) {
    consecutive_fail_ = 0;
    if (consecutive_ok_ < std::numeric_limits<int>::max()) ++consecutive_ok_;
    // A newly registered target needs one passing check (reference §2.3); an unhealthy one
    // needs HealthyThreshold consecutive ones.
    if (state_ == TargetState::kInitial ||
        (state_ == TargetState::kUnhealthy && consecutive_ok_ >= healthy_threshold_)) {
      state_ = TargetState::kHealthy;
      reason_ = Reason::kNone;
      last_status_code_ = 0;
    }
  } else {
    consecutive_ok_ = 0;
    if (consecutive_fail_ < std::numeric_limits<int>::max()) ++consecutive_fail_;
    const Reason failure = ReasonFor(result.outcome);
    const int code = result.outcome == CheckOutcome::kCodeMismatch ? result.status_code : 0;
    if (state_ == TargetState::kUnhealthy) {
      // Already out of service: the reason follows the latest failure.
      reason_ = failure;
      last_status_code_ = code;
    } else if (consecutive_fail_ >= unhealthy_threshold_) {
      state_ = TargetState::kUnhealthy;
      reason_ = failure;
      last_status_code_ = code;
    } else if (state_ == TargetState::kInitial) {
      // A result means a check ran, even if OnCheckStarted was not reported.
      reason_ = Reason::kElbInitialHealthChecking;
    }
  }
  return state_ != before;
}

void HealthStateMachine::OnDeregistered() {
  state_ = TargetState::kDraining;
  reason_ = Reason::kTargetDeregistrationInProgress;
}

void HealthStateMachine::SetThresholds(int healthy_threshold, int unhealthy_threshold) {
  healthy_threshold_ = SaneThreshold(healthy_threshold);
  unhealthy_threshold_ = SaneThreshold(unhealthy_threshold);
}

std::optional<StatusMatcher> StatusMatcher::Parse(std::string_view text, int min_code,
                                                  int max_code) {
  if (text.empty() || min_code < 0 || min_code > max_code) return std::nullopt;
  StatusMatcher matcher;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view token = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    size_t dash = token.find('-');
    int low = ParseCode(token.substr(0, dash), max_code);
    int high = dash == std::string_view::npos ? low : ParseCode(token.substr(dash + 1), max_code);
    if (low < min_code || high < min_code || low > high) return std::nullopt;
    matcher.ranges_.emplace_back(low, high);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return matcher;
}

bool StatusMatcher::Matches(int status) const {
  for (const auto& [low, high] : ranges_) {
    if (status >= low && status <= high) return true;
  }
  return false;
}

int64_t InitialCheckOffsetMs(std::string_view target_key, int64_t interval_ms) {
  if (interval_ms <= 0) return 0;
  return static_cast<int64_t>(SpreadHash(target_key) % static_cast<uint64_t>(interval_ms));
}

// Linear ramp with millisecond resolution. Elapsed time is counted as at least 1 ms, so the
// factor right at the start (or with a clock that stepped back) is 1/duration_ms rather than
// 0: the target is always a (tiny) candidate and never excluded by a zero weight.
double SlowStartFactor(int64_t since_ms, int64_t now_ms, int64_t duration_ms) {
  if (duration_ms <= 0) return 1.0;
  // now - since without signed overflow for extreme inputs.
  if (now_ms >= since_ms && static_cast<uint64_t>(now_ms) - static_cast<uint64_t>(since_ms) >=
                                static_cast<uint64_t>(duration_ms)) {
    return 1.0;
  }
  int64_t elapsed = now_ms > since_ms ? now_ms - since_ms : 0;
  elapsed = std::max<int64_t>(elapsed, 1);
  return static_cast<double>(elapsed) / static_cast<double>(duration_ms);
}

}  // namespace sluice::health
