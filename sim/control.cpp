// The simulator's own API under /_sim/ (interfaces.md): faults, the call log, a state snapshot,
// and customer texts sent to ClubOS as signed OpenPhone webhooks. These calls are not vendor calls
// and are never recorded in /_sim/calls.
#include "core/log.h"
#include "integrations/http.h"
#include "integrations/signing.h"
#include "sim/core.h"

namespace clubos::sim::detail {
namespace {

http::Response Bad(const std::string& message) {
  return http::Response::Error(400, "invalid_input", message);
}

std::string FaultTarget(const Fault& f) {
  return std::string(ToString(f.service)) + (f.target.empty() ? "" : ":" + f.target);
}

json FaultJson(const Fault& f) {
  return {{"id", f.id},
          {"target", FaultTarget(f)},
          {"mode", ToString(f.mode)},
          {"remaining", f.until_cleared ? json(nullptr) : json(f.remaining)},
          {"used", f.used},
          {"delay_ms", f.delay.count()},
          {"retry_after_ms",
           f.mode == FaultMode::kHttp429 ? json(f.retry_after.count()) : json(nullptr)}};
}

constexpr const char* kModes =
    "stuck_offline, reset_noop, slow, http_500, http_429, http_403, token_expired, "
    "insufficient_quota, malformed, refusal or off_schema";

std::optional<FaultMode> ParseMode(const std::string& s) {
  for (FaultMode m : {FaultMode::kStuckOffline, FaultMode::kResetNoop, FaultMode::kSlow,
                      FaultMode::kHttp500, FaultMode::kHttp429, FaultMode::kHttp403,
                      FaultMode::kTokenExpired, FaultMode::kInsufficientQuota,
                      FaultMode::kMalformed, FaultMode::kRefusal, FaultMode::kOffSchema})
    if (s == ToString(m)) return m;
  return std::nullopt;
}

http::Response AddFault(Core& core, const http::Request& req) {
  const json body = ParseObject(req.body);
  if (body.is_discarded()) return Bad("body is not a JSON object");
  if (!body.contains("target") || !body.at("target").is_string())
    return Bad(
        "target is required: openphone, slack, ninjaone[:<device>], unifi[:<door>] or "
        "llm[:<model>]");
  if (!body.contains("mode") || !body.at("mode").is_string())
    return Bad(std::string("mode is required: ") + kModes);
  const std::string target = body.at("target").get<std::string>();
  const auto mode = ParseMode(body.at("mode").get<std::string>());
  if (!mode) return Bad("unknown mode '" + body.at("mode").get<std::string>() + "': " + kModes);
  Fault f;
  f.mode = *mode;
  const auto colon = target.find(':');
  const std::string vendor = target.substr(0, colon);
  const std::string which = colon == std::string::npos ? "" : target.substr(colon + 1);
  if (vendor == "agent") {
    f.service = Service::kAgent;
    bool known = false;
    for (const auto& b : core.agent_bays) known = known || b.device_id == which;
    if (!known) return Bad("unknown agent bay '" + which + "' in target (agent:<device>)");
    if (f.mode != FaultMode::kStuckOffline && f.mode != FaultMode::kResetNoop)
      return Bad("agent faults are stuck_offline or reset_noop");
    f.target = which;
  } else if (vendor == "openphone" || vendor == "slack") {
    if (colon != std::string::npos)
      return Bad(vendor + " faults apply to the whole vendor: use target \"" + vendor + "\"");
    f.service = vendor == "openphone" ? Service::kOpenPhone : Service::kSlack;
  } else if (vendor == "ninjaone") {
    f.service = Service::kNinjaOne;
    if (colon != std::string::npos) {
      const Device* d = core.FindDevice(which);
      if (!d) return Bad("unknown NinjaOne device '" + which + "' in target");
      f.target = d->id;
    }
  } else if (vendor == "unifi") {
    f.service = Service::kUnifi;
    if (colon != std::string::npos) {
      for (const auto& d : core.doors)
        if (d.id == which || d.config_id == which) f.target = d.id;
      if (f.target.empty()) return Bad("unknown UniFi door '" + which + "' in target");
    }
  } else if (vendor == "llm") {
    // llm:<model>: only the completions asked of that model (a client's fallback to its other
    // model can then be tested).
    f.service = Service::kLlm;
    if (colon != std::string::npos && which.empty())
      return Bad("llm:<model> needs a model name (or use target \"llm\")");
    f.target = which;
  } else {
    return Bad("unknown target '" + target +
               "': openphone, slack, ninjaone, ninjaone:<device>, unifi, unifi:<door>, llm or "
               "llm:<model>");
  }
  if (f.mode == FaultMode::kStuckOffline && f.service != Service::kNinjaOne &&
      f.service != Service::kAgent)
    return Bad("stuck_offline applies to NinjaOne devices and agent bays only");
  if (f.mode == FaultMode::kTokenExpired && f.service != Service::kNinjaOne &&
      f.service != Service::kUnifi)
    return Bad("token_expired applies to the bearer-token vendors only (ninjaone, unifi)");
  const bool llm_only = f.mode == FaultMode::kInsufficientQuota ||
                        f.mode == FaultMode::kMalformed || f.mode == FaultMode::kRefusal ||
                        f.mode == FaultMode::kOffSchema;
  if (llm_only && f.service != Service::kLlm)
    return Bad(std::string(ToString(f.mode)) + " applies to the LLM only (target llm)");
  if (f.mode == FaultMode::kResetNoop && f.service == Service::kLlm)
    return Bad("reset_noop does not apply to the LLM (it has nothing to reset)");
  if (body.contains("count")) {
    if (!body.at("count").is_number_integer() || body.at("count").get<int64_t>() < 0 ||
        body.at("count").get<int64_t>() > 1'000'000)
      return Bad("count must be a whole number, 0 (until cleared) to 1000000");
    f.remaining = static_cast<int>(body.at("count").get<int64_t>());
  }
  f.until_cleared = f.remaining == 0;
  if (f.mode == FaultMode::kSlow) {
    if (!body.contains("delay_ms") || !body.at("delay_ms").is_number_integer() ||
        body.at("delay_ms").get<int64_t>() <= 0 ||
        body.at("delay_ms").get<int64_t>() > kMaxFaultDelayMs)
      return Bad("slow needs delay_ms: 1 to " + std::to_string(kMaxFaultDelayMs));
    f.delay = Millis(body.at("delay_ms").get<int64_t>());
  }
  if (body.contains("retry_after_ms")) {
    const json& v = body.at("retry_after_ms");
    if (f.mode != FaultMode::kHttp429) return Bad("retry_after_ms goes with http_429 only");
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxRetryAfterMs)
      return Bad("retry_after_ms must be a whole number, 0 to " + std::to_string(kMaxRetryAfterMs));
    f.retry_after = Millis(v.get<int64_t>());
  }
  f.id = "fault-" + std::to_string(core.next_fault++);
  log::Get()->info("sim fault {}: {} on {} ({})", f.id, ToString(f.mode), FaultTarget(f),
                   f.until_cleared ? "until cleared" : std::to_string(f.remaining) + " time(s)");
  json answer = FaultJson(f);
  answer["count"] = f.remaining;
  core.faults.push_back(std::move(f));
  return http::Response::Json(201, Dump(answer));
}

json CallJson(const Call& c) {
  json query = json::object();
  for (const auto& [k, v] : c.query) query[k] = v;
  return {{"seq", c.seq},
          {"at", Iso(c.at)},
          {"service", ToString(c.service)},
          {"method", c.method},
          {"path", c.path},
          {"query", query},
          {"target", c.target},
          {"body", c.body},
          {"status", c.status},
          {"fault", c.fault.empty() ? json(nullptr) : json(c.fault)}};
}

std::optional<int64_t> NonNegative(const std::optional<std::string>& v) {
  if (!v) return std::nullopt;
  if (v->empty() || v->size() > 15 || v->find_first_not_of("0123456789") != std::string::npos)
    return -1;
  return std::stoll(*v);
}

http::Response Calls(Core& core, const http::Request& req) {
  const auto since = NonNegative(req.Query("since"));
  const auto limit = NonNegative(req.Query("limit"));
  if (since && *since < 0) return Bad("since must be a call's seq (a whole number)");
  if (limit && *limit <= 0) return Bad("limit must be a positive whole number");
  const int64_t after = since.value_or(0);
  std::lock_guard lock(core.mu);
  json list = json::array();
  int64_t next = after;
  for (const auto& c : core.calls) {
    if (c.seq <= after) continue;
    if (limit && static_cast<int64_t>(list.size()) >= *limit) break;
    list.push_back(CallJson(c));
    next = c.seq;
  }
  return http::Response::Json(200, Dump({{"calls", list}, {"next", next}}));
}

http::Response State(Core& core) {
  std::lock_guard lock(core.mu);
  const TimePoint now = core.clock.Now();
  json devices = json::array(), doors = json::array(), sms = json::array(), slack = json::array(),
       customers = json::array(), agents = json::array(), faults = json::array();
  for (auto& d : core.devices) devices.push_back(DeviceState(core, d, now));
  for (auto& d : core.doors) doors.push_back(DoorStateJson(core, d, now));
  for (const auto& m : core.outbox) {
    json j = SmsJson(m, now);
    j["to"] = m.to;  // a string here: one recipient, easy to assert on
    sms.push_back(std::move(j));
  }
  for (const auto& p : core.slack_inbox)
    slack.push_back({{"at", Iso(p.at)}, {"path", p.path}, {"text", p.text}, {"body", p.body}});
  for (const auto& m : core.customer_messages)
    customers.push_back({{"at", Iso(m.at)},
                         {"message_id", m.message_id},
                         {"from", m.from},
                         {"to", m.to},
                         {"body", m.body},
                         {"scheme", m.scheme},
                         {"clubos_status", m.clubos_status}});
  for (const auto& a : core.agent_bays)
    agents.push_back({{"device_id", a.device_id},
                      {"location", a.location_id},
                      {"bay", a.bay},
                      {"simulated", core.running_agents.count(a.device_id) > 0}});
  for (const auto& f : core.faults) faults.push_back(FaultJson(f));
  return http::Response::Json(200, Dump({{"now", Iso(now)},
                                         {"devices", devices},
                                         {"doors", doors},
                                         {"sms_outbox", sms},
                                         {"slack_inbox", slack},
                                         {"customer_messages", customers},
                                         {"agent_bays", agents},
                                         {"faults", faults}}));
}

// A stable OpenPhone-style id (PN..., US..., CN...) for a phone line or a conversation.
std::string StableId(const std::string& prefix, const std::string& seed) {
  static const char* kAlnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : seed) h = (h ^ c) * 1099511628211ULL;
  std::string out = prefix;
  for (int i = 0; i < 8; ++i, h /= 62) out += kAlnum[h % 62];
  return out;
}

http::Response Customer(Core& core, const http::Request& req) {
  const json in = ParseObject(req.body);
  if (in.is_discarded()) return Bad("body is not a JSON object");
  for (const char* key : {"from", "to", "body"})
    if (!in.contains(key) || !in.at(key).is_string() || in.at(key).get<std::string>().empty())
      return Bad(std::string(key) + " is required (a non-empty string)");
  const std::string from = in.at("from").get<std::string>();
  const std::string to = in.at("to").get<std::string>();
  const std::string text = in.at("body").get<std::string>();
  if (!IsE164(from) || !IsE164(to)) return Bad("from and to must be E.164 numbers (+15555550100)");
  std::string scheme = "legacy";
  if (in.contains("scheme")) {
    if (!in.at("scheme").is_string()) return Bad("scheme must be \"legacy\" or \"standard\"");
    scheme = in.at("scheme").get<std::string>();
    if (scheme != "legacy" && scheme != "standard")
      return Bad("scheme must be \"legacy\" or \"standard\"");
  }

  std::string raw, message_id, event_id;
  std::map<std::string, std::string> headers = {{"Content-Type", "application/json"}};
  {
    std::lock_guard lock(core.mu);
    const TimePoint now = core.clock.Now();
    message_id = "AC" + core.RandomHex(32);
    event_id = "EV" + core.RandomHex(32);
    json message = {{"id", message_id},
                    {"object", "message"},
                    {"from", from},
                    {"direction", "incoming"},
                    {"media", json::array()},
                    {"status", "received"},
                    {"createdAt", Iso(now)},
                    {"userId", StableId("US", to)},
                    {"phoneNumberId", StableId("PN", to)},
                    {"conversationId", StableId("CN", from + to)}};
    if (scheme == "legacy") {
      const auto key = integrations::Base64Decode(core.secrets.openphone_signing_secret);
      if (core.secrets.openphone_signing_secret.empty() || !key)
        return Bad("CLUBOS_OPENPHONE_SIGNING_SECRET is unset or not base64: cannot sign");
      // integrations.md §2.1: apiVersion v3, the text in `body`, `to` a string.
      message["to"] = to;
      message["body"] = text;
      raw = Dump({{"id", event_id},
                  {"object", "event"},
                  {"apiVersion", "v3"},
                  {"createdAt", Iso(now)},
                  {"type", "message.received"},
                  {"data", {{"object", message}}}});
      const std::string ts = std::to_string(EpochMillis(now));  // ms, as the docs' example
      headers["openphone-signature"] =
          "hmac;1;" + ts + ";" +
          integrations::Base64Encode(integrations::HmacSha256(*key, ts + "." + raw));
    } else {
      const std::string& whsec = core.secrets.openphone_webhook_key;
      const std::string prefix = "whsec_";
      const auto key = integrations::Base64Decode(
          whsec.rfind(prefix, 0) == 0 ? whsec.substr(prefix.size()) : whsec);
      if (whsec.empty() || !key)
        return Bad("CLUBOS_OPENPHONE_WEBHOOK_KEY is unset or not whsec_<base64>: cannot sign");
      // The 2026-03-30 envelope (integrations.md §2.4): the message in data.resource, REST-style
      // (`to` a list, the text in `text`).
      message["to"] = {to};
      message["text"] = text;
      raw = Dump({{"id", event_id},
                  {"apiVersion", "2026-03-30"},
                  {"createdAt", Iso(now)},
                  {"type", "message.received"},
                  {"data",
                   {{"resource", message},
                    {"context",
                     {{"phoneNumberId", StableId("PN", to)},
                      {"conversationId", StableId("CN", from + to)}}},
                    {"links", json::object()}}}});
      const std::string id = "msg_" + core.RandomHex(24);
      const std::string ts = std::to_string(EpochMillis(now) / 1000);
      headers["webhook-id"] = id;
      headers["webhook-timestamp"] = ts;
      headers["webhook-signature"] = "v1," + integrations::Base64Encode(integrations::HmacSha256(
                                                 *key, id + "." + ts + "." + raw));
    }
    core.customer_messages.push_back({now, message_id, from, to, text, scheme, 0});
    while (core.customer_messages.size() > kMaxOutbox) core.customer_messages.pop_front();
  }

  std::string url = core.options.clubos_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  const auto resp = integrations::Send({.method = "POST",
                                        .url = url + "/v1/webhooks/openphone",
                                        .headers = headers,
                                        .body = raw,
                                        .timeout = core.options.clubos_timeout});
  if (resp.transport != integrations::HttpResponse::Transport::kOk) {
    log::Get()->warn("sim customer: {} -> {}: ClubOS not reached: {}", log::MaskPhone(from),
                     log::MaskPhone(to), resp.error);
    return http::Response::Error(502, "clubos_unreachable",
                                 "ClubOS at " + url + " was not reached: " + resp.error);
  }
  {
    std::lock_guard lock(core.mu);
    for (auto& m : core.customer_messages)
      if (m.message_id == message_id) m.clubos_status = static_cast<int>(resp.status);
  }
  log::Get()->info("sim customer: {} -> {}: {} webhook answered {}", log::MaskPhone(from),
                   log::MaskPhone(to), scheme, resp.status);
  json parsed = json::parse(resp.body, nullptr, false);
  if (parsed.is_discarded()) parsed = resp.body;
  return http::Response::Json(200, Dump({{"status", resp.status},
                                         {"response", parsed},
                                         {"message_id", message_id},
                                         {"event_id", event_id}}));
}

}  // namespace

void RegisterControl(http::Server& server, Core& core) {
  server.Route("POST", "/_sim/faults", [&core](const http::Request& req) {
    std::lock_guard lock(core.mu);
    return AddFault(core, req);
  });
  server.Route("GET", "/_sim/faults", [&core](const http::Request&) {
    std::lock_guard lock(core.mu);
    json list = json::array();
    for (const auto& f : core.faults) list.push_back(FaultJson(f));
    return http::Response::Json(200, Dump({{"faults", list}}));
  });
  server.Route("DELETE", "/_sim/faults", [&core](const http::Request&) {
    std::lock_guard lock(core.mu);
    const std::size_t n = core.faults.size();
    core.faults.clear();
    log::Get()->info("sim faults cleared ({})", n);
    return http::Response::Json(200, Dump({{"cleared", n}}));
  });
  server.Route("DELETE", "/_sim/faults/:id", [&core](const http::Request& req) {
    std::lock_guard lock(core.mu);
    const auto n =
        std::erase_if(core.faults, [&](const Fault& f) { return f.id == req.Param("id"); });
    if (n == 0) return http::Response::Error(404, "not_found", "no fault " + req.Param("id"));
    return http::Response::Json(200, Dump({{"cleared", n}}));
  });
  server.Route("GET", "/_sim/calls",
               [&core](const http::Request& req) { return Calls(core, req); });
  server.Route("GET", "/_sim/state", [&core](const http::Request&) { return State(core); });
  server.Route("POST", "/_sim/customer",
               [&core](const http::Request& req) { return Customer(core, req); });
}

}  // namespace clubos::sim::detail
