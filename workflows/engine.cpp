#include "workflows/engine.h"

#include <map>
#include <nlohmann/json.hpp>

#include "statemachines/action_machine.h"
#include "statemachines/thread_machine.h"
#include "store/db.h"
#include "workers/queue.h"

namespace clubos::workflows {
namespace {

using nlohmann::json;

const char* EntityName(Machine m) {
  return m == Machine::kThread ? "thread" : "action";
}

// The jobs the rows touched by one transaction will cause, by row: the latest state wins.
struct PendingEffects {
  struct Entry {
    std::vector<workers::EnqueueRequest> jobs;
  };
  std::map<std::pair<int, int64_t>, Entry> by_row;
  bool hooked = false;
};

}  // namespace

const sm::Table& TableOf(Machine machine) {
  return machine == Machine::kThread ? sm::ThreadMachine() : sm::ActionMachine();
}

sm::Step Engine::Step(Machine machine, int64_t id, const std::string& from,
                      const std::string& event) {
  auto step = sm::Decide(TableOf(machine), from, event, clock_.Now(), timings_);
  if (!step) throw IllegalTransition(EntityName(machine), id, from, event);
  return *step;
}

void Engine::Schedule(store::Tx& tx, Machine machine, int64_t id, const sm::Step& step,
                      const std::string& data, int priority) {
  auto& pending = tx.Local<PendingEffects>();
  auto& entry = pending.by_row[{static_cast<int>(machine), id}];
  entry.jobs.clear();  // the state this row leaves takes its effects with it
  if (step.jobs.empty()) return;
  json args = json::parse(data, nullptr, false);
  if (!args.is_object()) args = json::object();
  args[machine == Machine::kThread ? "thread_id" : "action_id"] = id;
  for (const auto& job : step.jobs) {
    workers::EnqueueRequest req;
    req.kind = job.kind;
    req.args = args.dump();
    req.priority = priority;
    if (job.run_at > clock_.Now()) req.run_at = job.run_at;
    // One pending job of a kind per subject: the row, or for an execution the action it runs.
    const int64_t subject = job.kind == "execute_action" && args.contains("action_id")
                                ? args.at("action_id").get<int64_t>()
                                : id;
    if (job.kind != "notify_operator") req.unique_key = job.kind + ":" + std::to_string(subject);
    if (job.debounced) req.key_mode = workers::KeyMode::kReplace;
    entry.jobs.push_back(std::move(req));
  }
  if (!pending.hooked) {
    pending.hooked = true;
    const Clock& clock = clock_;
    tx.BeforeCommit([&pending, &clock](store::Tx& t) {
      for (auto& [row, e] : pending.by_row)
        for (const auto& req : e.jobs) workers::Enqueue(t, req, clock);
    });
  }
}

Applied Engine::Apply(store::Tx& tx, Machine machine, int64_t id, const std::string& event,
                      const std::string& actor, const std::string& reason, const std::string& data,
                      const std::optional<std::string>& locked_state, int priority) {
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
  const sm::Step step = Step(machine, id, from, event);
  std::vector<store::Param> params = {
      id,  from, step.to, event, actor, reason.empty() ? std::optional<std::string>() : reason,
      data};
  params.insert(params.end(), {nullptr, nullptr, nullptr, nullptr});
  if (!thread) params.insert(params.end(), {nullptr, clock_.DbNow()});  // vendor ref, now
  auto moved = tx.Exec(thread ? "thread_transition" : "action_transition", params);
  // The row is locked by this transaction, so the compare-and-set cannot lose a race; no row means
  // the caller's `locked_state` was wrong.
  if (moved.Empty())
    throw std::logic_error(std::string(EntityName(machine)) + " " + std::to_string(id) +
                           " is not " + from);
  Schedule(tx, machine, id, step, data, priority);
  return {from, step.to};
}

Applied Engine::ApplyThread(store::Tx& tx, int64_t id, const std::string& event,
                            const std::string& actor, const std::string& reason,
                            const std::string& data, const std::string& locked_state,
                            const ThreadEffects& fx) {
  const sm::Step step = Step(Machine::kThread, id, locked_state, event);
  auto moved = tx.Exec("thread_transition",
                       {id, locked_state, step.to, event, actor,
                        reason.empty() ? std::optional<std::string>() : reason, data, fx.intent,
                        fx.decision, fx.priority, fx.last_routed_message_id});
  if (moved.Empty())
    throw std::logic_error("thread " + std::to_string(id) + " is not " + locked_state);
  Schedule(tx, Machine::kThread, id, step, data, fx.priority.value_or(100));
  return {locked_state, step.to};
}

Applied Engine::ApplyAction(store::Tx& tx, int64_t id, const std::string& event,
                            const std::string& actor, const std::string& reason,
                            const std::string& locked_state, const ActionEffects& fx) {
  const sm::Step step = Step(Machine::kAction, id, locked_state, event);
  auto moved = tx.Exec("action_transition",
                       {id, locked_state, step.to, event, actor,
                        reason.empty() ? std::optional<std::string>() : reason, "{}", fx.baseline,
                        fx.verify_deadline, fx.result, fx.error, fx.external_ref, clock_.DbNow()});
  if (moved.Empty())
    throw std::logic_error("action " + std::to_string(id) + " is not " + locked_state);
  Schedule(tx, Machine::kAction, id, step, "{}", 100);
  return {locked_state, step.to};
}

void Engine::Created(store::Tx& tx, Machine machine, int64_t id, const std::string& event,
                     const std::string& actor, const std::string& data) {
  const sm::Step step = Step(machine, id, "-", event);
  tx.Exec("transition_insert",
          {EntityName(machine), id, nullptr, event, step.to, actor, nullptr, data});
  Schedule(tx, machine, id, step, data, 100);
}

}  // namespace clubos::workflows
