// Execution and verification: the two-phase protocol around the external call. `executing` is
// committed before the call and the outcome after it, so a worker that dies between the two
// leaves a trace; whoever finds an action `executing` looks at the target before anything else,
// and repeats only a call that is idempotent. The file a reviewer of "no door is unlocked twice"
// reads.
#include <algorithm>

#include "workflows/customer_texts.h"
#include "workflows/flow_steps.h"

namespace clubos::workflows {

using nlohmann::json;
using workers::JobContext;
using workers::Outcome;

GateInput ExecutionStep::StartGate(const ActionRow& a) const {
  return {.stage = GateInput::Stage::kStart,
          .action_id = a.id,
          .kind = a.kind,
          .location = a.target.value("location", ""),
          .device_id = a.target.value("device_id", ""),
          .triggered_by = a.triggered_by,
          .stop_override = a.StopOverride(),
          .booking_id = a.booking_id,
          .booking_required = a.Autonomous() && a.kind == "unlock_door"};
}

Outcome ExecutionStep::Execute(JobContext& ctx) {
  const int64_t action_id = ArgId(ctx, "action_id");
  auto r = ctx.db().ExecOne("action_get", {action_id});
  if (r.Empty()) return Outcome::Complete();
  const ActionRow a(r);
  CallOutcome call;
  std::string baseline_used;  // of the call made by this attempt
  if (a.state == astate::kRouted || a.state == astate::kConfirmed) {
    // Without the target's state from before the call, the call could never be proven: an
    // unreadable baseline means "not started, try again", decided before `executing` commits.
    const std::optional<std::string> baseline = f_.integration.Baseline(a.View());
    if (!baseline)
      return Outcome::Retry(a.kind + ": the target's state before the call could not be read");
    switch (Start(ctx, a, *baseline)) {
      case Started::kYes:
        break;
      case Started::kNo:  // refused (to a human), or it moved on (cancelled, stopped, done)
        return Outcome::Complete();
      case Started::kElsewhere:
        // An earlier attempt of this job started it after this one read the row, and lost its
        // lease to this one: its call may be under way, done or lost, and whoever holds the job
        // now answers for the action. Completed here, the job left it `executing` for ever once
        // that attempt's own finish was refused for the lease (a chaos run found one). So from
        // the top, as an action found mid-flight: Recover looks at the target first.
        return Execute(ctx);
    }
    ActionView view = a.View();
    view.baseline = baseline_used = *baseline;
    // `executing` is committed: from here on a crash leaves a trace the next attempt checks.
    call = f_.integration.Execute(view);
  } else if (a.state == astate::kExecuting) {
    if (auto outcome = Recover(ctx, a, call)) return *outcome;
  } else {
    return Outcome::Complete();  // cancelled, rejected, expired or already done
  }
  if (call.result == CallResult::kTransient) return Outcome::Retry(a.kind + ": " + call.detail);
  if (call.result == CallResult::kNotDone) return Deferred(ctx, action_id, call);
  // Checked against what the call left behind: the baseline it was measured from and the
  // vendor's reference from its answer, neither of which the row read before the call has.
  ActionView done = a.View();
  if (!baseline_used.empty()) done.baseline = baseline_used;
  if (!call.external_ref.empty()) done.external_ref = call.external_ref;
  const StateCheck seen =
      call.result == CallResult::kAccepted ? f_.integration.Check(done) : StateCheck::kUnknown;
  ctx.db().Transact("finish_execution", [&](store::Tx& tx) {
    LockThreadOfAction(tx, action_id);
    Finish(tx, action_id, call, seen);
    ctx.CompleteInTx(tx);
  });
  return Outcome::Complete();
}

// Commits `executing`, after the gate's last look. kNo when it did not start (the gate refused it
// and it went to a human, or it moved on meanwhile: cancelled, stopped, done); kElsewhere when
// another attempt started it since the row was read.
ExecutionStep::Started ExecutionStep::Start(JobContext& ctx, const ActionRow& a,
                                            const std::string& baseline) {
  Started started = Started::kNo;
  ctx.db().Transact("start_execution", [&](store::Tx& tx) {
    started = Started::kNo;
    LockThreadOfAction(tx, a.id);
    const ActionRow locked(tx.Exec("action_lock", {a.id}));
    if (locked.state == astate::kExecuting) {
      started = Started::kElsewhere;
      return;
    }
    if (locked.state != astate::kRouted && locked.state != astate::kConfirmed) return;
    // The gate again, at the last moment: the stop may have been engaged since the decision,
    // another action may have reset the bay, the booking may be over.
    const auto refused = f_.gate.Check(tx, StartGate(locked));
    if (refused) {
      escalation_.Refuse(tx, locked, *refused, "worker");
      return ctx.CompleteInTx(tx);
    }
    const std::string overridden = locked.StopOverride();
    f_.engine.Apply(
        tx,
        {.machine = Machine::kAction,
         .id = a.id,
         .event = aevent::kExecutionStarted,
         .actor = "worker",
         .reason = overridden.empty() ? "" : "with an emergency-stop override (" + overridden + ")",
         .from = locked.state,
         .facts = locked.Facts().Set(aguard::kStopped, false),
         .thread_id = locked.thread_id,
         .action_kind = locked.kind,
         .action = {.baseline = baseline}});
    started = Started::kYes;
  });
  return started;
}

// How long a worker that inherits an `executing` action keeps looking for the call's effect. Set
// at the first look and kept with the action: after a crash that look comes at the lease's
// expiry, maybe long after the call, and must still leave a whole verification window.
TimePoint ExecutionStep::RecoveryDeadline(JobContext& ctx, const ActionRow& a) {
  if (a.verify_deadline) return *a.verify_deadline;
  const TimePoint deadline =
      std::max(f_.clock.Now(), a.since + 2 * f_.config.integrations.call_timeout) +
      f_.config.VerifyTimeout(a.kind);
  ctx.db().ExecOne("action_set_recovery_deadline", {a.id, deadline});
  return deadline;
}

// Found mid-flight: a worker died, or the last call's outcome was unknown. Look before acting.
// nullopt: `call` holds what happened and the caller finishes the execution.
std::optional<Outcome> ExecutionStep::Recover(JobContext& ctx, const ActionRow& a,
                                              CallOutcome& call) {
  const ActionView view = a.View();
  if (f_.integration.Check(view) == StateCheck::kChanged) {
    call = {CallResult::kAccepted, "found done when recovering"};
    return std::nullopt;
  }
  if (f_.integration.Idempotent(view)) {
    // Repeating the call acts again: an emergency stop engaged since it started holds here too.
    std::optional<GateRefusal> stopped;
    ctx.db().Transact("recover_stop_check",
                      [&](store::Tx& tx) { stopped = f_.gate.Stopped(tx, StartGate(a)); });
    if (!stopped) {
      call = f_.integration.Execute(view);  // same idempotency key
      return std::nullopt;
    }
    return Unknown(ctx, a,
                   "the last call's outcome is unknown and " + stopped->detail + ": not repeated");
  }
  if (const TimePoint until = RecoveryDeadline(ctx, a); f_.clock.Now() < until)
    // The last call may still be landing (its answer was lost, not its effect), and "could not
    // read the target" is not "unchanged": keep looking until the deadline, as Verify does.
    return Outcome::DeferUntil(f_.clock.Now() + f_.config.flow.verify_poll,
                               "the last call's outcome is not visible yet");
  return Unknown(ctx, a,
                 "a non-idempotent call's outcome is unknown and the target shows no change");
}

// The outcome of the inherited call stays unknown: a human looks (result inconclusive).
Outcome ExecutionStep::Unknown(JobContext& ctx, const ActionRow& a, const std::string& why) {
  ctx.db().Transact("recover_execution", [&](store::Tx& tx) {
    LockThreadOfAction(tx, a.id);
    const ActionRow locked(tx.Exec("action_lock", {a.id}));
    if (locked.state == astate::kExecuting)
      escalation_.FailAction(tx, locked, aevent::kExecutionUnknown, {"inconclusive", why}, "worker",
                             {.result = "inconclusive", .error = why});
    ctx.CompleteInTx(tx);
  });
  return Outcome::Complete();
}

// The vendor certainly did not act (it refused to connect, or answered 429/503): the action goes
// back to `routed` (or `confirmed`, when the customer had said YES), so the next attempt starts it
// afresh instead of treating the call as one whose outcome is unknown, and the job waits for the
// vendor's Retry-After.
Outcome ExecutionStep::Deferred(JobContext& ctx, int64_t action_id, const CallOutcome& call) {
  ctx.db().Transact("defer_execution", [&](store::Tx& tx) {
    LockThreadOfAction(tx, action_id);
    const ActionRow locked(tx.Exec("action_lock", {action_id}));
    if (locked.state == astate::kExecuting)
      f_.engine.Apply(tx, {.machine = Machine::kAction,
                           .id = action_id,
                           .event = aevent::kExecutionDeferred,
                           .actor = "worker",
                           .reason = call.detail,
                           .from = locked.state,
                           .facts = locked.Facts(),
                           .thread_id = locked.thread_id,
                           .action_kind = locked.kind});
  });
  if (call.retry_after) return Outcome::Retry(call.detail, *call.retry_after);
  return Outcome::Retry(call.detail);
}

void ExecutionStep::Finish(store::Tx& tx, int64_t action_id, const CallOutcome& outcome,
                           StateCheck seen) {
  const ActionRow a(tx.Exec("action_lock", {action_id}));
  if (a.state != astate::kExecuting) return;
  if (outcome.result != CallResult::kAccepted)
    return escalation_.FailAction(tx, a, aevent::kExecutionFailed,
                                  {"action_failed", outcome.detail}, "worker",
                                  {.result = "failed", .error = outcome.detail});
  // A primary action's row moves its thread to `executed` (the table's cascade).
  f_.engine.Apply(tx,
                  {.machine = Machine::kAction,
                   .id = action_id,
                   .event = aevent::kExecutionSucceeded,
                   .actor = "worker",
                   .reason = outcome.detail,
                   .from = a.state,
                   .facts = a.Facts(),
                   .thread_id = a.thread_id,
                   .action_kind = a.kind,
                   .action = {.verify_deadline = f_.clock.Now() + f_.config.VerifyTimeout(a.kind),
                              .external_ref = outcome.external_ref.empty()
                                                  ? std::nullopt
                                                  : std::optional(outcome.external_ref)}});
  // The change is often visible at once (an SMS accepted, a door event logged): verify in this
  // transaction, and the verification job that entering `executed` scheduled is dropped with it.
  if (seen == StateCheck::kChanged) Verified(tx, a);
}

// The action's effect is visible: the action is verified, and a primary action's thread with it
// (the table's cascade). The customer hears it is done, and texts kept meanwhile are read.
void ExecutionStep::Verified(store::Tx& tx, const ActionRow& a) {
  const Applied applied = f_.engine.Apply(tx, {.machine = Machine::kAction,
                                               .id = a.id,
                                               .event = aevent::kVerificationPassed,
                                               .actor = "worker",
                                               .from = std::string(astate::kExecuted),
                                               .facts = a.Facts(),
                                               .thread_id = a.thread_id,
                                               .action_kind = a.kind,
                                               .action = {.result = "success"}});
  if (applied.cascaded_to != tstate::kVerified) return;
  auto t = tx.Exec("thread_lock", {a.thread_id});
  if (a.kind != "send_message")
    routing_.Reply(tx,
                   {a.thread_id, t.At(0, "location").Str(), t.At(0, "customer_phone").Str(),
                    t.At(0, "facility_line").Str()},
                   "notice", DoneNotice(a), "SOP tell-the-customer", 100);
  // Texts that came while the action ran were kept, not routed. Now that it is done, thanks are
  // just read; anything else ("still locked!!") is a new request and goes to the router.
  auto unread =
      tx.Exec("messages_since", {a.thread_id, t.At(0, "last_routed_message_id").OptInt64()});
  if (unread.Empty()) return;
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < unread.Size(); ++i) texts.push_back(unread.At(i, "body").Str());
  const int64_t last = unread.At(unread.Size() - 1, "id").Int64();
  const Intent said =
      f_.router.Route(texts, f_.knowledge.Current(tx)->Faq(t.At(0, "location").Str()));
  const bool thanks = said.must_escalate.empty() && said.action.empty() &&
                      std::any_of(said.flags.begin(), said.flags.end(), [](const std::string& f) {
                        return f.rfind("positive:", 0) == 0;
                      });
  if (thanks) {
    tx.Exec("thread_mark_read", {a.thread_id, last});
    return;
  }
  f_.engine.Apply(tx, {.machine = Machine::kThread,
                       .id = a.thread_id,
                       .event = tevent::kMessageReceived,
                       .actor = "customer",
                       .reason = "texts sent while the action ran",
                       .data = json{{"message_id", last}}.dump(),
                       .from = std::string(tstate::kVerified),
                       .facts = {{tguard::kInFlight, false}, {tguard::kPaused, false}}});
}

Outcome ExecutionStep::Verify(JobContext& ctx) {
  const int64_t action_id = ArgId(ctx, "action_id");
  auto r = ctx.db().ExecOne("action_get", {action_id});
  if (r.Empty()) return Outcome::Complete();
  const ActionRow a(r);
  if (a.state != astate::kExecuted) return Outcome::Complete();
  const StateCheck seen = f_.integration.Check(a.View());
  if (seen != StateCheck::kChanged && a.verify_deadline && f_.clock.Now() < *a.verify_deadline)
    return Outcome::DeferUntil(f_.clock.Now() + f_.config.flow.verify_poll,
                               "state not changed yet");
  ctx.db().Transact("verification", [&](store::Tx& tx) {
    LockThreadOfAction(tx, action_id);
    const ActionRow locked(tx.Exec("action_lock", {action_id}));
    if (locked.state != astate::kExecuted) return ctx.CompleteInTx(tx);
    if (seen == StateCheck::kChanged) {
      Verified(tx, locked);
    } else if (seen == StateCheck::kUnchanged) {
      const std::string why = "the target shows no change before the verification deadline";
      escalation_.FailAction(tx, locked, aevent::kVerificationFailed, {"state_unchanged", why},
                             "worker", {.result = "failed", .error = why});
    } else {
      const std::string why = "the target's state could not be read before the deadline";
      escalation_.FailAction(tx, locked, aevent::kVerificationTimeout, {"inconclusive", why},
                             "worker", {.result = "inconclusive", .error = why});
    }
    ctx.CompleteInTx(tx);
  });
  return Outcome::Complete();
}

}  // namespace clubos::workflows
