// Helpers for the tests of api::Service and its operations. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "api/query.h"
#include "api/service.h"
#include "config/export.h"
#include "config/loader.h"

namespace sluice::api::service_test {

// `yaml` loaded as "test.yaml"; an empty model (and a test failure) when it does not load.
inline config::Config LoadModel(const std::string& yaml) {
  auto r = config::LoadConfigFromString(yaml, "test.yaml");
  if (auto* e = std::get_if<config::ConfigErrors>(&r)) {
    ADD_FAILURE() << e->front().ToString();
    return {};
  }
  return std::get<config::Config>(r);
}

// The call `form` (URL-encoded, without Version) answered as caller AKIATEST would be.
inline Service::Answer CallForm(Service& service, const std::string& form) {
  auto p = QueryParams::Parse("Version=2015-12-01&" + form);
  EXPECT_TRUE(p.ok());
  return service.Call(p.value(), "rid", "AKIATEST");
}

// The model a mutation handed over without a whole reload is the one a reload of its export
// gives.
inline void ExpectLoaderAgrees(const config::Config& applied) {
  config::Config back = LoadModel(config::ExportYaml(applied));
  std::string difference;
  EXPECT_TRUE(config::SameModel(applied, back, &difference)) << difference;
}

// Hooks whose apply accepts every change and records the model and scope it was handed.
// Lifetime: the hooks refer to the recorder, which must outlive the Service given them.
struct ApplyRecorder {
  std::vector<config::Config> applied;
  std::vector<ChangeScope> scopes;

  ServiceHooks Hooks() {
    ServiceHooks h;
    h.apply = [this](const config::Config& next, const std::string&,
                     const ChangeScope& scope) -> ApiResult<bool> {
      applied.push_back(next);
      scopes.push_back(scope);
      return true;
    };
    return h;
  }
};

}  // namespace sluice::api::service_test
