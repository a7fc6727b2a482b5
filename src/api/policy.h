// IAM-style access policies for the elbv2 API: a subset of the IAM JSON policy language,
// evaluated the way IAM evaluates identity-based policies (no resource policies, no
// permission boundaries, no SCPs).
//
// Contract:
//  - Pure logic: no I/O, no clocks, no globals beyond the two immutable built-in policies.
//    The request's time, source address and resource tags come in through RequestContext.
//  - Policy::Parse validates the whole document up front; every error is an ApiError with
//    code "MalformedPolicyDocument" (HTTP 400) whose message names the statement (0-based,
//    "Statement[2].Effect") and field. No exception escapes Parse or Evaluate.
//  - A parsed Policy is immutable and cheap to copy (shared); Evaluate may be called on one
//    Policy from any number of threads at once.
//  - Bounds: a document is at most 64 KiB, nests at most 16 levels, has at most 100 statements.
//    Wildcard matching costs O(|pattern| x |resource|) at worst, so callers should cap the
//    length of request ARNs (a 2 KiB ARN against a 64 KiB adversarial policy: ~3 ms).
//
// Evaluation (per IAM): each resource of the request is judged on its own; a matching Deny
// statement on any resource makes the call an explicit deny; otherwise the call is allowed only
// if every resource is matched by some Allow statement; anything else is an implicit deny.
// A statement matches when its Action/NotAction, Resource/NotResource and every condition match.
//
// Conditions: operators are ANDed, keys within an operator are ANDed, the values of one key are
// ORed (NORed for the negated operators: StringNotEquals and friends). A key absent from the
// request makes a positive operator false and a negated one true (IAM's rule); "...IfExists"
// makes any operator true for an absent key; "Null" tests presence. Supported keys (names are
// case-insensitive): aws:SourceIp, aws:CurrentTime, aws:EpochTime, aws:ResourceTag/<tag>,
// elasticloadbalancing:ResourceTag/<tag>; any other key is accepted and is always absent.
// Policy variables (${aws:username}) and the ForAnyValue:/ForAllValues: set operators are not
// supported (the latter is a parse error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/error.h"

namespace sluice::api {

// What one API call asks to do, as the policy sees it.
struct RequestContext {
  std::string action;                  // "elasticloadbalancing:RegisterTargets"
  std::vector<std::string> resources;  // ARNs the call concerns; empty means "*" (all)
  std::string source_ip;               // "203.0.113.5" or "::1"; empty: aws:SourceIp absent
  int64_t now_unix = 0;                // aws:CurrentTime / aws:EpochTime; callers must set it
  // The value of tag `key` on resource `arn`, or nullopt if it has no such tag. `key` is the
  // tag key as the policy spells it (IAM matches condition keys case-insensitively; whether tag
  // keys match with or without case is the callback's choice). Unset: no resource has tags.
  // Must not throw.
  std::function<std::optional<std::string>(std::string_view arn, std::string_view key)>
      resource_tag;
};

enum class Decision { kAllow, kExplicitDeny, kImplicitDeny };

// A Decision and the resource it turned on.
struct Evaluation {
  Decision decision = Decision::kImplicitDeny;
  // kExplicitDeny: the first resource a Deny statement matched; kImplicitDeny: the first
  // resource no Allow statement matched; "*" when the request names no resources; kAllow: "".
  std::string resource;
};

// A parsed policy document.
class Policy {
 public:
  // Parses and validates a policy document (see the contract above for the errors and bounds).
  static ApiResult<Policy> Parse(std::string_view json);

  // The built-in policies: "admin" allows elasticloadbalancing:* on *; "read-only" allows
  // elasticloadbalancing:Describe* on *. The *Json() forms are their documents.
  static const Policy& Admin();
  static const Policy& ReadOnly();
  static std::string AdminJson();
  static std::string ReadOnlyJson();

  size_t statement_count() const;

 private:
  struct Impl;
  explicit Policy(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  friend Evaluation EvaluateDetailed(const Policy& policy, const RequestContext& ctx);

  std::shared_ptr<const Impl> impl_;
};

// Judges one request against one policy.
Evaluation EvaluateDetailed(const Policy& policy, const RequestContext& ctx);
inline Decision Evaluate(const Policy& policy, const RequestContext& ctx) {
  return EvaluateDetailed(policy, ctx).decision;
}

// AWS's AccessDenied error (HTTP 403) for a denied call, worded as IAM words it:
//   User: arn:aws:iam::<account>:user/<user> is not authorized to perform: <action> on
//   resource: <resource> because no identity-based policy allows the <action> action
// or, for an explicit deny, "... on resource: <resource> with an explicit deny in an
// identity-based policy". `evaluation` must be a deny (a kAllow is worded as an implicit deny).
ApiError AccessDenied(std::string_view account, std::string_view user, const RequestContext& ctx,
                      const Evaluation& evaluation);

}  // namespace sluice::api
