#pragma once
// OpenPhone (Quo) inbound webhooks, parsed from the raw body after its signature was checked.
// Accepts the legacy envelope ({id, object:"event", type, data:{object:{...}}}, message text in
// `body` (v3) or `text` (v4)), the same wrapped as {"object": {...}} as the app's log viewer shows
// it, and the newer envelope ({id, type, data:{resource:{...}}}). `to` may be a string or a list.
#include <optional>
#include <string>

namespace clubos::integrations {

struct OpenPhoneEvent {
  std::string event_id;    // the envelope's id: stable across redeliveries
  std::string type;        // message.received, message.delivered, ...
  std::string message_id;  // the message's id: what intake deduplicates on
  std::string from;
  std::string to;
  std::string text;
  std::string direction;  // incoming | outgoing
};

struct ParseResult {
  std::optional<OpenPhoneEvent> event;
  std::string error;  // why not, for a 400 answer
};

ParseResult ParseOpenPhoneWebhook(const std::string& raw_body);

}  // namespace clubos::integrations
