#pragma once
// The decision: may ClubOS act on what the router concluded, and how. Pure: no I/O, no clock.
// This is the simple default of the flow issue (thresholds per category, confirmation for physical
// actions); the full policy engine (bookings, windows, cooldowns, budgets, emergency stop) replaces
// it behind the same signature.
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "workflows/router.h"

namespace clubos::workflows {

struct ActionPlan {
  std::string kind;  // reset_trackman | unlock_door | send_message
  std::string location;
  std::optional<int> bay;
  std::string device_id;  // the bay PC or the door
  std::string door_id;
  std::string text;    // send_message
  std::string reason;  // the SOP it follows
};

struct Decision {
  std::string outcome;            // execute | confirm_first | escalate
  std::string escalation_reason;  // when outcome is escalate: a reason code
  std::vector<std::string> reasons;
  std::optional<ActionPlan> action;
  int priority = 100;  // of the thread's jobs; emergencies 0
};

struct PolicyInput {
  const Intent& intent;
  const Location& location;
  const Config& config;
  bool rapid_messages = false;  // the customer keeps texting after ClubOS already answered
};

Decision Decide(const PolicyInput& in);

}  // namespace clubos::workflows
