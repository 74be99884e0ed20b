// UniFi Access developer API as the simulator speaks it (integrations.md §4), plain HTTP: doors,
// remote unlock (the relay opens for unlock_duration, then relocks), lock rules, and the
// door_openings system log. Every answer uses the {code, msg, data} envelope.
#include <algorithm>

#include "core/log.h"
#include "integrations/signing.h"
#include "sim/core.h"

namespace clubos::sim::detail {
namespace {

constexpr const char* kBase = "/api/v1/developer";
constexpr const char* kDefaultActorId = "developer-api";
constexpr const char* kDefaultActorName = "Developer API";

http::Response Envelope(int status, const std::string& code, const std::string& msg, json data) {
  return http::Response::Json(status,
                              Dump({{"code", code}, {"msg", msg}, {"data", std::move(data)}}));
}

http::Response Success(json data) {
  return Envelope(200, "SUCCESS", "success", std::move(data));
}

http::Response Invalid(const std::string& msg) {
  return Envelope(400, "CODE_PARAMS_INVALID", msg, nullptr);
}

http::Response NotFound(const std::string& id) {
  return Envelope(404, "CODE_NOT_EXISTS", "door " + id + " does not exist", nullptr);
}

std::string Relay(const DoorState& d, TimePoint now) {
  if (d.rule == "keep_lock") return "lock";
  if (d.rule == "keep_unlock") return "unlock";
  if (d.rule == "custom" && d.rule_ends && *d.rule_ends > now) return "unlock";
  if (d.unlocked_until && *d.unlocked_until > now) return "unlock";
  return "lock";
}

json DoorJson(Core& core, DoorState& d, TimePoint now) {
  core.Settle(d, now);
  return {{"id", d.id},
          {"name", d.name},
          {"full_name", d.full_name},
          {"floor_id", d.floor_id},
          {"type", "door"},
          {"is_bind_hub", true},
          {"door_lock_relay_status", Relay(d, now)},
          {"door_position_status", "close"}};
}

json HitJson(const LogHit& h) {
  return {{"@timestamp", Iso(h.at, false)},
          {"_id", h.id},
          {"tag", "access"},
          {"_source",
           {{"actor", {{"id", h.actor_id}, {"display_name", h.actor_name}, {"type", "user"}}},
            {"authentication", {{"credential_provider", "REMOTE_THROUGH_UAH"}, {"issuer", ""}}},
            {"event",
             {{"type", "access.door.unlock"},
              {"display_message", "Access Granted (Remote)"},
              {"result", "ACCESS"},
              {"published", EpochMillis(h.at)}}},
            {"target", {{{"id", h.door_id}, {"type", "door"}, {"display_name", h.door_name}}}}}}};
}

std::string DoorTarget(Core&, const http::Request& req) {
  return req.Param("id");
}

std::optional<int64_t> QueryInt(const http::Request& req, const std::string& name) {
  const auto v = req.Query(name);
  if (!v || v->empty() || v->size() > 9 || v->find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(*v);
}

http::Response Unlock(Core& core, const http::Request& req) {
  DoorState* d = core.FindDoor(req.Param("id"));
  if (!d) return NotFound(req.Param("id"));
  std::string actor_id = kDefaultActorId, actor_name = kDefaultActorName;
  if (!req.body.empty()) {
    const json body = ParseObject(req.body);
    if (body.is_discarded()) return Invalid("body is not a JSON object");
    for (const char* key : {"actor_id", "actor_name"})
      if (body.contains(key) && !body.at(key).is_string())
        return Invalid(std::string(key) + " must be a string");
    if (body.contains("extra") && !body.at("extra").is_object())
      return Invalid("extra must be an object");
    if (body.contains("actor_id")) actor_id = body.at("actor_id").get<std::string>();
    if (body.contains("actor_name")) actor_name = body.at("actor_name").get<std::string>();
  }
  const TimePoint now = core.clock.Now();
  core.Settle(*d, now);
  if (core.TakeReset(Service::kUnifi, d->id) == FaultMode::kResetNoop) {
    log::Get()->info("sim unifi: unlock of door {} accepted and ignored (reset_noop)", d->name);
    return Success(nullptr);
  }
  d->unlocked_until = now + core.options.unlock_duration;
  core.AddDoorEvent(*d, {now, "unlock", actor_id, actor_name, "remote unlock"});
  core.log_hits.push_back({core.RandomHex(24), now, d->id, d->name, actor_id, actor_name});
  while (core.log_hits.size() > kMaxLogHits) core.log_hits.pop_front();
  log::Get()->info("sim unifi: door {} ({}) unlocked for {} ms", d->name, d->location_id,
                   core.options.unlock_duration.count());
  return Success(nullptr);
}

http::Response PutLockRule(Core& core, const http::Request& req) {
  DoorState* d = core.FindDoor(req.Param("id"));
  if (!d) return NotFound(req.Param("id"));
  const json body = ParseObject(req.body);
  if (body.is_discarded()) return Invalid("body is not a JSON object");
  if (!body.contains("type") || !body.at("type").is_string()) return Invalid("type is required");
  const std::string type = body.at("type").get<std::string>();
  const TimePoint now = core.clock.Now();
  core.Settle(*d, now);
  if (type == "custom") {
    if (!body.contains("interval") || !body.at("interval").is_number_integer() ||
        body.at("interval").get<int64_t>() <= 0 || body.at("interval").get<int64_t>() > 24 * 60)
      return Invalid("custom needs interval: minutes, 1..1440");
    d->rule = "custom";
    d->rule_ends = now + std::chrono::minutes(body.at("interval").get<int64_t>());
  } else if (type == "keep_lock" || type == "keep_unlock") {
    d->rule = type;
    d->rule_ends.reset();
  } else if (type == "reset" || type == "lock_early" || type == "lock_now") {
    d->rule.clear();
    d->rule_ends.reset();
    d->unlocked_until.reset();
  } else {
    return Invalid("type must be keep_lock, keep_unlock, custom, reset, lock_early or lock_now");
  }
  core.AddDoorEvent(*d, {now, "lock_rule", "", "", type});
  log::Get()->info("sim unifi: door {} lock rule {}", d->name, type);
  return Success(nullptr);
}

http::Response GetLockRule(Core& core, const http::Request& req) {
  DoorState* d = core.FindDoor(req.Param("id"));
  if (!d) return NotFound(req.Param("id"));
  core.Settle(*d, core.clock.Now());
  const int64_t ended = d->rule_ends ? EpochMillis(*d->rule_ends) / 1000 : 0;
  return Success({{"type", d->rule}, {"ended_time", ended}});
}

http::Response SystemLogs(Core& core, const http::Request& req) {
  const json body = ParseObject(req.body);
  if (body.is_discarded()) return Invalid("body is not a JSON object");
  if (!body.contains("topic") || !body.at("topic").is_string()) return Invalid("topic is required");
  const std::string topic = body.at("topic").get<std::string>();
  static const std::vector<std::string> kTopics = {"critical",      "door_openings",  "updates",
                                                   "device_events", "admin_activity", "visitor"};
  if (std::find(kTopics.begin(), kTopics.end(), topic) == kTopics.end())
    return Invalid("unknown topic " + topic);
  for (const char* key : {"since", "until"})
    if (body.contains(key) && !body.at(key).is_number_integer())
      return Invalid(std::string(key) + " must be unix seconds");
  if (body.contains("actor_id") && !body.at("actor_id").is_string())
    return Invalid("actor_id must be a string");
  const int64_t since = body.value("since", int64_t{0});
  const int64_t until = body.value("until", int64_t{INT64_MAX / 1000});
  const std::string actor = body.value("actor_id", std::string());
  const int64_t page_num = std::max<int64_t>(1, QueryInt(req, "page_num").value_or(1));
  const int64_t page_size = std::clamp<int64_t>(QueryInt(req, "page_size").value_or(25), 1, 1000);

  std::vector<const LogHit*> matching;
  if (topic == "door_openings")
    for (auto it = core.log_hits.rbegin(); it != core.log_hits.rend(); ++it) {  // newest first
      const int64_t t = EpochMillis(it->at) / 1000;
      if (t < since || t > until) continue;
      if (!actor.empty() && it->actor_id != actor) continue;
      matching.push_back(&*it);
    }
  json hits = json::array();
  for (std::size_t i = static_cast<std::size_t>((page_num - 1) * page_size);
       i < matching.size() && hits.size() < static_cast<std::size_t>(page_size); ++i)
    hits.push_back(HitJson(*matching[i]));
  return http::Response::Json(200, Dump({{"code", "SUCCESS"},
                                         {"msg", "success"},
                                         {"page", page_num},
                                         {"total", matching.size()},
                                         {"data", {{"hits", hits}}}}));
}

VendorHandler Protected(VendorHandler h) {
  return [h = std::move(h)](Core& core, const http::Request& req) {
    const auto token = Bearer(req);
    if (core.secrets.unifi_token.empty())
      return Envelope(401, "CODE_UNAUTHORIZED", "the simulator has no UniFi token configured",
                      nullptr);
    if (!token || !integrations::ConstantTimeEqual(*token, core.secrets.unifi_token))
      return Envelope(401, "CODE_UNAUTHORIZED", "invalid or missing token", nullptr);
    return h(core, req);
  };
}

}  // namespace

json DoorStateJson(Core& core, DoorState& d, TimePoint now) {
  core.Settle(d, now);
  json events = json::array();
  for (const auto& e : d.events)
    events.push_back({{"at", Iso(e.at)},
                      {"type", e.type},
                      {"actor_id", e.actor_id},
                      {"actor_name", e.actor_name},
                      {"detail", e.detail}});
  return {{"id", d.id},
          {"config_id", d.config_id},
          {"name", d.name},
          {"location", d.location_id},
          {"relay", Relay(d, now)},
          {"lock_rule", d.rule},
          {"events", events}};
}

void RegisterUnifi(http::Server& server, Core& core) {
  const std::string base = kBase;
  const Endpoint any{Service::kUnifi, true, nullptr};
  const Endpoint door{Service::kUnifi, true, DoorTarget};
  VendorRoute(server, core, "GET", base + "/doors", any,
              Protected([](Core& c, const http::Request&) {
                const TimePoint now = c.clock.Now();
                json list = json::array();
                for (auto& d : c.doors) list.push_back(DoorJson(c, d, now));
                return Success(list);
              }));
  VendorRoute(server, core, "GET", base + "/doors/:id", door,
              Protected([](Core& c, const http::Request& req) {
                DoorState* d = c.FindDoor(req.Param("id"));
                if (!d) return NotFound(req.Param("id"));
                return Success(DoorJson(c, *d, c.clock.Now()));
              }));
  VendorRoute(server, core, "PUT", base + "/doors/:id/unlock", door, Protected(Unlock));
  VendorRoute(server, core, "PUT", base + "/doors/:id/lock_rule", door, Protected(PutLockRule));
  VendorRoute(server, core, "GET", base + "/doors/:id/lock_rule", door, Protected(GetLockRule));
  VendorRoute(server, core, "POST", base + "/system/logs", any, Protected(SystemLogs));
}

}  // namespace clubos::sim::detail
