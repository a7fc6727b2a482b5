// The elbv2 API's errors as values (reference §9.4): an AWS error code, the HTTP status
// AWS sends with it, a message, and whether the caller (Sender) or Sluice (Receiver) is at
// fault. Control plane only.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace sluice::api {

struct ApiError {
  int http_status = 400;
  std::string code;     // e.g. "ValidationError", "SignatureDoesNotMatch"
  std::string message;  // AWS's wording where known
  bool sender = true;   // <Type>Sender</Type>; false: Receiver (a fault of Sluice's)
};

inline ApiError SenderError(std::string code, std::string message, int http_status = 400) {
  return ApiError{http_status, std::move(code), std::move(message), true};
}
inline ApiError ReceiverError(std::string code, std::string message, int http_status = 500) {
  return ApiError{http_status, std::move(code), std::move(message), false};
}

// Either a T or the ApiError to answer with.
template <class T>
class ApiResult {
 public:
  ApiResult(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  ApiResult(ApiError error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  const ApiError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ApiError> v_;
};

}  // namespace sluice::api
