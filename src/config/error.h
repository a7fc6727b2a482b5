// A configuration error that names file, line, column and field, and says what is allowed.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace sluice::config {

// A load returns at most this many errors (the first ones by position); one more error then
// says how many were left out ("and 12 more error(s)").
inline constexpr size_t kMaxReportedErrors = 50;

struct ConfigError {
  std::string file;
  int line = 0;         // 1-based; 0 when the error is about the whole file
  int column = 0;       // 1-based
  std::string field;    // dotted path, e.g. "LoadBalancers[0].Listeners[0].Rules[2].Priority"
  std::string message;  // e.g. "priority 70000 is out of range 1..50000"
  size_t omitted = 0;   // on the final "and N more error(s)" error only: N

  // "file:line:column: field: message", with control, bidi and format characters and invalid
  // UTF-8 escaped (see config/quote.h).
  std::string ToString() const;
};

// Every error found in one pass; the loader does not stop at the first one.
using ConfigErrors = std::vector<ConfigError>;

// How many errors `errors` stands for: the errors it holds plus those a final "and N more"
// error says were left out.
size_t CountErrors(const ConfigErrors& errors);

}  // namespace sluice::config
