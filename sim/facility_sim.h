#pragma once
// `clubos sim`: local stand-ins for the facility's vendors (OpenPhone, NinjaOne, UniFi Access,
// Slack) on their real paths and wire formats (shared/reference/integrations.md §7), and for an
// OpenAI-compatible LLM (a deterministic rule-based model, sim/llm_model.h), with fault injection
// and a control API under /_sim/ (shared/design/interfaces.md). The facility comes from
// the ClubOS config: every "ninjaone" bay is a NinjaOne device, every door a UniFi door.
//
// Time is the injected Clock, read lazily: a reboot "comes back" because the clock passed its
// completion time when someone looks, not because a timer fired. Tests move a FakeClock and never
// sleep; the exceptions are the `slow` fault and the LLM's latency, which really wait (they exist
// to trip client timeouts).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "http/http_server.h"

namespace clubos::sim {

// What the simulated vendors expect from ClubOS. Empty means unset: that vendor refuses every
// request with 401, as a real one would refuse a wrong key.
struct SimSecrets {
  std::string openphone_api_key;         // raw `Authorization` value of POST /v1/messages
  std::string ninjaone_client_id;        // client-credentials grant
  std::string ninjaone_client_secret;    //
  std::string unifi_token;               // `Authorization: Bearer <token>`
  std::string openphone_signing_secret;  // base64: signs legacy customer webhooks
  std::string openphone_webhook_key;     // whsec_...: signs Standard Webhooks customer webhooks
  std::string llm_api_key;               // `Authorization: Bearer <key>` on /v1/chat/completions
  // The same environment variables ClubOS reads (names from the config's integrations section;
  // CLUBOS_OPENPHONE_SIGNING_SECRET and CLUBOS_OPENPHONE_WEBHOOK_KEY for the webhook secrets).
  static SimSecrets FromEnv(const Config& config);
};

// The longest wait the simulated LLM takes before answering (as long as a slow fault may wait).
inline constexpr int64_t kMaxLlmLatencyMs = 60'000;

struct SimOptions {
  std::string clubos_url = "http://127.0.0.1:8080";  // where customer webhooks go
  Millis reset_delay{1'500};       // script run -> COMPLETED, reboot -> back online
  Millis unlock_duration{5'000};   // a remote unlock holds the relay this long
  Millis sms_delivery_delay{200};  // queued -> delivered (or failed, under reset_noop)
  Millis token_ttl{3'600'000};     // NinjaOne access tokens (expires_in)
  Millis clubos_timeout{10'000};   // the customer webhook call to ClubOS
  uint64_t seed = 1;               // ids and tokens come from a generator seeded with this
  // Every chat completion waits this long before answering (up to kMaxLlmLatencyMs; PUT /_sim/llm
  // changes it).
  Millis llm_latency{0};
};

namespace detail {
struct Core;
}

class FacilitySim {
 public:
  // Throws ConfigError when a "ninjaone" bay's device_id is not a number (NinjaOne ids are
  // integers) or a device or door id appears twice.
  FacilitySim(const Config& config, SimSecrets secrets, SimOptions options, const Clock& clock);
  ~FacilitySim();
  FacilitySim(const FacilitySim&) = delete;
  FacilitySim& operator=(const FacilitySim&) = delete;

  // Adds every vendor route and the /_sim/ control routes, and installs the server's OnAnswered
  // hook so that requests to vendor paths the simulator does not serve (a wrong path is the
  // commonest adapter bug) still show in /_sim/calls with their 404/405.
  void Register(http::Server& server);

  // One line each for the startup log: what is simulated, and which vendors refuse every call
  // because their secret is unset (named by variable, never by value).
  std::vector<std::string> StartupNotes() const;

  // ---- Bay agents ------------------------------------------------------------------------------
  // Bays with control "agent" are not NinjaOne devices: their PC runs the bay agent, which pulls
  // commands from ClubOS (sim/agents.h). StartAgents runs one simulated agent per such bay with a
  // key in `keys` (device -> key, as CLUBOS_AGENT_KEYS holds them), polling ClubOS at
  // SimOptions::clubos_url every `poll`; TickAgents runs one round without the thread (tests).
  void StartAgents(std::map<std::string, std::string> keys, Millis poll);
  void TickAgents();
  void StopAgents();
  struct AgentBay {
    std::string device_id;
    std::string location_id;
    int bay = 0;
  };
  const std::vector<AgentBay>& agent_bays() const;

 private:
  std::unique_ptr<detail::Core> core_;
  std::unique_ptr<class SimulatedAgents> agents_;
};

// The simulator in this process, on an ephemeral loopback port (tests, `clubos bench flow
// --facility sim`). `config`'s vendor base URLs, and the Slack webhook URL in the environment, are
// pointed at it; the vendors' secrets are read from the environment as `clubos sim` reads them.
class InProcessSim {
 public:
  InProcessSim(Config& config, SimOptions options, const Clock& clock, int threads = 4);
  ~InProcessSim();
  std::string url() const;
  FacilitySim& sim() { return *sim_; }

 private:
  std::unique_ptr<FacilitySim> sim_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace clubos::sim
