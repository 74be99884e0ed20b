#pragma once
// The seam between the flow and the facility's systems. The HTTP adapters (OpenPhone, NinjaOne,
// UniFi Access, Slack) implement it; tests use the fake in fake_facility.h.
#include <optional>
#include <string>

namespace clubos::workflows {

struct ActionView {
  int64_t id = 0;
  std::string kind;             // reset_trackman | reboot_pc | unlock_door | send_message | ...
  std::string idempotency_key;  // stable across retries of the same action
  std::string location;
  std::optional<int> bay;
  std::string device_id;  // bay PC or door
  std::string phone;      // send_message: the customer
  std::string from_line;  // send_message: the facility line
  std::string text;       // send_message
  std::string baseline;   // JSON: the target's state before the call
};

enum class CallResult {
  kAccepted,   // the target system took the request
  kRejected,   // it definitely did not happen (4xx, validation): escalate, do not retry
  kTransient,  // unknown or temporary (timeout, 429, 5xx): retry the job
};

struct CallOutcome {
  CallResult result;
  std::string detail;
};

enum class StateCheck {
  kChanged,  // the world shows the action's effect (PC rebooted, door opening logged, SMS accepted)
  kUnchanged,  // it does not (yet)
  kUnknown,    // the target cannot tell right now
};

class Integration {
 public:
  virtual ~Integration() = default;
  // Whether calling Execute twice with the same idempotency key is harmless.
  virtual bool Idempotent(const std::string& kind) const = 0;
  // The target's state before the call, so a later check can tell that it changed.
  virtual std::string Baseline(const ActionView& action) = 0;
  virtual CallOutcome Execute(const ActionView& action) = 0;
  virtual StateCheck Check(const ActionView& action) = 0;
  // Tells the operators (Slack in production). `summary` is plain text with the thread's story.
  virtual CallOutcome NotifyOperators(int64_t thread_id, const std::string& summary) = 0;
};

}  // namespace clubos::workflows
