#pragma once
// An action: one attempt to change the world (reset a bay PC, unlock a door, send an SMS, ...).
// `executing` is committed before the external call: a worker that finds an action there checks
// the target's state before anything else (design/state-machines.md). An action belongs to a
// thread (or to no thread: an operator's own); its rows name what they cause on the thread
// (cascade), and what is told to the operators instead when the thread is not the one to move.
#include <string_view>

#include "statemachines/table.h"
#include "statemachines/thread_machine.h"

namespace clubos::sm {

namespace action_state {
inline constexpr std::string_view kReceived = "received";
inline constexpr std::string_view kRouted = "routed";
inline constexpr std::string_view kAwaitingConfirmation = "awaiting_confirmation";
inline constexpr std::string_view kConfirmed = "confirmed";
inline constexpr std::string_view kExecuting = "executing";
inline constexpr std::string_view kExecuted = "executed";
inline constexpr std::string_view kVerified = "verified";
inline constexpr std::string_view kEscalated = "escalated";
inline constexpr std::string_view kRejected = "rejected";
inline constexpr std::string_view kCancelled = "cancelled";
}  // namespace action_state

namespace action_event {
inline constexpr std::string_view kRequested = "requested";
inline constexpr std::string_view kPolicyDecided = "policy_decided";
inline constexpr std::string_view kPolicyEscalated = "policy_escalated";
inline constexpr std::string_view kConfirmationRequested = "confirmation_requested";
inline constexpr std::string_view kConfirmed = "confirmed";
inline constexpr std::string_view kExecutionStarted = "execution_started";
inline constexpr std::string_view kRejected = "rejected";
inline constexpr std::string_view kConfirmationExpired = "confirmation_expired";
inline constexpr std::string_view kCancelled = "cancelled";
inline constexpr std::string_view kExecutionSucceeded = "execution_succeeded";
inline constexpr std::string_view kExecutionFailed = "execution_failed";
inline constexpr std::string_view kExecutionUnknown = "execution_unknown";
inline constexpr std::string_view kExecutionDeferred = "execution_deferred";
inline constexpr std::string_view kEmergencyStopped = "emergency_stopped";
inline constexpr std::string_view kStartRefused = "start_refused";
inline constexpr std::string_view kVerificationPassed = "verification_passed";
inline constexpr std::string_view kVerificationFailed = "verification_failed";
inline constexpr std::string_view kVerificationTimeout = "verification_timeout";
inline constexpr std::string_view kRollbackFlagged = "rollback_flagged";
}  // namespace action_event

namespace action_guard {
// The policy wants the customer's YES first: the action waits for it instead of executing.
inline constexpr std::string_view kConfirmFirst = "confirm_first";
// An engaged emergency stop covers the action, and no admin overrode it for this action.
inline constexpr std::string_view kStopped = "stopped";
// The thread's own action: its success or failure is the thread's (role primary).
inline constexpr std::string_view kPrimary = "primary";
// Its failure holds the thread up: the primary action, or the question the customer must answer.
inline constexpr std::string_view kHoldsThread = "holds_thread";
// Its thread is verified (a rollback flag sends it back to the operators' queue).
inline constexpr std::string_view kThreadVerified = "thread_verified";
// The customer (or the API) confirmed it: put back to wait for the vendor, it stays confirmed.
inline constexpr std::string_view kConfirmed = "confirmed";
}  // namespace action_guard

// The effect "execute" is the job that executes the action's kind (core/action_kinds.h).
inline constexpr std::string_view kExecuteEffect = "execute";

// clang-format off
inline const Table& ActionMachine() {
  static const Table t(
      "action",
      {"received", "routed", "awaiting_confirmation", "confirmed", "executing", "executed", "verified", "escalated",
       "rejected", "cancelled"},
      {"requested", "policy_decided", "policy_escalated", "confirmation_requested", "confirmed", "execution_started", "rejected",
       "confirmation_expired", "cancelled", "execution_succeeded", "execution_failed", "execution_unknown", "execution_deferred", "emergency_stopped", "start_refused",
       "verification_passed", "verification_failed", "verification_timeout", "rollback_flagged"},
      {
          // from                     event                     to                       note, effects, guard, cascade (=> thread)
          {"-",                     "requested",              "received",              "whoever triggered it: router, operator, chain"},
          {"received",              "policy_decided",         "routed",                "",                                                    "execute",                              "!confirm_first"},
          {"received",              "policy_decided",         "routed",                "the confirmation request follows",                   "",                                     "confirm_first"},
          {"received",              "policy_escalated",       "escalated",             "policy_decided with outcome escalate"},
          {"routed",                "confirmation_requested", "awaiting_confirmation", "",                                                    "expire_confirmation@confirmation_ttl"},
          {"routed",                "execution_started",      "executing",             "committed before the external call",                 "",                                     "!stopped"},
          {"routed",                "cancelled",              "cancelled",             "ext: superseded before it ran"},
          {"routed",                "emergency_stopped",      "escalated",             "ext: the emergency stop was engaged before the call", "", "", "escalated [holds_thread] | notify_operator"},
          {"routed",                "start_refused",          "escalated",             "ext: the gate refused it just before the call, or its job died", "", "", "escalated [holds_thread] | notify_operator"},
          {"awaiting_confirmation", "confirmed",              "confirmed",             "ext: the customer's YES (or the API's)",              "execute",                              "",           "confirmed"},
          {"awaiting_confirmation", "rejected",               "rejected",              "",                                                    "",                                     "",           "rejected"},
          {"awaiting_confirmation", "confirmation_expired",   "escalated",             "",                                                    "",                                     "",           "confirmation_expired"},
          {"awaiting_confirmation", "cancelled",              "cancelled",             "the customer wrote something else"},
          {"awaiting_confirmation", "emergency_stopped",      "escalated",             "ext: the emergency stop was engaged before the call", "", "", "escalated [holds_thread] | notify_operator"},
          {"confirmed",             "execution_started",      "executing",             "committed before the external call",                 "",                                     "!stopped"},
          {"confirmed",             "emergency_stopped",      "escalated",             "ext: the emergency stop was engaged before the call", "", "", "escalated [holds_thread] | notify_operator"},
          {"confirmed",             "start_refused",          "escalated",             "ext: the gate refused it just before the call, or its job died", "", "", "escalated [holds_thread] | notify_operator"},
          {"executing",             "execution_deferred",     "routed",                "ext: the vendor certainly did not act (refused to connect, 429, 503): start again later", "", "!confirmed"},
          {"executing",             "execution_deferred",     "confirmed",             "ext: as above, and it stays confirmed: a text meanwhile is kept",                        "", "confirmed"},
          {"executing",             "execution_succeeded",    "executed",              "verified at once when the change is already visible", "verify_action@verify_poll",            "",           "action_executed [primary]"},
          {"executing",             "execution_failed",       "escalated",             "result failed",                                       "", "", "escalated [holds_thread] | notify_operator"},
          {"executing",             "execution_unknown",      "escalated",             "result inconclusive",                                 "", "", "escalated [holds_thread] | notify_operator"},
          {"executed",              "verification_passed",    "verified",              "result success",                                      "", "", "verified [primary]"},
          {"executed",              "verification_failed",    "escalated",             "result failed",                                       "", "", "escalated [holds_thread] | notify_operator"},
          {"executed",              "verification_timeout",   "escalated",             "result inconclusive",                                 "", "", "escalated [holds_thread] | notify_operator"},
          {"verified",              "rollback_flagged",       "=",                     "rollback_needed = true; never undoes anything",      "", "", "escalated [thread_verified] | notify_operator"},
          {"escalated",             "rollback_flagged",       "=",                     "rollback_needed = true; never undoes anything",      "", "", "escalated [thread_verified] | notify_operator"},
      },
      {"confirm_first", "stopped", "primary", "holds_thread", "thread_verified", "confirmed"}, &ThreadMachine());
  return t;
}
// clang-format on

}  // namespace clubos::sm
