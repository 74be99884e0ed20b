// OpenPhone's send-message API (integrations.md §2.3) and Slack incoming webhooks (§5) as the
// simulator speaks them: a validated SMS outbox whose messages go queued -> delivered, and a Slack
// inbox that answers with Slack's plain-text codes.
#include "core/log.h"
#include "core/text.h"
#include "core/time_format.h"
#include "integrations/signing.h"
#include "sim/core.h"

namespace clubos::sim::detail {
namespace {

http::Response OpenPhoneError(int status, const std::string& title, const std::string& message,
                              const std::string& path = "") {
  json j = {
      {"message", message}, {"code", std::to_string(status)}, {"status", status}, {"title", title}};
  if (!path.empty()) j["errors"] = {{{"path", path}, {"message", message}}};
  return http::Response::Json(status, Dump(j));
}

bool HasNonSpace(const std::string& s) {
  for (unsigned char c : s)
    if (!std::isspace(c)) return true;
  return false;
}

std::optional<http::Response> CheckKey(Core& core, const http::Request& req) {
  const auto key = req.Header("authorization");
  if (core.secrets.openphone_api_key.empty())
    return OpenPhoneError(401, "Unauthorized", "the simulator has no OpenPhone API key configured");
  // The raw key, no "Bearer" (integrations.md §2.3): a Bearer prefix is refused like a wrong key.
  if (!key || !integrations::ConstantTimeEqual(*key, core.secrets.openphone_api_key))
    return OpenPhoneError(401, "Unauthorized", "invalid API key");
  return std::nullopt;
}

std::string MessageTarget(Core& core, const http::Request& req) {
  if (req.method == "GET" && req.path == "/v1/messages")
    return req.Query("participants").value_or("");
  if (req.method == "GET") {
    const Sms* m = core.FindSms(req.Param("id"));
    return m ? m->to : "";
  }
  const json body = ParseObject(req.body);
  if (body.is_discarded() || !body.contains("to")) return "";
  const json& to = body.at("to");
  if (to.is_array() && !to.empty() && to.at(0).is_string()) return to.at(0).get<std::string>();
  return to.is_string() ? to.get<std::string>() : "";
}

http::Response Send(Core& core, const http::Request& req) {
  if (auto refused = CheckKey(core, req)) return *refused;
  const json body = ParseObject(req.body);
  if (body.is_discarded()) return OpenPhoneError(400, "Bad Request", "body is not a JSON object");
  if (!body.contains("content") || !body.at("content").is_string())
    return OpenPhoneError(400, "Bad Request", "content is required", "/content");
  const std::string content = body.at("content").get<std::string>();
  const std::size_t chars = Utf8Length(content);
  if (chars < 1 || chars > kMaxSmsChars || !HasNonSpace(content))
    return OpenPhoneError(400, "Bad Request", "content must be 1 to 1600 characters, not all blank",
                          "/content");
  if (!body.contains("from") || !body.at("from").is_string())
    return OpenPhoneError(400, "Bad Request", "from is required", "/from");
  const std::string from = body.at("from").get<std::string>();
  if (!IsE164(from) && from.rfind("PN", 0) != 0)
    return OpenPhoneError(400, "Bad Request", "from must be an E.164 number or a PN id", "/from");
  if (!body.contains("to") || !body.at("to").is_array() || body.at("to").size() != 1 ||
      !body.at("to").at(0).is_string() || !IsE164(body.at("to").at(0).get<std::string>()))
    return OpenPhoneError(400, "Bad Request", "to must be an array of one E.164 number", "/to");
  const std::string to = body.at("to").at(0).get<std::string>();
  std::string user_id;
  if (body.contains("userId")) {
    if (!body.at("userId").is_string() || body.at("userId").get<std::string>().rfind("US", 0) != 0)
      return OpenPhoneError(400, "Bad Request", "userId must be a US... id", "/userId");
    user_id = body.at("userId").get<std::string>();
  }
  if (body.contains("setInboxStatus") && (!body.at("setInboxStatus").is_string() ||
                                          body.at("setInboxStatus").get<std::string>() != "done"))
    return OpenPhoneError(400, "Bad Request", "setInboxStatus can only be \"done\"",
                          "/setInboxStatus");

  const TimePoint now = core.clock.Now();
  Sms m;
  m.id = "AC" + core.RandomHex(32);
  m.from = from;
  m.to = to;
  m.text = content;
  m.user_id = user_id;
  m.created = now;
  m.settles_at = now + core.options.sms_delivery_delay;
  m.fails = core.TakeReset(Service::kOpenPhone, to) == FaultMode::kResetNoop;
  log::Get()->info("sim openphone: message {} to {} queued{}", m.id, log::MaskPhone(to),
                   m.fails ? " (reset_noop: it will fail)" : "");
  const json answer = {{"data", SmsJson(m, now)}};
  core.outbox.push_back(std::move(m));
  while (core.outbox.size() > kMaxOutbox) core.outbox.pop_front();
  return http::Response::Json(202, Dump(answer));
}

http::Response Get(Core& core, const http::Request& req) {
  if (auto refused = CheckKey(core, req)) return *refused;
  const Sms* m = core.FindSms(req.Param("id"));
  if (!m) return OpenPhoneError(404, "Not Found", "no message " + req.Param("id"));
  return http::Response::Json(200, Dump({{"data", SmsJson(*m, core.clock.Now())}}));
}

// GET /v1/phone-numbers: the workspace's numbers, {data: [{id, number, name, ...}]}.
http::Response PhoneNumbers(Core& core, const http::Request& req) {
  if (auto refused = CheckKey(core, req)) return *refused;
  json data = json::array();
  for (const auto& [number, id] : core.phone_numbers)
    data.push_back({{"id", id},
                    {"number", number},
                    {"formattedNumber", number},
                    {"name", "ClubOS line"},
                    {"users", json::array()}});
  return http::Response::Json(200, Dump({{"data", data}}));
}

// GET /v1/messages?phoneNumberId=PN..&participants=+1..&createdAfter=..&maxResults=N: the
// conversation between one of the workspace's numbers and a participant, oldest first.
http::Response ListMessages(Core& core, const http::Request& req) {
  if (auto refused = CheckKey(core, req)) return *refused;
  const auto pn = req.Query("phoneNumberId");
  const auto participant = req.Query("participants");
  if (!pn || pn->rfind("PN", 0) != 0)
    return OpenPhoneError(400, "Bad Request", "phoneNumberId is required", "/phoneNumberId");
  if (!participant || !IsE164(*participant))
    return OpenPhoneError(400, "Bad Request", "participants is required (E.164)", "/participants");
  std::string line;
  for (const auto& [number, id] : core.phone_numbers)
    if (id == *pn) line = number;
  if (line.empty()) return OpenPhoneError(404, "Not Found", "no phone number " + *pn);
  std::optional<TimePoint> after;
  if (const auto a = req.Query("createdAfter")) {
    after = ParseTimestamp(*a);
    if (!after) return OpenPhoneError(400, "Bad Request", "createdAfter must be a date-time");
  }
  std::size_t max = 10;
  if (const auto m = req.Query("maxResults")) {
    const auto n = ParseInt64(*m);
    if (!n || *n < 1 || *n > 100)
      return OpenPhoneError(400, "Bad Request", "maxResults must be 1 to 100", "/maxResults");
    max = static_cast<std::size_t>(*n);
  }
  const TimePoint now = core.clock.Now();
  json data = json::array();
  for (const auto& m : core.outbox) {
    if ((m.from != line && m.from != *pn) || m.to != *participant) continue;
    if (after && m.created <= *after) continue;
    json j = SmsJson(m, now);
    j["phoneNumberId"] = *pn;
    data.push_back(std::move(j));
  }
  const std::size_t total = data.size();
  if (data.size() > max) data.erase(data.begin(), data.end() - static_cast<std::ptrdiff_t>(max));
  return http::Response::Json(
      200, Dump({{"data", data}, {"totalItems", total}, {"nextPageToken", nullptr}}));
}

http::Response SlackPostHandler(Core& core, const http::Request& req) {
  std::string raw = req.body;
  // Slack also takes the JSON form-encoded as payload=... (legacy integrations).
  const auto type = req.Header("content-type").value_or("");
  if (type.rfind("application/x-www-form-urlencoded", 0) == 0 && raw.rfind("payload=", 0) == 0)
    raw = http::UrlDecode(raw.substr(8), true);
  const json body = ParseObject(raw);
  if (body.is_discarded()) return http::Response::Text(400, "invalid_payload");
  const bool has_text = body.contains("text") && body.at("text").is_string() &&
                        !body.at("text").get<std::string>().empty();
  const bool has_blocks =
      body.contains("blocks") && body.at("blocks").is_array() && !body.at("blocks").empty();
  if (!has_text && !has_blocks) return http::Response::Text(400, "no_text");
  if (core.TakeReset(Service::kSlack, "") == FaultMode::kResetNoop) {
    log::Get()->info("sim slack: message accepted and dropped (reset_noop)");
    return http::Response::Text(200, "ok");
  }
  core.slack_inbox.push_back(
      {core.clock.Now(), req.path, has_text ? body.at("text").get<std::string>() : "", raw});
  while (core.slack_inbox.size() > kMaxOutbox) core.slack_inbox.pop_front();
  log::Get()->info("sim slack: message received ({} in the inbox)", core.slack_inbox.size());
  return http::Response::Text(200, "ok");
}

}  // namespace

std::string SmsStatus(const Sms& m, TimePoint now) {
  if (now < m.settles_at) return "queued";
  return m.fails ? "failed" : "delivered";
}

json SmsJson(const Sms& m, TimePoint now) {
  const TimePoint updated = now < m.settles_at ? m.created : m.settles_at;
  return {{"id", m.id},
          {"object", "message"},
          {"from", m.from},
          {"to", {m.to}},
          {"text", m.text},
          {"direction", "outgoing"},
          {"status", SmsStatus(m, now)},
          {"userId", m.user_id.empty() ? json(nullptr) : json(m.user_id)},
          {"phoneNumberId", nullptr},
          {"createdAt", Iso(m.created)},
          {"updatedAt", Iso(updated)}};
}

void RegisterOpenPhone(http::Server& server, Core& core) {
  const Endpoint ep{Service::kOpenPhone, false, MessageTarget};
  VendorRoute(server, core, "POST", "/v1/messages", ep, Send);
  VendorRoute(server, core, "GET", "/v1/messages/:id", ep, Get);
  VendorRoute(server, core, "GET", "/v1/messages", ep, ListMessages);
  VendorRoute(server, core, "GET", "/v1/phone-numbers",
              Endpoint{Service::kOpenPhone, false, nullptr}, PhoneNumbers);
}

void RegisterSlack(http::Server& server, Core& core) {
  VendorRoute(server, core, "POST", "/services/:team/:bot/:secret",
              Endpoint{Service::kSlack, false, nullptr}, SlackPostHandler);
}

}  // namespace clubos::sim::detail
