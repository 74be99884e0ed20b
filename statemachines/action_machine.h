#pragma once
// An action: one attempt to change the world (reset a bay PC, unlock a door, send an SMS, ...).
// `executing` is committed before the external call: a worker that finds an action there checks
// the target's state before anything else (design/state-machines.md).
#include "statemachines/table.h"

namespace clubos::sm {

// clang-format off
inline const Table& ActionMachine() {
  static const Table t(
      "action",
      {"received", "routed", "awaiting_confirmation", "executing", "executed", "verified", "escalated",
       "rejected", "cancelled"},
      {"requested", "policy_decided", "policy_escalated", "confirmation_requested", "execution_started", "rejected",
       "confirmation_expired", "cancelled", "execution_succeeded", "execution_failed", "execution_unknown", "execution_deferred", "emergency_stopped", "start_refused",
       "verification_passed", "verification_failed", "verification_timeout", "rollback_flagged"},
      {
          // from                     event                     to                       note / effects
          {"-",                     "requested",              "received",              "whoever triggered it: router, operator, chain"},
          {"received",              "policy_decided",         "routed",                ""},
          {"received",              "policy_escalated",       "escalated",             "policy_decided with outcome escalate"},
          {"routed",                "confirmation_requested", "awaiting_confirmation", "",                                                    "expire_confirmation@confirmation_ttl"},
          {"routed",                "execution_started",      "executing",             "committed before the external call"},
          {"routed",                "cancelled",              "cancelled",             "ext: superseded before it ran"},
          {"awaiting_confirmation", "execution_started",      "executing",             "confirmed"},
          {"awaiting_confirmation", "rejected",               "rejected",              ""},
          {"awaiting_confirmation", "confirmation_expired",   "escalated",             ""},
          {"awaiting_confirmation", "cancelled",              "cancelled",             "the customer wrote something else"},
          {"routed",                "emergency_stopped",      "escalated",             "ext: the emergency stop was engaged before the call"},
          {"awaiting_confirmation", "emergency_stopped",      "escalated",             "ext: the emergency stop was engaged before the call"},
          {"routed",                "start_refused",          "escalated",             "ext: the gate refused it just before the call (cooldown, booking)"},
          {"awaiting_confirmation", "start_refused",          "escalated",             "ext: the gate refused it just before the call (cooldown, booking)"},
          {"executing",             "execution_deferred",     "routed",                "ext: the vendor certainly did not act (refused to connect, 429, 503): start again later"},
          {"executing",             "execution_succeeded",    "executed",              "verified at once when the change is already visible", "verify_action@verify_poll"},
          {"executing",             "execution_failed",       "escalated",             "result failed"},
          {"executing",             "execution_unknown",      "escalated",             "result inconclusive"},
          {"executed",              "verification_passed",    "verified",              "result success"},
          {"executed",              "verification_failed",    "escalated",             "result failed"},
          {"executed",              "verification_timeout",   "escalated",             "result inconclusive"},
          {"verified",              "rollback_flagged",       "=",                     "rollback_needed = true"},
          {"escalated",             "rollback_flagged",       "=",                     "rollback_needed = true"},
      });
  return t;
}
// clang-format on

}  // namespace clubos::sm
