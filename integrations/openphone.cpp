#include "integrations/openphone.h"

#include <nlohmann/json.hpp>

namespace clubos::integrations {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_string()) return "";
  return j.at(key).get<std::string>();
}

}  // namespace

ParseResult ParseOpenPhoneWebhook(const std::string& raw_body) {
  ParseResult out;
  json root = json::parse(raw_body, nullptr, false);
  if (root.is_discarded() || !root.is_object()) {
    out.error = "body is not a JSON object";
    return out;
  }
  // The app's webhook log shows deliveries wrapped as {"object": {envelope}}.
  if (root.size() == 1 && root.contains("object") && root.at("object").is_object() &&
      root.at("object").contains("type"))
    root = root.at("object");
  OpenPhoneEvent e;
  e.event_id = Str(root, "id");
  e.type = Str(root, "type");
  if (e.event_id.empty() || e.type.empty()) {
    out.error = "the envelope needs string fields id and type";
    return out;
  }
  if (!root.contains("data") || !root.at("data").is_object()) {
    out.error = "the envelope has no data object";
    return out;
  }
  const json& data = root.at("data");
  const json* msg = nullptr;
  if (data.contains("object") && data.at("object").is_object())
    msg = &data.at("object");  // legacy
  else if (data.contains("resource") && data.at("resource").is_object())
    msg = &data.at("resource");  // 2026-03-30
  if (!msg) {
    out.error = "data holds neither object nor resource";
    return out;
  }
  e.message_id = Str(*msg, "id");
  e.from = Str(*msg, "from");
  e.direction = Str(*msg, "direction");
  e.text = msg->contains("body") ? Str(*msg, "body") : Str(*msg, "text");
  if (msg->contains("to")) {
    const json& to = msg->at("to");
    if (to.is_string())
      e.to = to.get<std::string>();
    else if (to.is_array() && !to.empty() && to.at(0).is_string())
      e.to = to.at(0).get<std::string>();
  }
  if (e.type == "message.received" && (e.message_id.empty() || e.from.empty() || e.to.empty())) {
    out.error = "a message.received event needs the message's id, from and to";
    return out;
  }
  out.event = std::move(e);
  return out;
}

}  // namespace clubos::integrations
