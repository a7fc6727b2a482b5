// Errors as values. No exceptions cross a module boundary on the data plane.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace sluice {

// Where an error came from: the client side (downstream), the target side (upstream),
// our own code (internal), or user input to the control plane (config).
enum class ErrorSource { kDownstream, kUpstream, kInternal, kConfig };

struct Error {
  ErrorSource source = ErrorSource::kInternal;
  std::string message;
  bool retryable = false;  // true when repeating the operation cannot cause a second side effect
  int code = 0;            // the errno of the system call that failed, else 0
};

// Result<T>: either a T or an Error. Cheap to move; check ok() before value().
template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return value_.has_value(); }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  const Error& error() const { return error_; }

 private:
  std::optional<T> value_;
  Error error_;
};

}  // namespace sluice
