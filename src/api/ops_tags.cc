// AddTags, RemoveTags, DescribeTags, and the tags of a resource by ARN.
#include <algorithm>

#include "api/decode.h"
#include "api/service.h"
#include "api/xml.h"
#include "config/arn.h"
#include "config/validate.h"

namespace sluice::api {

ApiResult<std::vector<config::Tag>*> TagsOf(config::Config& config, std::string_view arn) {
  std::optional<config::ArnParts> parts = config::ParseArn(arn);
  if (!parts) {
    return SenderError("ValidationError", "'" + std::string(arn) + "' is not a valid resource ARN");
  }
  if (parts->kind == "loadbalancer") {
    auto i = FindLoadBalancer(config, arn);
    if (!i.ok()) return i.error();
    return &config.load_balancers[i.value()].tags;
  }
  if (parts->kind == "targetgroup") {
    auto i = FindTargetGroup(config, arn);
    if (!i.ok()) return i.error();
    return &config.target_groups[i.value()].tags;
  }
  if (parts->kind == "truststore") {
    auto i = FindTrustStore(config, arn);
    if (!i.ok()) return i.error();
    return &config.trust_stores[i.value()].tags;
  }
  if (parts->kind == "listener") {
    auto ref = FindListener(config, arn);
    if (!ref.ok()) return ref.error();
    return &config.load_balancers[ref.value().lb].listeners[ref.value().listener].tags;
  }
  auto ref = FindRule(config, arn);
  if (!ref.ok()) return ref.error();
  if (ref.value().rule < 0) {
    return SenderError("OperationNotPermitted", "Sluice does not keep tags on a default rule");
  }
  return &config.load_balancers[ref.value().lb]
              .listeners[ref.value().listener]
              .rules[static_cast<size_t>(ref.value().rule)]
              .tags;
}

namespace {

ApiResult<std::vector<std::string>> ResourceArns(const QueryParams& params) {
  auto arns = params.List("ResourceArns");
  if (!arns) return Validation("", "resourceArns", "Member must not be null", true);
  if (arns->size() > 20) {
    return Validation("", "resourceArns", "Member must have length less than or equal to 20");
  }
  return *arns;
}

// A change to tags and nothing else, checked here as the loader checks tags: applied
// without loading the whole model again (ChangeScope).
ApiResult<OperationOutput> TagsMutation(config::Config next) {
  return OperationOutput{"", std::move(next), {.checked_by_handler = true}};
}

ApiResult<OperationOutput> AddTags(const CallContext& c) {
  auto arns = ResourceArns(c.params);
  if (!arns.ok()) return arns.error();
  auto tags = DecodeTags(c.params);
  if (!tags.ok()) return tags.error();
  if (tags.value().empty()) return Validation("", "tags", "Member must not be null", true);
  config::Config next = c.config;
  FreezeIds(&next);
  for (const std::string& arn : arns.value()) {
    auto list = TagsOf(next, arn);
    if (!list.ok()) return list.error();
    for (const config::Tag& t : tags.value()) {
      auto it = std::find_if(list.value()->begin(), list.value()->end(),
                             [&](const config::Tag& x) { return x.key == t.key; });
      if (it != list.value()->end()) {
        it->value = t.value;
      } else {
        list.value()->push_back(t);
      }
    }
    if (list.value()->size() > 50) {
      return SenderError("TooManyTags",
                         "The quota for the number of tags that can be assigned to a load "
                         "balancer has been reached");
    }
    if (std::string why = config::internal::CheckTags(*list.value()); !why.empty()) {
      return SenderError("ValidationError", why);
    }
  }
  return TagsMutation(std::move(next));
}

ApiResult<OperationOutput> RemoveTags(const CallContext& c) {
  auto arns = ResourceArns(c.params);
  if (!arns.ok()) return arns.error();
  auto keys = c.params.List("TagKeys");
  if (!keys) return Validation("", "tagKeys", "Member must not be null", true);
  config::Config next = c.config;
  FreezeIds(&next);
  for (const std::string& arn : arns.value()) {
    auto list = TagsOf(next, arn);
    if (!list.ok()) return list.error();
    std::erase_if(*list.value(), [&](const config::Tag& t) {
      return std::find(keys->begin(), keys->end(), t.key) != keys->end();
    });
  }
  return TagsMutation(std::move(next));
}

ApiResult<OperationOutput> DescribeTags(const CallContext& c) {
  auto arns = ResourceArns(c.params);
  if (!arns.ok()) return arns.error();
  config::Config& config = const_cast<config::Config&>(c.config);  // read only below
  XmlWriter w;
  w.Open("TagDescriptions");
  for (const std::string& arn : arns.value()) {
    auto list = TagsOf(config, arn);
    if (!list.ok()) return list.error();
    w.Open("member").Leaf("ResourceArn", arn).Open("Tags");
    for (const config::Tag& t : *list.value()) {
      w.Open("member").Leaf("Key", t.key).Leaf("Value", t.value).Close("member");
    }
    w.Close("Tags").Close("member");
  }
  w.Close("TagDescriptions");
  return OperationOutput{std::move(w.str()), std::nullopt};
}

}  // namespace

Handler FindTagHandler(std::string_view action, bool* mutating) {
  if (action == "AddTags") return *mutating = true, AddTags;
  if (action == "RemoveTags") return *mutating = true, RemoveTags;
  if (action == "DescribeTags") return *mutating = false, DescribeTags;
  return nullptr;
}

}  // namespace sluice::api
