#include "workflows/gate.h"

#include "store/db.h"
#include "workflows/policy.h"
#include "workflows/policy_store.h"

namespace clubos::workflows {

// The emergency stop halts every physical action, a person's too, unless an admin overrode it
// explicitly for this action (recorded in its history when it was requested).
std::optional<GateRefusal> ActionGate::Stopped(store::Tx& tx, const GateInput& in) const {
  if (!IsPhysicalKind(in.kind) || !in.stop_override.empty()) return std::nullopt;
  const std::string stop = PolicyStore::StopCovering(policy_.Stops(tx), in.location,
                                                     std::string(CategoryOfKind(in.kind)));
  if (stop.empty()) return std::nullopt;
  return GateRefusal{"emergency_stop", "emergency stop engaged (" + stop + ")"};
}

std::optional<GateRefusal> ActionGate::Check(store::Tx& tx, const GateInput& in) const {
  if (!IsPhysicalKind(in.kind)) return std::nullopt;  // words, not the world
  const bool request = in.stage == GateInput::Stage::kRequest;
  const std::string category(CategoryOfKind(in.kind));

  // Who may ask: a door is opened by hand by admins only, whichever route the request takes.
  if (request && !in.Autonomous() && in.kind == "unlock_door" && !in.admin)
    return GateRefusal{"forbidden", "unlocking a door by hand needs the admin role"};

  if (auto stopped = Stopped(tx, in)) return stopped;

  const bool autonomous = in.Autonomous();
  if (!autonomous && !in.booking_required) return std::nullopt;  // a person decided

  // The asset's history is read under its lock: two starts on one bay take turns, and the second
  // sees the first's started_at (committed with `executing`).
  tx.Exec("asset_lock", {in.device_id});
  const Profile profile = policy_.Active(tx);
  if (autonomous && !request) {
    const auto rules = profile.categories.find(category);
    const int cooldown = rules == profile.categories.end() ? 0 : rules->second.cooldown_seconds;
    if (cooldown > 0) {
      const auto since = tx.Exec("asset_last_start", {in.device_id, in.action_id, clock_.DbNow()})
                             .At(0, "since_last")
                             .OptInt64();
      if (since && *since < cooldown)
        return GateRefusal{"cooldown", in.device_id + " was acted on " + std::to_string(*since) +
                                           " s ago (cooldown " + std::to_string(cooldown) + " s)"};
    }
    if (in.kind == "unlock_door" && in.booking_id) {
      const int64_t others =
          tx.Exec("booking_unlocks_started", {*in.booking_id, in.action_id}).At(0, "n").Int64();
      if (others >= profile.limits.max_unlocks_per_booking)
        return GateRefusal{"policy_denied", "the door was already unlocked for booking " +
                                                *in.booking_id + " and that unlock did not fail"};
    }
  }

  if (in.booking_required && in.kind == "unlock_door") {
    if (!in.booking_id) return GateRefusal{"no_booking", "the unlock names no booking"};
    const auto b = tx.Exec("booking_get", {*in.booking_id});
    if (b.Empty()) return GateRefusal{"no_booking", "booking " + *in.booking_id + " is gone"};
    const auto rules = profile.categories.find("access");
    const int before = rules == profile.categories.end() ? 0 : rules->second.booking_window_minutes;
    if (!WithinAccessWindow(b.At(0, "start_at").Time(), b.At(0, "end_at").Time(), before,
                            clock_.Now()))
      return GateRefusal{"no_booking", "booking " + *in.booking_id + " is not within its window"};
  }
  return std::nullopt;
}

}  // namespace clubos::workflows
