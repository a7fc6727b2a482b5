// Every forward of a config: which target groups each load balancer's listeners send to, by
// their default actions and their rules. One walk for the readers that need "who forwards
// where" (health checks of used groups, health-check log streams, the API's LoadBalancerArns,
// the dashboard, per-load-balancer metrics). Pure.
#pragma once

#include "config/model.h"

namespace sluice::config {

// Calls fn(load_balancer, listener, tuple) for every target group a forward action names, in
// file order (a listener's default actions, then its rules in priority order).
template <class Fn>
void ForEachForward(const Config& config, Fn&& fn) {
  auto actions = [&](const LoadBalancer& lb, const Listener& l, const std::vector<Action>& list) {
    for (const Action& a : list) {
      if (a.type != ActionType::kForward) continue;
      for (const TargetGroupTuple& t : a.forward.target_groups) fn(lb, l, t);
    }
  };
  for (const LoadBalancer& lb : config.load_balancers) {
    for (const Listener& l : lb.listeners) {
      actions(lb, l, l.default_actions);
      for (const Rule& r : l.rules) actions(lb, l, r.actions);
    }
  }
}

}  // namespace sluice::config
