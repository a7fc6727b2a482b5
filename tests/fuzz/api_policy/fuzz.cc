// libFuzzer target for the elbv2 API's access policies (src/api/policy.h): the input is a
// policy document. Traps (abort) when an invariant fails:
//  * a refused document gets MalformedPolicyDocument (400) with a message;
//  * a parsed one has 1..100 statements and is evaluated against a few fixed requests (no
//    resources, several ARNs, an IPv4 and an IPv6 source, tags on some resources) without
//    crashing; EvaluateDetailed agrees with Evaluate, names a resource of the request for a
//    deny ("*" when it names none) and none for an allow; AccessDenied of a deny is a 403;
//  * the document with an explicit Deny of everything appended is denied every request;
//  * whatever the input, the built-in Admin policy allows every elasticloadbalancing action.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/policy.h"

namespace {

using sluice::api::Decision;
using sluice::api::Policy;
using sluice::api::RequestContext;

void Check(bool ok) {
  if (!ok) std::abort();
}

constexpr const char* kTg =
    "arn:aws:elasticloadbalancing:eu-west-3:123456789012:targetgroup/blue/0123456789abcdef";
constexpr const char* kLb =
    "arn:aws:elasticloadbalancing:eu-west-3:123456789012:loadbalancer/app/web/"
    "fedcba9876543210";

std::vector<RequestContext> Contexts() {
  std::vector<RequestContext> out;
  RequestContext describe;
  describe.action = "elasticloadbalancing:DescribeTargetGroups";
  describe.source_ip = "203.0.113.5";
  describe.now_unix = 1768478400;  // 2026-01-15T12:00:00Z
  out.push_back(describe);

  RequestContext register_targets;
  register_targets.action = "elasticloadbalancing:RegisterTargets";
  register_targets.resources = {kTg};
  register_targets.source_ip = "10.1.2.3";
  register_targets.now_unix = 1800000000;
  register_targets.resource_tag = [](std::string_view arn,
                                     std::string_view key) -> std::optional<std::string> {
    if (key == "env") return std::string("prod");
    if (key == "team" && arn.find("targetgroup/") != std::string_view::npos) {
      return std::string("payments");
    }
    return std::nullopt;
  };
  out.push_back(register_targets);

  RequestContext modify;
  modify.action = "elasticloadbalancing:ModifyListener";
  modify.resources = {kLb, kTg,
                      "arn:aws:elasticloadbalancing:eu-west-3:123456789012:listener/"
                      "app/web/fedcba9876543210/0011223344556677"};
  modify.source_ip = "2001:db8::7";
  modify.now_unix = 0;
  modify.resource_tag = register_targets.resource_tag;
  out.push_back(modify);

  RequestContext other_service;
  other_service.action = "ec2:DescribeInstances";
  other_service.now_unix = 253402300799;  // 9999-12-31T23:59:59Z
  out.push_back(other_service);
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  for (const std::string& x : v) {
    if (x == s) return true;
  }
  return false;
}

void CheckEvaluation(const Policy& policy, const RequestContext& ctx) {
  sluice::api::Evaluation e = sluice::api::EvaluateDetailed(policy, ctx);
  Check(e.decision == sluice::api::Evaluate(policy, ctx));
  if (e.decision == Decision::kAllow) {
    Check(e.resource.empty());
    return;
  }
  if (ctx.resources.empty()) {
    Check(e.resource == "*");
  } else {
    Check(Contains(ctx.resources, e.resource));
  }
  sluice::api::ApiError denied = sluice::api::AccessDenied("123456789012", "fuzz", ctx, e);
  Check(denied.http_status == 403 && denied.code == "AccessDenied" && !denied.message.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<RequestContext> contexts = Contexts();
  std::string_view text(reinterpret_cast<const char*>(data), size);

  // The built-in policy, whatever the input: any elasticloadbalancing action is allowed.
  RequestContext any;
  any.action = "elasticloadbalancing:" + std::string(text.substr(0, 64));
  any.now_unix = 1768478400;
  Check(sluice::api::Evaluate(Policy::Admin(), any) == Decision::kAllow);

  sluice::api::ApiResult<Policy> parsed = Policy::Parse(text);
  if (!parsed.ok()) {
    const sluice::api::ApiError& e = parsed.error();
    Check(e.code == "MalformedPolicyDocument" && e.http_status == 400 && !e.message.empty());
    return 0;
  }
  const Policy& policy = parsed.value();
  Check(policy.statement_count() >= 1 && policy.statement_count() <= 100);
  for (const RequestContext& ctx : contexts) CheckEvaluation(policy, ctx);

  // The same document with a Deny of everything appended: every request is an explicit deny.
  // Only for documents whose Statement is an array at the end ("...]}" after trimming).
  std::string doc(text);
  while (!doc.empty() &&
         (doc.back() == ' ' || doc.back() == '\n' || doc.back() == '\t' || doc.back() == '\r')) {
    doc.pop_back();
  }
  if (policy.statement_count() < 100 && doc.size() >= 2 && doc.ends_with("]}")) {
    doc.insert(doc.size() - 2, R"(,{"Effect":"Deny","Action":"*","Resource":"*"})");
    sluice::api::ApiResult<Policy> denied = Policy::Parse(doc);
    if (denied.ok() && denied.value().statement_count() == policy.statement_count() + 1) {
      for (const RequestContext& ctx : contexts) {
        Check(sluice::api::Evaluate(denied.value(), ctx) == Decision::kExplicitDeny);
      }
    }
  }
  return 0;
}
