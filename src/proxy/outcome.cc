#include "proxy/outcome.h"

#include <array>

namespace sluice::proxy {
namespace {

constexpr size_t kCauses = static_cast<size_t>(Cause::kCount);

// One row per Cause, in enum order (checked at compile time below). Status 0: the status
// comes from elsewhere (the target, or the rule action). ALB writes an error_reason only for
// authentication, Lambda, WAF and weighted-target-group failures (reference §5.3); the proxy
// failures here are explained by elb_status_code and target_status_code, so "-".
constexpr std::array<std::pair<Cause, CauseInfo>, kCauses> kTable{{
    {Cause::kNone, {0, "None", "-", Side::kNone}},
    {Cause::kTargetResponse, {0, "TargetResponse", "-", Side::kNone}},
    {Cause::kFixedResponse, {0, "FixedResponse", "-", Side::kRule}},
    {Cause::kRedirect, {0, "Redirect", "-", Side::kRule}},
    {Cause::kMalformedRequest, {400, "MalformedRequest", "-", Side::kClient}},
    {Cause::kDesyncRefused, {400, "DesyncRefused", "-", Side::kClient}},
    {Cause::kInvalidHost, {400, "InvalidHost", "-", Side::kClient}},
    {Cause::kRequestLineTooLong, {414, "RequestLineTooLong", "-", Side::kClient}},
    {Cause::kRequestHeadTooLarge, {400, "RequestHeadTooLarge", "-", Side::kClient}},
    {Cause::kUnsupportedVersion, {505, "UnsupportedVersion", "-", Side::kClient}},
    {Cause::kUnsupportedTransferCoding, {501, "UnsupportedTransferCoding", "-", Side::kClient}},
    {Cause::kMethodNotAllowed, {405, "MethodNotAllowed", "-", Side::kClient}},
    {Cause::kMalformedRequestBody, {400, "MalformedRequestBody", "-", Side::kClient}},
    {Cause::kClientHeadTimeout, {408, "ClientHeadTimeout", "-", Side::kClient}},
    {Cause::kClientBodyTimeout, {408, "ClientBodyTimeout", "-", Side::kClient}},
    {Cause::kClientClosed, {460, "ClientClosed", "-", Side::kClient}},
    {Cause::kTooManyForwardedFor, {463, "TooManyForwardedFor", "-", Side::kClient}},
    {Cause::kIncompatibleProtocol, {464, "IncompatibleProtocol", "-", Side::kClient}},
    {Cause::kTargetConnectFailed, {502, "TargetConnectFailed", "-", Side::kTarget}},
    {Cause::kTargetConnectTimeout, {504, "TargetConnectTimeout", "-", Side::kTarget}},
    {Cause::kTargetClosed, {502, "TargetClosed", "-", Side::kTarget}},
    {Cause::kTargetTimeout, {504, "TargetTimeout", "-", Side::kTarget}},
    {Cause::kMalformedResponse, {502, "MalformedResponse", "-", Side::kTarget}},
    {Cause::kResponseHeadTooLarge, {502, "ResponseHeadTooLarge", "-", Side::kTarget}},
    {Cause::kUpgradeNotSupported, {502, "UpgradeNotSupported", "-", Side::kTarget}},
    {Cause::kResponseTruncated, {0, "ResponseTruncated", "-", Side::kTarget}},
    {Cause::kTargetTlsFailed, {502, "TargetTlsFailed", "-", Side::kTarget}},
    {Cause::kTargetTlsTimeout, {502, "TargetTlsTimeout", "-", Side::kTarget}},
    {Cause::kNoTargets, {503, "NoTargets", "-", Side::kLoadBalancer}},
    {Cause::kDrainDeadline, {502, "DrainDeadline", "-", Side::kLoadBalancer}},
    {Cause::kTransformFailed, {500, "TransformFailed", "-", Side::kRule}},
    {Cause::kInternalError, {500, "InternalError", "-", Side::kLoadBalancer}},
}};

constexpr bool InEnumOrder() {
  for (size_t i = 0; i < kCauses; ++i) {
    if (static_cast<size_t>(kTable[i].first) != i) return false;
  }
  return true;
}
static_assert(InEnumOrder(), "kTable rows must follow the order of enum Cause");

}  // namespace

const CauseInfo& Describe(Cause cause) {
  size_t i = static_cast<size_t>(cause);
  return kTable[i < kCauses ? i : 0].second;
}

Cause CauseOfRequestError(const http::ParseError& error) {
  switch (error.status) {
    case 414:
      return Cause::kRequestLineTooLong;
    case 463:
      return Cause::kTooManyForwardedFor;
    case 501:
      return Cause::kUnsupportedTransferCoding;
    case 505:
      return Cause::kUnsupportedVersion;
    default:
      break;
  }
  return error.too_large ? Cause::kRequestHeadTooLarge : Cause::kMalformedRequest;
}

std::string_view SideName(Side side) {
  switch (side) {
    case Side::kNone:
      return "-";
    case Side::kClient:
      return "client";
    case Side::kTarget:
      return "target";
    case Side::kLoadBalancer:
      return "load-balancer";
    case Side::kRule:
      return "rule";
  }
  return "-";
}

}  // namespace sluice::proxy
