// What operators do by hand: perform an action (past the same gate as every other one), flag a
// rollback, approve or reject a suggestion, claim and resolve an escalated thread.
#include <regex>

#include "core/action_kinds.h"
#include "core/text.h"
#include "workflows/feedback.h"
#include "workflows/flow_steps.h"

namespace clubos::workflows {

using nlohmann::json;

int64_t OperatorCommands::PerformInTx(store::Tx& tx, const ActionRequest& req) {
  const ActionKind* kind = FindActionKind(req.kind);
  if (!kind) throw InvalidInput("unknown action kind '" + req.kind + "'");
  static const std::regex trigger("^(router|chain|operator:.+)$");
  if (!std::regex_match(req.triggered_by, trigger))
    throw InvalidInput("triggered_by must be router, chain or operator:<name>");
  if (req.reason.empty() || req.reason.size() > 500 || !IsValidText(req.reason))
    throw InvalidInput("reason (the SOP followed) must be 1..500 bytes of text");
  const bool says = kind->says;
  if (says && (req.text.empty() || !IsValidText(req.text) || Utf8Length(req.text) > kMaxSmsChars))
    throw InvalidInput(req.kind + " needs text of 1.." + std::to_string(kMaxSmsChars) +
                       " characters");
  if (req.stop_override.size() > 500 || !IsValidText(req.stop_override))
    throw InvalidInput("the stop override's reason must be at most 500 bytes of text");
  if (req.booking_id &&
      (req.booking_id->empty() || req.booking_id->size() > 100 || !IsValidText(*req.booking_id)))
    throw InvalidInput("booking_id must be 1..100 bytes of text");
  const json target = ResolveTarget(f_.config, req.kind, req.target);
  json params = {{"role", "operator"}};
  if (says) params["text"] = req.text;
  json decision = {{"outcome", "execute"},
                   {"reasons", {"performAction by " + req.triggered_by}},
                   {"policy", "default-v1"},
                   {"human_override", req.human_override}};

  if (req.thread_id) {
    auto t = tx.Exec("thread_lock", {*req.thread_id});
    if (t.Empty()) throw NotFound("thread " + std::to_string(*req.thread_id) + " does not exist");
    if (t.At(0, "location").Str() != target["location"].get<std::string>())
      throw InvalidInput("thread " + std::to_string(*req.thread_id) + " is at " +
                         t.At(0, "location").Str() + ", not at the target's location");
  }
  // The same gate as every other physical action. Only an admin overrides a stop, explicitly.
  const bool autonomous = req.triggered_by == "router" || req.triggered_by == "chain";
  if (!req.stop_override.empty() && (autonomous || !req.admin))
    throw Forbidden("only an admin overrides an emergency stop");
  GateInput gate{.stage = GateInput::Stage::kRequest,
                 .kind = req.kind,
                 .location = target["location"].get<std::string>(),
                 .device_id = target.value("device_id", ""),
                 .triggered_by = req.triggered_by,
                 .admin = req.admin,
                 .booking_id = req.booking_id,
                 .booking_required = req.booking_required};
  if (const auto refused = f_.gate.Check(tx, gate)) {
    if (refused->code == "forbidden") throw Forbidden(refused->detail);
    if (refused->code != "emergency_stop" || req.stop_override.empty())
      throw Conflict(refused->code,
                     refused->detail + (refused->code == "emergency_stop"
                                            ? "; an admin may override it for this action"
                                            : ""));
    // Recorded: the action's params and decision carry who overrode which stop, and why.
    params["stop_override"] = req.triggered_by + ": " + req.stop_override;
    decision["stop_override"] = {
        {"by", req.triggered_by}, {"reason", req.stop_override}, {"stop", refused->detail}};
  }
  return routing_.CreateAction(tx, {.thread_id = req.thread_id.value_or(0),
                                    .kind = req.kind,
                                    .target = target.dump(),
                                    .params = params.dump(),
                                    .triggered_by = req.triggered_by,
                                    .reason = req.reason,
                                    .decision = decision.dump(),
                                    .outcome = "execute",
                                    .booking_id = req.booking_id,
                                    .human_override = req.human_override,
                                    .stop_override = params.value("stop_override", std::string()),
                                    .priority = 50});
}

void OperatorCommands::FlagRollback(store::Connection& db, int64_t action_id,
                                    const std::string& actor, const std::string& reason) {
  if (reason.empty() || reason.size() > 500 || !IsValidText(reason))
    throw InvalidInput("reason must be 1..500 bytes of text");
  db.Transact("flag_rollback", [&](store::Tx& tx) {
    LockThreadOfAction(tx, action_id);
    auto r = tx.Exec("action_lock", {action_id});
    if (r.Empty()) throw NotFound("action " + std::to_string(action_id) + " does not exist");
    const ActionRow a(r);
    tx.Exec("action_flag_rollback",
            {action_id, json{{"by", actor}, {"reason", reason}}.dump(), f_.clock.DbNow()});
    // Nothing is undone: a human decides. A verified thread goes back to the escalation queue;
    // otherwise the operators are told directly (the row's cascade, or its fallback). The table
    // refuses it outside verified / escalated (IllegalTransition: the transaction rolls back).
    const bool thread_verified =
        a.thread_id &&
        tx.Exec("thread_state_lock", {a.thread_id}).At(0, "state").Str() == tstate::kVerified;
    f_.engine.Apply(tx, {.machine = Machine::kAction,
                         .id = action_id,
                         .event = aevent::kRollbackFlagged,
                         .actor = actor,
                         .reason = reason,
                         .data = json{{"reason", reason}}.dump(),
                         .from = a.state,
                         .facts = a.Facts().Set(aguard::kThreadVerified, thread_verified),
                         .priority = 50,
                         .thread_id = a.thread_id,
                         .action_kind = a.kind,
                         .escalation = Escalation{"rollback_needed", a.kind + ": " + reason}});
    // A case, unless the action has one already (it failed before it was flagged).
    RecordActionCase(tx, action_id, case_outcome::kRollbackNeeded, f_.clock);
  });
}

int64_t OperatorCommands::ApproveSuggestion(store::Connection& db, int64_t id,
                                            const Approver& who) {
  int64_t action_id = 0;
  db.Transact("suggestion_approve", [&](store::Tx& tx) {
    auto peek = tx.Exec("suggestion_lock", {id});
    if (peek.Empty()) throw NotFound("suggestion " + std::to_string(id) + " does not exist");
    const int64_t thread_id = peek.At(0, "thread_id").Int64();
    auto t = tx.Exec("thread_lock", {thread_id});
    const std::string state = peek.At(0, "state").Str();
    if (state != suggestion_state::kPending)
      throw IllegalTransition("suggestion", id, state, "approve");
    // What ClubOS would have done at one moment: stale after a while, and moot once its thread
    // left the operators' queue (resolved, or the customer wrote again and it was routed anew).
    if (peek.At(0, "expires_at").Time() <= f_.clock.Now())
      throw Conflict("suggestion_expired", "suggestion " + std::to_string(id) +
                                               " expired; the customer's need may have moved on");
    // Taken over: the operator talking to the customer decides what is sent, not a draft.
    if (PausedNow(t, f_.clock) && t.At(0, "paused_by").Str() != "operator:" + who.name)
      throw Conflict("paused_by_other", "thread " + std::to_string(thread_id) +
                                            " is taken over by " + t.At(0, "paused_by").Str() +
                                            "; the suggestion is theirs to send or drop");
    if (t.At(0, "state").Str() != tstate::kEscalated)
      throw Conflict("thread_moved_on", "thread " + std::to_string(thread_id) + " is " +
                                            t.At(0, "state").Str() + ", no longer escalated");
    const json params = json::parse(peek.At(0, "params").Str());
    const std::string kind = peek.At(0, "kind").Str();
    if (who.text && !(FindActionKind(kind) && FindActionKind(kind)->says))
      throw InvalidInput("a " + kind + " suggestion has no text to edit");
    action_id = PerformInTx(tx, {.kind = kind,
                                 .target = peek.At(0, "target").Str(),
                                 .triggered_by = "operator:" + who.name,
                                 .reason = peek.At(0, "reason").Str(),
                                 .booking_id = peek.At(0, "booking_id").OptStr(),
                                 .thread_id = thread_id,
                                 .text = who.text.value_or(params.value("text", std::string())),
                                 .human_override = true,
                                 .admin = who.admin,
                                 .stop_override = who.stop_override,
                                 .booking_required = kind == "unlock_door"});
    tx.Exec("suggestion_decide",
            {id, suggestion_state::kApproved, "operator:" + who.name, action_id});
  });
  return action_id;
}

void OperatorCommands::RejectSuggestion(store::Connection& db, int64_t id,
                                        const std::string& operator_name) {
  db.Transact("suggestion_reject", [&](store::Tx& tx) {
    auto peek = tx.Exec("suggestion_lock", {id});
    if (peek.Empty()) throw NotFound("suggestion " + std::to_string(id) + " does not exist");
    const std::string state = peek.At(0, "state").Str();
    if (state != suggestion_state::kPending)
      throw IllegalTransition("suggestion", id, state, "reject");
    tx.Exec("suggestion_decide",
            {id, suggestion_state::kRejected, "operator:" + operator_name, nullptr});
    // An expired suggestion may still be rejected: it leaves the queue with who cleared it.
  });
}

void OperatorCommands::Claim(store::Connection& db, int64_t thread_id,
                             const std::string& operator_name, bool take_over) {
  db.Transact("claim", [&](store::Tx& tx) {
    auto t = tx.Exec("thread_claim_lock", {thread_id});
    if (t.Empty()) throw NotFound("thread " + std::to_string(thread_id) + " does not exist");
    const std::string state = t.At(0, "state").Str();
    if (state != tstate::kEscalated)
      throw IllegalTransition("thread", thread_id, state, std::string(tevent::kClaimed));
    const auto holder = t.At(0, "claimed_by").OptStr();
    if (holder == operator_name) return;  // already theirs: nothing changes
    if (holder && !take_over)
      throw Conflict("already_claimed", "thread " + std::to_string(thread_id) + " is claimed by " +
                                            *holder + "; taking it over is explicit (take_over)");
    json data = {{"claimed_by", operator_name}};
    if (holder) data["taken_from"] = *holder;
    f_.engine.Apply(tx, {.machine = Machine::kThread,
                         .id = thread_id,
                         .event = tevent::kClaimed,
                         .actor = "operator:" + operator_name,
                         .reason = holder ? "taken over from " + *holder : "",
                         .data = data.dump(),
                         .from = state});
    if (tx.Exec("thread_set_claim", {thread_id, operator_name, holder}).Empty())
      throw std::logic_error("thread " + std::to_string(thread_id) + " changed under its lock");
  });
}

void OperatorCommands::Resolve(store::Connection& db, int64_t thread_id,
                               const std::string& operator_name, const std::string& resolution,
                               const std::string& note, bool take_over) {
  db.Transact("resolve", [&](store::Tx& tx) {
    auto t = tx.Exec("thread_claim_lock", {thread_id});
    if (t.Empty()) throw NotFound("thread " + std::to_string(thread_id) + " does not exist");
    const std::string state = t.At(0, "state").Str();
    const auto holder = t.At(0, "claimed_by").OptStr();
    if (state == tstate::kEscalated && holder && *holder != operator_name && !take_over)
      throw Conflict("claimed_by_other", "thread " + std::to_string(thread_id) + " is claimed by " +
                                             *holder +
                                             "; resolving it is theirs, or an explicit take_over");
    json data = {{"resolution", resolution}, {"note", note}};
    if (holder && *holder != operator_name) data["taken_from"] = *holder;
    f_.engine.Apply(tx, {.machine = Machine::kThread,
                         .id = thread_id,
                         .event = tevent::kResolved,
                         .actor = "operator:" + operator_name,
                         .reason = resolution,
                         .data = data.dump(),
                         .from = state});
    // A takeover ends with the issue: there is no automation left to hand the thread back to.
    tx.Exec("thread_set_pause", {thread_id, nullptr, nullptr, f_.clock.DbNow()});
  });
}

}  // namespace clubos::workflows
