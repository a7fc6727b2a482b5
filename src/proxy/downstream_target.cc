// Target choice of DownstreamConnection: target-group stickiness (AWSALBTG), the group's
// weights, target stickiness (AWSALB / AWSALBAPP-0 cookies naming a healthy target), else the
// group's picker over the healthy targets with slow start; and the Set-Cookie values that
// keep a client there. Loop thread only.
#include "health/target_health.h"
#include "proxy/downstream_connection.h"
#include "proxy/local_response.h"
#include "proxy/target_candidates.h"
#include "proxy/worker.h"

namespace sluice::proxy {

using http::EqualsIgnoreCase;

namespace {

constexpr int64_t kStickyCookieLifetime = 7 * 86400;  // cookie Expires: always 7 days (ALB)

// Finds cookie `name` in any Cookie header of the request.
bool FindRequestCookie(const http::RequestHead& head, std::string_view name,
                       std::string_view* value) {
  for (const http::HeaderField& h : head.header_span()) {
    if (EqualsIgnoreCase(h.name, "cookie") && balancer::FindCookie(h.value, name, value)) {
      return true;
    }
  }
  return false;
}

// Decodes the first valid cookie among `names` (in order of precedence) for `scope`.
bool DecodeSticky(const http::RequestHead& head, const balancer::StickyCookieCodec& codec,
                  std::initializer_list<std::string_view> names, uint64_t scope, int64_t now,
                  balancer::StickyValue* out) {
  for (std::string_view name : names) {
    std::string_view raw;
    if (!FindRequestCookie(head, name, &raw)) continue;
    auto v = codec.Decode(raw);
    if (v && v->scope == scope && !balancer::StickyCookieCodec::IsExpired(*v, now)) {
      *out = *v;
      return true;
    }
  }
  return false;
}

}  // namespace

void DownstreamConnection::AppendStickyCookie(std::string_view name,
                                              const balancer::StickyValue& value, bool cors) {
  char date[40];
  size_t date_len = FormatHttpDate(worker_->unix_seconds() + kStickyCookieLifetime, date);
  size_t value_start = 0, value_len = 0;  // the CORS twin carries the identical value
  worker_->TakeString(set_cookie_headers_);
  for (int pass = 0; pass < (cors ? 2 : 1); ++pass) {
    set_cookie_headers_.append("Set-Cookie: ");
    set_cookie_headers_.append(name);
    if (pass == 1) set_cookie_headers_.append("CORS");
    set_cookie_headers_.push_back('=');
    if (pass == 0) {
      value_start = set_cookie_headers_.size();
      snapshot_->sticky_codec->Encode(value, &set_cookie_headers_);
      value_len = set_cookie_headers_.size() - value_start;
    } else {
      set_cookie_headers_.append(set_cookie_headers_, value_start, value_len);
    }
    set_cookie_headers_.append("; Expires=");
    set_cookie_headers_.append(date, date_len);
    set_cookie_headers_.append("; Path=/");
    if (pass == 1) set_cookie_headers_.append("; SameSite=None; Secure");
    set_cookie_headers_.append("\r\n");
  }
}

int DownstreamConnection::ChooseTargetGroup(const http::RequestHead& head,
                                            const config::Action& action, int priority) {
  const auto& groups = action.forward.target_groups;
  if (groups.empty()) return -1;
  if (groups.size() == 1) return groups[0].index;
  int64_t now = worker_->unix_seconds();
  uint64_t scope = 0;
  if (action.forward.stickiness_enabled) {
    // Group stickiness is scoped to the rule: the listener and the rule's priority.
    scope = listener_->sticky_scope ^ (static_cast<uint64_t>(priority) * 0x9e3779b97f4a7c15ULL);
    balancer::StickyValue v;
    if (DecodeSticky(head, *snapshot_->sticky_codec, {"AWSALBTGCORS", "AWSALBTG"}, scope, now,
                     &v)) {
      for (const config::TargetGroupTuple& t : groups) {
        // A group still named by the action keeps its sticky clients, even at weight 0.
        if (snapshot_->target_groups[static_cast<size_t>(t.index)].sticky_id == v.target) {
          AppendStickyCookie("AWSALBTG",
                             {scope, v.target, now + action.forward.stickiness_duration_seconds},
                             true);
          return t.index;
        }
      }
    }
  }
  const int index = balancer::PickForwardGroup(action, worker_->rng());
  if (index < 0) return -1;
  if (action.forward.stickiness_enabled) {
    AppendStickyCookie("AWSALBTG",
                       {scope, snapshot_->target_groups[static_cast<size_t>(index)].sticky_id,
                        now + action.forward.stickiness_duration_seconds},
                       true);
  }
  return index;
}

namespace {

// The stages of ChooseTarget that need no connection state. They run for every forwarded
// request: forced inline so that the split costs no instructions.

// The group's picker over the candidates, with slow start; returns a position in cands.
[[gnu::always_inline]] inline size_t PickCandidate(Worker& worker, size_t tg_index,
                                                   const std::vector<balancer::TargetStats*>& cands,
                                                   const config::TargetGroupAttributes& attrs) {
  balancer::Picker* picker = worker.picker(tg_index);
  size_t pick = picker != nullptr ? picker->Pick(cands, worker.rng()) : 0;
  if (attrs.slow_start_seconds > 0) {
    // Slow start: a target in its ramp is accepted with probability equal to its share
    // factor, so its share of new requests grows linearly (reference §2.6).
    int64_t mono = worker.now_ms();
    for (int attempt = 0; attempt < 4; ++attempt) {
      int64_t since = cands[pick]->slow_start_since_ms.load(std::memory_order_relaxed);
      if (since == 0) break;
      double f = health::SlowStartFactor(since, mono,
                                         static_cast<int64_t>(attrs.slow_start_seconds) * 1000);
      if (static_cast<double>(worker.rng().Below(1 << 20)) < f * (1 << 20)) break;
      pick = picker != nullptr ? picker->Pick(cands, worker.rng()) : 0;
    }
  }
  return pick;
}

}  // namespace

// The stages of ChooseTarget that read or set the connection's stickiness state, forced
// inline for the same reason.

// The candidate the client is stuck to by its AWSALB (lb_cookie) or AWSALBAPP-0 cookie, or
// null. With application-cookie stickiness, also notes whether the client is in an
// application session (app_cookie_refresh_).
[[gnu::always_inline]] inline const TargetRuntime* DownstreamConnection::FindStickyTarget(
    const http::RequestHead& head, const TargetGroupRuntime& tg,
    const config::TargetGroupAttributes& attrs, const std::vector<uint32_t>& index, bool lb_cookie,
    int64_t now) {
  if (!lb_cookie) {
    // A client in an application session (its cookie, or an AWSALBAPP-0 of ours, even a stale
    // one) is (re)stuck to whatever target serves it now: after a failover the session stays
    // on the new target even when the old one recovers.
    std::string_view ignored;
    app_cookie_refresh_ = FindRequestCookie(head, "AWSALBAPP-0", &ignored) ||
                          (!attrs.stickiness_app_cookie_name.empty() &&
                           FindRequestCookie(head, attrs.stickiness_app_cookie_name, &ignored));
  }
  balancer::StickyValue v;
  bool found = lb_cookie ? DecodeSticky(head, *snapshot_->sticky_codec, {"AWSALBCORS", "AWSALB"},
                                        tg.lb_cookie_scope, now, &v)
                         : DecodeSticky(head, *snapshot_->sticky_codec, {"AWSALBAPP-0"},
                                        tg.app_cookie_scope, now, &v);
  if (found) {
    // Only a target that is still a candidate (registered, and healthy unless the group
    // failed open) keeps its sessions; otherwise a new one is chosen and stuck to.
    for (uint32_t i : index) {
      if (tg.targets[i].sticky_id == v.target) return &tg.targets[i];
    }
  }
  return nullptr;
}

// Keeps the client on `chosen`: an AWSALB cookie (lb_cookie), or the AWSALBAPP-0 value the
// response may carry (application-cookie stickiness).
[[gnu::always_inline]] inline void DownstreamConnection::StickToTarget(
    const TargetGroupRuntime& tg, const config::TargetGroupAttributes& attrs,
    const TargetRuntime& chosen, bool lb_cookie, bool app_cookie, int64_t now) {
  if (lb_cookie) {
    AppendStickyCookie(
        "AWSALB",
        {tg.lb_cookie_scope, chosen.sticky_id, now + attrs.stickiness_lb_cookie_duration_seconds},
        true);
  } else if (app_cookie) {
    app_cookie_name_ = &attrs.stickiness_app_cookie_name;
    app_cookie_value_.clear();
    snapshot_->sticky_codec->Encode(
        {tg.app_cookie_scope, chosen.sticky_id, now + attrs.stickiness_app_cookie_duration_seconds},
        &app_cookie_value_);
  }
}

// NLB (reference §8.2): the flow hash salted per connection (the SYN's sequence number is
// not visible after accept(), so a random salt stands in for it), fail-open (§8.6).
const TargetRuntime& DownstreamConnection::ChooseFlowTarget(size_t tg_index) {
  const TargetGroupRuntime& tg = snapshot_->target_groups[tg_index];
  const nlb::FlowTuple tuple{nlb::kIpProtoTcp, peer_, listener_address_};
  return tg.targets[ChooseFlowTargetIndex(*worker_, tg, tuple, worker_->rng().Next())];
}

const TargetRuntime* DownstreamConnection::ChooseTarget(const http::RequestHead& head,
                                                        size_t tg_index) {
  const TargetGroupRuntime& tg = snapshot_->target_groups[tg_index];
  const config::TargetGroupAttributes& attrs = tg.config->attributes;
  // Healthy targets; when none is healthy the group fails open to all of them (ALB).
  auto& cands = worker_->candidate_scratch();
  auto& index = worker_->candidate_index_scratch();
  CollectCandidates(tg, &cands, &index);
  int64_t now = worker_->unix_seconds();
  bool lb_cookie = tg.stickiness == snapshot::StickinessType::kLbCookie;
  bool app_cookie = tg.stickiness == snapshot::StickinessType::kAppCookie;
  app_cookie_name_ = nullptr;
  app_cookie_refresh_ = false;
  const TargetRuntime* chosen = nullptr;
  if (lb_cookie || app_cookie) chosen = FindStickyTarget(head, tg, attrs, index, lb_cookie, now);
  if (chosen == nullptr) {
    chosen = &tg.targets[index[PickCandidate(*worker_, tg_index, cands, attrs)]];
  }
  StickToTarget(tg, attrs, *chosen, lb_cookie, app_cookie, now);
  return chosen;
}

}  // namespace sluice::proxy
