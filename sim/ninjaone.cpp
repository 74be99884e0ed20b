// NinjaOne public API v2 as the simulator speaks it (integrations.md §3): client-credentials
// tokens on /oauth/token and /ws/oauth/token, devices, activities, scripting options, script runs
// and reboots. A script run restarts TrackMan after reset_delay; a reboot takes the device offline
// at once and brings it back after reset_delay with a new boot time.
#include <map>

#include "core/log.h"
#include "integrations/signing.h"
#include "sim/core.h"

namespace clubos::sim::detail {
namespace {

http::Response NinjaError(int status, const std::string& code, const std::string& message) {
  return http::Response::Json(
      status, Dump({{"resultCode", code}, {"errorMessage", message}, {"incidentId", nullptr}}));
}

http::Response Unauthorized(const std::string& description) {
  http::Response r = http::Response::Json(
      401, Dump({{"error", "invalid_token"}, {"error_description", description}}));
  r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
  return r;
}

// nullopt when the bearer token is valid now; else the 401 to answer.
std::optional<http::Response> CheckToken(Core& core, const http::Request& req) {
  const auto token = Bearer(req);
  if (!token) return Unauthorized("missing bearer token");
  const auto it = core.tokens.find(*token);
  if (it == core.tokens.end()) return Unauthorized("unknown access token");
  if (it->second <= core.clock.Now()) {
    core.tokens.erase(it);
    return Unauthorized("the access token expired");
  }
  return std::nullopt;
}

std::map<std::string, std::string> ParseForm(const std::string& body) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start <= body.size()) {
    std::size_t end = body.find('&', start);
    if (end == std::string::npos) end = body.size();
    const std::string pair = body.substr(start, end - start);
    const std::size_t eq = pair.find('=');
    if (!pair.empty())
      out[http::UrlDecode(pair.substr(0, eq), true)] =
          eq == std::string::npos ? "" : http::UrlDecode(pair.substr(eq + 1), true);
    start = end + 1;
  }
  return out;
}

std::string SystemName(const Device& d) {
  std::string loc;
  for (char c : d.location_name)
    if (std::isalnum(static_cast<unsigned char>(c)))
      loc += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return loc.substr(0, 8) + "-BAY" + std::to_string(d.bay);
}

json DeviceJson(const Device& d) {
  return {{"id", d.numeric_id},
          {"organizationId", 1},
          {"locationId", 1},
          {"nodeClass", "WINDOWS_WORKSTATION"},
          {"approvalStatus", "APPROVED"},
          {"offline", d.offline},
          {"systemName", SystemName(d)},
          {"displayName", d.location_name + " Bay " + std::to_string(d.bay) + " PC"},
          {"dnsName", SystemName(d)},
          {"created", EpochSeconds(d.created)},
          {"lastContact", EpochSeconds(d.last_contact)},
          {"lastUpdate", EpochSeconds(d.last_contact)},
          {"os", {{"name", "Windows 11 Pro"}, {"lastBootTime", EpochSeconds(d.last_boot)}}},
          {"tags", {"trackman"}}};
}

json ActivityJson(const Device& d, const Activity& a) {
  return {{"id", a.id},
          {"activityTime", EpochSeconds(a.at)},
          {"deviceId", d.numeric_id},
          {"severity", "NONE"},
          {"priority", "NONE"},
          {"activityType", a.type},
          {"statusCode", a.status_code},
          {"status", a.status_code},
          {"sourceName", a.source_name},
          {"message", a.message}};
}

std::optional<int64_t> QueryInt(const http::Request& req, const std::string& name) {
  const auto v = req.Query(name);
  if (!v || v->empty() || v->size() > 15 || v->find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(*v);
}

std::string DeviceTarget(Core&, const http::Request& req) {
  return req.Param("id");
}

http::Response Token(Core& core, const http::Request& req) {
  auto form = ParseForm(req.body);
  // Client credentials may also come as HTTP Basic (RFC 6749 §2.3.1).
  if (const auto auth = req.Header("authorization"); auth && auth->rfind("Basic ", 0) == 0) {
    if (const auto decoded = integrations::Base64Decode(auth->substr(6))) {
      const auto colon = decoded->find(':');
      if (colon != std::string::npos) {
        form["client_id"] = http::UrlDecode(decoded->substr(0, colon), true);
        form["client_secret"] = http::UrlDecode(decoded->substr(colon + 1), true);
      }
    }
  }
  if (form["grant_type"] != "client_credentials")
    return http::Response::Json(
        400,
        Dump({{"error", form["grant_type"].empty() ? "invalid_request" : "unsupported_grant_type"},
              {"error_description", "grant_type must be client_credentials"}}));
  const auto& s = core.secrets;
  const bool configured = !s.ninjaone_client_id.empty() && !s.ninjaone_client_secret.empty();
  if (!configured || !integrations::ConstantTimeEqual(form["client_id"], s.ninjaone_client_id) ||
      !integrations::ConstantTimeEqual(form["client_secret"], s.ninjaone_client_secret))
    return http::Response::Json(
        401, Dump({{"error", "invalid_client"},
                   {"error_description", configured ? "client authentication failed"
                                                    : "the simulator has no NinjaOne client "
                                                      "credentials configured"}}));
  const std::string scope = form.count("scope") && !form["scope"].empty()
                                ? form["scope"]
                                : "monitoring management control";
  const std::string token = core.RandomHex(40);
  core.tokens[token] = core.clock.Now() + core.options.token_ttl;
  // Tokens are never removed except on expiry checks; bound the map for long runs.
  if (core.tokens.size() > 10'000) {
    const TimePoint now = core.clock.Now();
    std::erase_if(core.tokens, [now](const auto& kv) { return kv.second <= now; });
  }
  return http::Response::Json(
      200, Dump({{"access_token", token},
                 {"token_type", "Bearer"},
                 {"expires_in",
                  std::chrono::duration_cast<std::chrono::seconds>(core.options.token_ttl).count()},
                 {"scope", scope}}));
}

http::Response RunScript(Core& core, const http::Request& req) {
  Device* d = core.FindDevice(req.Param("id"));
  if (!d) return NinjaError(404, "DEVICE_NOT_FOUND", "no device " + req.Param("id"));
  const json body = ParseObject(req.body);
  if (body.is_discarded()) return NinjaError(400, "INVALID_REQUEST", "body is not a JSON object");
  if (!body.contains("type") || !body.at("type").is_string())
    return NinjaError(400, "INVALID_REQUEST", "type is required (SCRIPT or ACTION)");
  const std::string type = body.at("type").get<std::string>();
  if (type == "ACTION")
    return NinjaError(400, "INVALID_REQUEST",
                      "the simulator knows no built-in actions; run a SCRIPT by id");
  if (type != "SCRIPT") return NinjaError(400, "INVALID_REQUEST", "type must be SCRIPT or ACTION");
  if (!body.contains("id") || !body.at("id").is_number_integer())
    return NinjaError(400, "INVALID_REQUEST", "id (an integer script id) is required for SCRIPT");
  if (body.contains("parameters") && !body.at("parameters").is_string())
    return NinjaError(400, "INVALID_REQUEST", "parameters must be a string");
  if (body.contains("runAs") && !body.at("runAs").is_string())
    return NinjaError(400, "INVALID_REQUEST", "runAs must be a string");
  const int64_t script_id = body.at("id").get<int64_t>();
  if (script_id != core.trackman_script_id)
    return NinjaError(400, "INVALID_SCRIPT",
                      "no script " + std::to_string(script_id) + " is available to this device");

  const TimePoint now = core.clock.Now();
  core.Settle(*d, now);
  const std::string name = "Restart TrackMan";
  const auto fault = core.TakeReset(Service::kNinjaOne, d->id);
  if (fault == FaultMode::kResetNoop) {
    log::Get()->info("sim ninjaone: script on device {} accepted and ignored (reset_noop)", d->id);
    return http::Response::Text(204, "");
  }
  core.AddActivity(*d, now, "SCRIPTING", "START_REQUESTED", name, "Script run requested");
  if (fault == FaultMode::kStuckOffline) {
    d->pending.reset();
    d->offline = true;
    d->stuck = true;
    log::Get()->info("sim ninjaone: device {} went offline during the script (stuck_offline)",
                     d->id);
  } else if (d->offline) {
    core.AddActivity(*d, now, "SCRIPTING", "FAILED", name, "Device is offline");
  } else {
    d->pending =
        Pending{false, static_cast<int>(script_id), name, now, now + core.options.reset_delay};
    log::Get()->info("sim ninjaone: device {} restarting TrackMan", d->id);
  }
  return http::Response::Text(204, "");
}

http::Response Reboot(Core& core, const http::Request& req) {
  Device* d = core.FindDevice(req.Param("id"));
  if (!d) return NinjaError(404, "DEVICE_NOT_FOUND", "no device " + req.Param("id"));
  const std::string mode = req.Param("mode");
  if (mode != "NORMAL" && mode != "FORCED")
    return NinjaError(400, "INVALID_REQUEST", "reboot mode must be NORMAL or FORCED");
  std::string reason;
  if (!req.body.empty()) {
    const json body = ParseObject(req.body);
    if (body.is_discarded()) return NinjaError(400, "INVALID_REQUEST", "body is not a JSON object");
    if (body.contains("reason")) {
      if (!body.at("reason").is_string())
        return NinjaError(400, "INVALID_REQUEST", "reason must be a string");
      reason = body.at("reason").get<std::string>();
    }
  }
  const TimePoint now = core.clock.Now();
  core.Settle(*d, now);
  const std::string name = "Reboot (" + mode + ")";
  const auto fault = core.TakeReset(Service::kNinjaOne, d->id);
  if (fault == FaultMode::kResetNoop) {
    log::Get()->info("sim ninjaone: reboot of device {} accepted and ignored (reset_noop)", d->id);
    return http::Response::Text(204, "");
  }
  if (d->pending && !d->pending->reboot)
    core.AddActivity(*d, now, "SCRIPTING", "FAILED", d->pending->name, "Interrupted by a reboot");
  core.AddActivity(*d, now, "ACTION", "START_REQUESTED", name,
                   reason.empty() ? "Reboot requested" : "Reboot requested: " + reason);
  d->offline = true;
  if (fault == FaultMode::kStuckOffline) {
    d->pending.reset();
    d->stuck = true;
    log::Get()->info("sim ninjaone: device {} rebooting and will not come back (stuck_offline)",
                     d->id);
  } else {
    d->pending = Pending{true, 0, name, now, now + core.options.reset_delay};
    log::Get()->info("sim ninjaone: device {} rebooting", d->id);
  }
  return http::Response::Text(204, "");
}

http::Response Activities(Core& core, const http::Request& req) {
  Device* d = core.FindDevice(req.Param("id"));
  if (!d) return NinjaError(404, "DEVICE_NOT_FOUND", "no device " + req.Param("id"));
  core.Settle(*d, core.clock.Now());
  const auto newer = QueryInt(req, "newerThan");
  const auto older = QueryInt(req, "olderThan");
  const int64_t page = std::min<int64_t>(QueryInt(req, "pageSize").value_or(200), 1000);
  const auto type = req.Query("activityType");
  const auto status = req.Query("status");
  json list = json::array();
  for (auto it = d->activities.rbegin(); it != d->activities.rend(); ++it) {
    if (static_cast<int64_t>(list.size()) >= page) break;
    if (newer && it->id <= *newer) continue;
    if (older && it->id >= *older) continue;
    if (type && *type != it->type) continue;
    if (status && *status != it->status_code) continue;
    list.push_back(ActivityJson(*d, *it));
  }
  const int64_t last = d->activities.empty() ? 0 : d->activities.back().id;
  return http::Response::Json(200, Dump({{"lastActivityId", last}, {"activities", list}}));
}

// Wraps a Bearer-protected handler with the token check.
VendorHandler Protected(VendorHandler h) {
  return [h = std::move(h)](Core& core, const http::Request& req) {
    if (auto refused = CheckToken(core, req)) return *refused;
    return h(core, req);
  };
}

}  // namespace

json DeviceState(Core& core, Device& d, TimePoint now) {
  core.Settle(d, now);
  json running = nullptr;
  if (d.pending && !d.pending->reboot)
    running = {{"id", d.pending->script_id},
               {"name", d.pending->name},
               {"started_at", Iso(d.pending->started_at)}};
  return {{"id", d.id},
          {"location", d.location_id},
          {"bay", d.bay},
          {"online", !d.offline},
          {"rebooting", d.pending && d.pending->reboot},
          {"stuck", d.stuck},
          {"last_boot", Iso(d.last_boot)},
          {"last_contact", Iso(d.last_contact)},
          {"tps_restarted_at", d.tps_restarted_at ? json(Iso(*d.tps_restarted_at)) : json(nullptr)},
          {"running_script", running}};
}

void RegisterNinjaOne(http::Server& server, Core& core) {
  const Endpoint open{Service::kNinjaOne, false, nullptr};
  const Endpoint any{Service::kNinjaOne, true, nullptr};
  const Endpoint device{Service::kNinjaOne, true, DeviceTarget};
  for (const char* path : {"/oauth/token", "/ws/oauth/token"})
    VendorRoute(server, core, "POST", path, open, Token);

  VendorRoute(server, core, "GET", "/v2/devices", any,
              Protected([](Core& c, const http::Request& req) {
                const TimePoint now = c.clock.Now();
                const int64_t page = QueryInt(req, "pageSize").value_or(1000);
                const int64_t after = QueryInt(req, "after").value_or(0);
                json list = json::array();
                for (auto& d : c.devices) {
                  if (d.numeric_id <= after) continue;
                  if (static_cast<int64_t>(list.size()) >= page) break;
                  c.Settle(d, now);
                  list.push_back(DeviceJson(d));
                }
                return http::Response::Json(200, Dump(list));
              }));
  VendorRoute(server, core, "GET", "/v2/device/:id", device,
              Protected([](Core& c, const http::Request& req) {
                Device* d = c.FindDevice(req.Param("id"));
                if (!d) return NinjaError(404, "DEVICE_NOT_FOUND", "no device " + req.Param("id"));
                c.Settle(*d, c.clock.Now());
                return http::Response::Json(200, Dump(DeviceJson(*d)));
              }));
  VendorRoute(server, core, "GET", "/v2/device/:id/activities", device, Protected(Activities));
  VendorRoute(server, core, "GET", "/v2/device/:id/scripting/options", device,
              Protected([](Core& c, const http::Request& req) {
                if (!c.FindDevice(req.Param("id")))
                  return NinjaError(404, "DEVICE_NOT_FOUND", "no device " + req.Param("id"));
                const json script = {{"type", "SCRIPT"},
                                     {"id", c.trackman_script_id},
                                     {"name", "Restart TrackMan"},
                                     {"language", "powershell"},
                                     {"description", "Restarts TrackMan Performance Studio"},
                                     {"architecture", {"64"}},
                                     {"categoryId", 1}};
                return http::Response::Json(
                    200, Dump({{"categories", json::array()}, {"scripts", {script}}}));
              }));
  VendorRoute(server, core, "POST", "/v2/device/:id/script/run", device, Protected(RunScript));
  VendorRoute(server, core, "POST", "/v2/device/:id/reboot/:mode", device, Protected(Reboot));
}

}  // namespace clubos::sim::detail
