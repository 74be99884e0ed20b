#pragma once
// Every kind of action ClubOS performs, in one table: whether it touches the facility (then the
// gate, the emergency stop and the cooldown apply), the autonomy profile's category whose rules
// govern it, whether it carries a text, the job that executes it, whether the vendors' call may
// be repeated with the same idempotency key after an unknown outcome, and what verifies it. The SQL
// CHECK on actions.kind holds the same names (tests/unit/action_kinds_test.cpp holds them
// together).
#include <array>
#include <string_view>

namespace clubos {

struct ActionKind {
  std::string_view name;
  std::string_view category;  // "" for kinds no profile category governs
  bool physical = false;      // resets, reboots, unlocks: the world changes
  bool says = false;          // carries a text: what to say
  std::string_view job;       // the job kind that executes it
  // The vendor's call is harmless twice (a Slack post, a ticket): after an unknown outcome it is
  // repeated; any other kind is looked at first and never called again (integrations/facility).
  bool vendor_idempotent = false;
  std::string_view verified_by = "";  // the evidence that the world changed
};

inline constexpr std::array<ActionKind, 6> kActionKinds = {{
    {"reset_trackman", "tech", true, false, "execute_action", false,
     "a script run completed after the baseline, and the PC checked in since"},
    {"reboot_pc", "tech", true, false, "execute_action", false,
     "the PC's last boot is later than the baseline's"},
    {"unlock_door", "access", true, false, "execute_action", false,
     "the door's log shows an opening by this action's actor"},
    {"send_message", "", false, true, "send_message", false,
     "the carrier reports the message delivered"},
    {"notify_operator", "", false, true, "execute_action", true, "the channel accepted the post"},
    {"create_ticket", "", false, true, "execute_action", true, "the channel accepted the post"},
}};

// nullptr for a name that is no action kind.
constexpr const ActionKind* FindActionKind(std::string_view name) {
  for (const auto& k : kActionKinds)
    if (k.name == name) return &k;
  return nullptr;
}

constexpr bool IsPhysicalKind(std::string_view name) {
  const ActionKind* k = FindActionKind(name);
  return k && k->physical;
}

// The profile's category of a kind ("" for kinds no category governs, and unknown names).
constexpr std::string_view CategoryOfKind(std::string_view name) {
  const ActionKind* k = FindActionKind(name);
  return k ? k->category : std::string_view();
}

}  // namespace clubos
