#pragma once
// An answer that is not a success, thrown by a handler and turned into the one error shape
// ({"error": {"code", "message"}}) by the one mapping in api/api.cpp (ErrorResponse), which also
// maps the domain's exceptions (IllegalTransition -> 409, NotFound -> 404, ...).
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace clubos::api {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Retry-After, WWW-Authenticate

 private:
  int status_;
  std::string code_;
};

// 400: not JSON, or a field missing or of the wrong type.
inline ApiError BadRequest(const std::string& message) {
  return ApiError(400, "bad_request", message);
}

}  // namespace clubos::api
