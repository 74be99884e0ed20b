#pragma once
// The one function that applies a transition of a persisted state machine, inside the caller's
// transaction: lock the row, check (state, event) against the table, write the new state and
// version, append the history row. The caller enqueues the consequences in the same transaction,
// so a transition and its effects commit together or not at all.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "core/clock.h"
#include "statemachines/table.h"

namespace clubos::store {
class Tx;
}

namespace clubos::workflows {

enum class Machine { kThread, kAction };

class IllegalTransition : public std::runtime_error {
 public:
  IllegalTransition(std::string entity, int64_t id, std::string state, std::string event)
      : std::runtime_error(entity + " " + std::to_string(id) + " is " + state + ": event " + event +
                           " is not allowed there"),
        entity_(std::move(entity)),
        state_(std::move(state)),
        event_(std::move(event)) {}
  const std::string& state() const { return state_; }
  const std::string& event() const { return event_; }

 private:
  std::string entity_, state_, event_;
};

class NotFound : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Applied {
  std::string from;
  std::string to;
};

// Throws IllegalTransition (nothing written) or NotFound. `data` is a JSON object for the history.
// `locked_state`: the caller already holds the row's lock in this transaction and read this state;
// the transition then costs one statement instead of two.
Applied Apply(store::Tx& tx, Machine machine, int64_t id, const std::string& event,
              const std::string& actor, const std::string& reason = "",
              const std::string& data = "{}",
              const std::optional<std::string>& locked_state = std::nullopt);
// What an action's new state records along with it (one statement with the transition).
struct ActionEffects {
  std::optional<std::string> baseline;  // entering executing
  std::optional<TimePoint> verify_deadline;
  std::optional<std::string> result;  // success | failed | inconclusive
  std::optional<std::string> error;
};
Applied ApplyAction(store::Tx& tx, int64_t id, const std::string& event, const std::string& actor,
                    const std::string& reason, const std::string& locked_state,
                    const ActionEffects& effects);

// Records the birth of a row (from no state) in the history.
void RecordCreated(store::Tx& tx, Machine machine, int64_t id, const std::string& event,
                   const std::string& to, const std::string& actor, const std::string& data = "{}");
const sm::Table& TableOf(Machine machine);

}  // namespace clubos::workflows
