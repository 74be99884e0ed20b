#pragma once
// A thread: one customer issue on one conversation (customer phone + facility line).
// The names are a contract (design/state-machines.md): the API, audit SQL and outside tests use
// them. Rows added beyond the contract are marked "ext".
#include "statemachines/table.h"

namespace clubos::sm {

// clang-format off
inline const Table& ThreadMachine() {
  static const Table t(
      "thread",
      {"received", "routed", "awaiting_confirmation", "executed", "verified", "escalated", "closed"},
      {"message_received", "routed", "confirmation_requested", "action_executed", "escalated", "confirmed",
       "rejected", "confirmation_expired", "verified", "closed", "claimed", "resolved"},
      {
          // from                     event                     to                       note / effects
          {"-",                     "message_received",       "received",              "a new issue; the message is stored with it",                   "route_message@debounce"},
          {"received",              "message_received",       "=",                     "ext: more text before routing: the route job moves later",     "route_message@debounce"},
          {"received",              "routed",                 "routed",                "intent, decision and reasons stored"},
          {"received",              "escalated",              "escalated",             "ext: routing itself failed (retries_exhausted)",               "notify_operator"},
          {"routed",                "confirmation_requested", "awaiting_confirmation", "an action awaits the customer's YES"},
          {"routed",                "action_executed",        "executed",              "the target system accepted the action"},
          {"routed",                "escalated",              "escalated",             "reason code required",                                         "notify_operator"},
          {"routed",                "message_received",       "received",              "new text: route again",                                        "route_message@debounce"},
          {"awaiting_confirmation", "confirmed",              "=",                     "customer YES or API: the action starts executing",            "execute_action"},
          {"awaiting_confirmation", "rejected",               "closed",                "customer NO or operator"},
          {"awaiting_confirmation", "confirmation_expired",   "escalated",             "reason not_confirmed",                                         "notify_operator"},
          {"awaiting_confirmation", "action_executed",        "executed",              ""},
          {"awaiting_confirmation", "escalated",              "escalated",             "",                                                             "notify_operator"},
          {"awaiting_confirmation", "message_received",       "received",              "other text: the pending action is cancelled, route again",    "route_message@debounce"},
          {"executed",              "verified",               "verified",              "post-action state check passed",                               "close_thread@close_after"},
          {"executed",              "escalated",              "escalated",             "",                                                             "notify_operator"},
          {"executed",              "message_received",       "=",                     "ext: kept; read when the action is verified"},
          {"verified",              "escalated",              "escalated",             "ext: its action was flagged rollback_needed",                  "notify_operator"},
          {"verified",              "closed",                 "closed",                "after a quiet period, or operator"},
          {"verified",              "message_received",       "received",              "ext: the customer wrote again: route again",                  "route_message@debounce"},
          {"escalated",             "claimed",                "=",                     "an operator took it"},
          {"escalated",             "resolved",               "closed",                "carries what the operator did"},
          {"escalated",             "message_received",       "=",                     "ext: stored for the operator"},
      });
  return t;
}
// clang-format on

}  // namespace clubos::sm
