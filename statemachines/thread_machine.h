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
inline constexpr std::string_view kTakenOver = "taken_over";
inline constexpr std::string_view kHandedBack = "handed_back";
inline constexpr std::string_view kTakeoverExpired = "takeover_expired";
}  // namespace thread_event

namespace thread_guard {
// The thread's primary action is confirmed or running: a new text is kept, not routed (routing it
// now would cut the action off from its thread); it is read when the action is verified.
inline constexpr std::string_view kInFlight = "in_flight";
// An operator has taken the conversation over (threads.paused_until is in the future): a new text
// is stored and shown to them, never answered or acted on by the automation.
inline constexpr std::string_view kPaused = "paused";
}  // namespace thread_guard

// clang-format off
inline const Table& ThreadMachine() {
  static const Table t(
      "thread",
      {"received", "routed", "awaiting_confirmation", "executed", "verified", "escalated", "closed"},
      {"message_received", "routed", "confirmation_requested", "action_executed", "escalated", "confirmed",
       "rejected", "confirmation_expired", "verified", "closed", "claimed", "resolved", "taken_over",
       "handed_back", "takeover_expired"},
      {
          // from                     event                     to                       note / effects / guard
          {"-",                     "message_received",       "received",              "a new issue; the message is stored with it",                   "route_message@debounce"},
          {"received",              "message_received",       "=",                     "ext: more text before routing: the route job moves later",     "route_message@debounce", "!paused"},
          {"received",              "message_received",       "=",                     "ext: taken over: stored and shown, not routed",                "",                       "paused"},
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
          {"verified",              "message_received",       "received",              "ext: the customer wrote again: route again",                  "route_message@debounce", "!paused"},
          {"verified",              "message_received",       "received",              "ext: taken over: stored, shown, routed when handed back",      "",                       "paused"},
          {"escalated",             "claimed",                "=",                     "an operator took it"},
          {"escalated",             "resolved",               "closed",                "carries what the operator did"},
          {"escalated",             "message_received",       "=",                     "ext: stored for the operator"},
          // ext: an operator takes the conversation over (their reply, or by hand) and hands it
          // back, or the pause runs out. Only where no action of the automation is under way.
          {"received",              "taken_over",             "=",                     "ext: automation paused; the route job waits",                  "end_takeover@takeover"},
          {"received",              "handed_back",            "=",                     "ext: texts that came meanwhile are routed now",                "route_message"},
          {"received",              "takeover_expired",       "=",                     "ext: as handed back, by the timer",                            "route_message"},
          {"verified",              "taken_over",             "=",                     "ext: automation paused; the thread stays open",                "end_takeover@takeover"},
          {"verified",              "handed_back",            "=",                     "ext: the quiet period starts again",                           "close_thread@close_after"},
          {"verified",              "takeover_expired",       "=",                     "ext: as handed back, by the timer",                            "close_thread@close_after"},
          {"escalated",             "taken_over",             "=",                     "ext: automation paused while the operator talks",              "end_takeover@takeover"},
          {"escalated",             "handed_back",            "=",                     "ext: still the operators' until resolved"},
          {"escalated",             "takeover_expired",       "=",                     "ext: still the operators' until resolved"},
      },
      {"in_flight", "paused"});
  return t;
}
// clang-format on

}  // namespace clubos::sm
