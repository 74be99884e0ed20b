#pragma once
// The simulator's inside, shared by sim/*.cpp only (nothing outside sim/ includes this): the
// in-memory facility behind one mutex, the faults, the call log, and the wrapper every vendor
// route goes through (fault injection, then the handler, then the log entry).
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "http/http_server.h"
#include "sim/facility_sim.h"
#include "sim/llm_model.h"

namespace clubos::sim::detail {

using nlohmann::json;

// Bounds on what the simulator remembers; the oldest entries go first.
constexpr std::size_t kMaxCalls = 50'000;
constexpr std::size_t kMaxOutbox = 10'000;  // SMS outbox, Slack inbox, customer messages
constexpr std::size_t kMaxLogHits = 10'000;
constexpr std::size_t kMaxActivitiesPerDevice = 1'000;
constexpr std::size_t kMaxEventsPerDoor = 1'000;
constexpr int64_t kMaxFaultDelayMs = 60'000;
// Only announced (Retry-After), never waited: a value past a client's retry cap is worth testing.
constexpr int64_t kMaxRetryAfterMs = 3'600'000;

enum class Service { kOpenPhone, kNinjaOne, kUnifi, kSlack, kAgent, kLlm };
const char* ToString(Service s);
// A vendor path as the sim's log may show it: a Slack webhook's path (its secret) is masked.
std::string LoggedPath(const std::string& path);

// kHttp403: the vendor refuses for good (a permission or policy refusal: what a 4xx means).
// The last three are the LLM's only: a 429 that must not be retried (the quota is spent), a 200
// whose body is not JSON, a 200 in which the model refuses, and a 200 whose content is JSON that
// is not what the schema asked for.
enum class FaultMode {
  kStuckOffline,
  kResetNoop,
  kSlow,
  kHttp500,
  kHttp429,
  kHttp403,
  kTokenExpired,
  kInsufficientQuota,
  kMalformed,
  kRefusal,
  kOffSchema
};
const char* ToString(FaultMode m);

struct Fault {
  std::string id;
  Service service = Service::kOpenPhone;
  std::string target;  // a device or door id, or a model; "" = every call (or reset) of the service
  FaultMode mode = FaultMode::kHttp500;
  int remaining = 1;  // calls or resets still affected (when !until_cleared)
  bool until_cleared = false;
  Millis delay{0};            // slow
  Millis retry_after{1'000};  // http_429: announced in Retry-After (and retry-after-ms, LLM)
  int used = 0;
};

struct Activity {
  int64_t id = 0;
  TimePoint at;
  std::string type;         // SCRIPTING | ACTION
  std::string status_code;  // START_REQUESTED | COMPLETED | FAILED
  std::string source_name;  // the script's name, or the action's
  std::string message;
};

// A script run or reboot in flight; it completes when the clock passes done_at.
struct Pending {
  bool reboot = false;
  int script_id = 0;
  std::string name;
  TimePoint started_at;
  TimePoint done_at;
};

struct Device {
  std::string id;  // as in the config, digits
  int64_t numeric_id = 0;
  std::string location_id;
  std::string location_name;
  int bay = 0;
  TimePoint created;
  TimePoint last_boot;
  TimePoint last_contact;
  std::optional<TimePoint> tps_restarted_at;
  bool offline = false;
  bool stuck = false;  // went down under stuck_offline: only a later reboot brings it back
  std::optional<Pending> pending;
  std::deque<Activity> activities;  // oldest first
};

struct DoorEvent {
  TimePoint at;
  std::string type;  // unlock | lock | lock_rule
  std::string actor_id;
  std::string actor_name;
  std::string detail;
};

struct DoorState {
  std::string id;  // the UniFi door id (config device_id)
  std::string config_id;
  std::string name;
  std::string full_name;
  std::string floor_id;
  std::string location_id;
  std::optional<TimePoint> unlocked_until;  // a remote unlock's window; relock logged when read
  std::string rule;                         // "" | keep_lock | keep_unlock | custom
  std::optional<TimePoint> rule_ends;       // custom
  std::deque<DoorEvent> events;
};

struct LogHit {
  std::string id;
  TimePoint at;
  std::string door_id;
  std::string door_name;
  std::string actor_id;
  std::string actor_name;
};

struct Sms {
  std::string id;
  std::string from;
  std::string to;
  std::string text;
  std::string user_id;
  TimePoint created;
  TimePoint settles_at;  // queued until then, delivered (or failed) after
  bool fails = false;
};

struct SlackPost {
  TimePoint at;
  std::string path;
  std::string text;
  std::string body;
};

struct CustomerMessage {
  TimePoint at;
  std::string message_id;
  std::string from;
  std::string to;
  std::string body;
  std::string scheme;
  int clubos_status = 0;  // 0: ClubOS was not reached
};

struct Call {
  int64_t seq = 0;
  TimePoint at;  // arrival
  Service service = Service::kOpenPhone;
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
  std::string target;
  std::string body;
  int status = 0;
  std::string fault;  // the fault mode that shaped the answer, if any
};

// The simulated LLM's settings (GET/PUT /_sim/llm).
struct LlmSettings {
  Millis latency{0};                          // every completion waits this long first
  std::optional<std::vector<LlmRule>> rules;  // nullopt: BuiltinLlmRules()
  int64_t calls = 0;                          // requests to /v1/chat/completions, refused ones too
  const std::vector<LlmRule>& Rules() const { return rules ? *rules : BuiltinLlmRules(); }
};

struct Core {
  Core(const Config& config, SimSecrets secrets, SimOptions options, const Clock& clock);

  const Clock& clock;
  const SimOptions options;
  const SimSecrets secrets;
  int trackman_script_id = 117;
  std::vector<FacilitySim::AgentBay> agent_bays;

  std::mutex mu;                         // guards everything below
  std::set<std::string> running_agents;  // agent bays with a key: their agent polls ClubOS
  std::mt19937_64 rng;
  std::vector<Device> devices;  // config order
  std::vector<DoorState> doors;
  // The facility's lines as OpenPhone knows them: E.164 number -> phone-number id (PN...).
  std::map<std::string, std::string> phone_numbers;
  std::map<std::string, TimePoint> tokens;  // NinjaOne access token -> expiry
  std::deque<LogHit> log_hits;
  std::deque<Sms> outbox;
  std::deque<SlackPost> slack_inbox;
  std::deque<CustomerMessage> customer_messages;
  std::vector<Fault> faults;  // creation order: the first matching one applies
  LlmSettings llm;
  std::deque<Call> calls;
  int64_t next_seq = 1;
  int64_t next_fault = 1;
  int64_t next_activity = 1;

  // ---- helpers; callers hold mu ----
  std::string RandomHex(std::size_t digits);
  Device* FindDevice(const std::string& id);
  DoorState* FindDoor(const std::string& id);
  Sms* FindSms(const std::string& id);
  // Applies whatever the clock has made due (completions, relocks, expired rules).
  void Settle(Device& d, TimePoint now);
  void Settle(DoorState& d, TimePoint now);
  void AddActivity(Device& d, TimePoint at, std::string type, std::string status_code,
                   std::string source_name, std::string message);
  void AddDoorEvent(DoorState& d, DoorEvent e);
  // The delay of the first matching slow fault (consumed), or 0.
  Millis TakeSlow(Service s, const std::string& target);
  // The first matching http_500 / http_429 / http_403 / insufficient_quota / token_expired fault
  // (consumed). token_expired only matches bearer-authenticated calls.
  std::optional<Fault> TakeFailure(Service s, const std::string& target, bool bearer);
  // The first matching stuck_offline / reset_noop fault (consumed) for a reset of `target`.
  std::optional<FaultMode> TakeReset(Service s, const std::string& target);
  // The first matching malformed / refusal fault (consumed): faults that shape a 200 answer.
  std::optional<FaultMode> TakeAnswer(Service s, const std::string& target);
  void Record(Call c);

 private:
  // The first fault of service `s` matching `target` whose mode `applies`, consumed.
  std::optional<Fault> Take(Service s, const std::string& target,
                            const std::function<bool(FaultMode)>& applies);
};

// ---- shared formatting ----
std::string Iso(TimePoint t, bool millis = true);  // 2026-11-22T01:40:51.123Z
double EpochSeconds(TimePoint t);
int64_t EpochMillis(TimePoint t);
std::string Dump(const json& j);            // never throws on invalid UTF-8 in strings (replaced)
json ParseObject(const std::string& body);  // discarded() unless a JSON object
bool IsE164(const std::string& s);
std::optional<std::string> Bearer(const http::Request& r);  // the token of "Bearer <token>"
// `text` with every run of 7 or more digits (spaces, dashes, dots or parentheses between them
// allowed, a leading '+' kept in the run) replaced by log::MaskPhone of it.
std::string MaskPhones(const std::string& text);

// ---- vendor routes ----
struct Endpoint {
  Service service = Service::kOpenPhone;
  bool bearer = false;  // authenticated with a bearer token: token_expired applies
  // The call's target (device or door id, phone number), read with mu held; "" when none.
  std::function<std::string(Core&, const http::Request&)> target;
};
// Called with mu held, after faults chose not to answer.
using VendorHandler = std::function<http::Response(Core&, const http::Request&)>;
void VendorRoute(http::Server& server, Core& core, const std::string& method,
                 const std::string& pattern, Endpoint endpoint, VendorHandler handler);

// The answer a vendor gives under http_500, http_429, http_403, insufficient_quota or
// token_expired.
http::Response FaultAnswer(Service s, const Fault& f);
// The same for the LLM, in OpenAI's error shape (sim/llm.cpp).
http::Response LlmFaultAnswer(const Fault& f);

void RegisterOpenPhone(http::Server& server, Core& core);
void RegisterNinjaOne(http::Server& server, Core& core);
void RegisterUnifi(http::Server& server, Core& core);
void RegisterSlack(http::Server& server, Core& core);
void RegisterLlm(http::Server& server, Core& core);  // the endpoint and /_sim/llm
void RegisterControl(http::Server& server, Core& core);

// State snapshots for GET /_sim/state (mu held).
json DeviceState(Core& core, Device& d, TimePoint now);
json DoorStateJson(Core& core, DoorState& d, TimePoint now);
std::string SmsStatus(const Sms& m, TimePoint now);
json SmsJson(const Sms& m, TimePoint now);

}  // namespace clubos::sim::detail
