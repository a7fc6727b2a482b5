#include "api/service.h"

#include "api/xml.h"
#include "config/arn.h"

namespace sluice::api {

Service::Service(config::Config initial, ServiceHooks hooks)
    : config_(std::move(initial)), hooks_(std::move(hooks)) {}

void Service::SetConfig(config::Config config) {
  std::lock_guard<std::mutex> lock(staged_mu_);
  staged_ = std::move(config);
}

void Service::AdoptStaged() {
  std::lock_guard<std::mutex> lock(staged_mu_);
  if (staged_) {
    config_ = std::move(*staged_);
    staged_.reset();
  }
}

config::Config Service::CurrentConfig() const {
  std::lock_guard<std::mutex> lock(mu_);
  const_cast<Service*>(this)->AdoptStaged();
  return config_;
}

std::optional<std::string> Service::ResourceTag(std::string_view arn, std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  AdoptStaged();
  auto tags = TagsOf(config_, arn);
  if (!tags.ok()) return std::nullopt;
  for (const config::Tag& t : *tags.value()) {
    if (t.key == key) return t.value;
  }
  return std::nullopt;
}

Service::Answer Service::Call(const QueryParams& params, std::string_view request_id,
                              std::string_view caller, std::string_view origin) {
  auto fail = [&](const ApiError& e) {
    return Answer{e.http_status, ErrorXml(e, request_id), e.code, e.message};
  };
  const std::string* action = params.Get("Action");
  if (action == nullptr || action->empty()) {
    return fail(SenderError("MissingAction", "Could not find operation to perform."));
  }
  const std::string* version = params.Get("Version");
  if (version == nullptr || *version != kApiVersion) {
    // The endpoint also answers the classic ELB API on AWS (2012-06-01); not here.
    return fail(SenderError("InvalidAction",
                            "Could not find operation " + *action + " for version " +
                                (version ? *version : std::string("NO_VERSION_SPECIFIED"))));
  }
  bool mutating = false;
  Handler handler = FindHandler(*action, &mutating);
  if (handler == nullptr) {
    return fail(SenderError("InvalidAction", "Could not find operation " + *action +
                                                 " for version " + std::string(kApiVersion)));
  }
  std::vector<ApiResult<std::string>> s3_objects;
  if (mutating && hooks_.file_managed.empty() && ReadsS3Object(*action)) {
    config::Config where;
    bool store_known = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      AdoptStaged();
      where.s3 = config_.s3;
      where.account = config_.account;
      // A call on a store that is not there reads nothing: its handler answers
      // TrustStoreNotFound before it looks at the objects.
      if (const std::string* arn = params.Get("TrustStoreArn")) {
        store_known = FindTrustStore(config_, *arn).ok();
      }
    }
    if (store_known) s3_objects = PrefetchS3Objects(*action, params, where, hooks_);
  }
  // One call at a time: a mutation reads, changes and applies the model atomically.
  std::lock_guard<std::mutex> lock(mu_);
  AdoptStaged();
  if (mutating && !hooks_.file_managed.empty()) {
    return fail(SenderError("OperationNotPermitted",
                            "This Sluice is managed by its config file " + hooks_.file_managed +
                                "; change the file (SIGHUP reloads it) or run from a state store "
                                "(sluice import, then sluice run --state)"));
  }
  ApiResult<OperationOutput> out =
      handler(CallContext{params, config_, hooks_, &s3_objects, caller, origin});
  if (!out.ok()) return fail(out.error());
  if (out.value().next) {
    config::Config& next = *out.value().next;
    FreezeIds(&next);
    ApiResult<bool> applied =
        hooks_.apply(next, *action + " by " + std::string(caller), out.value().scope);
    if (!applied.ok()) return fail(applied.error());
    config_ = std::move(next);
  }
  return Answer{200, SuccessXml(*action, out.value().result_xml, request_id), "", ""};
}

Service::Answer Service::Content(const QueryParams& params, std::string_view request_id) {
  ApiResult<std::string> pem = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    AdoptStaged();
    return TrustStoreContent(config_, params);
  }();
  if (!pem.ok()) {
    const ApiError& e = pem.error();
    return Answer{e.http_status, ErrorXml(e, request_id), e.code, e.message};
  }
  return Answer{200, std::move(pem.value()), "", "", "application/x-pem-file"};
}

ApiResult<size_t> FindLoadBalancer(const config::Config& config, std::string_view arn) {
  for (size_t i = 0; i < config.load_balancers.size(); ++i) {
    const config::LoadBalancer& lb = config.load_balancers[i];
    if (config::LoadBalancerArn(config.account, lb.name, lb.type) == arn) return i;
  }
  return SenderError("LoadBalancerNotFound", "One or more load balancers not found");
}

ApiResult<size_t> FindTargetGroup(const config::Config& config, std::string_view arn) {
  for (size_t i = 0; i < config.target_groups.size(); ++i) {
    if (config::TargetGroupArn(config.account, config.target_groups[i].name) == arn) return i;
  }
  return SenderError("TargetGroupNotFound", "One or more target groups not found");
}

ApiResult<size_t> FindTrustStore(const config::Config& config, std::string_view arn) {
  for (size_t i = 0; i < config.trust_stores.size(); ++i) {
    if (config::TrustStoreArn(config.account, config.trust_stores[i].name) == arn) return i;
  }
  return SenderError("TrustStoreNotFound", "The specified trust store does not exist.");
}

ApiResult<ListenerRef> FindListener(const config::Config& config, std::string_view arn) {
  std::optional<config::ArnParts> parts = config::ParseArn(arn);
  if (parts && parts->kind == "listener") {
    for (size_t i = 0; i < config.load_balancers.size(); ++i) {
      const config::LoadBalancer& lb = config.load_balancers[i];
      if (lb.name != parts->name) continue;
      for (size_t k = 0; k < lb.listeners.size(); ++k) {
        std::string id = config::ListenerId(lb.name, lb.listeners[k]);
        if (config::ListenerArn(config.account, lb.name, id, lb.type) == arn) {
          return ListenerRef{i, k};
        }
      }
    }
  }
  return SenderError("ListenerNotFound", "One or more listeners not found");
}

ApiResult<RuleRef> FindRule(const config::Config& config, std::string_view arn) {
  std::optional<config::ArnParts> parts = config::ParseArn(arn);
  if (parts && parts->kind == "listener-rule") {
    for (size_t i = 0; i < config.load_balancers.size(); ++i) {
      const config::LoadBalancer& lb = config.load_balancers[i];
      if (lb.name != parts->name) continue;
      for (size_t k = 0; k < lb.listeners.size(); ++k) {
        std::string lid = config::ListenerId(lb.name, lb.listeners[k]);
        if (lid != parts->ids[1]) continue;
        if (config::RuleArn(config.account, lb.name, lid, config::DefaultRuleId(lid), lb.type) ==
            arn) {
          return RuleRef{i, k, -1};
        }
        const auto& rules = lb.listeners[k].rules;
        for (size_t r = 0; r < rules.size(); ++r) {
          if (config::RuleArn(config.account, lb.name, lid, config::RuleId(lid, rules[r]),
                              lb.type) == arn) {
            return RuleRef{i, k, static_cast<int>(r)};
          }
        }
      }
    }
  }
  return SenderError("RuleNotFound", "One or more rules not found");
}

void FreezeIds(config::Config* config) {
  for (config::LoadBalancer& lb : config->load_balancers) {
    for (config::Listener& l : lb.listeners) {
      l.id = config::ListenerId(lb.name, l);
      for (config::Rule& r : l.rules) r.id = config::RuleId(l.id, r);
    }
  }
}

}  // namespace sluice::api
