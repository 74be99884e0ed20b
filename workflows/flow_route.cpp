// Routing and decision: the texts not yet routed go to the router (pure), its intent to the
// policy (pure, over facts gathered under the asset's lock), and the decision becomes the thread's
// transition and, when it acts, an action born decided.
#include "core/action_kinds.h"
#include "core/assert.h"
#include "workers/queue.h"
#include "workflows/customer_texts.h"
#include "workflows/flow_steps.h"
#include "workflows/llm_router.h"
#include "workflows/policy.h"

namespace clubos::workflows {

using nlohmann::json;
using workers::JobContext;
using workers::Outcome;

Outcome RoutingStep::Route(JobContext& ctx) {
  const int64_t thread_id = ArgId(ctx, "thread_id");
  ctx.db().Transact("route", [&](store::Tx& tx) {
    auto t = tx.Exec("thread_lock", {thread_id});
    if (t.Empty() || t.At(0, "state").Str() != tstate::kReceived) return ctx.CompleteInTx(tx);
    // Taken over: the operator answers; handing back routes what came meanwhile.
    if (PausedNow(t, f_.clock)) return ctx.CompleteInTx(tx);
    auto msgs =
        tx.Exec("messages_since", {thread_id, t.At(0, "last_routed_message_id").OptInt64()});
    if (msgs.Empty()) return ctx.CompleteInTx(tx);
    std::vector<std::string> texts;
    for (std::size_t i = 0; i < msgs.Size(); ++i) texts.push_back(msgs.At(i, "body").Str());
    const int64_t last_id = msgs.At(msgs.Size() - 1, "id").Int64();
    const Location* location = f_.config.FindLocation(t.At(0, "location").Str());
    if (!location) throw std::runtime_error("thread location is not in the configuration");
    // One of the facility's own lines wrote: answering it could start two lines texting each
    // other without end. It is stored and shown to a human, never answered automatically.
    if (const Location* own = f_.config.LocationForLine(t.At(0, "customer_phone").Str())) {
      f_.engine.Apply(tx, {.machine = Machine::kThread,
                           .id = thread_id,
                           .event = tevent::kRouted,
                           .actor = "router",
                           .reason = "escalate",
                           .from = std::string(tstate::kReceived),
                           .thread = {.last_routed_message_id = last_id}});
      escalation_.Escalate(tx, thread_id,
                           {"from_facility_line", "the sender is " + own->name +
                                                      "'s own line: not answered automatically"},
                           "router");
      return ctx.CompleteInTx(tx);
    }
    const Intent intent = f_.router.Route(texts, f_.knowledge.Current(tx)->Faq(location->id));
    if (!Consult(tx, thread_id, intent)) Decide(tx, t, last_id, intent, *location);
    ctx.CompleteInTx(tx);
  });
  return Outcome::Complete();
}

bool RoutingStep::Consult(store::Tx& tx, int64_t thread_id, const Intent& patterns) {
  if (!f_.model) return false;
  const Profile profile = f_.policy.Active(tx);
  const auto rules = profile.categories.find(patterns.category);
  const double threshold =
      rules == profile.categories.end() ? 1.0 : rules->second.confidence_threshold;
  if (PatternsSuffice(patterns, threshold, f_.config.integrations.llm.always_ask)) return false;
  workers::Enqueue(tx,
                   {.kind = kConsultModel,
                    .args = json{{"thread_id", thread_id}}.dump(),
                    .queue = kLlmQueue,
                    .unique_key = std::string(kConsultModel) + ":" + std::to_string(thread_id)},
                   f_.clock);
  return true;
}

void RoutingStep::Decide(store::Tx& tx, const store::Result& t, int64_t last_id,
                         const Intent& intent, const Location& location) {
  const int64_t thread_id = t.At(0, "id").Int64();
  const std::string customer = t.At(0, "customer_phone").Str();
  const bool rapid = !t.At(0, "last_routed_message_id").IsNull() &&
                     tx.Exec("messages_recent_count",
                             {thread_id, static_cast<int64_t>(f_.config.flow.rapid_window.count()),
                              f_.clock.DbNow()})
                             .At(0, "n")
                             .Int() >= f_.config.flow.rapid_count;
  // The asset is locked while its recent actions are counted and this action is created: two
  // workers deciding for one bay take turns, and the second sees the first's action.
  const auto knowledge = f_.knowledge.Current(tx);
  const Planned planned = Plan(intent, location, *knowledge);
  const auto [profile, facts] =
      f_.policy.Gather(tx, location, intent.category, planned.plan, customer, thread_id, rapid);
  const Decision d = workflows::Decide({intent, location, f_.config, profile, facts, *knowledge});

  json intent_j = {{"category", intent.category},
                   {"action", intent.action},
                   {"entities", {{"location", location.id}}},
                   {"confidence", intent.confidence},
                   {"router", intent.router},
                   {"flags", intent.flags},
                   {"must_escalate", intent.must_escalate}};
  if (intent.llm_call_id) intent_j["llm_call_id"] = *intent.llm_call_id;
  if (!intent.unconsulted.empty()) intent_j["unconsulted"] = intent.unconsulted;
  if (!intent.reply.empty()) intent_j["reply"] = intent.reply;
  if (intent.bay) intent_j["entities"]["bay"] = *intent.bay;
  if (!intent.faq_topic.empty()) intent_j["entities"]["faq_topic"] = intent.faq_topic;
  json decision_j = {{"outcome", d.outcome},
                     {"reasons", d.reasons},
                     {"policy_version", d.policy_version},
                     {"facts", json::parse(facts.ToJson())}};
  if (!d.escalation_reason.empty()) decision_j["escalation_reason"] = d.escalation_reason;
  f_.engine.Apply(tx, {.machine = Machine::kThread,
                       .id = thread_id,
                       .event = tevent::kRouted,
                       .actor = "router",
                       .reason = d.outcome,
                       .data = json{{"intent", intent_j}, {"decision", decision_j}}.dump(),
                       .from = std::string(tstate::kReceived),
                       .thread = {intent_j.dump(), decision_j.dump(), d.priority, last_id}});

  if (d.outcome == "escalate") {
    std::string detail;
    for (const auto& r : d.reasons) detail += (detail.empty() ? "" : "; ") + r;
    return escalation_.Escalate(tx, thread_id, {d.escalation_reason, detail}, "router", d.priority);
  }
  const ActionPlan& plan = *d.action;
  json target = {{"location", plan.location}};
  if (plan.bay) target["bay"] = *plan.bay;
  if (!plan.device_id.empty()) target["device_id"] = plan.device_id;
  if (!plan.door_id.empty()) target["door"] = plan.door_id;
  if (plan.bay) target["control"] = location.FindBay(*plan.bay)->control;
  json params = {{"role", "primary"}};
  if (plan.kind == "send_message") {
    target["phone"] = customer;
    target["from_line"] = t.At(0, "facility_line").Str();
    params["text"] = plan.text;
  }
  const std::optional<std::string> booking_id =
      plan.kind == "unlock_door" && facts.booking ? std::optional(facts.booking->id) : std::nullopt;
  if (d.outcome == "suggest") {
    // What ClubOS would have done, for an operator to approve or reject.
    const int64_t sid =
        tx.Exec("suggestion_insert",
                {thread_id, plan.kind, target.dump(), params.dump(), plan.reason, decision_j.dump(),
                 booking_id, f_.clock.Now() + f_.config.flow.suggestion_ttl})
            .At(0, "id")
            .Int64();
    return escalation_.Escalate(tx, thread_id,
                                {"suggestion_review", "suggestion " + std::to_string(sid) + ": " +
                                                          plan.kind + " (" + plan.reason + ")"},
                                "router", d.priority);
  }
  const bool confirm = d.outcome == "confirm_first";
  const int64_t action_id = CreateAction(
      tx, {.thread_id = thread_id,
           .kind = plan.kind,
           .target = target.dump(),
           .params = params.dump(),
           .triggered_by = "router",
           .reason = plan.reason,
           .decision = decision_j.dump(),
           .outcome = d.outcome,
           .confirm_expires_at =
               confirm ? std::optional<TimePoint>(f_.clock.Now() + f_.config.flow.confirmation_ttl)
                       : std::nullopt,
           .booking_id = booking_id,
           .confirm_first = confirm,
           .priority = d.priority});
  if (!confirm) return;  // the decision's row enqueued its execution
  // Rows this transaction created or locked: their state is known, no lock query needed.
  f_.engine.Apply(tx, {.machine = Machine::kAction,
                       .id = action_id,
                       .event = aevent::kConfirmationRequested,
                       .actor = "router",
                       .from = std::string(astate::kRouted),
                       .thread_id = thread_id,
                       .action_kind = plan.kind});
  f_.engine.Apply(tx, {.machine = Machine::kThread,
                       .id = thread_id,
                       .event = tevent::kConfirmationRequested,
                       .actor = "router",
                       .data = json{{"action_id", action_id}}.dump(),
                       .from = std::string(tstate::kRouted)});
  Reply(tx, {thread_id, location.id, customer, t.At(0, "facility_line").Str()}, "prompt",
        PromptFor(plan, location), "SOP confirm-before-physical-action", d.priority);
}

int64_t RoutingStep::CreateAction(store::Tx& tx, ActionBirth birth) {
  CLUBOS_ASSERT(FindActionKind(birth.kind), "an action of no known kind");
  birth.idempotency_key = NewActionKey(birth.thread_id, birth.kind);
  return f_.engine.CreateAction(tx, birth);
}

void RoutingStep::Reply(store::Tx& tx, const ThreadContact& to, const std::string& role,
                        const std::string& text, const std::string& reason, int priority) {
  const json target = {{"location", to.location}, {"phone", to.phone}, {"from_line", to.line}};
  const json params = {{"role", role}, {"text", text}};
  CreateAction(tx, {.thread_id = to.thread_id,
                    .kind = "send_message",
                    .target = target.dump(),
                    .params = params.dump(),
                    .triggered_by = "chain",
                    .reason = reason,
                    .decision = json{{"outcome", "execute"}}.dump(),
                    .outcome = "execute",
                    .priority = priority});
}

}  // namespace clubos::workflows
