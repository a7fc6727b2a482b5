#include "app/api_change.h"

#include <system_error>
#include <utility>
#include <variant>

#include "config/scoped_check.h"
#include "store/document_codec.h"

namespace sluice::app {
namespace {

// The loader's errors as one API message: "field: message; field: message".
std::string ApiMessage(const config::ConfigErrors& errors) {
  std::string out;
  for (const config::ConfigError& e : errors) {
    if (!out.empty()) out += "; ";
    out += e.field.empty() ? e.message : e.field + ": " + e.message;
  }
  return out;
}

bool Scoped(const api::ChangeScope& scope) {
  return scope.targets_of_group >= 0 || scope.rules_of_listener.has_value() ||
         scope.settings_of_group >= 0 || scope.added_listener.has_value() || scope.outside_rules ||
         scope.checked_by_handler;
}

}  // namespace

// Unscoped, a change is loaded again from its YAML. Scoped: one group's targets (checked by
// the handler; the rest of the model is the one last applied), which at 100,000 targets saves
// a second of YAML parsing per call; one listener's rules (checked on a document without the
// targets and the listener's other rules, decision 0030); one group's settings (a document
// with only the rules forwarding to it); attributes and certificates no rule reads (a document
// without rules); tags (checked by the handler).
config::LoadResult CheckApiChange(config::Config model, const api::ChangeScope& scope,
                                  const std::string& yaml, const std::string& label) {
  if (!Scoped(scope)) return config::LoadConfigFromString(yaml, label);
  if (!config::WithinLoaderLimits(yaml)) return config::LoadConfigFromString(yaml, label);
  config::ConfigErrors errors;
  if (scope.rules_of_listener) {
    errors = config::CheckListenerRulesChange(model, *scope.rules_of_listener, label);
  } else if (scope.settings_of_group >= 0) {
    errors =
        config::CheckTargetGroupChange(model, static_cast<size_t>(scope.settings_of_group), label);
  } else if (scope.added_listener) {
    errors = config::CheckListenerAdded(model, scope.added_listener->first,
                                        scope.added_listener->second, label);
  } else if (scope.outside_rules) {
    errors = config::CheckOutsideRules(model, label);
  }
  if (!errors.empty()) return errors;
  return model;
}

api::ApiError ApiChangeError(const config::ConfigErrors& errors) {
  std::string code = "ValidationError";
  for (const char* c : {"IncompatibleProtocols", "TargetGroupAssociationLimit"}) {
    if (!errors.empty() && errors.front().message.starts_with(std::string(c) + ":")) code = c;
  }
  return api::SenderError(code, ApiMessage(errors));
}

std::future<Result<std::string>> DeflateAside(const std::string& yaml) {
  try {
    return std::async(std::launch::async, [&yaml] { return store::DeflateDocument(yaml); });
  } catch (const std::system_error&) {
    std::promise<Result<std::string>> here;
    here.set_value(store::DeflateDocument(yaml));
    return here.get_future();
  }
}

}  // namespace sluice::app
