#pragma once
// The engine that applies a transition of a persisted state machine, inside the caller's
// transaction: lock the row (or trust the caller's lock), ask the pure step function of
// statemachines/step.h for the new state and its effects, write state, version and history in one
// statement, and enqueue the effects before the transaction commits — so a transition and its
// consequences commit together or not at all. Effects belong to the state entered: if the same
// transaction moves the row on again, the earlier state's effects are dropped (an action verified
// in the transaction that executed it needs no verification job).
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "core/clock.h"
#include "statemachines/step.h"
#include "statemachines/table.h"
#include "workflows/errors.h"

namespace clubos::store {
class Tx;
}

namespace clubos::workflows {

enum class Machine { kThread, kAction };

struct Applied {
  std::string from;
  std::string to;
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

const sm::Table& TableOf(Machine machine);

class Engine {
 public:
  Engine(const sm::Timings& timings, const Clock& clock) : timings_(timings), clock_(clock) {}

  // Throws IllegalTransition (nothing written) or NotFound. `data` is a JSON object for the
  // history; its fields also reach the effects' job arguments. `locked_state`: the caller already
  // holds the row's lock in this transaction and read this state (one statement instead of two).
  // `priority`: of the jobs the transition causes.
  Applied Apply(store::Tx& tx, Machine machine, int64_t id, const std::string& event,
                const std::string& actor, const std::string& reason = "",
                const std::string& data = "{}",
                const std::optional<std::string>& locked_state = std::nullopt, int priority = 100);
  Applied ApplyThread(store::Tx& tx, int64_t id, const std::string& event, const std::string& actor,
                      const std::string& reason, const std::string& data,
                      const std::string& locked_state, const ThreadEffects& effects);
  Applied ApplyAction(store::Tx& tx, int64_t id, const std::string& event, const std::string& actor,
                      const std::string& reason, const std::string& locked_state,
                      const ActionEffects& effects);
  // Records the birth of a row (from no state) in the history, with the birth row's effects.
  void Created(store::Tx& tx, Machine machine, int64_t id, const std::string& event,
               const std::string& actor, const std::string& data = "{}");

 private:
  sm::Step Step(Machine machine, int64_t id, const std::string& from, const std::string& event);
  void Schedule(store::Tx& tx, Machine machine, int64_t id, const sm::Step& step,
                const std::string& data, int priority);
  const sm::Timings& timings_;
  const Clock& clock_;
};

}  // namespace clubos::workflows
