// The elbv2 attribute operations' key/value pairs (reference §2.5, §3): read from the model
// as the exporter writes them, and applied by loading a one-resource YAML document through
// the config loader, so that every key and value is checked by the same rules and messages
// as a config file. Pure (no I/O); control plane only.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "api/error.h"
#include "config/model.h"

namespace sluice::api {

using AttributePairs = std::vector<std::pair<std::string, std::string>>;

AttributePairs LoadBalancerAttributePairs(const config::Config& config,
                                          const config::LoadBalancer& lb);
AttributePairs TargetGroupAttributePairs(const config::Config& config,
                                         const config::TargetGroup& tg);
AttributePairs ListenerAttributePairs(const config::Config& config,
                                      const config::Listener& listener);

// `changes` over the current attributes; ValidationError naming the key when the loader
// refuses one. `label` names the document in messages (and relative paths resolve against
// its directory).
ApiResult<config::LoadBalancerAttributes> ApplyLoadBalancerAttributes(
    const config::Config& config, const config::LoadBalancer& lb, const AttributePairs& changes,
    const std::string& label);
ApiResult<config::TargetGroupAttributes> ApplyTargetGroupAttributes(const config::Config& config,
                                                                    const config::TargetGroup& tg,
                                                                    const AttributePairs& changes,
                                                                    const std::string& label);
ApiResult<config::ListenerAttributes> ApplyListenerAttributes(const config::Config& config,
                                                              const config::Listener& listener,
                                                              const AttributePairs& changes,
                                                              const std::string& label);

}  // namespace sluice::api
