// Taking a conversation over: an operator's reply (or a tap on "take over") pauses the automation
// on the thread; the customer's texts are stored and shown, never answered or acted on by it,
// until the operator hands the thread back or the pause runs out (flow.takeover_ms, 4 h as the
// original ClubOS). The pause is a fact of the thread (paused_until, paused_by) and its start and
// end are transitions (taken_over, handed_back, takeover_expired), so the history tells it.
//
// Only where no action of the automation is under way (the thread table's rows: received,
// verified, escalated): an operator first confirms, rejects or waits for the one that is.
#include "core/text.h"
#include "core/time_format.h"
#include "workflows/flow_steps.h"

namespace clubos::workflows {

using nlohmann::json;
using workers::JobContext;
using workers::Outcome;

namespace {

struct PausedThread {
  std::string state, location, customer, line;
  std::optional<std::string> claimed_by, paused_by;
  std::optional<TimePoint> paused_until;
};

PausedThread Lock(store::Tx& tx, int64_t thread_id) {
  auto t = tx.Exec("thread_lock", {thread_id});
  if (t.Empty()) throw NotFound("thread " + std::to_string(thread_id) + " does not exist");
  PausedThread p{t.At(0, "state").Str(),
                 t.At(0, "location").Str(),
                 t.At(0, "customer_phone").Str(),
                 t.At(0, "facility_line").Str(),
                 t.At(0, "claimed_by").OptStr(),
                 t.At(0, "paused_by").OptStr(),
                 std::nullopt};
  if (!t.At(0, "paused_until").IsNull()) p.paused_until = t.At(0, "paused_until").Time();
  return p;
}

// Who has the conversation now (a pause in force), if anyone.
std::optional<std::string> Holder(const PausedThread& t, const Clock& clock) {
  if (t.paused_until && *t.paused_until > clock.Now()) return t.paused_by;
  return std::nullopt;
}

// An escalated thread claimed by someone else is theirs to talk in.
void RequireNotClaimedByOther(const PausedThread& t, int64_t thread_id, const std::string& name) {
  if (t.state == tstate::kEscalated && t.claimed_by && *t.claimed_by != name)
    throw Conflict("claimed_by_other", "thread " + std::to_string(thread_id) + " is claimed by " +
                                           *t.claimed_by + "; claim it (take_over) first");
}

}  // namespace

TimePoint Takeover::PauseLocked(store::Tx& tx, int64_t thread_id, const std::string& state,
                                const std::string& actor, const std::string& why,
                                const std::optional<std::string>& holder) {
  const TimePoint until = f_.clock.Now() + f_.config.flow.takeover;
  // The table refuses where the automation is under way (IllegalTransition: nothing written).
  f_.engine.Apply(tx, {.machine = Machine::kThread,
                       .id = thread_id,
                       .event = tevent::kTakenOver,
                       .actor = actor,
                       .reason = why,
                       .data = (holder && *holder != actor
                                    ? json{{"until", FormatIso8601(until)}, {"taken_from", *holder}}
                                    : json{{"until", FormatIso8601(until)}})
                                   .dump(),
                       .from = state});
  tx.Exec("thread_set_pause", {thread_id, until, actor, f_.clock.DbNow()});
  // What the customer said so far is the operator's now: handing back routes only what comes
  // while they have the thread, never an answer to what they already handled.
  tx.Exec("thread_mark_all_read", {thread_id});
  return until;
}

Flow::Paused Takeover::Reply(store::Connection& db, int64_t thread_id,
                             const std::string& operator_name, const std::string& text) {
  Flow::Paused out;
  db.Transact("operator_reply",
              [&](store::Tx& tx) { out = ReplyInTx(tx, thread_id, operator_name, text); });
  return out;
}

Flow::Paused Takeover::ReplyInTx(store::Tx& tx, int64_t thread_id, const std::string& operator_name,
                                 const std::string& text) {
  if (text.empty() || !IsValidText(text) || Utf8Length(text) > kMaxSmsChars)
    throw InvalidInput("text must be 1.." + std::to_string(kMaxSmsChars) + " characters");
  Flow::Paused out;
  const PausedThread t = Lock(tx, thread_id);
  RequireNotClaimedByOther(t, thread_id, operator_name);
  const std::string actor = "operator:" + operator_name;
  out.until =
      PauseLocked(tx, thread_id, t.state, actor, "the operator replied", Holder(t, f_.clock));
  ActionRequest send;
  send.kind = "send_message";
  send.target = json{{"location", t.location}, {"phone", t.customer}, {"from_line", t.line}}.dump();
  send.triggered_by = actor;
  send.reason = "operator reply";
  send.thread_id = thread_id;
  send.text = text;
  out.action_id = commands_.PerformInTx(tx, send);
  return out;
}

Flow::Paused Takeover::Pause(store::Connection& db, int64_t thread_id,
                             const std::string& operator_name) {
  Flow::Paused out;
  db.Transact("take_over", [&](store::Tx& tx) {
    const PausedThread t = Lock(tx, thread_id);
    RequireNotClaimedByOther(t, thread_id, operator_name);
    out.until = PauseLocked(tx, thread_id, t.state, "operator:" + operator_name,
                            "taken over by hand", Holder(t, f_.clock));
  });
  return out;
}

void Takeover::EndLocked(store::Tx& tx, int64_t thread_id, const std::string& state,
                         std::string_view event, const std::string& actor) {
  f_.engine.Apply(tx, {.machine = Machine::kThread,
                       .id = thread_id,
                       .event = event,
                       .actor = actor,
                       .reason = event == tevent::kHandedBack ? "handed back to the automation"
                                                              : "the takeover ran out",
                       .from = state});
  tx.Exec("thread_set_pause", {thread_id, nullptr, nullptr, f_.clock.DbNow()});
}

void Takeover::HandBack(store::Connection& db, int64_t thread_id,
                        const std::string& operator_name) {
  db.Transact("hand_back", [&](store::Tx& tx) {
    const PausedThread t = Lock(tx, thread_id);
    if (!t.paused_until || *t.paused_until <= f_.clock.Now())
      throw Conflict("not_taken_over", "thread " + std::to_string(thread_id) +
                                           " is not taken over: nothing to hand back");
    // Another operator's conversation is theirs to hand back (or to take over, explicitly).
    if (t.paused_by && *t.paused_by != "operator:" + operator_name)
      throw Conflict("taken_over_by_other", "thread " + std::to_string(thread_id) +
                                                " is taken over by " + *t.paused_by +
                                                "; take it over first to hand it back");
    EndLocked(tx, thread_id, t.state, tevent::kHandedBack, "operator:" + operator_name);
  });
}

Outcome Takeover::Expire(JobContext& ctx) {
  const int64_t thread_id = ArgId(ctx, "thread_id");
  std::optional<TimePoint> later;
  ctx.db().Transact("end_takeover", [&](store::Tx& tx) {
    later.reset();
    auto r = tx.Exec("thread_lock", {thread_id});
    if (r.Empty() || r.At(0, "paused_until").IsNull()) return ctx.CompleteInTx(tx);
    const TimePoint until = r.At(0, "paused_until").Time();
    if (until > f_.clock.Now()) {  // extended by a later reply: its own job may be gone
      later = until;
      return;
    }
    const std::string state = r.At(0, "state").Str();
    // Resolved meanwhile, or moved on once the pause had run out by the clock (a text came before
    // this job ran, and the automation took it): the pause ends with nothing to resume.
    if (!sm::ThreadMachine().Accepts(state, tevent::kTakeoverExpired))
      tx.Exec("thread_set_pause", {thread_id, nullptr, nullptr, f_.clock.DbNow()});
    else
      EndLocked(tx, thread_id, state, tevent::kTakeoverExpired, "timer");
    ctx.CompleteInTx(tx);
  });
  if (later) return Outcome::DeferUntil(*later, "the takeover was extended");
  return Outcome::Complete();
}

}  // namespace clubos::workflows
