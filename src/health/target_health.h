// Target health as ALB names it (reference §2.3-§2.4): states, reason codes, descriptions,
// the per-target state machine driven by check results, and the health-check status
// matcher. Pure logic: no I/O, no clock (callers pass results in order).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::health {

enum class TargetState : uint8_t {
  kInitial,      // "initial"
  kHealthy,      // "healthy"
  kUnhealthy,    // "unhealthy"
  kUnused,       // "unused"
  kDraining,     // "draining"
  kUnavailable,  // "unavailable"
};

enum class Reason : uint8_t {
  kNone,                            // healthy: no reason
  kElbRegistrationInProgress,       // "Elb.RegistrationInProgress"
  kElbInitialHealthChecking,        // "Elb.InitialHealthChecking"
  kTargetResponseCodeMismatch,      // "Target.ResponseCodeMismatch"
  kTargetTimeout,                   // "Target.Timeout"
  kTargetFailedHealthChecks,        // "Target.FailedHealthChecks"
  kElbInternalError,                // "Elb.InternalError"
  kTargetNotRegistered,             // "Target.NotRegistered"
  kTargetNotInUse,                  // "Target.NotInUse"
  kTargetDeregistrationInProgress,  // "Target.DeregistrationInProgress"
  kTargetHealthCheckDisabled,       // "Target.HealthCheckDisabled"
};

const char* ToString(TargetState state);  // "initial", "healthy", ...
const char* ToString(Reason reason);      // "Elb.RegistrationInProgress", ... ("" for kNone)
// ALB's Description text for a reason; for kTargetResponseCodeMismatch it names the code:
// "Health checks failed with these codes: [503]" (an HTTP status), "Health checks failed with
// these gRPC codes: [12]" (a grpc-status, see kGrpcStatusBase) or "Health checks failed: the
// gRPC answer had no grpc-status" (kGrpcStatusMissing). Empty for kNone.
std::string Describe(Reason reason, int last_status_code);

// The status_code of a mismatch of a gRPC check (ProtocolVersion GRPC) judged by its
// grpc-status N (0..999): kGrpcStatusBase + N, so that a row says which kind of code failed.
inline constexpr int kGrpcStatusBase = 1000;
// ... and of a gRPC answer (:status 200) that ended without a valid grpc-status.
inline constexpr int kGrpcStatusMissing = 2000;

// The outcome of one health check.
enum class CheckOutcome {
  kSuccess,       // connected (TCP) or the status matched (HTTP)
  kTimeout,       // no answer within HealthCheckTimeoutSeconds
  kCodeMismatch,  // HTTP status not in the matcher
  kFailed,        // refused, reset, malformed response
};

struct CheckResult {
  CheckOutcome outcome = CheckOutcome::kFailed;
  int status_code = 0;  // kCodeMismatch: the status received (gRPC: see kGrpcStatusBase)
};

// One target's health state machine (ALB semantics):
//   registered → initial(Elb.RegistrationInProgress)
//   first check started → initial(Elb.InitialHealthChecking)
//   initial: one success → healthy; UnhealthyThreshold consecutive failures → unhealthy
//   healthy: UnhealthyThreshold consecutive failures → unhealthy (reason from the last failure)
//   unhealthy: HealthyThreshold consecutive successes → healthy
//   deregistered → draining(Target.DeregistrationInProgress) (terminal for this object)
//   checks disabled → unavailable(Target.HealthCheckDisabled)
class HealthStateMachine {
 public:
  HealthStateMachine(int healthy_threshold, int unhealthy_threshold, bool checks_enabled);

  void OnCheckStarted();
  // Applies one result; returns true when the state changed.
  bool OnResult(const CheckResult& result);
  void OnDeregistered();
  // Thresholds may change on reload; counters are kept.
  void SetThresholds(int healthy_threshold, int unhealthy_threshold);

  TargetState state() const { return state_; }
  Reason reason() const { return reason_; }
  int last_status_code() const { return last_status_code_; }
  // True when the target should get new requests (healthy). Callers fail open when no
  // target of a group is routable.
  bool routable() const { return state_ == TargetState::kHealthy; }

 private:
  int healthy_threshold_;
  int unhealthy_threshold_;
  TargetState state_;
  Reason reason_;
  int consecutive_ok_ = 0;
  int consecutive_fail_ = 0;
  int last_status_code_ = 0;
};

// Matcher.HttpCode: "200", "200,202", "200-299", "200,301-302". Codes must lie in
// [min_code, max_code] (ALB: 200..499).
class StatusMatcher {
 public:
  static std::optional<StatusMatcher> Parse(std::string_view text, int min_code = 200,
                                            int max_code = 499);
  bool Matches(int status) const;

 private:
  std::vector<std::pair<int, int>> ranges_;
};

// Spreads checks over the interval so that thousands of targets do not all fire at once:
// the offset in [0, interval_ms) of the first check of the target with the given key.
int64_t InitialCheckOffsetMs(std::string_view target_key, int64_t interval_ms);

// Slow start (reference §2.6): the share factor in (0, 1] of a target that became healthy
// at `since_ms`, linearly ramping over `duration_ms`; 1 when duration is 0 or elapsed.
double SlowStartFactor(int64_t since_ms, int64_t now_ms, int64_t duration_ms);

}  // namespace sluice::health
