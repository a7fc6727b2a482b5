// libFuzzer target: arbitrary bytes into the YAML config loader. The loader must never crash,
// leak, hang or let an exception escape, whatever the input; it either loads or returns
// errors with positions inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  sluice::config::LoadResult result = sluice::config::LoadConfigFromString(text, "fuzz.yaml");
  if (const auto* errors = std::get_if<sluice::config::ConfigErrors>(&result)) {
    // Every load that fails says why.
    if (errors->empty()) std::abort();
    for (const sluice::config::ConfigError& e : *errors) {
      if (e.line < 0 || e.column < 0 || e.message.empty()) std::abort();
      (void)e.ToString();
    }
  }
  return 0;
}
