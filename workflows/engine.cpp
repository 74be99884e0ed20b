#include "workflows/engine.h"

#include "statemachines/action_machine.h"
#include "statemachines/thread_machine.h"
#include "store/db.h"

namespace clubos::workflows {
namespace {

const char* EntityName(Machine m) {
  return m == Machine::kThread ? "thread" : "action";
}

}  // namespace

const sm::Table& TableOf(Machine machine) {
  return machine == Machine::kThread ? sm::ThreadMachine() : sm::ActionMachine();
}

Applied Apply(store::Tx& tx, Machine machine, int64_t id, const std::string& event,
              const std::string& actor, const std::string& reason, const std::string& data,
              const std::optional<std::string>& locked_state) {
  const bool thread = machine == Machine::kThread;
  std::string from;
  if (locked_state) {
    from = *locked_state;
  } else {
    auto row = tx.Exec(thread ? "thread_state_lock" : "action_state_lock", {id});
    if (row.Empty())
      throw NotFound(std::string(EntityName(machine)) + " " + std::to_string(id) +
                     " does not exist");
    from = row.At(0, "state").Str();
  }
  const auto to = TableOf(machine).Next(from, event);
  if (!to) throw IllegalTransition(EntityName(machine), id, from, event);
  std::vector<store::Param> params = {
      id,    from,  std::string(*to),
      event, actor, reason.empty() ? std::optional<std::string>() : reason,
      data};
  if (!thread) params.insert(params.end(), {nullptr, nullptr, nullptr, nullptr});
  auto moved = tx.Exec(thread ? "thread_transition" : "action_transition", params);
  // The row is locked by this transaction, so the compare-and-set cannot lose a race; no row means
  // the caller's `locked_state` was wrong.
  if (moved.Empty())
    throw std::logic_error(std::string(EntityName(machine)) + " " + std::to_string(id) +
                           " is not " + from);
  return {from, std::string(*to)};
}

Applied ApplyAction(store::Tx& tx, int64_t id, const std::string& event, const std::string& actor,
                    const std::string& reason, const std::string& locked_state,
                    const ActionEffects& fx) {
  const auto to = TableOf(Machine::kAction).Next(locked_state, event);
  if (!to) throw IllegalTransition("action", id, locked_state, event);
  auto moved =
      tx.Exec("action_transition", {id, locked_state, std::string(*to), event, actor,
                                    reason.empty() ? std::optional<std::string>() : reason, "{}",
                                    fx.baseline, fx.verify_deadline, fx.result, fx.error});
  if (moved.Empty())
    throw std::logic_error("action " + std::to_string(id) + " is not " + locked_state);
  return {locked_state, std::string(*to)};
}

void RecordCreated(store::Tx& tx, Machine machine, int64_t id, const std::string& event,
                   const std::string& to, const std::string& actor, const std::string& data) {
  tx.Exec("transition_insert", {EntityName(machine), id, nullptr, event, to, actor, nullptr, data});
}

}  // namespace clubos::workflows
