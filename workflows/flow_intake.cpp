// Intake: a customer's text is stored once (deduplicated per source, sender and provider id), on
// the open thread of its conversation or a new one, and its meaning there is a transition in the
// same transaction: a YES/NO to a pending confirmation answers it; any other text is routed.
#include <algorithm>
#include <tuple>

#include "core/log.h"
#include "core/text.h"
#include "workflows/feedback.h"
#include "workflows/flow_steps.h"
#include "workflows/policy.h"

namespace clubos::workflows {

using nlohmann::json;

const Location& IntakeStep::Check(const InboundMessage& msg) const {
  if (!IsE164(msg.from)) throw InvalidInput("from must be an E.164 phone number");
  if (!IsE164(msg.to)) throw InvalidInput("to must be an E.164 phone number");
  if (!IsValidText(msg.body) || !IsValidText(msg.external_id))
    throw InvalidInput("body and external_id must be UTF-8 text without NUL bytes");
  // Characters, as OpenPhone counts them: a text full of emoji or accents is as long as it reads.
  if (msg.body.empty() || Utf8Length(msg.body) > kMaxSmsChars)
    throw InvalidInput("body must be 1.." + std::to_string(kMaxSmsChars) + " characters");
  if (msg.external_id.size() > 200) throw InvalidInput("external_id is longer than 200 bytes");
  if (msg.source != "openphone" && msg.source != "api")
    throw std::logic_error("intake from an unknown source: " + msg.source);
  const Location* location = f_.config.LocationForLine(msg.to);
  if (!location)
    throw InvalidInput("to " + msg.to + " is not a facility line in the configuration");
  return *location;
}

IntakeResult IntakeStep::InTx(store::Tx& tx, const InboundMessage& msg, const Location& location) {
  const std::optional<std::string> external =
      msg.external_id.empty() ? std::nullopt : std::optional<std::string>(msg.external_id);
  // A duplicate is answered from a row another transaction committed, which may be on the primary
  // alone (its commit's wait for the synchronous standby was cancelled, or the primary restarted
  // before the standby caught up): acknowledged at once, a failover could still lose it. Written
  // again, the row makes this transaction's COMMIT wait for the standby like any other.
  auto duplicate = [&tx](const store::Result& dup) -> IntakeResult {
    tx.Exec("message_rewrite", {dup.At(0, "id").Int64()});
    return {dup.At(0, "thread_id").Int64(), dup.At(0, "id").Int64(), true};
  };
  if (external) {
    auto dup = tx.Exec("message_by_external_id", {msg.source, msg.from, *external});
    if (!dup.Empty()) return duplicate(dup);
  }
  IntakeResult out;
  auto open = tx.Exec("thread_open_lock", {msg.from, msg.to, f_.clock.DbNow()});
  bool created = false;
  if (open.Empty()) {
    auto ins = tx.Exec("thread_insert", {location.id, msg.from, msg.to,
                                         std::string(tstate::kReceived), f_.clock.DbNow()});
    if (!ins.Empty()) {
      out.thread_id = ins.At(0, "id").Int64();
      created = true;
    } else {  // another intake opened it a moment ago; it has committed now
      open = tx.Exec("thread_open_lock", {msg.from, msg.to, f_.clock.DbNow()});
    }
  }
  if (!created) out.thread_id = open.At(0, "id").Int64();
  auto m = tx.Exec("message_insert", {out.thread_id, "in", external, msg.from, msg.to, msg.body,
                                      f_.clock.DbNow(), msg.source});
  if (m.Empty())  // the same provider id raced in through another request
    return duplicate(tx.Exec("message_by_external_id", {msg.source, msg.from, *external}));
  out.message_id = m.At(0, "id").Int64();
  if (created) {
    f_.engine.BornThread(tx, out.thread_id, "customer",
                         json{{"message_id", out.message_id}}.dump());
    return out;
  }
  // "still frozen" soon after an automated answer or action is the customer's verdict on it: kept
  // as feedback (and a case) beside the text, which means whatever it means below as any other.
  RecordCustomerFollowUp(tx, f_.config.router, out.thread_id, out.message_id, msg.body, f_.clock);
  OnOpenThread(tx, msg, out, open.At(0, "state").Str(), open.At(0, "paused").Bool());
  return out;
}

// A text on a thread already open: the thread's primary action decides what it means.
void IntakeStep::OnOpenThread(store::Tx& tx, const InboundMessage& msg, IntakeResult& out,
                              const std::string& state, bool paused) {
  sm::Facts facts{{tguard::kInFlight, false}, {tguard::kPaused, paused}};
  // Taken over by an operator: the text is theirs to read and answer; nothing is interpreted
  // (not even a YES to a pending confirmation).
  if (!paused && (state == tstate::kRouted || state == tstate::kAwaitingConfirmation)) {
    auto primary = tx.Exec("action_primary_open", {out.thread_id});
    const std::string action_state = primary.Empty() ? "" : primary.At(0, "state").Str();
    // Confirmed or already running: the text is kept and the action goes on.
    const bool in_flight = action_state == astate::kConfirmed || action_state == astate::kExecuting;
    facts.Set(tguard::kInFlight, in_flight);
    if (!primary.Empty() && !in_flight) {
      const int64_t action_id = primary.At(0, "id").Int64();
      const auto reply = ParseConfirmation(msg.body);
      if (reply && state == tstate::kAwaitingConfirmation) {  // an answer is not debounced
        try {
          confirmation_.ConfirmLocked(tx, action_id, *reply, "customer");
          tx.Exec("thread_mark_read", {out.thread_id, out.message_id});
          return;
        } catch (const IllegalTransition&) {
          // Too late (the confirmation expired a moment ago): the reply is still the customer's
          // message and is kept; it is routed like any other text. ConfirmLocked refused before
          // writing anything, so the transaction goes on.
        }
      }
      // Anything else is a new request: the action that has not started is cancelled.
      f_.engine.Apply(tx, {.machine = Machine::kAction,
                           .id = action_id,
                           .event = aevent::kCancelled,
                           .actor = "customer",
                           .reason = "the customer wrote again",
                           .from = action_state});
    }
  }
  f_.engine.Apply(tx, {.machine = Machine::kThread,
                       .id = out.thread_id,
                       .event = tevent::kMessageReceived,
                       .actor = "customer",
                       .data = json{{"message_id", out.message_id}}.dump(),
                       .from = state,
                       .facts = facts});
}

std::vector<Flow::IntakeOutcome> IntakeStep::Many(store::Connection& db,
                                                  const std::vector<InboundMessage>& msgs) {
  std::vector<Flow::IntakeOutcome> out(msgs.size());
  std::vector<std::pair<std::size_t, const Location*>> valid;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    try {
      valid.emplace_back(i, &Check(msgs[i]));
    } catch (...) {
      out[i].error = std::current_exception();
    }
  }
  if (valid.empty()) return out;
  // One lock order for every batch (conversation, then arrival): two batches never wait on
  // each other's threads in a cycle.
  std::stable_sort(valid.begin(), valid.end(), [&](const auto& a, const auto& b) {
    return std::tie(msgs[a.first].to, msgs[a.first].from) <
           std::tie(msgs[b.first].to, msgs[b.first].from);
  });
  // A result is an acknowledgement (the API answers 202 from it): it is handed out only once the
  // transaction that stored it has committed, never from a body whose commit failed or is in doubt.
  try {
    std::vector<IntakeResult> stored;
    db.Transact("intake_batch", [&](store::Tx& tx) {
      stored.clear();  // a retried transaction starts again
      for (const auto& [i, location] : valid) stored.push_back(InTx(tx, msgs[i], *location));
    });
    for (std::size_t k = 0; k < valid.size(); ++k) out[valid[k].first].result = stored[k];
    return out;
  } catch (const store::CommitUnknown&) {
    // As for one message alone: the callers learn that the outcome is unknown (and retry with
    // their idempotency key); trying again here could store a message without an id twice.
    for (const auto& [i, location] : valid) out[i].error = std::current_exception();
    return out;
  } catch (const std::exception& e) {
    if (valid.size() == 1) {  // nobody else to spare: its error is the answer
      out[valid[0].first].error = std::current_exception();
      return out;
    }
    const auto* db_error = dynamic_cast<const store::DbError*>(&e);
    log::Get()->warn("intake of {} messages in one transaction failed (sqlstate {}); one by one",
                     valid.size(), db_error ? db_error->sqlstate() : "-");
  }
  // One message must not fail the others: each in a transaction of its own.
  for (const auto& [i, location] : valid) {
    try {
      IntakeResult stored;
      db.Transact("intake", [&, i = i, location = location](store::Tx& tx) {
        stored = InTx(tx, msgs[i], *location);
      });
      out[i].result = stored;
    } catch (...) {
      out[i].error = std::current_exception();
    }
  }
  return out;
}

}  // namespace clubos::workflows
