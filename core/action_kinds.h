#pragma once
// Every kind of action ClubOS performs, in one table: whether it touches the facility (then the
// gate, the emergency stop and the cooldown apply), the autonomy profile's category whose rules
// govern it, whether it carries a text, and the job that executes it. The SQL CHECK on
// actions.kind holds the same names (tests/unit/action_kinds_test.cpp holds them together).
#include <array>
#include <string_view>

namespace clubos {

struct ActionKind {
  std::string_view name;
  std::string_view category;  // "" for kinds no profile category governs
  bool physical = false;      // resets, reboots, unlocks: the world changes
  bool says = false;          // carries a text: what to say
  std::string_view job;       // the job kind that executes it
};

inline constexpr std::array<ActionKind, 6> kActionKinds = {{
    {"reset_trackman", "tech", true, false, "execute_action"},
    {"reboot_pc", "tech", true, false, "execute_action"},
    {"unlock_door", "access", true, false, "execute_action"},
    {"send_message", "", false, true, "send_message"},
    {"notify_operator", "", false, true, "execute_action"},
    {"create_ticket", "", false, true, "execute_action"},
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
