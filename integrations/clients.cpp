#include "integrations/clients.h"

#include <nlohmann/json.hpp>

#include "core/time_format.h"

namespace clubos::integrations {

using nlohmann::json;

namespace {

std::string MissingSecret(const std::string& vendor, const std::string& var) {
  return vendor + ": the secret is not configured (set " + var + ")";
}

// A 2xx whose body is not what the vendor documents: the call's effect is unknown.
VendorReply Garbled(VendorReply v, const std::string& why) {
  v.status = CallStatus::kUnknown;
  v.detail += ": " + why;
  return v;
}

double Number(const json& j, const char* key) {
  return j.contains(key) && j.at(key).is_number() ? j.at(key).get<double>() : 0.0;
}

}  // namespace

// ---- OpenPhone ---------------------------------------------------------------------------------

OpenPhone::OpenPhone(Integrations::OpenPhone config, Millis timeout)
    : config_(std::move(config)), timeout_(timeout) {}

VendorReply OpenPhone::Send(const std::string& from, const std::string& to, const std::string& text,
                            std::string* message_id) {
  const auto key = SecretFromEnv(config_.api_key_env);
  if (!key) return Refused(MissingSecret("openphone send", config_.api_key_env));
  json body = {{"content", text}, {"from", from}, {"to", json::array({to})}};
  if (!config_.user_id.empty()) body["userId"] = config_.user_id;
  // The raw key, no "Bearer" (integrations.md §1.5).
  auto v = Classify(integrations::Send(
                        {.method = "POST",
                         .url = config_.base_url + "/v1/messages",
                         .headers = {{"Authorization", *key}, {"Content-Type", "application/json"}},
                         .body = body.dump(),
                         .timeout = timeout_}),
                    "openphone send");
  if (!v.ok()) return v;
  const json j = json::parse(v.body, nullptr, false);
  if (j.is_discarded() || !j.contains("data") || !j["data"].contains("id") ||
      !j["data"]["id"].is_string())
    return Garbled(v, "the answer has no data.id");
  *message_id = j["data"]["id"].get<std::string>();
  return v;
}

VendorReply OpenPhone::Status(const std::string& message_id, std::string* status) {
  const auto key = SecretFromEnv(config_.api_key_env);
  if (!key) return Refused(MissingSecret("openphone status", config_.api_key_env));
  auto v = Classify(
      integrations::Send({.url = config_.base_url + "/v1/messages/" + UrlEncode(message_id),
                          .headers = {{"Authorization", *key}},
                          .timeout = timeout_}),
      "openphone status");
  if (!v.ok()) return v;
  const json j = json::parse(v.body, nullptr, false);
  if (j.is_discarded() || !j.contains("data") || !j["data"].contains("status") ||
      !j["data"]["status"].is_string())
    return Garbled(v, "the answer has no data.status");
  *status = j["data"]["status"].get<std::string>();
  return v;
}

VendorReply OpenPhone::PhoneNumberId(const std::string& line, const std::string& key,
                                     std::string* id) {
  {
    std::lock_guard lock(mu_);
    if (auto it = phone_number_ids_.find(line); it != phone_number_ids_.end()) {
      *id = it->second;
      return {.status = CallStatus::kOk, .detail = "openphone phone numbers: cached"};
    }
  }
  auto v = Classify(integrations::Send({.url = config_.base_url + "/v1/phone-numbers",
                                        .headers = {{"Authorization", key}},
                                        .timeout = timeout_}),
                    "openphone phone numbers");
  if (!v.ok()) return v;
  const json j = json::parse(v.body, nullptr, false);
  if (j.is_discarded() || !j.contains("data") || !j["data"].is_array())
    return Garbled(v, "the answer has no data array");
  std::lock_guard lock(mu_);
  for (const auto& n : j["data"])
    if (n.is_object() && n.value("number", json()).is_string() && n.value("id", json()).is_string())
      phone_number_ids_[n["number"].get<std::string>()] = n["id"].get<std::string>();
  auto it = phone_number_ids_.find(line);
  if (it == phone_number_ids_.end()) {
    v.status = CallStatus::kRejected;
    v.detail = "openphone phone numbers: " + line + " is not a number of this workspace";
    return v;
  }
  *id = it->second;
  return v;
}

VendorReply OpenPhone::Conversation(const std::string& line, const std::string& participant,
                                    TimePoint after, std::vector<Message>* out) {
  const auto key = SecretFromEnv(config_.api_key_env);
  if (!key) return Refused(MissingSecret("openphone messages", config_.api_key_env));
  std::string pn;
  if (auto v = PhoneNumberId(line, *key, &pn); !v.ok()) return v;
  auto v = Classify(
      integrations::Send({.url = config_.base_url + "/v1/messages?phoneNumberId=" + UrlEncode(pn) +
                                 "&participants=" + UrlEncode(participant) + "&createdAfter=" +
                                 UrlEncode(FormatIso8601(after)) + "&maxResults=50",
                          .headers = {{"Authorization", *key}},
                          .timeout = timeout_}),
      "openphone messages");
  if (!v.ok()) return v;
  const json j = json::parse(v.body, nullptr, false);
  if (j.is_discarded() || !j.contains("data") || !j["data"].is_array())
    return Garbled(v, "the answer has no data array");
  out->clear();
  auto text = [](const json& m, const char* k) {
    return m.contains(k) && m[k].is_string() ? m[k].get<std::string>() : std::string();
  };
  for (const auto& m : j["data"]) {
    if (!m.is_object()) continue;
    Message msg{text(m, "id"),   text(m, "direction"), text(m, "from"), {},
                text(m, "text"), text(m, "status")};
    if (m.contains("to") && m["to"].is_array())
      for (const auto& t : m["to"])
        if (t.is_string()) msg.to.push_back(t.get<std::string>());
    out->push_back(std::move(msg));
  }
  return v;
}

// ---- NinjaOne ----------------------------------------------------------------------------------

NinjaOne::NinjaOne(Integrations::NinjaOne config, Millis timeout, const Clock& clock)
    : config_(std::move(config)), timeout_(timeout), clock_(clock) {}

int NinjaOne::TokensFetched() const {
  std::lock_guard lock(mu_);
  return tokens_fetched_;
}

// Caller holds mu_.
VendorReply NinjaOne::FetchToken() {
  const auto id = SecretFromEnv(config_.client_id_env);
  const auto secret = SecretFromEnv(config_.client_secret_env);
  if (!id || !secret)
    return Refused(
        MissingSecret("ninjaone token", config_.client_id_env + "/" + config_.client_secret_env));
  const std::string form = "grant_type=client_credentials&client_id=" + UrlEncode(*id) +
                           "&client_secret=" + UrlEncode(*secret) +
                           "&scope=" + UrlEncode("monitoring management control");
  auto v = Classify(
      integrations::Send({.method = "POST",
                          .url = config_.base_url + config_.token_path,
                          .headers = {{"Content-Type", "application/x-www-form-urlencoded"}},
                          .body = form,
                          .timeout = timeout_}),
      "ninjaone token");
  ++tokens_fetched_;
  if (!v.ok()) {
    // Refused credentials are permanent; the call that needed them did not happen.
    v.body.clear();
    return v;
  }
  const json j = json::parse(v.body, nullptr, false);
  v.body.clear();  // holds the token
  if (j.is_discarded() || !j.contains("access_token") || !j["access_token"].is_string())
    return Garbled(v, "no access_token in the answer");
  token_ = j["access_token"].get<std::string>();
  // Cached until 5 minutes before it expires (as the original ClubOS did), or half its life
  // when it is shorter than 10 minutes.
  const int64_t life = j.contains("expires_in") && j["expires_in"].is_number_integer()
                           ? j["expires_in"].get<int64_t>()
                           : 3600;
  const int64_t keep = life > 600 ? life - 300 : life / 2;
  token_valid_until_ = clock_.Now() + std::chrono::seconds(keep);
  return v;
}

VendorReply NinjaOne::Authorized(const std::string& method, const std::string& path,
                                 const std::string& body, const std::string& what) {
  for (int round = 0;; ++round) {
    std::string token;
    {
      std::lock_guard lock(mu_);
      if (token_.empty() || clock_.Now() >= token_valid_until_) {
        auto t = FetchToken();
        if (!t.ok()) {
          // No token: the call itself was never made.
          if (t.status == CallStatus::kUnknown) t.status = CallStatus::kNotDone;
          return t;
        }
      }
      token = token_;
    }
    std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + token}};
    if (!body.empty()) headers["Content-Type"] = "application/json";
    auto v = Classify(integrations::Send({.method = method,
                                          .url = config_.base_url + path,
                                          .headers = std::move(headers),
                                          .body = body,
                                          .timeout = timeout_}),
                      what);
    if (v.http_status != 401 || round > 0) return v;
    // The token expired or was revoked before its time: the vendor did nothing; fetch another
    // and make the call once more.
    std::lock_guard lock(mu_);
    if (token_ == token) token_.clear();
  }
}

VendorReply NinjaOne::GetDevice(const std::string& device_id, Device* out) {
  auto v = Authorized("GET", "/v2/device/" + UrlEncode(device_id), "", "ninjaone device");
  if (!v.ok()) return v;
  const json j = json::parse(v.body, nullptr, false);
  if (j.is_discarded() || !j.contains("offline") || !j["offline"].is_boolean())
    return Garbled(v, "no `offline` in the device");
  out->offline = j["offline"].get<bool>();
  out->last_contact = Number(j, "lastContact");
  out->last_boot = j.contains("os") && j["os"].is_object() ? Number(j["os"], "lastBootTime") : 0;
  return v;
}

VendorReply NinjaOne::RunScript(const std::string& device_id, int script_id,
                                const std::string& parameters) {
  if (script_id <= 0)
    return Refused("ninjaone script: integrations.ninjaone.trackman_script_id is not configured");
  json body = {{"type", "SCRIPT"}, {"id", script_id}, {"runAs", "system"}};
  if (!parameters.empty()) body["parameters"] = parameters;  // a string, not an object
  return Authorized("POST", "/v2/device/" + UrlEncode(device_id) + "/script/run", body.dump(),
                    "ninjaone script run");
}

VendorReply NinjaOne::Reboot(const std::string& device_id, const std::string& mode,
                             const std::string& reason) {
  return Authorized("POST", "/v2/device/" + UrlEncode(device_id) + "/reboot/" + mode,
                    json{{"reason", reason}}.dump(), "ninjaone reboot");
}

VendorReply NinjaOne::Activities(const std::string& device_id, std::vector<Activity>* out) {
  auto v = Authorized("GET", "/v2/device/" + UrlEncode(device_id) + "/activities", "",
                      "ninjaone activities");
  if (!v.ok()) return v;
  const json j = json::parse(v.body, nullptr, false);
  if (j.is_discarded() || !j.contains("activities") || !j["activities"].is_array())
    return Garbled(v, "no `activities` list");
  out->clear();
  for (const auto& a : j["activities"]) {
    if (!a.is_object()) continue;
    out->push_back({a.contains("id") && a["id"].is_number_integer() ? a["id"].get<int64_t>() : 0,
                    Number(a, "activityTime"), a.value("activityType", ""),
                    a.value("statusCode", ""), a.value("sourceName", "")});
  }
  return v;
}

// ---- UniFi Access ------------------------------------------------------------------------------

Unifi::Unifi(Integrations::Unifi config, Millis timeout)
    : config_(std::move(config)), timeout_(timeout) {}

VendorReply Unifi::Call(const std::string& method, const std::string& path, const std::string& body,
                        const std::string& what) {
  const auto token = SecretFromEnv(config_.token_env);
  if (!token) return Refused(MissingSecret(what, config_.token_env));
  if (config_.base_url.empty()) return Refused(what + ": integrations.unifi.base_url is not set");
  auto v = Classify(integrations::Send({.method = method,
                                        .url = config_.base_url + "/api/v1/developer" + path,
                                        .headers = {{"Authorization", "Bearer " + *token},
                                                    {"Content-Type", "application/json"}},
                                        .body = body,
                                        .timeout = timeout_,
                                        .verify_tls = config_.verify_tls}),
                    what);
  if (!v.ok()) return v;
  // Every answer is the {code, msg, data} envelope; success is code == "SUCCESS".
  const json j = json::parse(v.body, nullptr, false);
  if (j.is_discarded() || !j.contains("code")) return Garbled(v, "no {code, msg, data} envelope");
  if (j["code"] != "SUCCESS") {
    v.status = CallStatus::kRejected;
    v.detail += ": " + j.value("code", std::string("?")) + " " + j.value("msg", std::string());
  }
  return v;
}

VendorReply Unifi::Unlock(const std::string& door_id, const std::string& actor_id,
                          const std::string& actor_name, const std::string& extra_json) {
  json body = {{"actor_id", actor_id}, {"actor_name", actor_name}};
  const json extra = json::parse(extra_json.empty() ? "{}" : extra_json, nullptr, false);
  if (!extra.is_discarded()) body["extra"] = extra;
  return Call("PUT", "/doors/" + UrlEncode(door_id) + "/unlock", body.dump(), "unifi unlock");
}

VendorReply Unifi::Openings(const std::string& door_id, const std::string& actor_id, int64_t since,
                            int64_t until, int* count) {
  json body = {{"topic", "door_openings"}, {"since", since}, {"until", until}};
  if (!actor_id.empty()) body["actor_id"] = actor_id;
  auto v = Call("POST", "/system/logs?page_num=1&page_size=100", body.dump(), "unifi logs");
  if (!v.ok()) return v;
  const json j = json::parse(v.body, nullptr, false);
  if (!j.contains("data") || !j["data"].is_object() || !j["data"].contains("hits") ||
      !j["data"]["hits"].is_array())
    return Garbled(v, "no data.hits");
  *count = 0;
  for (const auto& hit : j["data"]["hits"]) {
    const json src = hit.value("_source", json::object());
    const json targets = src.value("target", json::array());
    bool ours = false;
    for (const auto& t : targets)
      if (t.is_object() && t.value("id", "") == door_id) ours = true;
    const json actor = src.value("actor", json::object());
    if (ours && (actor_id.empty() || actor.value("id", "") == actor_id)) ++*count;
  }
  return v;
}

// ---- Slack -------------------------------------------------------------------------------------

Slack::Slack(Integrations::Slack config, Millis timeout)
    : config_(std::move(config)), timeout_(timeout) {}

VendorReply Slack::Post(const std::string& text, const std::string& blocks_json) {
  const auto url = SecretFromEnv(config_.webhook_url_env);
  if (!url) return Refused(MissingSecret("slack", config_.webhook_url_env));
  json body = {{"text", text}};
  if (!blocks_json.empty()) {
    const json blocks = json::parse(blocks_json, nullptr, false);
    if (blocks.is_array()) body["blocks"] = blocks;
  }
  return Classify(integrations::Send({.method = "POST",
                                      .url = *url,
                                      .headers = {{"Content-Type", "application/json"}},
                                      .body = body.dump(),
                                      .timeout = timeout_}),
                  "slack");
}

}  // namespace clubos::integrations
