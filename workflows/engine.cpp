#include "workflows/engine.h"

#include <map>
#include <nlohmann/json.hpp>

#include "core/action_kinds.h"
#include "core/assert.h"
#include "statemachines/action_machine.h"
#include "statemachines/thread_machine.h"
#include "store/db.h"
#include "workers/job.h"
#include "workers/queue.h"
#include "workflows/jobs.h"

namespace clubos::workflows {
namespace {

using nlohmann::json;
namespace ts = sm::thread_state;

const char* EntityName(Machine m) {
  return m == Machine::kThread ? "thread" : "action";
}

// The jobs the rows touched by one transaction will cause, by row: the latest state wins.
struct PendingEffects {
  std::map<std::pair<int, int64_t>, std::vector<workers::EnqueueRequest>> by_row;
  bool hooked = false;
};

// The states this transaction's transitions left threads in: every state change goes through the
// engine, so a cascade to a thread moved earlier in the transaction needs no query (its lock is
// held since).
struct ThreadStates {
  std::map<int64_t, std::string> by_id;
};

std::optional<std::string> NonEmpty(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

json Object(const std::string& data) {
  json j = json::parse(data, nullptr, false);
  return j.is_object() ? j : json::object();
}

}  // namespace

const sm::Table& TableOf(Machine machine) {
  return machine == Machine::kThread ? sm::ThreadMachine() : sm::ActionMachine();
}

void Engine::ValidateJobs(const workers::Registry& registry) {
  for (const sm::Table* table : {&sm::ThreadMachine(), &sm::ActionMachine()})
    for (std::string_view kind : table->JobKinds()) {
      std::vector<std::string_view> jobs = {kind};
      if (kind == sm::kExecuteEffect) {
        jobs.clear();
        for (const auto& k : kActionKinds) jobs.push_back(k.job);
      }
      for (std::string_view job : jobs)
        if (!FindFlowJob(job) || !registry.Find(std::string(job)))
          throw std::logic_error(std::string(table->name()) + " table: job kind '" +
                                 std::string(job) + "' is not a registered flow job");
    }
}

void Engine::Schedule(store::Tx& tx, Machine machine, int64_t id,
                      const std::vector<sm::JobEffect>& jobs, const std::string& data, int priority,
                      std::string_view action_kind, bool replace) {
  auto& pending = tx.Local<PendingEffects>();
  auto& entry = pending.by_row[{static_cast<int>(machine), id}];
  if (replace) entry.clear();  // the state this row leaves takes its effects with it
  if (jobs.empty()) return;
  json args = Object(data);
  args[machine == Machine::kThread ? "thread_id" : "action_id"] = id;
  for (const auto& job : jobs) {
    std::string kind = job.kind;
    if (kind == sm::kExecuteEffect) {
      const ActionKind* k = FindActionKind(action_kind);
      CLUBOS_ASSERT(machine == Machine::kAction && k, "an execute effect needs the action's kind");
      kind = std::string(k->job);
    }
    const FlowJob* spec = FindFlowJob(kind);
    CLUBOS_ASSERT(spec, "an effect of no flow job kind");
    workers::EnqueueRequest req;
    req.kind = kind;
    req.args = args.dump();
    req.priority = priority;
    if (job.run_at > clock_.Now()) req.run_at = job.run_at;
    if (spec->unique_per_row) req.unique_key = kind + ":" + std::to_string(id);
    if (job.debounced) req.key_mode = workers::KeyMode::kReplace;
    entry.push_back(std::move(req));
  }
  if (!pending.hooked) {
    pending.hooked = true;
    const Clock& clock = clock_;
    tx.BeforeCommit([&pending, &clock](store::Tx& t) {
      for (auto& [row, reqs] : pending.by_row)
        for (const auto& req : reqs) workers::Enqueue(t, req, clock);
    });
  }
}

Applied Engine::Apply(store::Tx& tx, const Transition& t) {
  const bool thread = t.machine == Machine::kThread;
  std::string from;
  if (t.from) {
    from = *t.from;
  } else {
    auto row = tx.Exec(thread ? "thread_state_lock" : "action_state_lock", {t.id});
    if (row.Empty())
      throw NotFound(std::string(EntityName(t.machine)) + " " + std::to_string(t.id) +
                     " does not exist");
    from = row.At(0, "state").Str();
  }
  const auto step = sm::Decide(TableOf(t.machine), from, t.event, t.facts, clock_.Now(), timings_);
  if (!step) throw IllegalTransition(EntityName(t.machine), t.id, from, std::string(t.event));
  std::optional<std::string> reason = NonEmpty(t.reason);
  json data = Object(t.data);
  store::Result moved;
  std::string recorded;  // the history's data, and the effects' job arguments
  if (thread) {
    std::optional<std::string> code, detail;
    if (step->to == ts::kEscalated && from != ts::kEscalated) {
      // The reason rides with the state: the table's CHECK refuses an escalated thread without.
      CLUBOS_ASSERT(t.escalation.has_value(), "a thread escalated without a reason");
      code = t.escalation->code;
      detail = json{{"detail", t.escalation->detail}}.dump();
      if (!reason) reason = code;
      data["reason"] = *code;
      data["detail"] = t.escalation->detail;
    }
    recorded = data.dump();
    moved = tx.Exec("thread_transition",
                    {t.id, from, step->to, std::string(t.event), t.actor, reason, recorded,
                     t.thread.intent, t.thread.decision, t.thread.priority,
                     t.thread.last_routed_message_id, code, detail, clock_.DbNow()});
  } else {
    const ActionEffects& fx = t.action;
    recorded = data.dump();
    moved = tx.Exec("action_transition", {t.id, from, step->to, std::string(t.event), t.actor,
                                          reason, recorded, fx.baseline, fx.verify_deadline,
                                          fx.result, fx.error, fx.external_ref, clock_.DbNow()});
  }
  // The row is locked by this transaction, so the compare-and-set cannot lose a race; no row means
  // the caller's `from` was wrong.
  CLUBOS_ASSERT(!moved.Empty(), "a transition's row was not in the state its caller read");
  Schedule(tx, t.machine, t.id, step->jobs, recorded,
           thread ? t.thread.priority.value_or(t.priority) : t.priority, t.action_kind, true);
  if (thread) tx.Local<ThreadStates>().by_id[t.id] = step->to;
  if (thread && step->to != from && on_thread_entered_)
    tx.AfterCommit([this, id = t.id, to = step->to] { on_thread_entered_(id, to); });
  return {from, step->to, thread ? "" : Cascade(tx, t, *step->row)};
}

// An action's row names what it causes on its thread: the thread's event when the guard holds
// and the thread's table accepts it, else (when the row names one) a job for the operators.
// Returns the thread's new state ("" when it did not move).
std::string Engine::Cascade(store::Tx& tx, const Transition& t, const sm::Row& row) {
  const sm::Cascade& c = sm::ActionMachine().CascadeOf(row);
  if (c.event.empty()) return "";
  if (t.thread_id && t.facts.Holds(c.guard)) {
    auto& known = tx.Local<ThreadStates>().by_id;
    std::string state;
    if (const auto it = known.find(t.thread_id); it != known.end()) {
      state = it->second;
    } else {
      auto r = tx.Exec("thread_state_lock", {t.thread_id});  // held already: threads lock first
      if (!r.Empty()) state = r.At(0, "state").Str();
    }
    if (!state.empty() && sm::ThreadMachine().Find(state, c.event, {})) {
      const std::optional<Escalation>& escalation = t.escalation;
      return Apply(tx, {.machine = Machine::kThread,
                        .id = t.thread_id,
                        .event = c.event,
                        .actor = t.actor,
                        .data = json{{"action_id", t.id}}.dump(),
                        .from = state,
                        .priority = t.priority,
                        .escalation = escalation})
          .to;
    }
  }
  if (c.fallback.empty()) return "";
  json args = {{"action_id", t.id}};
  if (t.escalation) {
    args["reason"] = t.escalation->code;
    args["detail"] = t.escalation->detail;
  }
  Schedule(tx, Machine::kAction, t.id, {{std::string(c.fallback), clock_.Now(), false}},
           args.dump(), 50, t.action_kind, false);
  return "";
}

void Engine::BornThread(store::Tx& tx, int64_t id, const std::string& actor,
                        const std::string& data) {
  const auto step = sm::Decide(sm::ThreadMachine(), "-", sm::thread_event::kMessageReceived,
                               clock_.Now(), timings_);
  CLUBOS_ASSERT(step.has_value(), "the thread table has no birth row");
  tx.Exec("transition_insert",
          {"thread", id, nullptr, std::string(sm::thread_event::kMessageReceived), step->to, actor,
           nullptr, data, clock_.DbNow()});
  Schedule(tx, Machine::kThread, id, step->jobs, data, 100, "", true);
}

int64_t Engine::CreateAction(store::Tx& tx, const ActionBirth& b) {
  namespace ae = sm::action_event;
  const auto born = sm::Decide(sm::ActionMachine(), "-", ae::kRequested, clock_.Now(), timings_);
  CLUBOS_ASSERT(born.has_value(), "the action table has no birth row");
  const sm::Facts facts{{sm::action_guard::kConfirmFirst, b.confirm_first}};
  const auto decided =
      sm::Decide(sm::ActionMachine(), born->to, ae::kPolicyDecided, facts, clock_.Now(), timings_);
  CLUBOS_ASSERT(decided.has_value(), "the action table cannot decide a new action");
  json birth = {{"thread_id", b.thread_id}, {"kind", b.kind}};
  if (!b.stop_override.empty()) birth["stop_override"] = b.stop_override;
  const int64_t id =
      tx.Exec("action_create",
              {b.thread_id ? std::optional(b.thread_id) : std::nullopt, std::string(b.kind),
               b.target, b.params, b.triggered_by, b.reason, b.idempotency_key, b.decision,
               b.confirm_expires_at, birth.dump(), b.outcome, b.booking_id, b.human_override,
               born->to, decided->to, clock_.DbNow()})
          .At(0, "id")
          .Int64();
  Schedule(tx, Machine::kAction, id, decided->jobs, "{}", b.priority, b.kind, true);
  return id;
}

}  // namespace clubos::workflows
