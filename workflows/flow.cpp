#include "workflows/flow.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <tuple>

#include "core/assert.h"
#include "core/log.h"
#include "core/text.h"
#include "statemachines/action_machine.h"
#include "statemachines/thread_machine.h"
#include "store/db.h"
#include "workers/queue.h"
#include "workflows/engine.h"
#include "workflows/policy.h"

namespace clubos::workflows {

using nlohmann::json;
using workers::EnqueueRequest;
using workers::JobContext;
using workers::Outcome;

// A locked or read action row, parsed.
class ActionRow {
 public:
  explicit ActionRow(const store::Result& r)
      : id(r.At(0, "id").Int64()),
        thread_id(r.At(0, "thread_id").OptInt64().value_or(0)),
        kind(r.At(0, "kind").Str()),
        state(r.At(0, "state").Str()),
        key(r.At(0, "idempotency_key").Str()),
        baseline(r.At(0, "baseline").OptStr().value_or("{}")),
        external_ref(r.At(0, "external_ref").OptStr().value_or("")),
        reason(r.At(0, "reason").Str()),
        booking_id(r.At(0, "booking_id").OptStr()),
        confirmed_by(r.At(0, "confirmed_by").OptStr()),
        since(r.At(0, "updated_at").Time()),
        triggered_by(r.At(0, "triggered_by").Str()),
        confirm_expires_at(r.At(0, "confirm_expires_at").OptTime()),
        verify_deadline(r.At(0, "verify_deadline").OptTime()),
        target(json::parse(r.At(0, "target").Str())),
        params(json::parse(r.At(0, "params").Str())) {}
  int64_t id;
  int64_t thread_id;
  std::string kind, state, key, baseline, external_ref, reason;
  std::optional<std::string> booking_id, confirmed_by;
  TimePoint since;  // of the current state
  std::string triggered_by;
  bool Autonomous() const { return triggered_by == "router" || triggered_by == "chain"; }
  bool Physical() const { return IsPhysicalKind(kind); }
  std::optional<TimePoint> confirm_expires_at, verify_deadline;
  json target, params;
  bool Primary() const { return params.value("role", "") == "primary"; }
  std::string StopOverride() const { return params.value("stop_override", std::string()); }
};

namespace {

std::string RandomKey() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

int64_t ArgId(const JobContext& ctx, const char* field) {
  const json args = json::parse(ctx.job().args, nullptr, false);
  if (args.is_discarded() || !args.contains(field) || !args.at(field).is_number_integer())
    throw std::invalid_argument(std::string("job args lack ") + field);
  return args.at(field).get<int64_t>();
}

// Lock order: a thread before its actions, everywhere (intake locks the thread, then the action),
// so two transactions touching both can never deadlock.
void LockThreadOfAction(store::Tx& tx, int64_t action_id) {
  tx.Exec("action_thread_lock", {action_id});
}

std::string PromptFor(const ActionPlan& plan, const Location& location) {
  if (plan.kind == "reset_trackman")
    return "Sorry about that! Reply YES to restart the TrackMan in bay " +
           std::to_string(*plan.bay) + " at " + location.name +
           " (takes about a minute), or NO to leave it.";
  if (plan.kind == "unlock_door")
    return "Reply YES and we'll unlock the front door at " + location.name +
           " for you now, or NO to cancel.";
  return "Reply YES to go ahead, or NO to cancel.";
}

std::string DoneNotice(const ActionRow& a) {
  if (a.kind == "reset_trackman")
    return "Done: the TrackMan in bay " + std::to_string(a.target.value("bay", 0)) +
           " has restarted and is back online. Enjoy your round!";
  if (a.kind == "unlock_door") return "The door is unlocked now; come on in!";
  return "Done.";
}

}  // namespace

Flow::Flow(const Config& config, const Router& router, Integration& integration, const Clock& clock)
    : config_(config),
      router_(router),
      integration_(integration),
      clock_(clock),
      timings_{config.flow.debounce, config.flow.confirmation_ttl, config.flow.verify_poll,
               config.flow.close_after},
      engine_(timings_, clock),
      policy_(config, clock),
      gate_(config, clock, policy_) {}

ActionView Flow::ViewOf(const ActionRow& row) {
  ActionView v;
  v.id = row.id;
  v.thread_id = row.thread_id;
  v.kind = row.kind;
  v.idempotency_key = row.key;
  v.location = row.target.value("location", "");
  if (row.target.contains("bay")) v.bay = row.target.at("bay").get<int>();
  v.device_id = row.target.value("device_id", "");
  v.control = row.target.value("control", "");
  v.door = row.target.value("door", "");
  v.phone = row.target.value("phone", "");
  v.from_line = row.target.value("from_line", "");
  v.text = row.params.value("text", "");
  v.baseline = row.baseline;
  v.external_ref = row.external_ref;
  v.reason = row.reason;
  v.booking_id = row.booking_id;
  return v;
}

void Flow::Register(workers::Registry& registry) {
  const workers::RetryPolicy retry{config_.flow.retry_base, config_.flow.retry_cap, 0.25};
  auto add = [&](const char* kind, Outcome (Flow::*fn)(JobContext&)) {
    registry.Register({kind,
                       [this, fn](JobContext& ctx) { return (this->*fn)(ctx); },
                       retry,
                       Millis(60'000),
                       {}});
  };
  add(kRouteMessage, &Flow::Route);
  add(kExecuteAction, &Flow::Execute);
  add(kSendMessage, &Flow::Execute);
  add(kVerifyAction, &Flow::Verify);
  add(kExpireConfirmation, &Flow::ExpireConfirmation);
  add(kNotifyOperator, &Flow::Notify);
  add(kCloseThread, &Flow::Close);
  // A flow job that died after its last attempt hands its thread to a human.
  registry.OnDead([this](store::Tx& tx, const workers::Job& job, const std::string& reason) {
    const json args = json::parse(job.args, nullptr, false);
    if (args.is_discarded()) return;
    int64_t thread_id = args.value("thread_id", int64_t{0});
    if (args.contains("action_id")) {
      LockThreadOfAction(tx, args.at("action_id").get<int64_t>());
      auto r = tx.Exec("action_lock", {args.at("action_id").get<int64_t>()});
      if (r.Empty()) return;
      const ActionRow a(r);
      thread_id = a.thread_id;
      // Leave no action half-way: each state a dead job can strand it in has an exit.
      if (a.state == "executing")
        engine_.ApplyAction(tx, a.id, "execution_unknown", "worker", reason, a.state,
                            {.result = "inconclusive", .error = reason});
      else if (a.state == "executed")
        engine_.ApplyAction(tx, a.id, "verification_timeout", "worker", reason, a.state,
                            {.result = "inconclusive", .error = reason});
      else if (a.state == "awaiting_confirmation" || a.state == "routed")
        engine_.ApplyAction(tx, a.id, a.state == "routed" ? "cancelled" : "confirmation_expired",
                            "worker", reason, a.state, {});
      if (!thread_id && job.kind != kNotifyOperator)
        return EscalateAction(tx, a, "retries_exhausted", job.kind + ": " + reason, "worker");
    }
    if (thread_id && job.kind != kNotifyOperator)
      Escalate(tx, thread_id, "retries_exhausted", job.kind + ": " + reason, "worker");
  });
}

// ---- intake ------------------------------------------------------------------------------------

const Location& Flow::CheckInbound(const InboundMessage& msg) const {
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
  const Location* location = config_.LocationForLine(msg.to);
  if (!location)
    throw InvalidInput("to " + msg.to + " is not a facility line in the configuration");
  return *location;
}

IntakeResult Flow::IntakeInTx(store::Tx& tx, const InboundMessage& msg, const Location* location) {
  const std::optional<std::string> external =
      msg.external_id.empty() ? std::nullopt : std::optional<std::string>(msg.external_id);
  IntakeResult out;
  [&] {  // a lambda: each early return below ends this message's intake
    if (external) {
      auto dup = tx.Exec("message_by_external_id", {msg.source, msg.from, *external});
      if (!dup.Empty()) {
        out = {dup.At(0, "thread_id").Int64(), dup.At(0, "id").Int64(), true};
        return;
      }
    }
    auto open = tx.Exec("thread_open_lock", {msg.from, msg.to});
    bool created = false;
    if (open.Empty()) {
      auto ins = tx.Exec("thread_insert", {location->id, msg.from, msg.to});
      if (!ins.Empty()) {
        out.thread_id = ins.At(0, "id").Int64();
        created = true;
      } else {  // another intake opened it a moment ago; it has committed now
        open = tx.Exec("thread_open_lock", {msg.from, msg.to});
      }
    }
    std::string state = "received";
    if (!created) {
      out.thread_id = open.At(0, "id").Int64();
      state = open.At(0, "state").Str();
    }
    auto m = tx.Exec("message_insert", {out.thread_id, "in", external, msg.from, msg.to, msg.body,
                                        clock_.DbNow(), msg.source});
    if (m.Empty()) {  // the same provider id raced in through another request
      auto dup = tx.Exec("message_by_external_id", {msg.source, msg.from, *external});
      out = {dup.At(0, "thread_id").Int64(), dup.At(0, "id").Int64(), true};
      return;
    }
    out.message_id = m.At(0, "id").Int64();
    const std::string data = json{{"message_id", out.message_id}}.dump();

    if (created) {
      engine_.Created(tx, Machine::kThread, out.thread_id, "message_received", "customer", data);
    } else if (state == "routed" || state == "awaiting_confirmation") {
      // The thread's primary action decides what a new text means.
      auto primary = tx.Exec("action_primary_open", {out.thread_id});
      const bool in_flight = !primary.Empty() && (primary.At(0, "state").Str() == "executing" ||
                                                  !primary.At(0, "confirmed_by").IsNull());
      if (in_flight) {
        // Confirmed or already running: the text is kept and the action goes on (routing it now
        // would cut the action off from its thread); it is read when the action is verified.
        return;
      }
      const auto reply = ParseConfirmation(msg.body);
      if (!primary.Empty() && reply && state == "awaiting_confirmation") {  // not debounced
        try {
          ConfirmLocked(tx, primary.At(0, "id").Int64(), *reply, "customer");
          tx.Exec("thread_mark_read", {out.thread_id, out.message_id});
          return;
        } catch (const IllegalTransition&) {
          // Too late (the confirmation expired a moment ago): the reply is still the customer's
          // message and is kept; it is routed like any other text. ConfirmLocked refused before
          // writing anything, so the transaction goes on.
        }
      }
      // Anything else is a new request: the action that has not started is cancelled.
      if (!primary.Empty())
        engine_.Apply(tx, Machine::kAction, primary.At(0, "id").Int64(), "cancelled", "customer",
                      "the customer wrote again", "{}", primary.At(0, "state").Str());
      state = engine_
                  .Apply(tx, Machine::kThread, out.thread_id, "message_received", "customer", "",
                         data, state)
                  .to;
    } else {
      state = engine_
                  .Apply(tx, Machine::kThread, out.thread_id, "message_received", "customer", "",
                         data, state)
                  .to;
    }
  }();
  return out;
}

IntakeResult Flow::Intake(store::Connection& db, const InboundMessage& msg) {
  const Location& location = CheckInbound(msg);
  IntakeResult out;
  db.Transact("intake", [&](store::Tx& tx) { out = IntakeInTx(tx, msg, &location); });
  return out;
}

std::vector<Flow::IntakeOutcome> Flow::IntakeMany(store::Connection& db,
                                                  const std::vector<InboundMessage>& msgs) {
  std::vector<IntakeOutcome> out(msgs.size());
  std::vector<std::pair<std::size_t, const Location*>> valid;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    try {
      valid.emplace_back(i, &CheckInbound(msgs[i]));
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
  try {
    db.Transact("intake_batch", [&](store::Tx& tx) {
      for (const auto& [i, location] : valid) out[i].result = IntakeInTx(tx, msgs[i], location);
    });
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
    out[i].result.reset();
    try {
      db.Transact("intake", [&, i = i, location = location](store::Tx& tx) {
        out[i].result = IntakeInTx(tx, msgs[i], location);
      });
    } catch (...) {
      out[i].error = std::current_exception();
    }
  }
  return out;
}

// ---- routing and decision ----------------------------------------------------------------------

Outcome Flow::Route(JobContext& ctx) {
  const int64_t thread_id = ArgId(ctx, "thread_id");
  ctx.db().Transact("route", [&](store::Tx& tx) {
    auto t = tx.Exec("thread_lock", {thread_id});
    if (t.Empty() || t.At(0, "state").Str() != "received") return ctx.CompleteInTx(tx);
    const auto last_routed = t.At(0, "last_routed_message_id").OptInt64();
    auto msgs = tx.Exec("messages_since", {thread_id, last_routed});
    if (msgs.Empty()) return ctx.CompleteInTx(tx);
    std::vector<std::string> texts;
    for (std::size_t i = 0; i < msgs.Size(); ++i) texts.push_back(msgs.At(i, "body").Str());
    const int64_t last_id = msgs.At(msgs.Size() - 1, "id").Int64();
    const Location* location = config_.FindLocation(t.At(0, "location").Str());
    if (!location) throw std::runtime_error("thread location is not in the configuration");
    // One of the facility's own lines wrote: answering it could start two lines texting each
    // other without end. It is stored and shown to a human, never answered automatically.
    if (const Location* own = config_.LocationForLine(t.At(0, "customer_phone").Str())) {
      engine_.ApplyThread(tx, thread_id, "routed", "router", "escalate", "{}", "received",
                          {.last_routed_message_id = last_id});
      Escalate(tx, thread_id, "from_facility_line",
               "the sender is " + own->name + "'s own line: not answered automatically", "router");
      return ctx.CompleteInTx(tx);
    }

    const Intent intent = router_.Route(texts);
    const bool rapid =
        last_routed && tx.Exec("messages_recent_count",
                               {thread_id, static_cast<int64_t>(config_.flow.rapid_window.count()),
                                clock_.DbNow()})
                               .At(0, "n")
                               .Int() >= config_.flow.rapid_count;
    // The asset is locked while its recent actions are counted and this action is created: two
    // workers deciding for one bay take turns, and the second sees the first's action.
    const Planned planned = Plan(intent, *location, config_);
    const auto [profile, facts] = policy_.Gather(tx, *location, intent.category, planned.plan,
                                                 t.At(0, "customer_phone").Str(), thread_id, rapid);
    const Decision d = Decide({intent, *location, config_, profile, facts});

    json intent_j = {{"category", intent.category},
                     {"action", intent.action},
                     {"entities", {{"location", location->id}}},
                     {"confidence", intent.confidence},
                     {"router", intent.router},
                     {"flags", intent.flags},
                     {"must_escalate", intent.must_escalate}};
    if (intent.bay) intent_j["entities"]["bay"] = *intent.bay;
    if (!intent.faq_topic.empty()) intent_j["entities"]["faq_topic"] = intent.faq_topic;
    json decision_j = {{"outcome", d.outcome},
                       {"reasons", d.reasons},
                       {"policy_version", d.policy_version},
                       {"facts", json::parse(facts.ToJson())}};
    if (!d.escalation_reason.empty()) decision_j["escalation_reason"] = d.escalation_reason;
    engine_.ApplyThread(tx, thread_id, "routed", "router", d.outcome,
                        json{{"intent", intent_j}, {"decision", decision_j}}.dump(), "received",
                        {intent_j.dump(), decision_j.dump(), d.priority, last_id});

    if (d.outcome == "escalate") {
      std::string detail;
      for (const auto& r : d.reasons) detail += (detail.empty() ? "" : "; ") + r;
      Escalate(tx, thread_id, d.escalation_reason, detail, "router", d.priority);
      return ctx.CompleteInTx(tx);
    }
    const ActionPlan& plan = *d.action;
    json target = {{"location", plan.location}};
    if (plan.bay) target["bay"] = *plan.bay;
    if (!plan.device_id.empty()) target["device_id"] = plan.device_id;
    if (!plan.door_id.empty()) target["door"] = plan.door_id;
    if (plan.bay) target["control"] = location->FindBay(*plan.bay)->control;
    json params = {{"role", "primary"}};
    if (plan.kind == "send_message") {
      target["phone"] = t.At(0, "customer_phone").Str();
      target["from_line"] = t.At(0, "facility_line").Str();
      params["text"] = plan.text;
    }
    const std::optional<std::string> booking_id = plan.kind == "unlock_door" && facts.booking
                                                      ? std::optional(facts.booking->id)
                                                      : std::nullopt;
    if (d.outcome == "suggest") {
      // What ClubOS would have done, for an operator to approve or reject.
      const int64_t sid =
          tx.Exec("suggestion_insert",
                  {thread_id, plan.kind, target.dump(), params.dump(), plan.reason,
                   decision_j.dump(), booking_id, clock_.Now() + config_.flow.suggestion_ttl})
              .At(0, "id")
              .Int64();
      Escalate(tx, thread_id, "suggestion_review",
               "suggestion " + std::to_string(sid) + ": " + plan.kind + " (" + plan.reason + ")",
               "router", d.priority);
      return ctx.CompleteInTx(tx);
    }
    const bool confirm = d.outcome == "confirm_first";
    const auto expires =
        confirm ? std::optional<TimePoint>(clock_.Now() + config_.flow.confirmation_ttl)
                : std::nullopt;
    const int64_t action_id =
        CreateAction(tx, thread_id, plan.kind, target.dump(), params.dump(), "router", plan.reason,
                     decision_j.dump(), d.outcome, expires, booking_id);
    const ThreadContact contact{thread_id, location->id, t.At(0, "customer_phone").Str(),
                                t.At(0, "facility_line").Str()};
    // Rows this transaction created or locked: their state is known, no lock query needed.
    if (confirm) {
      engine_.Apply(tx, Machine::kAction, action_id, "confirmation_requested", "router", "", "{}",
                    std::string("routed"));
      engine_.Apply(tx, Machine::kThread, thread_id, "confirmation_requested", "router", "",
                    json{{"action_id", action_id}}.dump(), std::string("routed"));
      Reply(tx, contact, "prompt", PromptFor(plan, *location), "SOP confirm-before-physical-action",
            d.priority);
    } else {
      EnqueueExecution(tx, action_id, plan.kind, d.priority);
    }
    ctx.CompleteInTx(tx);
  });
  return Outcome::Complete();
}

int64_t Flow::CreateAction(store::Tx& tx, int64_t thread_id, const std::string& kind,
                           const std::string& target, const std::string& params,
                           const std::string& triggered_by, const std::string& reason,
                           const std::string& decision, const std::string& outcome,
                           std::optional<TimePoint> confirm_expires_at,
                           std::optional<std::string> booking_id, bool human_override,
                           const std::string& stop_override) {
  // The statement writes received -policy_decided-> routed itself; the table must agree.
  static const bool legal = sm::ActionMachine().Next("received", "policy_decided") == "routed";
  CLUBOS_ASSERT(legal, "action_create disagrees with the action table");
  const std::string key = (thread_id ? "thread-" + std::to_string(thread_id) : "operator") + "-" +
                          kind + "-" + RandomKey();
  json birth = {{"thread_id", thread_id}, {"kind", kind}};
  if (!stop_override.empty()) birth["stop_override"] = stop_override;
  auto r =
      tx.Exec("action_create", {thread_id ? std::optional(thread_id) : std::nullopt, kind, target,
                                params, triggered_by, reason, key, decision, confirm_expires_at,
                                birth.dump(), outcome, booking_id, human_override});
  return r.At(0, "id").Int64();
}

void Flow::Reply(store::Tx& tx, const ThreadContact& to, const std::string& role,
                 const std::string& text, const std::string& reason, int priority) {
  const json target = {{"location", to.location}, {"phone", to.phone}, {"from_line", to.line}};
  const json params = {{"role", role}, {"text", text}};
  const int64_t id =
      CreateAction(tx, to.thread_id, "send_message", target.dump(), params.dump(), "chain", reason,
                   json{{"outcome", "execute"}}.dump(), "execute", std::nullopt);
  EnqueueExecution(tx, id, "send_message", priority);
}

void Flow::EnqueueExecution(store::Tx& tx, int64_t action_id, const std::string& kind,
                            int priority) {
  const ActionKind* k = FindActionKind(kind);
  CLUBOS_ASSERT(k, "an action of no known kind");
  const std::string job(k->job);
  EnqueueRequest req{.kind = job,
                     .args = json{{"action_id", action_id}}.dump(),
                     .priority = priority,
                     .unique_key = job + ":" + std::to_string(action_id)};
  workers::Enqueue(tx, req, clock_);
}

// ---- confirmation ------------------------------------------------------------------------------

void Flow::ConfirmLocked(store::Tx& tx, int64_t action_id, bool yes, const std::string& actor) {
  auto r = tx.Exec("action_lock", {action_id});
  if (r.Empty()) throw NotFound("action " + std::to_string(action_id) + " does not exist");
  const ActionRow a(r);
  const std::string event = yes ? "confirmed" : "rejected";
  if (a.state != "awaiting_confirmation" || a.confirmed_by)
    // The state it is in; "confirmed" for one confirmed but not started yet.
    throw IllegalTransition("action", action_id,
                            a.state == "awaiting_confirmation" ? "confirmed" : a.state, event);
  if (a.confirm_expires_at && *a.confirm_expires_at <= clock_.Now())
    throw IllegalTransition("action", action_id, "awaiting_confirmation (expired)", event);
  const std::string data = json{{"action_id", action_id}}.dump();
  if (yes) {
    tx.Exec("action_confirm", {action_id, actor});
    // The table's effect of `confirmed` starts the execution (its data names the action).
    engine_.Apply(tx, Machine::kThread, a.thread_id, "confirmed", actor, "", data, std::nullopt,
                  50);
  } else {
    engine_.Apply(tx, Machine::kAction, action_id, "rejected", actor, "", "{}", a.state);
    engine_.Apply(tx, Machine::kThread, a.thread_id, "rejected", actor, "", data);
  }
}

void Flow::Confirm(store::Connection& db, int64_t action_id, bool yes, const std::string& actor) {
  db.Transact("confirm", [&](store::Tx& tx) {
    LockThreadOfAction(tx, action_id);
    ConfirmLocked(tx, action_id, yes, actor);
  });
}

Outcome Flow::ExpireConfirmation(JobContext& ctx) {
  const int64_t action_id = ArgId(ctx, "action_id");
  ctx.db().Transact("expire_confirmation", [&](store::Tx& tx) {
    LockThreadOfAction(tx, action_id);
    auto r = tx.Exec("action_lock", {action_id});
    if (r.Empty()) return ctx.CompleteInTx(tx);
    const ActionRow a(r);
    if (a.state != "awaiting_confirmation" || a.confirmed_by)
      return ctx.CompleteInTx(tx);  // it moved on
    engine_.Apply(tx, Machine::kAction, action_id, "confirmation_expired", "timer", "", "{}",
                  a.state);
    auto t = tx.Exec("thread_lock", {a.thread_id});
    if (t.At(0, "state").Str() == "awaiting_confirmation") {
      tx.Exec("thread_set_escalation",
              {a.thread_id, "not_confirmed",
               json{{"detail", "no reply before the confirmation expired"}}.dump()});
      if (on_rest_) tx.AfterCommit([this, id = a.thread_id] { on_rest_(id, "escalated"); });
      engine_.Apply(tx, Machine::kThread, a.thread_id, "confirmation_expired", "timer",
                    "not_confirmed", "{}", std::string("awaiting_confirmation"), 50);
    }
    ctx.CompleteInTx(tx);
  });
  return Outcome::Complete();
}

// ---- execution ---------------------------------------------------------------------------------

GateInput Flow::StartGate(const ActionRow& a) const {
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

// How long a worker that inherits an `executing` action keeps looking for the call's effect. Set
// at the first look and kept with the action: after a crash that look comes at the lease's
// expiry, maybe long after the call, and must still leave a whole verification window.
TimePoint Flow::RecoveryDeadline(JobContext& ctx, const ActionRow& a) {
  if (a.verify_deadline) return *a.verify_deadline;
  const TimePoint deadline =
      std::max(clock_.Now(), a.since + 2 * config_.integrations.call_timeout) +
      config_.VerifyTimeout(a.kind);
  ctx.db().ExecOne("action_set_recovery_deadline", {a.id, deadline});
  return deadline;
}

Outcome Flow::Execute(JobContext& ctx) {
  const int64_t action_id = ArgId(ctx, "action_id");
  auto r = ctx.db().ExecOne("action_get", {action_id});
  if (r.Empty()) return Outcome::Complete();
  ActionRow a(r);
  const bool startable =
      a.state == "routed" || (a.state == "awaiting_confirmation" && a.confirmed_by);
  CallOutcome call;
  std::string baseline_used;  // of the call made by this attempt
  if (startable) {
    ActionView view = ViewOf(a);
    // Without the target's state from before the call, the call could never be proven: an
    // unreadable baseline means "not started, try again", decided before `executing` commits.
    const std::optional<std::string> baseline = integration_.Baseline(view);
    if (!baseline)
      return Outcome::Retry(a.kind + ": the target's state before the call could not be read");
    bool started = false;
    ctx.db().Transact("execution_started", [&](store::Tx& tx) {
      started = false;
      LockThreadOfAction(tx, action_id);
      const ActionRow locked(tx.Exec("action_lock", {action_id}));
      if (!(locked.state == "routed" ||
            (locked.state == "awaiting_confirmation" && locked.confirmed_by)))
        return;
      // The gate again, at the last moment: the stop may have been engaged since the decision,
      // another action may have reset the bay, the booking may be over.
      if (const auto refused = gate_.Check(tx, StartGate(locked))) {
        const bool stop = refused->code == "emergency_stop";
        engine_.ApplyAction(tx, action_id, stop ? "emergency_stopped" : "start_refused", "worker",
                            refused->detail, locked.state, {});
        EscalateAction(tx, locked, refused->code, refused->detail, "worker");
        return ctx.CompleteInTx(tx);
      }
      const std::string overridden = locked.StopOverride();
      engine_.ApplyAction(
          tx, action_id, "execution_started", "worker",
          overridden.empty() ? "" : "with an emergency-stop override (" + overridden + ")",
          locked.state, {.baseline = *baseline});
      started = true;
    });
    if (!started) return Outcome::Complete();
    view.baseline = baseline_used = *baseline;
    // `executing` is committed: from here on a crash leaves a trace the next attempt checks.
    call = integration_.Execute(view);
  } else if (a.state == "executing") {
    // Found mid-flight: a worker died, or the last call's outcome was unknown. Look before acting.
    const ActionView view = ViewOf(a);
    const StateCheck seen = integration_.Check(view);
    if (seen == StateCheck::kChanged) {
      call = {CallResult::kAccepted, "found done when recovering"};
    } else if (integration_.Idempotent(view)) {
      call = integration_.Execute(view);  // same idempotency key
    } else if (const TimePoint until = RecoveryDeadline(ctx, a); clock_.Now() < until) {
      // The last call may still be landing (its answer was lost, not its effect), and "could not
      // read the target" is not "unchanged": keep looking until the deadline, as Verify does.
      return Outcome::DeferUntil(clock_.Now() + config_.flow.verify_poll,
                                 "the last call's outcome is not visible yet");
    } else {
      ctx.db().Transact("execution_unknown", [&](store::Tx& tx) {
        LockThreadOfAction(tx, action_id);
        const ActionRow locked(tx.Exec("action_lock", {action_id}));
        if (locked.state == "executing") {
          const std::string why =
              "a non-idempotent call's outcome is unknown and the target shows no change";
          engine_.ApplyAction(tx, action_id, "execution_unknown", "worker", why, locked.state,
                              {.result = "inconclusive", .error = why});
          EscalateAction(tx, locked, "inconclusive", why, "worker");
        }
        ctx.CompleteInTx(tx);
      });
      return Outcome::Complete();
    }
  } else {
    return Outcome::Complete();  // cancelled, rejected, expired or already done
  }
  if (call.result == CallResult::kTransient) return Outcome::Retry(a.kind + ": " + call.detail);
  if (call.result == CallResult::kNotDone) return Deferred(ctx, action_id, call);
  // Checked against what the call left behind: the baseline it was measured from and the
  // vendor's reference from its answer, neither of which the row read before the call has.
  ActionView done = ViewOf(a);
  if (!baseline_used.empty()) done.baseline = baseline_used;
  if (!call.external_ref.empty()) done.external_ref = call.external_ref;
  const StateCheck seen =
      call.result == CallResult::kAccepted ? integration_.Check(done) : StateCheck::kUnknown;
  ctx.db().Transact("execution_finished", [&](store::Tx& tx) {
    LockThreadOfAction(tx, action_id);
    FinishExecution(tx, action_id, call, seen);
    ctx.CompleteInTx(tx);
  });
  return Outcome::Complete();
}

// The vendor certainly did not act (it refused to connect, or answered 429/503): the action goes
// back to `routed`, so the next attempt starts it afresh instead of treating the call as one
// whose outcome is unknown, and the job waits for the vendor's Retry-After.
Outcome Flow::Deferred(JobContext& ctx, int64_t action_id, const CallOutcome& call) {
  ctx.db().Transact("execution_deferred", [&](store::Tx& tx) {
    LockThreadOfAction(tx, action_id);
    const ActionRow locked(tx.Exec("action_lock", {action_id}));
    if (locked.state == "executing")
      engine_.ApplyAction(tx, action_id, "execution_deferred", "worker", call.detail, locked.state,
                          {});
  });
  if (call.retry_after) return Outcome::Retry(call.detail, *call.retry_after);
  return Outcome::Retry(call.detail);
}

void Flow::FinishExecution(store::Tx& tx, int64_t action_id, const CallOutcome& outcome,
                           StateCheck seen) {
  const ActionRow a(tx.Exec("action_lock", {action_id}));
  if (a.state != "executing") return;
  if (outcome.result == CallResult::kAccepted) {
    engine_.ApplyAction(
        tx, action_id, "execution_succeeded", "worker", outcome.detail, a.state,
        {.verify_deadline = clock_.Now() + config_.VerifyTimeout(a.kind),
         .external_ref =
             outcome.external_ref.empty() ? std::nullopt : std::optional(outcome.external_ref)});
    std::optional<store::Result> thread;  // locked here and now `executed`
    if (a.Primary()) {
      auto t = tx.Exec("thread_lock", {a.thread_id});
      const std::string ts = t.At(0, "state").Str();
      if (ts == "routed" || ts == "awaiting_confirmation") {
        engine_.Apply(tx, Machine::kThread, a.thread_id, "action_executed", "worker", "",
                      json{{"action_id", action_id}}.dump(), ts);
        thread = t;
      }
    }
    // The change is often visible at once (an SMS accepted, a door event logged): verify in this
    // transaction, and the verification job that entering `executed` scheduled is dropped with it.
    if (seen == StateCheck::kChanged) Verified(tx, a, thread);
    return;
  }
  engine_.ApplyAction(tx, action_id, "execution_failed", "worker", outcome.detail, a.state,
                      {.result = "failed", .error = outcome.detail});
  EscalateAction(tx, a, "action_failed", outcome.detail, "worker");
}

// The action's effect is visible: the action is verified, and a primary action's thread with it.
void Flow::Verified(store::Tx& tx, const ActionRow& a,
                    std::optional<store::Result> executed_thread) {
  engine_.ApplyAction(tx, a.id, "verification_passed", "worker", "", "executed",
                      {.result = "success"});
  if (!a.Primary()) return;
  store::Result t;
  if (executed_thread) {
    t = *executed_thread;
  } else {
    t = tx.Exec("thread_lock", {a.thread_id});
    if (t.At(0, "state").Str() != "executed") return;
  }
  engine_.Apply(tx, Machine::kThread, a.thread_id, "verified", "worker", "",
                json{{"action_id", a.id}}.dump(), std::string("executed"));
  if (on_rest_) tx.AfterCommit([this, id = a.thread_id] { on_rest_(id, "verified"); });
  if (a.kind != "send_message")
    Reply(tx,
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
  const Intent said = router_.Route(texts);
  const bool thanks = said.must_escalate.empty() && said.action.empty() &&
                      std::any_of(said.flags.begin(), said.flags.end(), [](const std::string& f) {
                        return f.rfind("positive:", 0) == 0;
                      });
  if (thanks) {
    tx.Exec("thread_mark_read", {a.thread_id, last});
    return;
  }
  engine_.Apply(tx, Machine::kThread, a.thread_id, "message_received", "customer",
                "texts sent while the action ran", json{{"message_id", last}}.dump(),
                std::string("verified"));
}

// ---- verification ------------------------------------------------------------------------------

Outcome Flow::Verify(JobContext& ctx) {
  const int64_t action_id = ArgId(ctx, "action_id");
  auto r = ctx.db().ExecOne("action_get", {action_id});
  if (r.Empty()) return Outcome::Complete();
  const ActionRow a(r);
  if (a.state != "executed") return Outcome::Complete();
  const StateCheck seen = integration_.Check(ViewOf(a));
  if (seen != StateCheck::kChanged && a.verify_deadline && clock_.Now() < *a.verify_deadline)
    return Outcome::DeferUntil(clock_.Now() + config_.flow.verify_poll, "state not changed yet");
  ctx.db().Transact("verification", [&](store::Tx& tx) {
    LockThreadOfAction(tx, action_id);
    const ActionRow locked(tx.Exec("action_lock", {action_id}));
    if (locked.state != "executed") return ctx.CompleteInTx(tx);
    if (seen == StateCheck::kChanged) {
      Verified(tx, locked);
    } else {
      const bool unchanged = seen == StateCheck::kUnchanged;
      const std::string why = unchanged
                                  ? "the target shows no change before the verification deadline"
                                  : "the target's state could not be read before the deadline";
      engine_.ApplyAction(tx, action_id, unchanged ? "verification_failed" : "verification_timeout",
                          "worker", why, locked.state,
                          {.result = unchanged ? "failed" : "inconclusive", .error = why});
      EscalateAction(tx, locked, unchanged ? "state_unchanged" : "inconclusive", why, "worker");
    }
    ctx.CompleteInTx(tx);
  });
  return Outcome::Complete();
}

// ---- escalation, operators, closing ------------------------------------------------------------

// An action that failed or cannot be proven goes to a human: with its thread when it has one,
// else (an operator's own action) straight to the operators' channel.
void Flow::EscalateAction(store::Tx& tx, const ActionRow& a, const std::string& reason,
                          const std::string& detail, const std::string& actor) {
  // The thread's primary action, or the question its customer must answer, holds the thread up:
  // the thread goes to a human. A secondary action (the "done" notice, an operator's reply) that
  // fails is told to the operators, and a thread whose primary action succeeded stays as it is.
  const bool holds_thread = a.Primary() || a.params.value("role", "") == "prompt";
  if (a.thread_id && holds_thread)
    return Escalate(tx, a.thread_id, reason, a.kind + ": " + detail, actor);
  workers::Enqueue(
      tx,
      {.kind = kNotifyOperator,
       .args = json{{"action_id", a.id}, {"reason", reason}, {"detail", detail}}.dump(),
       .priority = 50},
      clock_);
}

void Flow::Escalate(store::Tx& tx, int64_t thread_id, const std::string& reason,
                    const std::string& detail, const std::string& actor, int priority) {
  auto t = tx.Exec("thread_lock", {thread_id});
  if (t.Empty()) return;
  const std::string state = t.At(0, "state").Str();
  if (!sm::ThreadMachine().Next(state, "escalated")) return;  // already with a human, or finished
  // The reason first: the table's CHECK refuses an escalated thread without one.
  tx.Exec("thread_set_escalation", {thread_id, reason, json{{"detail", detail}}.dump()});
  engine_.Apply(tx, Machine::kThread, thread_id, "escalated", actor, reason,
                json{{"reason", reason}, {"detail", detail}}.dump(), state, priority);
  if (on_rest_) tx.AfterCommit([this, thread_id] { on_rest_(thread_id, "escalated"); });
}

Outcome Flow::Notify(JobContext& ctx) {
  const json args = json::parse(ctx.job().args, nullptr, false);
  std::string summary, link;
  const std::string& base = config_.console_url;
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
    if (!base.empty()) link = base + "threads/" + std::to_string(thread_id);
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
  const auto sent = integration_.NotifyOperators(summary, link);
  if (sent.result == CallResult::kTransient || sent.result == CallResult::kNotDone)
    return Outcome::Retry("operator notification: " + sent.detail, sent.retry_after);
  if (sent.result == CallResult::kRejected)
    return Outcome::Fail("operator notification refused: " + sent.detail);
  return Outcome::Complete();
}

Outcome Flow::Close(JobContext& ctx) {
  const int64_t thread_id = ArgId(ctx, "thread_id");
  ctx.db().Transact("close_thread", [&](store::Tx& tx) {
    auto t = tx.Exec("thread_lock", {thread_id});
    if (!t.Empty() && t.At(0, "state").Str() == "verified")
      engine_.Apply(tx, Machine::kThread, thread_id, "closed", "timer",
                    "quiet period after verification", "{}", std::string("verified"));
    ctx.CompleteInTx(tx);
  });
  return Outcome::Complete();
}

// ---- performAction -----------------------------------------------------------------------------

namespace {

// The target as the facility knows it: the caller names a bay or a door of a location; the
// action carries the vendor's device id too, resolved here once.
json ResolveTarget(const Config& config, const std::string& kind, const std::string& text) {
  const json in = json::parse(text, nullptr, false);
  if (in.is_discarded() || !in.is_object()) throw InvalidInput("target must be a JSON object");
  if (!in.contains("location") || !in["location"].is_string())
    throw InvalidInput("target.location must be a location id");
  const std::string loc_id = in["location"].get<std::string>();
  const Location* loc = config.FindLocation(loc_id);
  if (!loc) throw InvalidInput("target.location '" + loc_id + "' is not in the facility");
  json out = {{"location", loc->id}};
  if (kind == "reset_trackman" || kind == "reboot_pc") {
    if (!in.contains("bay") || !in["bay"].is_number_integer())
      throw InvalidInput(kind + " needs target.bay (a bay number)");
    // Read as the widest integer: bay 2^32+2 is no bay, not bay 2.
    const int64_t wide = in["bay"].is_number_unsigned() && in["bay"].get<uint64_t>() > INT64_MAX
                             ? -1
                             : in["bay"].get<int64_t>();
    const Bay* bay =
        wide >= 0 && wide <= INT32_MAX ? loc->FindBay(static_cast<int>(wide)) : nullptr;
    if (!bay) throw InvalidInput("bay " + in["bay"].dump() + " is not a bay of " + loc->name);
    const int number = bay->number;
    out["bay"] = number;
    out["device_id"] = bay->device_id;
    out["control"] = bay->control;
  } else if (kind == "unlock_door") {
    if (!in.contains("door") || !in["door"].is_string())
      throw InvalidInput("unlock_door needs target.door (a door id)");
    const std::string door_id = in["door"].get<std::string>();
    const auto door = std::find_if(loc->doors.begin(), loc->doors.end(),
                                   [&](const Door& d) { return d.id == door_id; });
    if (door == loc->doors.end())
      throw InvalidInput("door '" + door_id + "' is not a door of " + loc->name);
    out["door"] = door->id;
    out["device_id"] = door->device_id;
  } else if (kind == "send_message") {
    if (!in.contains("phone") || !in["phone"].is_string() ||
        !IsE164(in["phone"].get<std::string>()))
      throw InvalidInput("send_message needs target.phone (E.164)");
    if (config.LocationForLine(in["phone"].get<std::string>()))
      throw InvalidInput("target.phone is one of the facility's own lines");
    out["phone"] = in["phone"];
    std::string line = loc->phone_lines.empty() ? "" : loc->phone_lines.front();
    if (in.contains("from_line")) {
      if (!in["from_line"].is_string()) throw InvalidInput("target.from_line must be a string");
      line = in["from_line"].get<std::string>();
      if (std::find(loc->phone_lines.begin(), loc->phone_lines.end(), line) ==
          loc->phone_lines.end())
        throw InvalidInput("from_line " + line + " is not a line of " + loc->name);
    }
    if (line.empty()) throw InvalidInput(loc->name + " has no phone line to send from");
    out["from_line"] = line;
  }
  return out;
}

}  // namespace

int64_t Flow::Perform(store::Connection& db, const ActionRequest& req) {
  int64_t id = 0;
  db.Transact("perform_action", [&](store::Tx& tx) { id = PerformInTx(tx, req); });
  return id;
}

int64_t Flow::PerformInTx(store::Tx& tx, const ActionRequest& req) {
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
  const json target = ResolveTarget(config_, req.kind, req.target);
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
  if (const auto refused = gate_.Check(tx, gate)) {
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
  const int64_t id = CreateAction(tx, req.thread_id.value_or(0), req.kind, target.dump(),
                                  params.dump(), req.triggered_by, req.reason, decision.dump(),
                                  "execute", std::nullopt, req.booking_id, req.human_override,
                                  params.value("stop_override", std::string()));
  EnqueueExecution(tx, id, req.kind, 50);
  return id;
}

void Flow::FlagRollback(store::Connection& db, int64_t action_id, const std::string& actor,
                        const std::string& reason) {
  if (reason.empty() || reason.size() > 500 || !IsValidText(reason))
    throw InvalidInput("reason must be 1..500 bytes of text");
  db.Transact("flag_rollback", [&](store::Tx& tx) {
    LockThreadOfAction(tx, action_id);
    auto r = tx.Exec("action_lock", {action_id});
    if (r.Empty()) throw NotFound("action " + std::to_string(action_id) + " does not exist");
    const ActionRow a(r);
    // The table refuses it outside verified / escalated (IllegalTransition, nothing written).
    engine_.Apply(tx, Machine::kAction, action_id, "rollback_flagged", actor, reason,
                  json{{"reason", reason}}.dump(), a.state);
    tx.Exec("action_flag_rollback",
            {action_id, json{{"by", actor}, {"reason", reason}}.dump(), clock_.DbNow()});
    // Nothing is undone: a human decides. A verified thread goes back to the escalation queue;
    // otherwise the operators are told directly.
    std::string thread_state;
    if (a.thread_id) thread_state = tx.Exec("thread_lock", {a.thread_id}).At(0, "state").Str();
    if (thread_state == "verified")
      Escalate(tx, a.thread_id, "rollback_needed", a.kind + ": " + reason, actor, 50);
    else
      workers::Enqueue(tx,
                       {.kind = kNotifyOperator,
                        .args = json{{"action_id", action_id},
                                     {"reason", "rollback_needed"},
                                     {"detail", actor + ": " + reason}}
                                    .dump(),
                        .priority = 50},
                       clock_);
  });
}

// ---- controls ----------------------------------------------------------------------------------

int Flow::ApplyControls(store::Connection& db, const ControlsRequest& req,
                        const std::string& actor) {
  // Everything is checked before anything is written: a refused request changes nothing.
  for (const auto& [name, enabled] : req.toggles)
    if (name != "auto_send" && name != "auto_execute")
      throw InvalidInput("toggle '" + name + "' is not auto_send or auto_execute");
  if (req.stop) {
    const std::string& scope = req.stop->scope;
    const bool known =
        scope == "global" ||
        (scope.rfind("location:", 0) == 0 && config_.FindLocation(scope.substr(9))) ||
        (scope.rfind("category:", 0) == 0 && scope.size() > 9 && scope.size() <= 100 &&
         IsValidText(scope));
    if (!known)
      throw InvalidInput(
          "scope must be global, location:<a configured location> or category:<name>");
    const std::string& reason = req.stop->reason;
    if (reason.empty() || reason.size() > 500 || !IsValidText(reason))
      throw InvalidInput("reason must be 1..500 bytes of text");
  }
  if (req.toggles.empty() && !req.stop) throw InvalidInput("nothing to change");
  int stopped = 0;
  db.Transact("controls", [&](store::Tx& tx) {
    stopped = 0;
    for (const auto& [name, enabled] : req.toggles) {
      tx.Exec("toggle_set", {name, enabled, actor});
      tx.Exec("control_event", {name, enabled, nullptr, actor});
    }
    if (!req.stop) return;
    const auto& [scope, engaged, reason] = *req.stop;
    tx.Exec("stop_set", {scope, engaged, reason, actor});
    tx.Exec("control_event", {"emergency_stop:" + scope, engaged, reason, actor});
    if (!engaged) return;
    // Threads before actions (the lock order), ordered by thread.
    auto open = tx.Exec("actions_open_physical", {});
    const std::vector<EmergencyStop> stops = {{scope, reason, actor, clock_.Now()}};
    for (std::size_t i = 0; i < open.Size(); ++i) {
      const std::string location = open.At(i, "location").OptStr().value_or("");
      const std::string category(CategoryOfKind(open.At(i, "kind").Str()));
      if (PolicyStore::StopCovering(stops, location, category).empty()) continue;
      const int64_t id = open.At(i, "id").Int64();
      if (const auto thread = open.At(i, "thread_id").OptInt64()) tx.Exec("thread_lock", {*thread});
      const ActionRow a(tx.Exec("action_lock", {id}));
      if (a.state != "routed" && a.state != "awaiting_confirmation") continue;
      engine_.ApplyAction(tx, id, "emergency_stopped", actor, reason, a.state, {});
      EscalateAction(tx, a, "emergency_stop", "emergency stop engaged (" + scope + "): " + reason,
                     actor);
      ++stopped;
    }
  });
  for (const auto& [name, enabled] : req.toggles)
    log::Get()->warn("toggle {} set to {} by {}", name, enabled, actor);
  if (req.stop)
    log::Get()->warn("emergency stop {} {} by {}: {} ({} pending actions stopped)", req.stop->scope,
                     req.stop->engaged ? "engaged" : "released", actor, req.stop->reason, stopped);
  return stopped;
}

int Flow::SetEmergencyStop(store::Connection& db, const std::string& scope, bool engaged,
                           const std::string& reason, const std::string& actor) {
  return ApplyControls(db, {.stop = ControlsRequest::Stop{scope, engaged, reason}}, actor);
}

void Flow::SetToggle(store::Connection& db, const std::string& name, bool enabled,
                     const std::string& actor) {
  ApplyControls(db, {.toggles = {{name, enabled}}}, actor);
}

int64_t Flow::ApproveSuggestion(store::Connection& db, int64_t id, const Approver& who) {
  int64_t action_id = 0;
  db.Transact("suggestion_approve", [&](store::Tx& tx) {
    auto peek = tx.Exec("suggestion_lock", {id});
    if (peek.Empty()) throw NotFound("suggestion " + std::to_string(id) + " does not exist");
    const int64_t thread_id = peek.At(0, "thread_id").Int64();
    auto t = tx.Exec("thread_lock", {thread_id});
    const std::string state = peek.At(0, "state").Str();
    if (state != "pending") throw IllegalTransition("suggestion", id, state, "approve");
    // What ClubOS would have done at one moment: stale after a while, and moot once its thread
    // left the operators' queue (resolved, or the customer wrote again and it was routed anew).
    if (peek.At(0, "expires_at").Time() <= clock_.Now())
      throw Conflict("suggestion_expired", "suggestion " + std::to_string(id) +
                                               " expired; the customer's need may have moved on");
    if (t.At(0, "state").Str() != "escalated")
      throw Conflict("thread_moved_on", "thread " + std::to_string(thread_id) + " is " +
                                            t.At(0, "state").Str() + ", no longer escalated");
    const json params = json::parse(peek.At(0, "params").Str());
    const std::string kind = peek.At(0, "kind").Str();
    action_id = PerformInTx(tx, {.kind = kind,
                                 .target = peek.At(0, "target").Str(),
                                 .triggered_by = "operator:" + who.name,
                                 .reason = peek.At(0, "reason").Str(),
                                 .booking_id = peek.At(0, "booking_id").OptStr(),
                                 .thread_id = thread_id,
                                 .text = params.value("text", std::string()),
                                 .human_override = true,
                                 .admin = who.admin,
                                 .stop_override = who.stop_override,
                                 .booking_required = kind == "unlock_door"});
    tx.Exec("suggestion_decide", {id, "approved", "operator:" + who.name, action_id});
  });
  return action_id;
}

void Flow::RejectSuggestion(store::Connection& db, int64_t id, const std::string& operator_name) {
  db.Transact("suggestion_reject", [&](store::Tx& tx) {
    auto peek = tx.Exec("suggestion_lock", {id});
    if (peek.Empty()) throw NotFound("suggestion " + std::to_string(id) + " does not exist");
    const std::string state = peek.At(0, "state").Str();
    if (state != "pending") throw IllegalTransition("suggestion", id, state, "reject");
    tx.Exec("suggestion_decide", {id, "rejected", "operator:" + operator_name, nullptr});
    // An expired suggestion may still be rejected: it leaves the queue with who cleared it.
  });
}

void Flow::Claim(store::Connection& db, int64_t thread_id, const std::string& operator_name,
                 bool take_over) {
  db.Transact("claim", [&](store::Tx& tx) {
    auto t = tx.Exec("thread_claim_lock", {thread_id});
    if (t.Empty()) throw NotFound("thread " + std::to_string(thread_id) + " does not exist");
    const std::string state = t.At(0, "state").Str();
    if (state != "escalated") throw IllegalTransition("thread", thread_id, state, "claimed");
    const auto holder = t.At(0, "claimed_by").OptStr();
    if (holder == operator_name) return;  // already theirs: nothing changes
    if (holder && !take_over)
      throw Conflict("already_claimed", "thread " + std::to_string(thread_id) + " is claimed by " +
                                            *holder + "; taking it over is explicit (take_over)");
    json data = {{"claimed_by", operator_name}};
    if (holder) data["taken_from"] = *holder;
    engine_.Apply(tx, Machine::kThread, thread_id, "claimed", "operator:" + operator_name,
                  holder ? "taken over from " + *holder : "", data.dump(), state);
    if (tx.Exec("thread_set_claim", {thread_id, operator_name, holder}).Empty())
      throw std::logic_error("thread " + std::to_string(thread_id) + " changed under its lock");
  });
}

void Flow::Resolve(store::Connection& db, int64_t thread_id, const std::string& operator_name,
                   const std::string& resolution, const std::string& note, bool take_over) {
  db.Transact("resolve", [&](store::Tx& tx) {
    auto t = tx.Exec("thread_claim_lock", {thread_id});
    if (t.Empty()) throw NotFound("thread " + std::to_string(thread_id) + " does not exist");
    const std::string state = t.At(0, "state").Str();
    const auto holder = t.At(0, "claimed_by").OptStr();
    if (state == "escalated" && holder && *holder != operator_name && !take_over)
      throw Conflict("claimed_by_other", "thread " + std::to_string(thread_id) + " is claimed by " +
                                             *holder +
                                             "; resolving it is theirs, or an explicit take_over");
    json data = {{"resolution", resolution}, {"note", note}};
    if (holder && *holder != operator_name) data["taken_from"] = *holder;
    engine_.Apply(tx, Machine::kThread, thread_id, "resolved", "operator:" + operator_name,
                  resolution, data.dump(), state);
  });
}

}  // namespace clubos::workflows
