// A configuration error that names file, line, column and field, and says what is allowed.
#pragma once

#include <string>
#include <vector>

namespace sluice::config {

struct ConfigError {
  std::string file;
  int line = 0;         // 1-based; 0 when the error is about the whole file
  int column = 0;       // 1-based
  std::string field;    // dotted path, e.g. "LoadBalancers[0].Listeners[0].Rules[2].Priority"
  std::string message;  // e.g. "priority 70000 is out of range 1..50000"

  // "file:line:column: field: message"
  std::string ToString() const;
};

// Every error found in one pass; the loader does not stop at the first one.
using ConfigErrors = std::vector<ConfigError>;

}  // namespace sluice::config
