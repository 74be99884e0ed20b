#pragma once
// The domain's errors, in one place: what a caller did that the domain refuses, each mapped to one
// HTTP status by the API's one error mapping (api/api.cpp ErrorResponse). Anything else that
// escapes a handler is a 500 and a bug.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace clubos::workflows {

// Bad input from the outside world: the API answers 422 with this message, nothing changes.
class InvalidInput : public std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

class IllegalTransition : public std::runtime_error {
 public:
  IllegalTransition(std::string entity, int64_t id, std::string state, std::string event)
      : std::runtime_error(entity + " " + std::to_string(id) + " is " + state + ": event " + event +
                           " is not allowed there"),
        entity_(std::move(entity)),
        state_(std::move(state)),
        event_(std::move(event)) {}
  const std::string& state() const { return state_; }
  const std::string& event() const { return event_; }

 private:
  std::string entity_, state_, event_;
};

class NotFound : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The caller may not do this (the API answers 403), e.g. approving one's own policy proposal.
class Forbidden : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The request is well-formed and allowed, but the state of the world refuses it now (the API
// answers 409 with `code`): a claim held by someone else, an emergency stop, a stale suggestion.
class Conflict : public std::runtime_error {
 public:
  Conflict(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// A bay agent's device key is unknown or wrong (the API answers 401, never saying which).
class AgentAuthError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace clubos::workflows
