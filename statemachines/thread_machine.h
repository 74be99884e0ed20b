#pragma once
// A thread: one customer issue on one conversation (customer phone + facility line).
// The names are a contract (design/state-machines.md): the API, audit SQL and outside tests use
// them. Rows added beyond the contract are marked "ext". Code names states and events by the
// constants below, never by a string of its own (tests/unit/flow_machines_test.cpp holds the
// constants to the table, and a lint test bans the literals elsewhere).
#include <string_view>

#include "statemachines/table.h"

namespace clubos::sm {

namespace thread_state {
inline constexpr std::string_view kReceived = "received";
inline constexpr std::string_view kRouted = "routed";
inline constexpr std::string_view kAwaitingConfirmation = "awaiting_confirmation";
inline constexpr std::string_view kExecuted = "executed";
inline constexpr std::string_view kVerified = "verified";
inline constexpr std::string_view kEscalated = "escalated";
inline constexpr std::string_view kClosed = "closed";
}  // namespace thread_state

namespace thread_event {
inline constexpr std::string_view kMessageReceived = "message_received";
inline constexpr std::string_view kRouted = "routed";
inline constexpr std::string_view kConfirmationRequested = "confirmation_requested";
inline constexpr std::string_view kActionExecuted = "action_executed";
inline constexpr std::string_view kEscalated = "escalated";
inline constexpr std::string_view kConfirmed = "confirmed";
inline constexpr std::string_view kRejected = "rejected";
inline constexpr std::string_view kConfirmationExpired = "confirmation_expired";
inline constexpr std::string_view kVerified = "verified";
inline constexpr std::string_view kClosed = "closed";
inline constexpr std::string_view kClaimed = "claimed";
inline constexpr std::string_view kResolved = "resolved";
}  // namespace thread_event

namespace thread_guard {
// The thread's primary action is confirmed or running: a new text is kept, not routed (routing it
// now would cut the action off from its thread); it is read when the action is verified.
inline constexpr std::string_view kInFlight = "in_flight";
}  // namespace thread_guard

// clang-format off
inline const Table& ThreadMachine() {
  static const Table t(
      "thread",
      {"received", "routed", "awaiting_confirmation", "executed", "verified", "escalated", "closed"},
      {"message_received", "routed", "confirmation_requested", "action_executed", "escalated", "confirmed",
       "rejected", "confirmation_expired", "verified", "closed", "claimed", "resolved"},
      {
          // from                     event                     to                       note / effects / guard
          {"-",                     "message_received",       "received",              "a new issue; the message is stored with it",                   "route_message@debounce"},
          {"received",              "message_received",       "=",                     "ext: more text before routing: the route job moves later",     "route_message@debounce"},
          {"received",              "routed",                 "routed",                "intent, decision and reasons stored"},
          {"received",              "escalated",              "escalated",             "ext: routing itself failed (retries_exhausted)",               "notify_operator"},
          {"routed",                "confirmation_requested", "awaiting_confirmation", "an action awaits the customer's YES"},
          {"routed",                "action_executed",        "executed",              "the target system accepted the action"},
          {"routed",                "escalated",              "escalated",             "reason code required",                                         "notify_operator"},
          {"routed",                "message_received",       "received",              "new text: the action not started is cancelled, route again",   "route_message@debounce", "!in_flight"},
          {"routed",                "message_received",       "=",                     "ext: kept; read when the action is verified",                  "",                       "in_flight"},
          {"awaiting_confirmation", "confirmed",              "=",                     "customer YES or API (cascaded from the action)"},
          {"awaiting_confirmation", "rejected",               "closed",                "customer NO or operator (cascaded from the action)"},
          {"awaiting_confirmation", "confirmation_expired",   "escalated",             "reason not_confirmed (cascaded from the action)",              "notify_operator"},
          {"awaiting_confirmation", "action_executed",        "executed",              ""},
          {"awaiting_confirmation", "escalated",              "escalated",             "",                                                             "notify_operator"},
          {"awaiting_confirmation", "message_received",       "received",              "other text: the pending action is cancelled, route again",    "route_message@debounce", "!in_flight"},
          {"awaiting_confirmation", "message_received",       "=",                     "ext: confirmed already: kept, read when the action is verified", "",                     "in_flight"},
          {"executed",              "verified",               "verified",              "post-action state check passed",                               "close_thread@close_after"},
          {"executed",              "escalated",              "escalated",             "",                                                             "notify_operator"},
          {"executed",              "message_received",       "=",                     "ext: kept; read when the action is verified"},
          {"verified",              "escalated",              "escalated",             "ext: its action was flagged rollback_needed",                  "notify_operator"},
          {"verified",              "closed",                 "closed",                "after a quiet period, or operator"},
          {"verified",              "message_received",       "received",              "ext: the customer wrote again: route again",                  "route_message@debounce"},
          {"escalated",             "claimed",                "=",                     "an operator took it"},
          {"escalated",             "resolved",               "closed",                "carries what the operator did"},
          {"escalated",             "message_received",       "=",                     "ext: stored for the operator"},
      },
      {"in_flight"});
  return t;
}
// clang-format on

}  // namespace clubos::sm
