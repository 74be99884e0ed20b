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

// The caller may not do this (the API answers 403), e.g. approving one's own policy proposal.
class Forbidden : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The request is well-formed and allowed, but the state of the world refuses it now (the API
// answers 409 with `code`): a claim held by someone else, an emergency stop, a stale suggestion.
class Conflict : public std::runtime_error {
 public:
  Conflict(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

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
