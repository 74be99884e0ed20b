#pragma once
// Where the policy's inputs live: the versioned autonomy profile (proposed, approved by another
// admin, applied atomically, restorable), the controls (emergency stop per scope, auto-send and
// auto-execute), and the facts a decision reads, gathered in the caller's transaction.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "workflows/policy.h"

namespace clubos::store {
class Connection;
class Tx;
}  // namespace clubos::store

namespace clubos::workflows {

struct EmergencyStop {
  std::string scope;  // global | location:<id> | category:<name>
  std::string reason;
  std::string by;
  TimePoint at{};
};

// One stored decision run again under another profile.
struct ReplayedDecision {
  int64_t thread_id = 0;
  TimePoint decided_at{};
  std::string before;  // outcome[/reason] as decided
  std::string after;   // under the proposal
  std::vector<std::string> reasons_after;
};
struct ReplayReport {
  int64_t profile_version = 0;
  int64_t replayed = 0;
  std::vector<ReplayedDecision> changed;
};

// A booking from the booking system (POST /v1/bookings).
struct BookingInput {
  std::string id;
  std::string location;
  std::optional<int64_t> bay;  // checked against the facility before it is narrowed
  std::string customer_phone;
  TimePoint start{};
  TimePoint end{};
  bool customer_flagged = false;
};

// Approving a proposal whose base is no longer the active version (another proposal was approved,
// or a version restored, since it was made): applying it would silently revert that change. The
// API answers 409 with the diff: what approving it now would change against the active version.
class VersionConflict : public std::runtime_error {
 public:
  VersionConflict(int64_t proposal, std::optional<int64_t> based_on, int64_t active,
                  std::string diff_json);
  int64_t proposal() const { return proposal_; }
  int64_t active() const { return active_; }
  // [{"path": ..., "from": <active>, "to": <proposal>}, ...]
  const std::string& diff_json() const { return diff_json_; }

 private:
  int64_t proposal_;
  int64_t active_;
  std::string diff_json_;
};

// An intent as a routing transition stored it (RoutingStep::Decide): what replays decide again.
Intent IntentFromJson(const std::string& intent_json);

class PolicyStore {
 public:
  // InvalidProfile when the configuration's profile is one a proposal could not be (a category
  // the router never concludes, a value out of its bound): refused at start-up, not at first use.
  PolicyStore(const Config& config, const Clock& clock);

  // The first version from the config file, when the database has none (idempotent).
  void Bootstrap(store::Connection& db) const;
  // The active profile with its version (bootstrapping it when there is none).
  Profile Active(store::Tx& tx) const;

  // A proposal with its diff against the active version, based on it; InvalidProfile on a bad
  // profile (Profile::FromProposal).
  int64_t Propose(store::Connection& db, const std::string& profile_json, const std::string& note,
                  const std::string& actor) const;
  // Applies a proposal atomically. Forbidden when `actor` proposed it; IllegalTransition when it
  // is not a pending proposal; VersionConflict when the active version is no longer the one it
  // is based on; NotFound. Concurrent approvals and restores take turns: one wins, the others
  // find their proposal stale.
  void Approve(store::Connection& db, int64_t version, const std::string& actor) const;
  void Reject(store::Connection& db, int64_t version, const std::string& actor) const;
  // Makes an earlier version's profile active again, as a new version. Returns its id.
  int64_t Restore(store::Connection& db, int64_t version, const std::string& actor,
                  const std::string& note) const;

  // Runs the decision function with version `version`'s profile over every decision stored since
  // `since` (same intent, same facts) and reports which would change. Reads only.
  ReplayReport Replay(store::Connection& db, int64_t version, TimePoint since) const;

  // Validates against the facility (InvalidInput) and stores it;
  // true when it was new.
  bool UpsertBooking(store::Connection& db, const BookingInput& booking) const;

  std::vector<EmergencyStop> Stops(store::Tx& tx) const;
  // The engaged stop covering a location and category ("" when none).
  static std::string StopCovering(const std::vector<EmergencyStop>& stops,
                                  const std::string& location, const std::string& category);

  // What a decision about `plan` (nullopt: none could be made) for a customer at a location
  // reads: the active profile and the facts. The profile, the stops and the toggles come in one
  // statement (this runs for every routing). Locks the plan's asset first, so deciders for one
  // bay or door take turns and each sees the actions the previous one created.
  struct Inputs {
    Profile profile;
    Facts facts;
  };
  Inputs Gather(store::Tx& tx, const Location& location, const std::string& category,
                const std::optional<ActionPlan>& plan, const std::string& customer_phone,
                int64_t thread_id, bool rapid) const;

 private:
  // Serializes every change of the active version, then reads it (bootstrapping it when there is
  // none).
  Profile LockActive(store::Tx& tx) const;
  // Stores the configuration's profile as version 1 when there is no version yet.
  void BootstrapIn(store::Tx& tx) const;

  const Config& config_;
  const Clock& clock_;
};

}  // namespace clubos::workflows
