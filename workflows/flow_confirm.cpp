// Confirmation: the customer's YES starts the action (the table's `confirmed` row enqueues its
// execution and moves the thread), a NO closes it, and no answer in time hands it to a human.
#include "workflows/flow_steps.h"

namespace clubos::workflows {

using nlohmann::json;
using workers::JobContext;
using workers::Outcome;

void ConfirmationStep::ConfirmLocked(store::Tx& tx, int64_t action_id, bool yes,
                                     const std::string& actor) {
  auto r = tx.Exec("action_lock", {action_id});
  if (r.Empty()) throw NotFound("action " + std::to_string(action_id) + " does not exist");
  const ActionRow a(r);
  const std::string_view event = yes ? aevent::kConfirmed : aevent::kRejected;
  if (a.state == astate::kAwaitingConfirmation && a.confirm_expires_at &&
      *a.confirm_expires_at <= f_.clock.Now())
    throw IllegalTransition("action", action_id, a.state + " (expired)", std::string(event));
  // Refused before anything is written (IllegalTransition): intake goes on in the same
  // transaction and routes the text instead. The table refuses an answer in any other state...
  if (!sm::ActionMachine().Accepts(a.state, event))
    throw IllegalTransition("action", action_id, a.state, std::string(event));
  // ...and the answer is the thread's too: one it no longer waits for (a human has it, or it is
  // closed) is refused as well.
  if (a.thread_id) {
    const std::string thread_state =
        tx.Exec("thread_state_lock", {a.thread_id}).At(0, "state").Str();
    const std::string_view thread_event = yes ? tevent::kConfirmed : tevent::kRejected;
    if (!sm::ThreadMachine().Accepts(thread_state, thread_event))
      throw IllegalTransition("thread", a.thread_id, thread_state, std::string(thread_event));
  }
  f_.engine.Apply(tx, {.machine = Machine::kAction,
                       .id = action_id,
                       .event = event,
                       .actor = actor,
                       .from = a.state,
                       .facts = a.Facts(),
                       .priority = 50,
                       .thread_id = a.thread_id,
                       .action_kind = a.kind});
  if (yes) tx.Exec("action_confirm", {action_id, actor});  // who said YES
}

Outcome ConfirmationStep::Expire(JobContext& ctx) {
  const int64_t action_id = ArgId(ctx, "action_id");
  ctx.db().Transact("expire_confirmation", [&](store::Tx& tx) {
    LockThreadOfAction(tx, action_id);
    auto r = tx.Exec("action_lock", {action_id});
    if (r.Empty()) return ctx.CompleteInTx(tx);
    const ActionRow a(r);
    if (a.state != astate::kAwaitingConfirmation) return ctx.CompleteInTx(tx);  // it moved on
    f_.engine.Apply(tx, {.machine = Machine::kAction,
                         .id = action_id,
                         .event = aevent::kConfirmationExpired,
                         .actor = "timer",
                         .reason = "not_confirmed",
                         .from = a.state,
                         .facts = a.Facts(),
                         .priority = 50,
                         .thread_id = a.thread_id,
                         .action_kind = a.kind,
                         .escalation = Escalation{"not_confirmed",
                                                  "no reply before the confirmation expired"}});
    ctx.CompleteInTx(tx);
  });
  return Outcome::Complete();
}

}  // namespace clubos::workflows
