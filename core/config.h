#pragma once
// The facility and its behaviour, from a JSON file (`--config`, default clubos.json; the repo ships
// config/clubos.example.json). Secrets never live here: they come from the environment.
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/clock.h"

namespace clubos {

class ConfigError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Bay {
  int number = 0;
  std::string device_id;  // the bay PC: its NinjaOne device id, or its bay agent's device id
  // How the PC is reached: "ninjaone" (RMM scripts and reboots) or "agent" (the bay agent pulls
  // its commands from ClubOS, integrations.md §1.5).
  std::string control = "ninjaone";
};

struct Door {
  std::string id;
  std::string name;
  std::string device_id;  // the door in UniFi Access
};

struct Location {
  std::string id;
  std::string name;
  std::string time_zone;
  std::vector<std::string> phone_lines;  // inbound numbers that belong to this location
  std::vector<Bay> bays;
  std::vector<Door> doors;
  const Bay* FindBay(int number) const;
};

struct FlowSettings {
  Millis debounce{3'000};  // routing waits this long after the latest message
  Millis confirmation_ttl{300'000};
  Millis verify_timeout{180'000};
  Millis verify_poll{2'000};
  Millis close_after{1'800'000};  // a verified thread closes after this quiet period
  Millis takeover{14'400'000};    // an operator's takeover pauses the automation this long (4 h)
  Millis retry_base{500};         // first retry of a failed flow job; doubles up to retry_cap
  Millis retry_cap{60'000};
  int rapid_count = 3;          // this many customer messages ...
  Millis rapid_window{60'000};  // ... within this window escalate
  // How long a suggestion (what ClubOS would have done with auto-send / auto-execute off) may be
  // approved; after that it is stale and can only be rejected.
  Millis suggestion_ttl{900'000};
};

struct ActionPattern {
  std::string category;
  std::vector<std::string> any;  // at least one must match
};

struct RouterConfig {
  std::vector<std::string> emergency;
  // Calls for help ("help!", "please help us"): an emergency when the text names nothing else.
  std::vector<std::string> plea;
  // Phrases that look like a signal and deny it ("not an emergency", "nobody got hurt", "help with
  // my booking", "no more freezing"): every other list reads past their words.
  std::vector<std::string> read_past;
  std::map<std::string, std::vector<std::string>> sensitive;  // topic -> phrases
  std::vector<std::string> human;
  std::map<std::string, std::map<std::string, double>> categories;  // category -> phrase -> weight
  std::vector<std::string> positive;
  std::vector<std::string> problem;  // a fault is reported: "thanks, but it froze again" still acts
  std::map<std::string, ActionPattern> actions;
  // FAQ answers and their phrases are knowledge documents (workflows/knowledge_cache.h).
  // A customer's text saying an automated answer or action did not help ("that didn't help",
  // "still frozen"), soon enough after it went out: unhelpful feedback from the customer, and a
  // case (workflows/feedback.h). It changes nothing of how the text is routed.
  std::vector<std::string> not_helped;
  Millis not_helped_window{1'800'000};
};

// Where the vendors are and how ClubOS talks to them. Secrets are named here by the environment
// variable that holds them, never held here.
struct Integrations {
  struct OpenPhone {
    std::string base_url = "https://api.openphone.com";
    std::string api_key_env = "CLUBOS_OPENPHONE_API_KEY";
    std::string user_id;  // optional: the OpenPhone user the messages are sent as
  } openphone;
  struct NinjaOne {
    std::string base_url = "https://app.ninjarmm.com";
    std::string token_path = "/oauth/token";  // some tenants answer on /ws/oauth/token
    std::string client_id_env = "CLUBOS_NINJAONE_CLIENT_ID";
    std::string client_secret_env = "CLUBOS_NINJAONE_CLIENT_SECRET";
    int trackman_script_id = 0;  // the script that restarts TrackMan Performance Studio
    std::string reboot_mode = "NORMAL";
  } ninjaone;
  struct Unifi {
    std::string base_url;  // https://<console>:12445
    std::string token_env = "CLUBOS_UNIFI_TOKEN";
    bool verify_tls = true;  // UniFi consoles use self-signed certificates; off only when set
  } unifi;
  struct Slack {
    std::string webhook_url_env = "CLUBOS_SLACK_WEBHOOK_URL";  // the URL is the secret
  } slack;
  // OperatorGPT: any endpoint that speaks OpenAI Chat Completions (OpenAI, a gateway, vLLM,
  // llama.cpp server, Ollama), consulted only where the patterns are not sure
  // (workflows/llm_router). Off when base_url is empty: patterns only.
  struct Llm {
    std::string base_url;  // e.g. https://api.openai.com (".../v1/chat/completions" is appended)
    std::string api_key_env = "CLUBOS_LLM_API_KEY";
    std::string cheap_model = "gpt-4o-mini";  // categories with use_cheaper_model (faq, lookups)
    std::string strong_model = "gpt-4o";      // the rest
    int max_tokens = 500;
    Millis call_timeout{8'000};  // one HTTP attempt
    Millis deadline{15'000};     // the whole consultation, retries included
    Millis cache_ttl{86'400'000};
    // Categories the model is asked about even when the patterns are confident.
    std::vector<std::string> always_ask;
    // How often one call probes an endpoint that is down; between probes, unsure texts go straight
    // to a human (llm_unavailable) instead of each waiting for a timeout.
    Millis outage_probe{30'000};
    // Estimated cost, USD per million tokens, by model (unknown model: 0).
    std::map<std::string, std::pair<double, double>> price_per_mtok;  // model -> (input, output)
    bool Enabled() const { return !base_url.empty(); }
  } llm;
  // The knowledge reviewer (workflows/knowledge_review.h): a second OpenAI-compatible endpoint
  // (e.g. Claude behind a gateway) that reads new cases and proposes SOP changes for a human to
  // approve. Off when its base_url is empty. `endpoint.strong_model` is the model it asks.
  struct Reviewer {
    Llm endpoint;
    Millis interval{3'600'000};      // how often the review runs
    int daily_calls = 24;            // model calls per day, at most
    int64_t daily_tokens = 200'000;  // tokens per day, at most (prompt and answer)
    int max_cases = 40;              // cases given to one call
    bool Enabled() const { return endpoint.Enabled(); }
  } reviewer;
  Millis call_timeout{10'000};  // every vendor call
  // How long an agent command waits to be picked up before it expires (the agent polls).
  Millis agent_command_ttl{600'000};
  // Verification deadline per action kind (falls back to flow.verify_timeout).
  std::map<std::string, Millis> verify_timeout;
};

struct Config {
  std::string facility_name;
  // Where operators open the console (`clubos serve`): alerts link to threads/<id> under it.
  std::string console_url = "http://localhost:8080/";
  std::vector<Location> locations;
  FlowSettings flow;
  // The autonomy profile the database starts from (workflows::Profile reads it): the first
  // policy version. Later versions are proposed and approved through the API.
  std::string policy_json = "{}";
  RouterConfig router;
  Integrations integrations;
  // Proposals to the knowledge store (workflows/knowledge_review.h).
  struct Knowledge {
    int max_open_proposals = 3;           // open proposals per document, whoever wrote them
    Millis replay_window{2'592'000'000};  // how far back a proposal's dry run replays (30 days)
  } knowledge;

  Millis VerifyTimeout(const std::string& kind) const {
    auto it = integrations.verify_timeout.find(kind);
    return it == integrations.verify_timeout.end() ? flow.verify_timeout : it->second;
  }
  const Location* LocationForLine(const std::string& phone_line) const;
  const Location* FindLocation(const std::string& id) const;

  // Throws ConfigError naming the offending field.
  static Config Parse(const std::string& json_text);
  static Config Load(const std::string& path);
};

}  // namespace clubos
