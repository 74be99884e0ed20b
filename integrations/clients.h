#pragma once
// Clients of the facility's vendors, in their real wire formats (shared/reference/
// integrations.md): OpenPhone (SMS), NinjaOne (bay PCs), UniFi Access (doors), Slack (operators).
// Every call has the configured deadline and answers a classified VendorReply; none retries on
// its own except a NinjaOne call refused for an expired token, which is fetched anew and the call
// made once more (a 401 means the vendor did nothing). Secrets come from the environment.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "integrations/vendor.h"

namespace clubos::integrations {

class OpenPhone {
 public:
  OpenPhone(Integrations::OpenPhone config, Millis timeout);
  // POST /v1/messages; on 202 `message_id` holds the provider's id.
  VendorReply Send(const std::string& from, const std::string& to, const std::string& text,
                   std::string* message_id);
  // GET /v1/messages/{id}: queued | sent | delivered | undelivered | failed ...
  VendorReply Status(const std::string& message_id, std::string* status);

  struct Message {
    std::string id;
    std::string direction;  // incoming | outgoing
    std::string from;
    std::vector<std::string> to;
    std::string text;
    std::string status;
  };
  // The conversation between a facility line and a customer as OpenPhone shows it: its messages
  // created after `after` (GET /v1/messages, the line named by its phone-number id, which
  // GET /v1/phone-numbers tells once). How a send whose answer was lost is proven or not.
  VendorReply Conversation(const std::string& line, const std::string& participant, TimePoint after,
                           std::vector<Message>* out);

 private:
  VendorReply PhoneNumberId(const std::string& line, const std::string& key, std::string* id);
  Integrations::OpenPhone config_;
  Millis timeout_;
  std::mutex mu_;
  std::map<std::string, std::string> phone_number_ids_;  // E.164 line -> PN...
};

class NinjaOne {
 public:
  NinjaOne(Integrations::NinjaOne config, Millis timeout, const Clock& clock);

  struct Device {
    bool offline = true;
    double last_contact = 0;  // epoch seconds
    double last_boot = 0;     // epoch seconds (os.lastBootTime), 0 when not reported
  };
  struct Activity {
    int64_t id = 0;
    double time = 0;
    std::string type;         // SCRIPTING, ACTION, ...
    std::string status_code;  // START_REQUESTED, COMPLETED, FAILED, ...
    std::string source_name;
  };

  VendorReply GetDevice(const std::string& device_id, Device* out);
  VendorReply RunScript(const std::string& device_id, int script_id, const std::string& parameters);
  VendorReply Reboot(const std::string& device_id, const std::string& mode,
                     const std::string& reason);
  VendorReply Activities(const std::string& device_id, std::vector<Activity>* out);

  int TokensFetched() const;  // for tests: how often the token was requested

 private:
  VendorReply Authorized(const std::string& method, const std::string& path,
                         const std::string& body, const std::string& what);
  VendorReply FetchToken();
  Integrations::NinjaOne config_;
  Millis timeout_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::string token_;
  TimePoint token_valid_until_{};
  int tokens_fetched_ = 0;
};

class Unifi {
 public:
  Unifi(Integrations::Unifi config, Millis timeout);
  // PUT /api/v1/developer/doors/{id}/unlock. `actor_id` names who unlocked in the door's log,
  // which is how verification finds this very opening.
  VendorReply Unlock(const std::string& door_id, const std::string& actor_id,
                     const std::string& actor_name, const std::string& extra_json);
  // door_openings log hits for the door (and actor, when given) within [since, until] (epoch s).
  VendorReply Openings(const std::string& door_id, const std::string& actor_id, int64_t since,
                       int64_t until, int* count);

 private:
  VendorReply Call(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& what);
  Integrations::Unifi config_;
  Millis timeout_;
};

class Slack {
 public:
  Slack(Integrations::Slack config, Millis timeout);
  // An incoming-webhook post: `text` (the notification fallback) and optional Block Kit blocks.
  VendorReply Post(const std::string& text, const std::string& blocks_json = "");

 private:
  Integrations::Slack config_;
  Millis timeout_;
};

}  // namespace clubos::integrations
