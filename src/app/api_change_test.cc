// CheckApiChange takes each scope's path, and still loads the whole document when a scope
// says nothing (or when a scoped document would not load at the next start).
#include "app/api_change.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "config/export.h"
#include "config/export_test_util.h"
#include "config/loader.h"
#include "config/scoped_check.h"

namespace sluice::app {
namespace {

constexpr const char* kYaml = R"(
TargetGroups:
  - Name: blue
    Protocol: HTTP
    Port: 8001
    Targets: [{Id: 127.0.0.1}]
  - Name: spare
    Protocol: HTTP
    Port: 8003
  - Name: tcp
    Protocol: TCP
    Port: 8002
LoadBalancers:
  - Name: web
    Listeners:
      - Protocol: HTTP
        Port: 8080
        DefaultActions: [{Type: forward, TargetGroupName: blue}]
)";

config::Config Model() { return config::testing::LoadOrFail(kYaml, "t.yaml"); }

const config::ConfigErrors* Errors(const config::LoadResult& r) {
  return std::get_if<config::ConfigErrors>(&r);
}

TEST(CheckApiChange, AGroupsSettingsAreCheckedOnItsReducedDocument) {
  config::Config model = Model();
  model.target_groups[2].health_check.interval_seconds = 1;  // out of 5..300
  api::ChangeScope scope;
  scope.settings_of_group = 2;  // the second group of its reduced document
  const std::string yaml = config::ExportYaml(model);
  config::LoadResult checked = CheckApiChange(model, scope, yaml, "api");
  ASSERT_NE(Errors(checked), nullptr);
  EXPECT_EQ(Errors(checked)->front().field.rfind("TargetGroups[2].", 0), 0u)
      << Errors(checked)->front().ToString();
  EXPECT_EQ(ApiChangeError(*Errors(checked)).code, "ValidationError");

  model.target_groups[2].health_check.interval_seconds = 30;
  checked = CheckApiChange(model, scope, config::ExportYaml(model), "api");
  ASSERT_EQ(Errors(checked), nullptr) << Errors(checked)->front().ToString();
  EXPECT_EQ(std::get<config::Config>(checked).target_groups[2].health_check.interval_seconds, 30);
}

TEST(CheckApiChange, WithoutAScopeTheWholeDocumentIsLoaded) {
  config::Config model = Model();
  // A forward the handler did not declare: only a whole load sees it.
  model.load_balancers[0].listeners[0].default_actions[0].forward.target_groups[0].target_group =
      "tcp";
  const std::string yaml = config::ExportYaml(model);
  config::LoadResult whole = CheckApiChange(model, api::ChangeScope{}, yaml, "api");
  ASSERT_NE(Errors(whole), nullptr);
  EXPECT_EQ(ApiChangeError(*Errors(whole)).code, "IncompatibleProtocols");
  // A handler that says it checked the change is trusted: that is what the scope means.
  api::ChangeScope trusted;
  trusted.checked_by_handler = true;
  EXPECT_EQ(Errors(CheckApiChange(model, trusted, yaml, "api")), nullptr);
}

TEST(CheckApiChange, AScopedDocumentOverTheLoadersLimitsIsLoadedWhole) {
  config::Config model = Model();
  api::ChangeScope scope;
  scope.checked_by_handler = true;
  // More nodes than the loader takes (what the handler never wrote; only a load sees it).
  std::string yaml = config::ExportYaml(model) + "Padding: [0";
  for (size_t i = 0; i < config::kMaxDocumentNodes; ++i) yaml += ",0";
  yaml += "]\n";
  ASSERT_FALSE(config::WithinLoaderLimits(yaml));
  EXPECT_NE(Errors(CheckApiChange(model, scope, yaml, "api")), nullptr);
}

}  // namespace
}  // namespace sluice::app
