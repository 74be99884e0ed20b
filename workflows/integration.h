#pragma once
// The seam between the flow and the facility's systems. The HTTP adapters (OpenPhone, NinjaOne,
// UniFi Access, Slack) implement it; tests use the fake in sim/fake_facility.h.
#include <optional>
#include <string>

#include "core/clock.h"

namespace clubos::workflows {

struct ActionView {
  int64_t id = 0;
  int64_t thread_id = 0;        // 0: an action of its own (an operator's)
  std::string kind;             // reset_trackman | reboot_pc | unlock_door | send_message | ...
  std::string idempotency_key;  // stable across retries of the same action
  std::string location;
  std::optional<int> bay;
  std::string device_id;     // bay PC or door (the vendor's id)
  std::string control;       // bay PCs: "ninjaone" or "agent"
  std::string door;          // the door's id in the facility config
  std::string phone;         // send_message: the customer
  std::string from_line;     // send_message: the facility line
  std::string text;          // send_message
  std::string baseline;      // JSON: the target's state before the call
  std::string external_ref;  // JSON: what the vendor's answer left to verify against ("" none)
  std::string reason;        // the SOP it follows (shown to the vendor where it keeps a note)
  std::optional<std::string> booking_id;
};

enum class CallResult {
  kAccepted,   // the target system took the request
  kRejected,   // it definitely did not happen (4xx, validation): escalate, do not retry
  kNotDone,    // it certainly did not happen, for now (429, 503, refused connection): start over
  kTransient,  // it may have happened (timeout, 500): the next attempt looks before acting
};

struct CallOutcome {
  CallResult result;
  std::string detail;
  std::string external_ref = "";  // JSON kept with the action (e.g. the provider's message id)
  std::optional<Millis> retry_after = std::nullopt;  // the vendor's Retry-After
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
  virtual bool Idempotent(const ActionView& action) const = 0;
  // The target's state before the call, so a later check can tell that it changed; nullopt when
  // it cannot be read now (the call is then not made: it could never be proven).
  virtual std::optional<std::string> Baseline(const ActionView& action) = 0;
  virtual CallOutcome Execute(const ActionView& action) = 0;
  virtual StateCheck Check(const ActionView& action) = 0;
  // Tells the operators (Slack in production). `summary` is plain text with the story; `link` a
  // URL to the thread or action ("" when none is configured).
  virtual CallOutcome NotifyOperators(const std::string& summary, const std::string& link) = 0;
};

}  // namespace clubos::workflows
