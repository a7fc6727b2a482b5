// Helpers for the exporter's tests (export_test.cc, export_model_test.cc). Test-only.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <variant>

#include "config/export.h"
#include "config/loader.h"

namespace sluice::config::testing {

// The errors of a load, one per line; "" when it loaded.
inline std::string ErrorText(const LoadResult& r) {
  std::string all;
  if (const auto* errors = std::get_if<ConfigErrors>(&r)) {
    for (const ConfigError& e : *errors) all += e.ToString() + "\n";
  }
  return all;
}

// Loads `text` as file `file`; records a failure (with the text) when it does not load.
inline Config LoadOrFail(std::string_view text, std::string_view file) {
  LoadResult r = LoadConfigFromString(text, file);
  if (std::holds_alternative<ConfigErrors>(r)) {
    ADD_FAILURE() << "did not load:\n" << ErrorText(r) << "--- text:\n" << text;
    return Config{};
  }
  return std::get<Config>(std::move(r));
}

// Exports `model`, loads the text back as file `file` and checks that (1) it loads, (2) the
// model is the same, (3) exporting that model gives the same bytes. Returns the export.
// `file` matters only for relative paths in the model (a model loaded from "t.yaml").
inline std::string ExpectRoundTrip(const Config& model,
                                   std::string_view file = "/elsewhere/exported.yaml") {
  const std::string y1 = ExportYaml(model);
  LoadResult r = LoadConfigFromString(y1, file);
  if (std::holds_alternative<ConfigErrors>(r)) {
    ADD_FAILURE() << "the export did not load:\n" << ErrorText(r) << "--- export:\n" << y1;
    return y1;
  }
  const Config& back = std::get<Config>(r);
  std::string difference;
  EXPECT_TRUE(SameModel(model, back, &difference)) << difference << "\n--- export:\n" << y1;
  EXPECT_EQ(ExportYaml(back), y1);
  return y1;
}

}  // namespace sluice::config::testing
