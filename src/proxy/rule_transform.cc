#include "proxy/rule_transform.h"

#include <string>

namespace sluice::proxy {

bool ApplyRuleTransforms(const routing::CompiledTransforms* transforms, std::string_view host,
                         RequestTarget* target, routing::TransformResult* result) {
  if (transforms == nullptr) return true;
  std::string_view path_and_query = target->path_and_query;
  std::string slash_query;  // "http://host?x" is sent as "/?x"; the regex sees that too
  if (!path_and_query.empty() && path_and_query[0] == '?' && transforms->has_url_rewrite()) {
    slash_query.reserve(path_and_query.size() + 1);
    slash_query.push_back('/');
    slash_query.append(path_and_query);
    path_and_query = slash_query;
  }
  const routing::TransformStatus status =
      transforms->Apply(routing::HostWithoutPort(host), path_and_query, result);
  if (status == routing::TransformStatus::kFailed) return false;
  if (!result->transformed_uri.empty()) {
    const std::string_view uri = result->transformed_uri;
    const size_t q = uri.find('?');
    target->path_and_query = uri;
    target->path = uri.substr(0, q);
    target->query = q == std::string_view::npos ? std::string_view() : uri.substr(q + 1);
  }
  return true;
}

}  // namespace sluice::proxy
