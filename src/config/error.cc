#include "config/error.h"

#include "config/quote.h"

namespace sluice::config {

std::string ConfigError::ToString() const {
  std::string out = EscapeText(file);
  if (line > 0) {
    out += ':';
    out += std::to_string(line);
    out += ':';
    out += std::to_string(column);
  }
  out += ": ";
  if (!field.empty()) {
    out += EscapeText(field);
    out += ": ";
  }
  out += EscapeText(message);
  return out;
}

size_t CountErrors(const ConfigErrors& errors) {
  size_t count = errors.size();
  if (!errors.empty() && errors.back().omitted > 0) count += errors.back().omitted - 1;
  return count;
}

}  // namespace sluice::config
