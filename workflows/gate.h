#pragma once
// The gate every physical action passes, whoever asked for it, in one place: the router's
// decisions, a customer's confirmation, an operator's performAction and an approved suggestion
// (defects-850d4a5 D1 was a path around it). It is asked twice: when a person's request creates
// the action (a refusal is the API's answer, nothing is written), and again in the transaction
// that commits `executing`, just before the call — what held when the action was decided may not
// hold minutes later (the stop engaged, the bay reset by someone else, the booking over).
#include <cstdint>
#include <optional>
#include <string>

#include "core/action_kinds.h"
#include "core/clock.h"
#include "core/config.h"

namespace clubos::store {
class Tx;
}

namespace clubos::workflows {

class PolicyStore;

struct GateInput {
  enum class Stage {
    kRequest,  // a person asks for it (performAction, a suggestion's approval)
    kStart,    // a worker is about to make the call
  };
  Stage stage = Stage::kStart;
  int64_t action_id = 0;  // at kStart: the action itself, left out of its asset's history
  std::string kind;
  std::string location;
  std::string device_id;     // the asset: the bay PC or the door
  std::string triggered_by;  // router | chain | operator:<name>
  bool admin = false;        // at kRequest: the person holds the admin role
  // An admin's explicit, recorded override of an engaged emergency stop ("" none).
  std::string stop_override;
  std::optional<std::string> booking_id;
  // Whether the booking must be within its access window (an autonomous unlock, or one an
  // operator approves from a suggestion: its only ground was the booking).
  bool booking_required = false;

  bool Autonomous() const { return triggered_by == "router" || triggered_by == "chain"; }
};

struct GateRefusal {
  // forbidden (the API answers 403) | emergency_stop | cooldown | no_booking | policy_denied
  std::string code;
  std::string detail;
};

class ActionGate {
 public:
  ActionGate(const Config& config, const Clock& clock, const PolicyStore& policy)
      : config_(config), clock_(clock), policy_(policy) {}

  // nullopt: the action may go on. Locks the asset (pg_advisory_xact_lock) while it reads the
  // asset's executions, so two workers starting actions on one bay take turns.
  std::optional<GateRefusal> Check(store::Tx& tx, const GateInput& in) const;
  // The emergency stop alone: a physical action an engaged stop covers, without an admin's
  // override for it. Asked before an inherited call is repeated, which acts again.
  std::optional<GateRefusal> Stopped(store::Tx& tx, const GateInput& in) const;

 private:
  const Config& config_;
  const Clock& clock_;
  const PolicyStore& policy_;
};

}  // namespace clubos::workflows
