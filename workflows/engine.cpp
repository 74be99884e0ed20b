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
              const std::string& actor, const std::string& reason, const std::string& data) {
  const bool thread = machine == Machine::kThread;
  auto row = tx.Exec(thread ? "thread_lock" : "action_lock", {id});
  if (row.Empty())
    throw NotFound(std::string(EntityName(machine)) + " " + std::to_string(id) + " does not exist");
  const std::string from = row.At(0, "state").Str();
  const auto to = TableOf(machine).Next(from, event);
  if (!to) throw IllegalTransition(EntityName(machine), id, from, event);
  // The row is locked, so the compare-and-set cannot lose; it guards against a caller bug.
  auto set =
      tx.Exec(thread ? "thread_set_state" : "action_set_state", {id, std::string(*to), from});
  if (set.Empty()) throw std::logic_error("state changed under a row lock");
  tx.Exec("transition_insert", {EntityName(machine), id, from, event, std::string(*to), actor,
                                reason.empty() ? std::optional<std::string>() : reason, data});
  return {from, std::string(*to)};
}

void RecordCreated(store::Tx& tx, Machine machine, int64_t id, const std::string& event,
                   const std::string& to, const std::string& actor, const std::string& data) {
  tx.Exec("transition_insert", {EntityName(machine), id, nullptr, event, to, actor, nullptr, data});
}

}  // namespace clubos::workflows
