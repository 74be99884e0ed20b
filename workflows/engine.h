#pragma once
// The engine that applies a transition of a persisted state machine, inside the caller's
// transaction: lock the row (or trust the caller's lock), ask the pure step function of
// statemachines/step.h for the row that applies (its guard decided by the caller's facts), write
// state, version and history in one statement, apply the row's cascade to the parent machine, and
// enqueue the effects before the transaction commits — so a transition and its consequences
// commit together or not at all. Effects belong to the state entered: if the same transaction
// moves the row on again, the earlier state's effects are dropped (an action verified in the
// transaction that executed it needs no verification job). Every flow job is enqueued here, one
// way, keyed by one recipe (workflows/jobs.h).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "statemachines/step.h"
#include "statemachines/table.h"
#include "workflows/errors.h"

namespace clubos::store {
class Tx;
}
namespace clubos::workers {
class Registry;
}

namespace clubos::workflows {

enum class Machine { kThread, kAction };

struct Applied {
  std::string from;
  std::string to;
  std::string cascaded_to = "";  // the parent's new state, when the row's cascade moved it
};

// What an action's new state records along with it (one statement with the transition).
struct ActionEffects {
  std::optional<std::string> baseline;  // entering executing
  std::optional<TimePoint> verify_deadline;
  std::optional<std::string> result;  // success | failed | inconclusive
  std::optional<std::string> error;
  std::optional<std::string> external_ref;  // JSON: what the vendor's answer left to verify
};

// What a thread's new state records along with it (one statement with the transition).
struct ThreadEffects {
  std::optional<std::string> intent;    // JSON
  std::optional<std::string> decision;  // JSON
  std::optional<int> priority;
  std::optional<int64_t> last_routed_message_id;
};

// Why a thread goes to a human: recorded on the thread in the statement that moves it to
// `escalated` (directly or by an action's cascade), and carried by an operators' notification.
struct Escalation {
  std::string code;  // the reason code (docs/api.md): action_failed, emergency_stop, ...
  std::string detail;
};

// One transition, typed. `from`: the caller holds the row's lock in this transaction and read
// this state (one statement instead of two). `data`: a JSON object for the history; its fields
// also reach the effects' job arguments.
struct Transition {
  Machine machine = Machine::kThread;
  int64_t id = 0;
  std::string_view event;
  std::string actor;
  std::string reason = "";
  std::string data = "{}";
  std::optional<std::string> from = std::nullopt;
  sm::Facts facts = {};
  int priority = 100;  // of the jobs it causes
  // An action's: its thread (0: none; the cascade's parent) and kind (its "execute" effect).
  int64_t thread_id = 0;
  std::string_view action_kind = "";
  ActionEffects action = {};
  ThreadEffects thread = {};
  std::optional<Escalation> escalation = std::nullopt;
};

// An action born decided: (none) -requested-> received -policy_decided-> routed, one statement.
struct ActionBirth {
  int64_t thread_id = 0;  // 0: an operator's action of its own
  std::string_view kind;
  std::string target;  // JSON
  std::string params;  // JSON
  std::string triggered_by;
  std::string reason;  // the SOP it follows
  std::string idempotency_key;
  std::string decision;  // JSON
  std::string outcome;   // the decision's outcome, the reason of policy_decided
  std::optional<TimePoint> confirm_expires_at = std::nullopt;
  std::optional<std::string> booking_id = std::nullopt;
  bool human_override = false;
  std::string stop_override = "";
  bool confirm_first = false;
  int priority = 100;
};

const sm::Table& TableOf(Machine machine);

class Engine {
 public:
  Engine(const sm::Timings& timings, const Clock& clock) : timings_(timings), clock_(clock) {}

  // Throws IllegalTransition (nothing written: no row, or no row's guard holds) or NotFound.
  Applied Apply(store::Tx& tx, const Transition& t);
  // The birth of a thread (from no state) in the history, with the birth row's effects.
  void BornThread(store::Tx& tx, int64_t id, const std::string& actor, const std::string& data);
  // Persists an action and its birth, with the effects of the row its decision takes.
  int64_t CreateAction(store::Tx& tx, const ActionBirth& birth);

  // Called after the commit of every thread transition that changed its state.
  void OnThreadEntered(std::function<void(int64_t thread_id, std::string_view state)> fn) {
    on_thread_entered_ = std::move(fn);
  }
  // Every job kind the tables' effects name must be registered: a typo fails at start-up.
  static void ValidateJobs(const workers::Registry& registry);

 private:
  void Schedule(store::Tx& tx, Machine machine, int64_t id, const std::vector<sm::JobEffect>& jobs,
                const std::string& data, int priority, std::string_view action_kind, bool replace);
  std::string Cascade(store::Tx& tx, const Transition& t, const sm::Row& row);
  const sm::Timings& timings_;
  const Clock& clock_;
  std::function<void(int64_t, std::string_view)> on_thread_entered_;
};

}  // namespace clubos::workflows
