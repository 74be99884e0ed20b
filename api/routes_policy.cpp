// Policy and safety through the API: the versioned autonomy profile (admin), the emergency stop
// and the toggles (operator), suggestions (operator), and bookings from the booking system
// (service). The decisions themselves live in workflows/; these handlers parse, authorize and map.
#include "api/dto.h"
#include "api/internal.h"
#include "core/text.h"
#include "core/time_format.h"
#include "workflows/engine.h"
#include "workflows/flow.h"
#include "workflows/policy_store.h"

namespace clubos::api {
namespace {

json Body(const Request& r) {
  return dto::Object(r.body.empty() ? "{}" : r.body);
}

std::string Str(const json& j, const char* key, bool required, std::size_t max = 500) {
  if (!j.contains(key) || j[key].is_null()) {
    if (required) throw BadRequest(std::string(key) + " is required");
    return "";
  }
  if (!j[key].is_string()) throw BadRequest(std::string(key) + " must be a string");
  const std::string v = j[key].get<std::string>();
  if (v.size() > max) throw BadRequest(std::string(key) + " is too long");
  return v;
}

// policy_versions.id is an integer column: an id beyond its range names no version and is refused
// here, never cast (a cast approved proposal 3 for 4294967299, defect L2).
int VersionId(int64_t id, const char* what) {
  if (id > INT32_MAX)
    throw BadRequest(std::string(what) + " is out of range: it must be within 1.." +
                     std::to_string(INT32_MAX));
  return static_cast<int>(id);
}

// A time as the one parser (core/time_format.h) reads it: zone required, every field checked.
TimePoint Time(const std::optional<std::string>& text, const char* what) {
  const auto t = text ? ParseTimestamp(*text) : std::nullopt;
  if (!t)
    throw BadRequest(std::string(what) +
                     " must be an ISO 8601 time with its zone, e.g. 2026-12-05T18:00:00-04:00");
  return *t;
}

void RequireAdmin(const Principal& p) {
  if (!p.Has(Role::kAdmin))
    throw ApiError(403, "forbidden", "the autonomy profile is changed by admins");
}

json VersionJson(const store::Result& r, std::size_t i) {
  return {{"version", r.At(i, "id").Int()},
          {"state", r.At(i, "state").Str()},
          {"note", TextField(r.At(i, "note"))},
          {"proposed_by", r.At(i, "proposed_by").Str()},
          {"proposed_at", TimeJson(r.At(i, "proposed_at"))},
          {"approved_by", TextField(r.At(i, "approved_by"))},
          {"approved_at", TimeJson(r.At(i, "approved_at"))},
          {"diff", JsonField(r.At(i, "diff"))}};
}

}  // namespace

Response GetConfig(ApiServer::Impl& api, const Request&, const Principal& p) {
  RequireAdmin(p);
  auto db = api.Db();
  auto active = db->ExecOne("policy_active", {});
  if (active.Empty()) {
    api.flow.policy().Bootstrap(*db);
    active = db->ExecOne("policy_active", {});
  }
  const auto versions = db->ExecOne("policy_list", {50});
  json list = json::array();
  for (std::size_t i = 0; i < versions.Size(); ++i) list.push_back(VersionJson(versions, i));
  return JsonResponse(200, {{"active_version", active.At(0, "id").Int()},
                            {"profile", JsonField(active.At(0, "profile"))},
                            {"versions", list}});
}

Response PostProposal(ApiServer::Impl& api, const Request& r, const Principal& p) {
  RequireAdmin(p);
  const json j = Body(r);
  if (!j.contains("profile") || !j["profile"].is_object())
    throw BadRequest("profile (the whole autonomy profile, an object) is required");
  auto db = api.Db();
  const int64_t id =
      api.flow.policy().Propose(*db, j["profile"].dump(), Str(j, "note", false, 1000), p.Actor());
  const auto v = db->ExecOne("policy_get", {id});
  return JsonResponse(201, VersionJson(v, 0));
}

Response ApproveProposal(ApiServer::Impl& api, const Request& r, const Principal& p) {
  RequireAdmin(p);
  const int id = VersionId(PathId(r, "id"), "id");
  auto db = api.Db();
  api.flow.policy().Approve(*db, id, p.Actor());
  return JsonResponse(200, VersionJson(db->ExecOne("policy_get", {id}), 0));
}

Response RejectProposal(ApiServer::Impl& api, const Request& r, const Principal& p) {
  RequireAdmin(p);
  const int id = VersionId(PathId(r, "id"), "id");
  dto::ParseEmptyOrObject(r.body);
  auto db = api.Db();
  api.flow.policy().Reject(*db, id, p.Actor());
  return JsonResponse(200, VersionJson(db->ExecOne("policy_get", {id}), 0));
}

// What the version would have decided differently over the last ?days= (1..30, default 7) of
// stored decisions: the evidence an approver reads before approving. Reads only.
Response ReplayProposal(ApiServer::Impl& api, const Request& r, const Principal& p) {
  RequireAdmin(p);
  const int id = VersionId(PathId(r, "id"), "id");
  int64_t days = 7;
  if (const auto d = r.Query("days")) {
    const auto v = ParseInt64(*d);
    if (!v || *v < 1 || *v > 30) throw BadRequest("days must be a whole number within 1..30");
    days = *v;
  }
  auto db = api.Db();
  const auto report =
      api.flow.policy().Replay(*db, id, api.clock.Now() - std::chrono::hours(24 * days));
  json changed = json::array();
  for (const auto& c : report.changed)
    changed.push_back({{"thread_id", c.thread_id},
                       {"decided_at", FormatIso8601(c.decided_at)},
                       {"before", c.before},
                       {"after", c.after},
                       {"reasons_after", c.reasons_after}});
  return JsonResponse(
      200,
      json{{"version", id}, {"days", days}, {"replayed", report.replayed}, {"changed", changed}});
}

Response PostRollback(ApiServer::Impl& api, const Request& r, const Principal& p) {
  RequireAdmin(p);
  const json j = Body(r);
  const auto version = dto::Integer(j, "version", 1, INT32_MAX);
  if (!version) throw BadRequest("version (the version to restore) is required");
  auto db = api.Db();
  const int64_t id =
      api.flow.policy().Restore(*db, *version, p.Actor(), Str(j, "note", false, 1000));
  return JsonResponse(200, VersionJson(db->ExecOne("policy_get", {id}), 0));
}

Response GetEmergencyStop(ApiServer::Impl& api, const Request&, const Principal&) {
  auto db = api.Db();
  json stops = json::array();
  const auto r = db->ExecOne("stops_engaged", {});
  for (std::size_t i = 0; i < r.Size(); ++i)
    stops.push_back({{"scope", r.At(i, "scope").Str()},
                     {"reason", r.At(i, "reason").Str()},
                     {"by", r.At(i, "changed_by").Str()},
                     {"at", TimeJson(r.At(i, "changed_at"))}});
  json toggles = {{"auto_send", true}, {"auto_execute", true}};
  const auto t = db->ExecOne("toggles_get", {});
  for (std::size_t i = 0; i < t.Size(); ++i)
    toggles[t.At(i, "name").Str()] = t.At(i, "enabled").Bool();
  return JsonResponse(200, {{"engaged", !stops.empty()}, {"stops", stops}, {"toggles", toggles}});
}

// {"engaged": true, "reason": "...", "scope": "global" | "location:<id>" | "category:<name>"}
// and/or {"toggles": {"auto_send": false, "auto_execute": true}}. The whole request is checked
// before anything changes and applied in one transaction: a refused one changes nothing.
Response PostEmergencyStop(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const json j = Body(r);
  for (const auto& [key, value] : j.items())
    if (key != "toggles" && key != "engaged" && key != "scope" && key != "reason")
      throw BadRequest("unknown field " + key + " (engaged, scope, reason, toggles)");
  workflows::ControlsRequest req;
  if (j.contains("toggles")) {
    if (!j["toggles"].is_object()) throw BadRequest("toggles must be an object");
    for (const auto& [name, value] : j["toggles"].items()) {
      if (!value.is_boolean()) throw BadRequest("toggles." + name + " must be true or false");
      req.toggles[name] = value.get<bool>();
    }
  }
  if (j.contains("engaged")) {
    if (!j["engaged"].is_boolean()) throw BadRequest("engaged must be true or false");
    const std::string scope = Str(j, "scope", false, 100);
    req.stop = workflows::ControlsRequest::Stop{scope.empty() ? "global" : scope,
                                                j["engaged"].get<bool>(), Str(j, "reason", true)};
  } else if (j.contains("scope") || j.contains("reason")) {
    throw BadRequest("scope and reason go with engaged");
  } else if (!j.contains("toggles")) {
    throw BadRequest("engaged (with reason) or toggles is required");
  }
  auto db = api.Db();
  const int stopped = api.flow.ApplyControls(*db, req, p.Actor());
  json out = json::object();
  if (req.stop)
    out = {
        {"scope", req.stop->scope}, {"engaged", req.stop->engaged}, {"actions_stopped", stopped}};
  if (!req.toggles.empty()) out["toggles"] = req.toggles;
  return JsonResponse(200, out);
}

Response ListSuggestions(ApiServer::Impl& api, const Request& r, const Principal&) {
  const std::string status = r.Query("status").value_or("pending");
  if (status != "pending" && status != "expired" && status != "approved" && status != "rejected")
    throw BadRequest("status must be pending, expired, approved or rejected");
  const int limit = PageLimit(api, r);
  // Refreshed when the live feed (LISTEN on the primary) reports a change: it must show it.
  const auto rows = api.Read(store::ReadRoute::Freshness::kPrimaryNow, [&](store::Connection& db) {
    return db.ExecOne("suggestions_list", {status, limit, api.clock.DbNow()});
  });
  json items = json::array();
  for (std::size_t i = 0; i < rows.Size(); ++i)
    items.push_back({{"id", rows.At(i, "id").Int64()},
                     {"thread_id", rows.At(i, "thread_id").Int64()},
                     {"kind", rows.At(i, "kind").Str()},
                     {"target", JsonField(rows.At(i, "target"))},
                     {"reason", rows.At(i, "reason").Str()},
                     {"text", TextField(rows.At(i, "text"))},
                     {"state", rows.At(i, "state").Str()},
                     {"decided_by", TextField(rows.At(i, "decided_by"))},
                     {"action_id", IntField(rows.At(i, "action_id"))},
                     {"created_at", TimeJson(rows.At(i, "created_at"))},
                     {"expires_at", TimeJson(rows.At(i, "expires_at"))}});
  for (auto& it : items)
    if (it["target"].contains("phone"))
      it["target"]["phone"] = MaskPhone(it["target"]["phone"].get<std::string>());
  return JsonResponse(200, {{"items", items}, {"next", nullptr}});
}

// {} or {"override_stop": "why"} (admins only: runs the action despite an engaged emergency stop,
// and its history says who did and why), and {"text": "..."} to send a message suggestion edited.
Response ApproveSuggestion(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const int64_t id = PathId(r, "id");
  const json j =
      r.body.find_first_not_of(" \t\r\n") == std::string::npos ? json::object() : Body(r);
  for (const auto& [key, value] : j.items())
    if (key != "override_stop" && key != "text")
      throw BadRequest("unknown field " + key + " (override_stop, text)");
  workflows::Approver who{p.name, p.Has(Role::kAdmin), Str(j, "override_stop", false)};
  if (j.contains("text")) who.text = Str(j, "text", true, 8'000);
  auto db = api.Db();
  const int64_t action = api.flow.ApproveSuggestion(*db, id, who);
  return JsonResponse(200, {{"suggestion_id", id}, {"state", "approved"}, {"action_id", action}});
}

Response RejectSuggestion(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const int64_t id = PathId(r, "id");
  auto db = api.Db();
  api.flow.RejectSuggestion(*db, id, p.name);
  return JsonResponse(200, {{"suggestion_id", id}, {"state", "rejected"}});
}

Response PostBooking(ApiServer::Impl& api, const Request& r, const Principal&) {
  const json j = Body(r);
  workflows::BookingInput b;
  b.id = Str(j, "id", true, 100);
  b.location = Str(j, "location", true, 100);
  b.customer_phone = Str(j, "customer_phone", true, 32);
  // Which bays exist is the domain's to say (422); only a number int cannot hold is refused here.
  if (const auto bay = dto::Integer(j, "bay", INT32_MIN, INT32_MAX)) b.bay = static_cast<int>(*bay);
  b.start = Time(Str(j, "start", true, 64), "start");
  b.end = Time(Str(j, "end", true, 64), "end");
  if (j.contains("customer_flagged")) {
    if (!j["customer_flagged"].is_boolean()) throw BadRequest("customer_flagged must be a boolean");
    b.customer_flagged = j["customer_flagged"].get<bool>();
  }
  auto db = api.Db();
  const bool created = api.flow.policy().UpsertBooking(*db, b);  // InvalidInput: 422
  return JsonResponse(created ? 201 : 200, {{"id", b.id}, {"created", created}});
}

Response ListBookings(ApiServer::Impl& api, const Request& r, const Principal&) {
  const auto location = r.Query("location");
  if (!location || location->empty()) throw BadRequest("location is required");
  if (location->size() > 100) throw BadRequest("location is too long");
  const TimePoint from = Time(r.Query("from"), "from");
  const TimePoint to = Time(r.Query("to"), "to");
  auto db = api.Db();
  const auto rows = db->ExecOne("bookings_between", {*location, from, to, PageLimit(api, r)});
  json items = json::array();
  for (std::size_t i = 0; i < rows.Size(); ++i)
    items.push_back({{"id", rows.At(i, "id").Str()},
                     {"location", rows.At(i, "location").Str()},
                     {"bay", IntField(rows.At(i, "bay"))},
                     {"customer_phone", MaskPhone(rows.At(i, "customer_phone").Str())},
                     {"start", TimeJson(rows.At(i, "start_at"))},
                     {"end", TimeJson(rows.At(i, "end_at"))},
                     {"customer_flagged", rows.At(i, "customer_flagged").Bool()}});
  return JsonResponse(200, {{"items", items}, {"next", nullptr}});
}

}  // namespace clubos::api
