// To a human: a thread escalated with its reason, an action that failed or cannot be proven, the
// dead-job policy, the operators' notification (Slack), and the quiet close of a verified thread.
#include "core/log.h"
#include "workflows/feedback.h"
#include "workflows/flow_steps.h"

namespace clubos::workflows {

using nlohmann::json;
using workers::JobContext;
using workers::Outcome;

void EscalationStep::Escalate(store::Tx& tx, int64_t thread_id, const Escalation& why,
                              const std::string& actor, int priority) {
  auto t = tx.Exec("thread_lock", {thread_id});
  if (t.Empty()) return;
  const std::string state = t.At(0, "state").Str();
  if (!sm::ThreadMachine().Accepts(state, tevent::kEscalated)) return;  // with a human, or done
  f_.engine.Apply(tx, {.machine = Machine::kThread,
                       .id = thread_id,
                       .event = tevent::kEscalated,
                       .actor = actor,
                       .from = state,
                       .priority = priority,
                       .escalation = why});
}

void EscalationStep::FailAction(store::Tx& tx, const ActionRow& a, std::string_view event,
                                const Escalation& why, const std::string& actor,
                                const ActionEffects& fx) {
  f_.engine.Apply(tx, {.machine = Machine::kAction,
                       .id = a.id,
                       .event = event,
                       .actor = actor,
                       .reason = why.detail,
                       .from = a.state,
                       .facts = a.Facts(),
                       .thread_id = a.thread_id,
                       .action_kind = a.kind,
                       .action = fx,
                       .escalation = Escalation{why.code, a.kind + ": " + why.detail}});
  // Every failed or inconclusive result is recorded here (the action table's exits to a human),
  // so this is where it becomes a case: in the same transaction, once per action.
  if (fx.result == case_outcome::kFailed || fx.result == case_outcome::kInconclusive)
    RecordActionCase(tx, a.id, *fx.result, f_.clock);
}

void EscalationStep::Refuse(store::Tx& tx, const ActionRow& a, const GateRefusal& refused,
                            const std::string& actor) {
  const bool stop = refused.code == "emergency_stop";
  FailAction(tx, a, stop ? aevent::kEmergencyStopped : aevent::kStartRefused,
             {refused.code, refused.detail}, actor);
}

void EscalationStep::OnJobDead(store::Tx& tx, const workers::Job& job, const std::string& reason) {
  const json args = json::parse(job.args, nullptr, false);
  if (args.is_discarded() || job.kind == kNotifyOperator) return;  // a lost alert alerts no one
  const Escalation why{"retries_exhausted", job.kind + ": " + reason};
  int64_t thread_id = args.value("thread_id", int64_t{0});
  if (job.kind == kConsultModel && thread_id)
    SettleAbandonedCalls(tx, thread_id, f_.clock.Now() + Millis(1));
  // A thread's job (routing, closing) hands its thread over; an action's job leaves its action
  // through an exit first (a thread's job may carry the action that moved the thread, too).
  const bool actions_job =
      job.kind != kRouteMessage && job.kind != kCloseThread && job.kind != kConsultModel;
  if (actions_job && args.contains("action_id") && args.at("action_id").is_number_integer()) {
    const int64_t action_id = args.at("action_id").get<int64_t>();
    LockThreadOfAction(tx, action_id);
    auto r = tx.Exec("action_lock", {action_id});
    if (r.Empty()) return;
    const ActionRow a(r);
    // Leave no action half-way: each state a dead job can strand it in has an exit to a human.
    std::string_view exit;
    ActionEffects fx;
    if (a.state == astate::kExecuting) {
      exit = aevent::kExecutionUnknown;
      fx = {.result = "inconclusive", .error = reason};
    } else if (a.state == astate::kExecuted) {
      exit = aevent::kVerificationTimeout;
      fx = {.result = "inconclusive", .error = reason};
    } else if (a.state == astate::kAwaitingConfirmation) {
      exit = aevent::kConfirmationExpired;
    } else if (a.state == astate::kRouted || a.state == astate::kConfirmed) {
      exit = aevent::kStartRefused;
    }
    if (!exit.empty()) {
      FailAction(tx, a, exit, why, "worker", fx);
      thread_id = 0;  // the action's row said what becomes of its thread
    } else {
      thread_id = a.thread_id;  // the action is done already: its thread goes to a human
    }
  }
  if (thread_id) Escalate(tx, thread_id, why, "worker");
}

Outcome EscalationStep::Notify(JobContext& ctx) {
  const json args = json::parse(ctx.job().args, nullptr, false);
  std::string summary, link;
  const std::string& base = f_.config.console_url;
  if (!args.is_discarded() && args.contains("thread_id")) {
    const int64_t thread_id = ArgId(ctx, "thread_id");
    auto r = ctx.db().ExecOne("thread_summary", {thread_id});
    if (r.Empty()) return Outcome::Complete();
    summary = "ClubOS escalation, thread " + std::to_string(thread_id) + " at " +
              r.At(0, "location").Str() + ", customer " +
              log::MaskPhone(r.At(0, "customer_phone").Str()) + ": " +
              r.At(0, "escalation_reason").OptStr().value_or("?") + " (" +
              r.At(0, "detail").OptStr().value_or("") + "). Last message: \"" +
              r.At(0, "last").OptStr().value_or("") +
              "\"\nActions: " + r.At(0, "actions").OptStr().value_or("none");
    if (!base.empty())
      link = base + "#/thread/" + std::to_string(thread_id);  // the console's page of it
  } else {
    const int64_t action_id = ArgId(ctx, "action_id");
    auto r = ctx.db().ExecOne("action_get", {action_id});
    if (r.Empty()) return Outcome::Complete();
    const ActionRow a(r);
    json target = a.target;  // a customer's number is masked in every alert
    if (target.contains("phone") && target["phone"].is_string())
      target["phone"] = log::MaskPhone(target["phone"].get<std::string>());
    summary = "ClubOS: action " + std::to_string(a.id) + " (" + a.kind + " " + target.dump() +
              ", " + a.reason + ") needs a human: " + args.value("reason", std::string("?")) +
              " (" + args.value("detail", std::string()) + ")";
    if (a.thread_id) summary += "\nThread " + std::to_string(a.thread_id);
    if (!base.empty())
      link = a.thread_id ? base + "threads/" + std::to_string(a.thread_id)
                         : base + "actions/" + std::to_string(a.id);
  }
  const auto sent = f_.integration.NotifyOperators(summary, link);
  if (sent.result == CallResult::kTransient || sent.result == CallResult::kNotDone)
    return Outcome::Retry("operator notification: " + sent.detail, sent.retry_after);
  if (sent.result == CallResult::kRejected)
    return Outcome::Fail("operator notification refused: " + sent.detail);
  return Outcome::Complete();
}

Outcome EscalationStep::Close(JobContext& ctx) {
  const int64_t thread_id = ArgId(ctx, "thread_id");
  ctx.db().Transact("close_thread", [&](store::Tx& tx) {
    auto t = tx.Exec("thread_lock", {thread_id});
    // Taken over: the conversation stays open; handing back starts the quiet period again.
    if (!t.Empty() && t.At(0, "state").Str() == tstate::kVerified && !PausedNow(t, f_.clock))
      f_.engine.Apply(tx, {.machine = Machine::kThread,
                           .id = thread_id,
                           .event = tevent::kClosed,
                           .actor = "timer",
                           .reason = "quiet period after verification",
                           .from = std::string(tstate::kVerified)});
    ctx.CompleteInTx(tx);
  });
  return Outcome::Complete();
}

}  // namespace clubos::workflows
