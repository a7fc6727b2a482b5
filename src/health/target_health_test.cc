#include "health/target_health.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::health {
namespace {

const CheckResult kOk{CheckOutcome::kSuccess, 200};
const CheckResult kTimeout{CheckOutcome::kTimeout, 0};
const CheckResult kFailed{CheckOutcome::kFailed, 0};
CheckResult Mismatch(int code) { return {CheckOutcome::kCodeMismatch, code}; }

// A machine that has become healthy after its first check.
HealthStateMachine Healthy(int healthy_threshold, int unhealthy_threshold) {
  HealthStateMachine m(healthy_threshold, unhealthy_threshold, true);
  m.OnCheckStarted();
  EXPECT_TRUE(m.OnResult(kOk));
  EXPECT_EQ(m.state(), TargetState::kHealthy);
  return m;
}

// A machine that has been taken out of service by `unhealthy_threshold` timeouts.
HealthStateMachine Unhealthy(int healthy_threshold, int unhealthy_threshold) {
  HealthStateMachine m = Healthy(healthy_threshold, unhealthy_threshold);
  for (int i = 0; i < unhealthy_threshold; ++i) m.OnResult(kTimeout);
  EXPECT_EQ(m.state(), TargetState::kUnhealthy);
  return m;
}

TEST(TargetHealthNamesTest, StatesAndReasons) {
  EXPECT_STREQ(ToString(TargetState::kInitial), "initial");
  EXPECT_STREQ(ToString(TargetState::kHealthy), "healthy");
  EXPECT_STREQ(ToString(TargetState::kUnhealthy), "unhealthy");
  EXPECT_STREQ(ToString(TargetState::kUnused), "unused");
  EXPECT_STREQ(ToString(TargetState::kDraining), "draining");
  EXPECT_STREQ(ToString(TargetState::kUnavailable), "unavailable");

  EXPECT_STREQ(ToString(Reason::kNone), "");
  EXPECT_STREQ(ToString(Reason::kElbRegistrationInProgress), "Elb.RegistrationInProgress");
  EXPECT_STREQ(ToString(Reason::kElbInitialHealthChecking), "Elb.InitialHealthChecking");
  EXPECT_STREQ(ToString(Reason::kTargetResponseCodeMismatch), "Target.ResponseCodeMismatch");
  EXPECT_STREQ(ToString(Reason::kTargetTimeout), "Target.Timeout");
  EXPECT_STREQ(ToString(Reason::kTargetFailedHealthChecks), "Target.FailedHealthChecks");
  EXPECT_STREQ(ToString(Reason::kElbInternalError), "Elb.InternalError");
  EXPECT_STREQ(ToString(Reason::kTargetNotRegistered), "Target.NotRegistered");
  EXPECT_STREQ(ToString(Reason::kTargetNotInUse), "Target.NotInUse");
  EXPECT_STREQ(ToString(Reason::kTargetDeregistrationInProgress),
               "Target.DeregistrationInProgress");
  EXPECT_STREQ(ToString(Reason::kTargetHealthCheckDisabled), "Target.HealthCheckDisabled");
}

TEST(TargetHealthNamesTest, DescriptionsMatchTheReferenceTable) {
  EXPECT_EQ(Describe(Reason::kNone, 0), "");
  EXPECT_EQ(Describe(Reason::kElbInitialHealthChecking, 0), "Initial health checks in progress");
  EXPECT_EQ(Describe(Reason::kElbInternalError, 0),
            "Health checks failed due to an internal error");
  EXPECT_EQ(Describe(Reason::kElbRegistrationInProgress, 0), "Target registration is in progress");
  EXPECT_EQ(Describe(Reason::kTargetDeregistrationInProgress, 0),
            "Target deregistration is in progress");
  EXPECT_EQ(Describe(Reason::kTargetFailedHealthChecks, 0), "Health checks failed");
  EXPECT_EQ(Describe(Reason::kTargetHealthCheckDisabled, 0), "Health checks are disabled");
  EXPECT_EQ(Describe(Reason::kTargetNotInUse, 0),
            "Target group is not configured to receive traffic from the load balancer");
  EXPECT_EQ(Describe(Reason::kTargetNotRegistered, 0),
            "Target is not registered to the target group");
  EXPECT_EQ(Describe(Reason::kTargetResponseCodeMismatch, 503),
            "Health checks failed with these codes: [503]");
  EXPECT_EQ(Describe(Reason::kTargetResponseCodeMismatch, 404),
            "Health checks failed with these codes: [404]");
  EXPECT_EQ(Describe(Reason::kTargetTimeout, 0), "Request timed out");
}

TEST(HealthStateMachineTest, StartsRegisteringThenInitialChecking) {
  HealthStateMachine m(5, 2, true);
  EXPECT_EQ(m.state(), TargetState::kInitial);
  EXPECT_EQ(m.reason(), Reason::kElbRegistrationInProgress);
  EXPECT_FALSE(m.routable());
  m.OnCheckStarted();
  EXPECT_EQ(m.state(), TargetState::kInitial);
  EXPECT_EQ(m.reason(), Reason::kElbInitialHealthChecking);
  EXPECT_FALSE(m.routable());
}

TEST(HealthStateMachineTest, DisabledChecksAreUnavailableAndIgnoreResults) {
  HealthStateMachine m(5, 2, false);
  EXPECT_EQ(m.state(), TargetState::kUnavailable);
  EXPECT_EQ(m.reason(), Reason::kTargetHealthCheckDisabled);
  m.OnCheckStarted();
  EXPECT_EQ(m.reason(), Reason::kTargetHealthCheckDisabled);
  EXPECT_FALSE(m.OnResult(kOk));
  EXPECT_FALSE(m.OnResult(kFailed));
  EXPECT_EQ(m.state(), TargetState::kUnavailable);
  m.OnDeregistered();
  EXPECT_EQ(m.state(), TargetState::kDraining);
  EXPECT_EQ(m.reason(), Reason::kTargetDeregistrationInProgress);
}

TEST(HealthStateMachineTest, OneSuccessMakesANewTargetHealthy) {
  // Even with the maximal HealthyThreshold: the docs say one check for a new target.
  HealthStateMachine m(10, 2, true);
  m.OnCheckStarted();
  EXPECT_TRUE(m.OnResult(kOk));
  EXPECT_EQ(m.state(), TargetState::kHealthy);
  EXPECT_EQ(m.reason(), Reason::kNone);
  EXPECT_TRUE(m.routable());
  EXPECT_FALSE(m.OnResult(kOk));  // no change
  EXPECT_EQ(m.state(), TargetState::kHealthy);
}

TEST(HealthStateMachineTest, ResultWithoutCheckStartedStillCounts) {
  HealthStateMachine m(5, 3, true);
  EXPECT_FALSE(m.OnResult(kFailed));
  EXPECT_EQ(m.state(), TargetState::kInitial);
  EXPECT_EQ(m.reason(), Reason::kElbInitialHealthChecking);
}

TEST(HealthStateMachineTest, InitialFailuresBelowThresholdStayInitial) {
  HealthStateMachine m(5, 3, true);
  m.OnCheckStarted();
  EXPECT_FALSE(m.OnResult(kTimeout));
  EXPECT_FALSE(m.OnResult(kTimeout));  // N-1
  EXPECT_EQ(m.state(), TargetState::kInitial);
  EXPECT_EQ(m.reason(), Reason::kElbInitialHealthChecking);
  EXPECT_TRUE(m.OnResult(kTimeout));  // N
  EXPECT_EQ(m.state(), TargetState::kUnhealthy);
  EXPECT_EQ(m.reason(), Reason::kTargetTimeout);
  EXPECT_FALSE(m.routable());
}

TEST(HealthStateMachineTest, InitialSuccessAfterSomeFailuresIsHealthy) {
  HealthStateMachine m(5, 3, true);
  m.OnCheckStarted();
  m.OnResult(kFailed);
  m.OnResult(kFailed);
  EXPECT_TRUE(m.OnResult(kOk));
  EXPECT_EQ(m.state(), TargetState::kHealthy);
  // The success reset the failure count: two more failures are not enough.
  EXPECT_FALSE(m.OnResult(kFailed));
  EXPECT_FALSE(m.OnResult(kFailed));
  EXPECT_EQ(m.state(), TargetState::kHealthy);
  EXPECT_TRUE(m.OnResult(kFailed));
  EXPECT_EQ(m.state(), TargetState::kUnhealthy);
}

TEST(HealthStateMachineTest, HealthyNeedsExactlyUnhealthyThresholdFailures) {
  for (int threshold = 2; threshold <= 10; ++threshold) {
    HealthStateMachine m = Healthy(5, threshold);
    for (int i = 0; i < threshold - 1; ++i) {
      EXPECT_FALSE(m.OnResult(kFailed)) << threshold;
      EXPECT_EQ(m.state(), TargetState::kHealthy) << threshold;
      EXPECT_EQ(m.reason(), Reason::kNone) << threshold;
      EXPECT_TRUE(m.routable());
    }
    EXPECT_TRUE(m.OnResult(kFailed)) << threshold;
    EXPECT_EQ(m.state(), TargetState::kUnhealthy) << threshold;
    EXPECT_EQ(m.reason(), Reason::kTargetFailedHealthChecks);
  }
}

TEST(HealthStateMachineTest, UnhealthyNeedsExactlyHealthyThresholdSuccesses) {
  for (int threshold = 2; threshold <= 10; ++threshold) {
    HealthStateMachine m = Unhealthy(threshold, 2);
    for (int i = 0; i < threshold - 1; ++i) {
      EXPECT_FALSE(m.OnResult(kOk)) << threshold;
      EXPECT_EQ(m.state(), TargetState::kUnhealthy) << threshold;
      EXPECT_FALSE(m.routable());
    }
    EXPECT_TRUE(m.OnResult(kOk)) << threshold;
    EXPECT_EQ(m.state(), TargetState::kHealthy) << threshold;
    EXPECT_EQ(m.reason(), Reason::kNone);
    EXPECT_EQ(m.last_status_code(), 0);
  }
}

TEST(HealthStateMachineTest, FailureResetsSuccessCountWhileUnhealthy) {
  HealthStateMachine m = Unhealthy(3, 2);
  m.OnResult(kOk);
  m.OnResult(kOk);
  m.OnResult(kFailed);  // back to zero successes
  EXPECT_FALSE(m.OnResult(kOk));
  EXPECT_FALSE(m.OnResult(kOk));
  EXPECT_EQ(m.state(), TargetState::kUnhealthy);
  EXPECT_TRUE(m.OnResult(kOk));
  EXPECT_EQ(m.state(), TargetState::kHealthy);
}

TEST(HealthStateMachineTest, FlappingNeverReachesAThresholdOfTwo) {
  HealthStateMachine m = Healthy(2, 2);
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(m.OnResult(i % 2 == 0 ? kFailed : kOk)) << i;
    EXPECT_EQ(m.state(), TargetState::kHealthy) << i;
  }
  // And an unhealthy target does not come back from alternating results either.
  HealthStateMachine u = Unhealthy(2, 2);
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(u.OnResult(i % 2 == 0 ? kOk : kTimeout)) << i;
    EXPECT_EQ(u.state(), TargetState::kUnhealthy) << i;
  }
}

TEST(HealthStateMachineTest, ReasonComesFromTheLatestFailure) {
  HealthStateMachine m = Healthy(5, 3);
  m.OnResult(kTimeout);
  m.OnResult(kFailed);
  EXPECT_TRUE(m.OnResult(Mismatch(503)));
  EXPECT_EQ(m.reason(), Reason::kTargetResponseCodeMismatch);
  EXPECT_EQ(m.last_status_code(), 503);
  EXPECT_EQ(Describe(m.reason(), m.last_status_code()),
            "Health checks failed with these codes: [503]");

  // While unhealthy the reason follows each new failure.
  EXPECT_FALSE(m.OnResult(Mismatch(404)));
  EXPECT_EQ(m.reason(), Reason::kTargetResponseCodeMismatch);
  EXPECT_EQ(m.last_status_code(), 404);
  EXPECT_FALSE(m.OnResult(kTimeout));
  EXPECT_EQ(m.reason(), Reason::kTargetTimeout);
  EXPECT_EQ(Describe(m.reason(), m.last_status_code()), "Request timed out");
  EXPECT_FALSE(m.OnResult(kFailed));
  EXPECT_EQ(m.reason(), Reason::kTargetFailedHealthChecks);
  EXPECT_EQ(Describe(m.reason(), m.last_status_code()), "Health checks failed");
  // A success below the threshold does not clear the reason.
  EXPECT_FALSE(m.OnResult(kOk));
  EXPECT_EQ(m.state(), TargetState::kUnhealthy);
  EXPECT_EQ(m.reason(), Reason::kTargetFailedHealthChecks);
}

TEST(HealthStateMachineTest, EachFailureKindGivesItsReason) {
  struct Case {
    CheckResult result;
    Reason reason;
    int code;
  };
  for (const Case& c : {Case{kTimeout, Reason::kTargetTimeout, 0},
                        Case{Mismatch(500), Reason::kTargetResponseCodeMismatch, 500},
                        Case{kFailed, Reason::kTargetFailedHealthChecks, 0}}) {
    HealthStateMachine m(5, 2, true);
    m.OnCheckStarted();
    m.OnResult(c.result);
    EXPECT_TRUE(m.OnResult(c.result));
    EXPECT_EQ(m.state(), TargetState::kUnhealthy);
    EXPECT_EQ(m.reason(), c.reason);
    EXPECT_EQ(m.last_status_code(), c.code);
  }
}

TEST(HealthStateMachineTest, DeregisteredIsDrainingAndIgnoresResults) {
  for (int start = 0; start < 3; ++start) {
    HealthStateMachine m = start == 0   ? HealthStateMachine(2, 2, true)
                           : start == 1 ? Healthy(2, 2)
                                        : Unhealthy(2, 2);
    m.OnDeregistered();
    EXPECT_EQ(m.state(), TargetState::kDraining) << start;
    EXPECT_EQ(m.reason(), Reason::kTargetDeregistrationInProgress);
    EXPECT_FALSE(m.routable());
    EXPECT_EQ(Describe(m.reason(), 0), "Target deregistration is in progress");
    m.OnCheckStarted();
    for (int i = 0; i < 20; ++i) {
      EXPECT_FALSE(m.OnResult(i < 10 ? kOk : kTimeout));
      EXPECT_EQ(m.state(), TargetState::kDraining);
      EXPECT_EQ(m.reason(), Reason::kTargetDeregistrationInProgress);
    }
  }
}

TEST(HealthStateMachineTest, SetThresholdsKeepsCounters) {
  HealthStateMachine m = Healthy(5, 5);
  m.OnResult(kFailed);
  m.OnResult(kFailed);
  m.SetThresholds(5, 3);
  EXPECT_EQ(m.state(), TargetState::kHealthy);  // applied on the next result
  EXPECT_TRUE(m.OnResult(kFailed));             // third consecutive failure
  EXPECT_EQ(m.state(), TargetState::kUnhealthy);

  m.OnResult(kOk);
  m.SetThresholds(2, 3);
  EXPECT_TRUE(m.OnResult(kOk));
  EXPECT_EQ(m.state(), TargetState::kHealthy);
}

TEST(HealthStateMachineTest, NonsenseThresholdsActLikeOne) {
  HealthStateMachine m(0, -3, true);
  EXPECT_TRUE(m.OnResult(kFailed));
  EXPECT_EQ(m.state(), TargetState::kUnhealthy);
  EXPECT_TRUE(m.OnResult(kOk));
  EXPECT_EQ(m.state(), TargetState::kHealthy);
}

TEST(StatusMatcherTest, AcceptsValidLists) {
  for (const char* ok : {"200", "200,202", "200-299", "200,301-302", "499", "200-200", "200-499",
                         "404,200,300-301"}) {
    EXPECT_TRUE(StatusMatcher::Parse(ok).has_value()) << ok;
  }
  EXPECT_TRUE(StatusMatcher::Parse("0", 0, 99).has_value());
  EXPECT_TRUE(StatusMatcher::Parse("0-5,12", 0, 99).has_value());
  EXPECT_TRUE(StatusMatcher::Parse("200-599", 200, 599).has_value());
}

TEST(StatusMatcherTest, RejectsInvalidLists) {
  for (const char* bad : {"",           ",",           "200,",
                          ",200",       "200,,202",    "199",
                          "500",        "200-500",     "100-200",
                          "299-200",    "200-",        "-200",
                          "200--300",   "200-300-400", "2OO",
                          "abc",        "200 ",        " 200",
                          "2 00",       "200, 202",    "200 -299",
                          "+200",       "200-+299",    "-",
                          "0200",       "00200",       "99999999999999999999",
                          "2147483648", "200;202",     "200.0",
                          "0x200",      "\t200"}) {
    EXPECT_FALSE(StatusMatcher::Parse(bad).has_value()) << "'" << bad << "'";
  }
  EXPECT_FALSE(StatusMatcher::Parse("100", 0, 99).has_value());
  EXPECT_FALSE(StatusMatcher::Parse("00", 0, 99).has_value());
  EXPECT_FALSE(StatusMatcher::Parse("200", 300, 200).has_value());  // empty allowed range
}

TEST(StatusMatcherTest, Matches) {
  auto m = StatusMatcher::Parse("200,301-302,404");
  ASSERT_TRUE(m.has_value());
  for (int code : {200, 301, 302, 404}) EXPECT_TRUE(m->Matches(code)) << code;
  for (int code : {0, 199, 201, 300, 303, 403, 405, 500, -1})
    EXPECT_FALSE(m->Matches(code)) << code;

  auto all = StatusMatcher::Parse("200-499");
  ASSERT_TRUE(all.has_value());
  EXPECT_TRUE(all->Matches(200));
  EXPECT_TRUE(all->Matches(350));
  EXPECT_TRUE(all->Matches(499));
  EXPECT_FALSE(all->Matches(199));
  EXPECT_FALSE(all->Matches(500));

  auto single = StatusMatcher::Parse("200");
  ASSERT_TRUE(single.has_value());
  EXPECT_TRUE(single->Matches(200));
  EXPECT_FALSE(single->Matches(201));
}

TEST(InitialCheckOffsetTest, StableAndInRange) {
  EXPECT_EQ(InitialCheckOffsetMs("10.0.0.1:80", 30000), InitialCheckOffsetMs("10.0.0.1:80", 30000));
  EXPECT_NE(InitialCheckOffsetMs("10.0.0.1:80", 30000), InitialCheckOffsetMs("10.0.0.2:80", 30000));
  EXPECT_EQ(InitialCheckOffsetMs("10.0.0.1:80", 0), 0);
  EXPECT_EQ(InitialCheckOffsetMs("10.0.0.1:80", -5), 0);
  EXPECT_EQ(InitialCheckOffsetMs("10.0.0.1:80", 1), 0);
  for (int i = 0; i < 1000; ++i) {
    int64_t off = InitialCheckOffsetMs("t" + std::to_string(i), 5000);
    EXPECT_GE(off, 0);
    EXPECT_LT(off, 5000);
  }
}

TEST(InitialCheckOffsetTest, SpreadsTargetsUniformlyOverTheInterval) {
  constexpr int kBuckets = 30;  // one per second of a 30 s interval
  constexpr int kKeys = 10000;
  std::vector<int> hits(kBuckets);
  for (int x = 0; x < 100; ++x) {
    for (int y = 0; y < 100; ++y) {
      std::string key = "10.0." + std::to_string(x) + "." + std::to_string(y) + ":80";
      int64_t off = InitialCheckOffsetMs(key, 30000);
      ASSERT_GE(off, 0);
      ASSERT_LT(off, 30000);
      hits[off / 1000]++;
    }
  }
  const double expected = static_cast<double>(kKeys) / kBuckets;  // 333.3, sigma ~18
  double chi2 = 0;
  for (int b = 0; b < kBuckets; ++b) {
    EXPECT_NEAR(hits[b], expected, expected * 0.2) << "bucket " << b;
    chi2 += (hits[b] - expected) * (hits[b] - expected) / expected;
  }
  // 29 degrees of freedom: P(chi2 > 58.3) = 0.001 for a uniform spread.
  EXPECT_LT(chi2, 58.3);
}

TEST(SlowStartTest, LinearRamp) {
  const int64_t since = 1'000'000;
  const int64_t duration = 30'000;
  // 0 %: the smallest positive factor, one millisecond's worth.
  EXPECT_DOUBLE_EQ(SlowStartFactor(since, since, duration), 1.0 / duration);
  EXPECT_GT(SlowStartFactor(since, since, duration), 0.0);
  EXPECT_DOUBLE_EQ(SlowStartFactor(since, since + 1, duration), 1.0 / duration);
  EXPECT_DOUBLE_EQ(SlowStartFactor(since, since + 3'000, duration), 0.1);
  EXPECT_DOUBLE_EQ(SlowStartFactor(since, since + 15'000, duration), 0.5);
  EXPECT_DOUBLE_EQ(SlowStartFactor(since, since + 29'999, duration), 29'999.0 / duration);
  EXPECT_DOUBLE_EQ(SlowStartFactor(since, since + 30'000, duration), 1.0);
  EXPECT_DOUBLE_EQ(SlowStartFactor(since, since + 1'000'000, duration), 1.0);
  // Monotonic.
  double previous = 0;
  for (int64_t t = since; t <= since + duration; t += 250) {
    double f = SlowStartFactor(since, t, duration);
    EXPECT_GE(f, previous);
    EXPECT_GT(f, 0.0);
    EXPECT_LE(f, 1.0);
    previous = f;
  }
}

TEST(SlowStartTest, EdgeCases) {
  EXPECT_EQ(SlowStartFactor(100, 100, 0), 1.0);   // slow start off
  EXPECT_EQ(SlowStartFactor(100, 100, -1), 1.0);  // nonsense duration: off
  // A clock that stepped back: still the minimum, never 0 or negative.
  EXPECT_DOUBLE_EQ(SlowStartFactor(10'000, 5'000, 30'000), 1.0 / 30'000);
  // Extreme values do not overflow.
  EXPECT_EQ(SlowStartFactor(INT64_MIN, INT64_MAX, 30'000), 1.0);
  EXPECT_DOUBLE_EQ(SlowStartFactor(INT64_MAX, INT64_MIN, 30'000), 1.0 / 30'000);
}

}  // namespace
}  // namespace sluice::health
