// What operators read and do: threads, actions, confirmations, the escalation queue. Customer
// phone numbers are masked in every answer (an operator reaches the customer through ClubOS).
#include "api/cursor.h"
#include "api/dto.h"
#include "api/internal.h"
#include "core/time_format.h"
#include "statemachines/thread_machine.h"
#include "workflows/engine.h"
#include "workflows/feedback.h"
#include "workflows/flow.h"

namespace clubos::api {
namespace {

// A thread's page shows at most this many of its newest messages and first transitions.
constexpr int kMaxMessages = 200;
constexpr int kMaxTransitions = 500;

std::string MaskIf(const std::string& phone, const std::string& customer) {
  return phone == customer ? MaskPhone(phone) : phone;
}

// Phone numbers in an action's target are the customer's: masked.
json MaskedTarget(const store::Field& f) {
  json t = JsonField(f);
  if (t.is_object())
    for (const char* key : {"phone", "to"})
      if (t.contains(key) && t.at(key).is_string())
        t[key] = MaskPhone(t.at(key).get<std::string>());
  return t;
}

json TransitionsJson(const store::Result& r) {
  json out = json::array();
  for (std::size_t i = 0; i < r.Size(); ++i)
    out.push_back({{"id", r.At(i, "id").Int64()},
                   {"from", TextField(r.At(i, "from_state"))},
                   {"event", r.At(i, "event").Str()},
                   {"to", r.At(i, "to_state").Str()},
                   {"actor", r.At(i, "actor").Str()},
                   {"reason", TextField(r.At(i, "reason"))},
                   {"data", JsonField(r.At(i, "data"))},
                   {"at", TimeJson(r.At(i, "at"))}});
  return out;
}

// An action's attempts, read from its history: each `execution_started` and what ended it.
json AttemptsJson(const json& transitions) {
  json out = json::array();
  for (std::size_t i = 0; i < transitions.size(); ++i) {
    if (transitions[i]["event"] != "execution_started") continue;
    json a = {{"number", out.size() + 1},
              {"started_at", transitions[i]["at"]},
              {"ended_at", nullptr},
              {"outcome", nullptr},
              {"detail", nullptr}};
    if (i + 1 < transitions.size() && transitions[i + 1]["from"] == "executing") {
      a["ended_at"] = transitions[i + 1]["at"];
      a["outcome"] = transitions[i + 1]["event"];
      a["detail"] = transitions[i + 1]["reason"];
    }
    out.push_back(a);
  }
  return out;
}

json ActionSummary(const store::Result& r, std::size_t i) {
  return {{"id", r.At(i, "id").Int64()},
          {"kind", r.At(i, "kind").Str()},
          {"state", r.At(i, "state").Str()},
          {"result", TextField(r.At(i, "result"))},
          {"triggered_by", r.At(i, "triggered_by").Str()},
          {"reason", r.At(i, "reason").Str()},
          {"target", MaskedTarget(r.At(i, "target"))},
          {"booking_id", TextField(r.At(i, "booking_id"))},
          {"attempt", r.At(i, "attempt").Int()},
          {"rollback_needed", r.At(i, "rollback_needed").Bool()},
          {"human_override", r.At(i, "human_override").Bool()},
          {"created_at", TimeJson(r.At(i, "created_at"))},
          {"updated_at", TimeJson(r.At(i, "updated_at"))}};
}

json EscalationJson(const store::Result& t, std::size_t i) {
  if (t.At(i, "escalation_reason").IsNull()) return nullptr;
  json e = JsonField(t.At(i, "escalation"));
  if (!e.is_object()) e = json::object();
  e["reason"] = t.At(i, "escalation_reason").Str();
  e["claimed_by"] = TextField(t.At(i, "claimed_by"));
  return e;
}

// paused_until while it is in the future, else null (a pause that ran out is no pause).
json Paused(const store::Result& t, const Clock& clock, std::size_t i = 0) {
  const store::Field f = t.At(i, "paused_until");
  if (f.IsNull() || f.Time() <= clock.Now()) return nullptr;
  return FormatIso8601(f.Time());
}

std::optional<std::string> Filter(const Request& r, const char* name, std::size_t max_bytes) {
  auto v = r.Query(name);
  if (!v || v->empty()) return std::nullopt;
  if (v->size() > max_bytes) throw BadRequest(std::string(name) + " is too long");
  return v;
}

Response Decide(ApiServer::Impl& api, const Request& r, const Principal& p, bool yes) {
  const int64_t id = PathId(r, "id");
  dto::ParseEmptyOrObject(r.body);
  auto db = api.Db();
  // The same transition as the customer's YES or NO (Flow::Confirm): one code path.
  api.flow.Confirm(*db, id, yes, p.Actor());
  return JsonResponse(
      200,
      json{{"action_id", id}, {"decision", yes ? "confirmed" : "rejected"}, {"by", p.Actor()}});
}

}  // namespace

Response GetThread(ApiServer::Impl& api, const Request& r, const Principal&) {
  const int64_t id = PathId(r, "id");
  auto db = api.Db();
  const auto t = db->ExecOne("api_thread_get", {id});
  if (t.Empty()) throw workflows::NotFound("thread " + std::to_string(id) + " does not exist");
  const std::string customer = t.At(0, "customer_phone").Str();
  const auto msgs = db->ExecOne("api_thread_messages", {id, kMaxMessages});
  const auto acts = db->ExecOne("api_thread_actions", {id});
  const auto history = db->ExecOne("api_transitions", {"thread", id, kMaxTransitions});
  const auto verdicts = db->ExecOne("feedback_of_thread", {id});

  json messages = json::array();
  for (std::size_t k = msgs.Size(); k-- > 0;)  // newest were read first; shown oldest first
    messages.push_back({{"id", msgs.At(k, "id").Int64()},
                        {"direction", msgs.At(k, "direction").Str()},
                        {"external_id", TextField(msgs.At(k, "external_id"))},
                        {"from", MaskIf(msgs.At(k, "from_phone").Str(), customer)},
                        {"to", MaskIf(msgs.At(k, "to_phone").Str(), customer)},
                        {"body", msgs.At(k, "body").Str()},
                        {"received_at", TimeJson(msgs.At(k, "received_at"))}});
  json actions = json::array();
  for (std::size_t k = 0; k < acts.Size(); ++k) actions.push_back(ActionSummary(acts, k));
  // What the facility said, so the story has both sides: each text the vendor accepted (a
  // send_message action, the flow's or an operator's), at the time it was sent, among the
  // customer's. Messages hold what customers send; the flow's texts live in its actions.
  std::vector<std::pair<std::string, json>> said;
  for (std::size_t k = 0; k < acts.Size(); ++k) {
    if (acts.At(k, "kind").Str() != "send_message" || acts.At(k, "executed_at").IsNull()) continue;
    const std::string by = acts.At(k, "triggered_by").Str();
    said.emplace_back(FormatIso8601(acts.At(k, "executed_at").Time()),
                      json{{"id", nullptr},
                           {"action_id", acts.At(k, "id").Int64()},
                           {"direction", "out"},
                           {"external_id", nullptr},
                           {"from", t.At(0, "facility_line").Str()},
                           {"to", MaskPhone(customer)},
                           {"body", acts.At(k, "text").OptStr().value_or("")},
                           {"sent_by", by},
                           // ClubOS's own text: an operator may say whether it helped.
                           {"automated", by == "router" || by == "chain"},
                           {"received_at", FormatIso8601(acts.At(k, "executed_at").Time())}});
  }
  if (!said.empty()) {
    std::stable_sort(said.begin(), said.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    json both = json::array();
    std::size_t j = 0;
    for (const auto& m : messages) {
      for (; j < said.size() && said[j].first < m["received_at"].get<std::string>(); ++j)
        both.push_back(said[j].second);
      both.push_back(m);
    }
    for (; j < said.size(); ++j) both.push_back(said[j].second);
    messages = std::move(both);
  }

  // What operators and the customer said of the automation's answers (workflows/feedback.h).
  json feedback = json::array();
  for (std::size_t k = 0; k < verdicts.Size(); ++k)
    feedback.push_back({{"id", verdicts.At(k, "id").Int64()},
                        {"action_id", verdicts.At(k, "action_id").Int64()},
                        {"source", verdicts.At(k, "source").Str()},
                        {"by", verdicts.At(k, "author").Str()},
                        {"helpful", verdicts.At(k, "helpful").Bool()},
                        {"correction", TextField(verdicts.At(k, "correction"))},
                        {"message_id", verdicts.At(k, "message_id").IsNull()
                                           ? json(nullptr)
                                           : json(verdicts.At(k, "message_id").Int64())},
                        {"version", verdicts.At(k, "version").Int()},
                        {"at", TimeJson(verdicts.At(k, "updated_at"))}});

  const json paused_until = Paused(t, api.clock);
  return JsonResponse(
      200,
      json{{"id", id},
           {"state", t.At(0, "state").Str()},
           {"location", t.At(0, "location").Str()},
           {"customer", MaskPhone(customer)},
           {"facility_line", t.At(0, "facility_line").Str()},
           {"version", t.At(0, "version").Int()},
           {"priority", t.At(0, "priority").Int()},
           // As the list shows them (docs/openapi.json ThreadSummary).
           {"category", TextField(t.At(0, "category"))},
           {"escalation_reason", TextField(t.At(0, "escalation_reason"))},
           {"claimed_by", TextField(t.At(0, "claimed_by"))},
           // A takeover in force (an operator has the conversation).
           {"paused_until", paused_until},
           {"paused_by", paused_until.is_null() ? json(nullptr) : TextField(t.At(0, "paused_by"))},
           {"intent", JsonField(t.At(0, "intent"))},
           {"decision", JsonField(t.At(0, "decision"))},
           {"escalation", EscalationJson(t, 0)},
           {"created_at", TimeJson(t.At(0, "created_at"))},
           {"updated_at", TimeJson(t.At(0, "updated_at"))},
           {"messages", messages},
           {"messages_truncated", msgs.Size() >= kMaxMessages},
           {"actions", actions},
           {"feedback", feedback},
           {"transitions", TransitionsJson(history)},
           {"transitions_truncated", history.Size() >= kMaxTransitions}});
}

Response ListThreads(ApiServer::Impl& api, const Request& r, const Principal&) {
  const auto state = Filter(r, "state", 64);
  if (state && !sm::ThreadMachine().IsState(*state))
    throw BadRequest("state must be one of the thread states (received, routed, ...)");
  const auto location = Filter(r, "location", 64);
  const int limit = PageLimit(api, r);
  std::optional<int64_t> before;
  if (const auto after = Filter(r, "after", 256)) before = cursor::DecodeThreads(*after);
  // Refreshed when the live feed (LISTEN on the primary) reports a change: it must show it.
  const auto rows = api.Read(store::ReadRoute::Freshness::kPrimaryNow, [&](store::Connection& db) {
    return db.ExecOne("api_thread_list", {state, location, before, limit + 1});
  });
  json items = json::array();
  const std::size_t n = std::min<std::size_t>(rows.Size(), static_cast<std::size_t>(limit));
  for (std::size_t i = 0; i < n; ++i)
    items.push_back({{"id", rows.At(i, "id").Int64()},
                     {"state", rows.At(i, "state").Str()},
                     {"location", rows.At(i, "location").Str()},
                     {"customer", MaskPhone(rows.At(i, "customer_phone").Str())},
                     {"priority", rows.At(i, "priority").Int()},
                     {"category", TextField(rows.At(i, "category"))},
                     {"escalation_reason", TextField(rows.At(i, "escalation_reason"))},
                     {"claimed_by", TextField(rows.At(i, "claimed_by"))},
                     {"created_at", TimeJson(rows.At(i, "created_at"))},
                     {"updated_at", TimeJson(rows.At(i, "updated_at"))}});
  json next = nullptr;
  if (rows.Size() > n) next = cursor::EncodeThreads(rows.At(n - 1, "id").Int64());
  return JsonResponse(200, json{{"items", items}, {"next", next}});
}

Response PostAction(ApiServer::Impl& api, const Request& r, const Principal& p) {
  workflows::ActionRequest req = dto::ParseAction(r.body);
  req.triggered_by = p.Actor();     // who did it, in the action and its history
  req.admin = p.Has(Role::kAdmin);  // the flow's gate: a door by hand, a stop's override
  return api.IdempotentInTx(r, p, [&](store::Tx& tx) {
    return JsonResponse(202, json{{"action_id", api.flow.PerformInTx(tx, req)}});
  });
}

Response GetAction(ApiServer::Impl& api, const Request& r, const Principal&) {
  const int64_t id = PathId(r, "id");
  auto db = api.Db();
  const auto a = db->ExecOne("api_action_get", {id});
  if (a.Empty()) throw workflows::NotFound("action " + std::to_string(id) + " does not exist");
  const auto o = db->ExecOne("api_action_outcome", {id});
  const json transitions =
      TransitionsJson(db->ExecOne("api_transitions", {"action", id, kMaxTransitions}));
  json outcome = nullptr;
  if (!o.Empty())
    outcome = {{"action_id", o.At(0, "action_id").Int64()},
               {"action", o.At(0, "action").Str()},
               {"bay", o.At(0, "bay").IsNull() ? json(nullptr) : json(o.At(0, "bay").Int())},
               {"location", TextField(o.At(0, "location"))},
               {"result", TextField(o.At(0, "result"))},
               {"followed_sop", o.At(0, "followed_sop").Str()},
               {"trigger_source", o.At(0, "trigger_source").Str()},
               {"human_override", o.At(0, "human_override").Bool()},
               {"linked_thread", o.At(0, "linked_thread").IsNull()
                                     ? json(nullptr)
                                     : json(o.At(0, "linked_thread").Int64())},
               {"rollback_needed", o.At(0, "rollback_needed").Bool()},
               {"state", o.At(0, "state").Str()},
               {"timestamp", TimeJson(o.At(0, "timestamp"))},
               {"schema_version", o.At(0, "schema_version").Int()}};
  json j = ActionSummary(a, 0);
  j["thread_id"] =
      a.At(0, "thread_id").IsNull() ? json(nullptr) : json(a.At(0, "thread_id").Int64());
  j["error"] = TextField(a.At(0, "error"));
  j["params"] = JsonField(a.At(0, "params"));
  j["decision"] = JsonField(a.At(0, "decision"));
  j["confirmed_by"] = TextField(a.At(0, "confirmed_by"));
  j["confirm_expires_at"] = TimeJson(a.At(0, "confirm_expires_at"));
  j["executed_at"] = TimeJson(a.At(0, "executed_at"));
  j["verify_deadline"] = TimeJson(a.At(0, "verify_deadline"));
  j["attempts"] = AttemptsJson(transitions);
  j["outcome"] = outcome;
  j["transitions"] = transitions;
  return JsonResponse(200, j);
}

Response ConfirmAction(ApiServer::Impl& api, const Request& r, const Principal& p) {
  return Decide(api, r, p, true);
}

Response RejectAction(ApiServer::Impl& api, const Request& r, const Principal& p) {
  return Decide(api, r, p, false);
}

Response FlagRollback(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const int64_t id = PathId(r, "id");
  const std::string reason = dto::ParseFlagRollback(r.body);
  auto db = api.Db();
  api.flow.FlagRollback(*db, id, p.Actor(), reason);
  return JsonResponse(200, json{{"action_id", id}, {"rollback_needed", true}});
}

// An operator's verdict on an automated answer: helpful or not, with an optional correction. One
// per operator per answer: a second replaces the first (the history keeps both).
Response PostFeedback(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const int64_t id = PathId(r, "id");
  const dto::FeedbackBody body = dto::ParseFeedback(r.body);
  auto db = api.Db();
  const workflows::FeedbackRecord f = api.flow.GiveFeedback(*db, {.action_id = id,
                                                                  .helpful = body.helpful,
                                                                  .correction = body.correction,
                                                                  .author = p.Actor()});
  json case_j = nullptr;
  if (f.case_id) case_j = {{"id", *f.case_id}, {"state", f.case_state}};
  return JsonResponse(200, json{{"feedback_id", f.feedback_id},
                                {"action_id", f.action_id},
                                {"thread_id", f.thread_id},
                                {"helpful", f.helpful},
                                {"correction", f.correction ? json(*f.correction) : json(nullptr)},
                                {"by", f.author},
                                {"version", f.version},
                                {"replaced", f.version > 1},
                                {"case", case_j}});
}

Response ListEscalations(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const std::string status = Filter(r, "status", 16).value_or("open");
  if (status != "open" && status != "unclaimed" && status != "claimed")
    throw BadRequest("status must be open, unclaimed or claimed");
  const int limit = PageLimit(api, r);
  std::optional<int> after_priority;
  std::optional<TimePoint> after_at;
  std::optional<int64_t> after_id;
  if (const auto after = Filter(r, "after", 256)) {
    const cursor::EscalationKey k = cursor::DecodeEscalations(*after);
    after_priority = k.priority;
    after_at = k.escalated_at;
    after_id = k.thread_id;
  }
  const auto location = Filter(r, "location", 64);
  const auto reason = Filter(r, "reason", 64);
  const auto mine = Filter(r, "mine", 8);
  if (mine && *mine != "1" && *mine != "true" && *mine != "0" && *mine != "false")
    throw BadRequest("mine must be true or false");
  const std::optional<std::string> claimed_by =
      mine && (*mine == "1" || *mine == "true") ? std::optional<std::string>(p.name) : std::nullopt;
  // Refreshed when the live feed (LISTEN on the primary) reports a change: it must show it.
  const auto rows = api.Read(store::ReadRoute::Freshness::kPrimaryNow, [&](store::Connection& db) {
    return db.ExecOne("api_escalations", {status, after_priority, after_at, after_id, limit + 1,
                                          location, reason, claimed_by});
  });
  json items = json::array();
  const std::size_t n = std::min<std::size_t>(rows.Size(), static_cast<std::size_t>(limit));
  for (std::size_t i = 0; i < n; ++i) {
    json e = JsonField(rows.At(i, "escalation"));
    const json paused_until = Paused(rows, api.clock, i);
    items.push_back(
        {{"thread_id", rows.At(i, "id").Int64()},
         {"location", rows.At(i, "location").Str()},
         {"customer", MaskPhone(rows.At(i, "customer_phone").Str())},
         {"priority", rows.At(i, "priority").Int()},
         {"reason", TextField(rows.At(i, "escalation_reason"))},
         {"detail", e.is_object() && e.contains("detail") ? e["detail"] : json(nullptr)},
         {"claimed_by", TextField(rows.At(i, "claimed_by"))},
         {"category", TextField(rows.At(i, "category"))},
         {"bay", TextField(rows.At(i, "bay"))},
         {"paused_until", paused_until},
         {"paused_by", paused_until.is_null() ? json(nullptr) : TextField(rows.At(i, "paused_by"))},
         {"escalated_at", TimeJson(rows.At(i, "escalated_at"))},
         {"created_at", TimeJson(rows.At(i, "created_at"))}});
  }
  json next = nullptr;
  if (rows.Size() > n) {
    const std::size_t last = n - 1;
    next = cursor::EncodeEscalations({rows.At(last, "priority").Int(),
                                      rows.At(last, "escalated_at").Time(),
                                      rows.At(last, "id").Int64()});
  }
  return JsonResponse(200, json{{"items", items}, {"next", next}});
}

Response ClaimEscalation(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const int64_t id = PathId(r, "thread_id");
  const bool take_over = dto::ParseClaim(r.body);
  auto db = api.Db();
  api.flow.Claim(*db, id, p.name, take_over);  // recorded as operator:<name>
  return JsonResponse(200, json{{"thread_id", id}, {"claimed_by", p.name}});
}

// Taking a conversation over (Flow::Reply / TakeOver / HandBack): the reply is a send_message
// action of the operator's, and the pause holds until handed back or flow.takeover_ms passes.
Response ReplyToThread(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const int64_t id = PathId(r, "id");
  const json j = dto::Object(r.body);
  for (const auto& [key, value] : j.items())
    if (key != "text") throw BadRequest("unknown field " + key + " (text)");
  if (!j.contains("text") || !j["text"].is_string())
    throw BadRequest("text (what to send the customer) is required");
  return api.IdempotentInTx(r, p, [&](store::Tx& tx) {
    const auto paused = api.flow.ReplyInTx(tx, id, p.name, j["text"].get<std::string>());
    return JsonResponse(202, json{{"thread_id", id},
                                  {"action_id", paused.action_id},
                                  {"paused_until", FormatIso8601(paused.until)},
                                  {"paused_by", p.Actor()}});
  });
}

Response TakeOverThread(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const int64_t id = PathId(r, "id");
  dto::ParseEmptyOrObject(r.body);
  auto db = api.Db();
  const auto paused = api.flow.TakeOver(*db, id, p.name);
  return JsonResponse(200, json{{"thread_id", id},
                                {"paused_until", FormatIso8601(paused.until)},
                                {"paused_by", p.Actor()}});
}

Response HandBackThread(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const int64_t id = PathId(r, "id");
  dto::ParseEmptyOrObject(r.body);
  auto db = api.Db();
  api.flow.HandBack(*db, id, p.name);
  return JsonResponse(200, json{{"thread_id", id}, {"paused_until", nullptr}});
}

Response ResolveEscalation(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const int64_t id = PathId(r, "thread_id");
  const dto::Resolution res = dto::ParseResolve(r.body);
  auto db = api.Db();
  api.flow.Resolve(*db, id, p.name, res.resolution, res.note, res.take_over);
  return JsonResponse(200, json{{"thread_id", id}, {"state", "closed"}});
}

}  // namespace clubos::api
