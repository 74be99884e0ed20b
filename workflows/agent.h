#pragma once
// The bay agent's pull protocol (integrations.md §1.5): a program on each bay PC, authenticated by
// a per-device key, polls ClubOS for its next command, claims it atomically, reports the result,
// and sends heartbeats that verification reads. Commands are jobs of the ordinary queue, in a queue
// of their own per device ("agent:<device_id>") that no worker serves: a poll is a claim, a report
// is the job's completion. There is no second queue.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/clock.h"
#include "workflows/errors.h"
#include "workflows/integration.h"

namespace clubos::store {
class Connection;
class Tx;
}  // namespace clubos::store

namespace clubos::workflows {

struct AgentCommand {
  int64_t id = 0;          // the command's id (the job's id)
  std::string action;      // restart | reboot | ... (integrations.md §1.5 command types)
  std::string source;      // e.g. "action:42"
  TimePoint expires_at{};  // a command not picked up by then is dropped
};

struct AgentHeartbeat {
  std::string tps_version;
  bool tps_running = false;
  bool radar_reachable = false;
  std::optional<TimePoint> tps_started_at;  // when TrackMan Performance Studio last started
  std::optional<TimePoint> booted_at;       // when the PC last booted
};

// Thrown at start-up for a malformed key list or a key that is too short (never naming the key).
// Bad input from outside (the environment), so an InvalidInput: were it ever raised while a
// request is handled, the API's one mapping would answer 422, not a 500.
class AgentKeyError : public InvalidInput {
  using InvalidInput::InvalidInput;
};

// How far an agent's clock may run ahead of the server's (NTP keeps a PC within well under a
// second): a heartbeat time further ahead is refused (400), and a stored one is never taken as
// evidence that a restart happened after it was asked for (defect L11: a tps_started_at in 2099
// verified every later reset of that bay).
inline constexpr std::chrono::seconds kMaxAgentClockSkew{60};
// The shortest device key accepted (as API tokens): a short key is guessable by trying, and the
// agent routes are on the network the bays are on.
inline constexpr std::size_t kMinAgentKeyChars = 16;

// The queue of a device's commands, and the command an action sends to it (idempotent per
// action: returns 0 when it was queued before). Called in the transaction of the caller.
std::string AgentQueue(const std::string& device_id);
int64_t EnqueueAgentCommand(store::Tx& tx, const std::string& device_id, const std::string& command,
                            const std::string& action_key, int64_t action_id, TimePoint expires_at,
                            const Clock& clock);

class AgentProtocol {
 public:
  // `keys`: device_id -> key (from CLUBOS_AGENT_KEYS="101:k1,102:k2"). Compared in constant time.
  // AgentKeyError for a key shorter than kMinAgentKeyChars, or one that two devices share.
  AgentProtocol(std::map<std::string, std::string> keys, const Clock& clock);
  // `device:key` pairs separated by commas; AgentKeyError (naming the entry by position and
  // device, never its key) for a malformed entry, a repeated device, or a key as above.
  static std::map<std::string, std::string> ParseKeys(const std::string& spec);
  // ParseKeys of CLUBOS_AGENT_KEYS (none when unset).
  static std::map<std::string, std::string> KeysFromEnv();

  // The device a key belongs to, or AgentAuthError.
  std::string Authenticate(const std::string& device_key) const;

  // Claims the oldest pending command of the device (nullopt when none). A claimed command is
  // leased for `lease`; one not reported by then is offered again.
  std::optional<AgentCommand> Poll(store::Connection& db, const std::string& device_id,
                                   Millis lease = Millis(120'000));
  // Stores the device's latest state (one row per device, plus its time).
  void Heartbeat(store::Connection& db, const std::string& device_id, const AgentHeartbeat& hb);
  // Records the result of a claimed command. Returns false when the command is not this device's
  // claimed command (already reported, expired, or someone else's): the API answers 409.
  bool Report(store::Connection& db, const std::string& device_id, int64_t command_id, bool success,
              const std::string& message);

 private:
  std::map<std::string, std::string> keys_;
  const Clock& clock_;
};

}  // namespace clubos::workflows

namespace clubos::store {
class Pool;
}

namespace clubos::workflows {

// Bays whose PC runs the agent: their reset_trackman / reboot_pc actions become commands the agent
// pulls; everything else goes on to `vendors`. Proof comes from what the agent says:
//   reset_trackman  the agent reported the restart succeeded and its heartbeat since then says
//                   TrackMan Performance Studio runs and started after the command was queued
//   reboot_pc       the agent's heartbeat says the PC booted after the command was queued
// Queuing a command is idempotent per action, so a crashed execution may simply queue again.
class WithBayAgents final : public Integration {
 public:
  WithBayAgents(Integration& vendors, store::Pool& pool, Millis command_ttl, const Clock& clock);

  bool Idempotent(const ActionView& action) const override;
  std::optional<std::string> Baseline(const ActionView& action) override;
  CallOutcome Execute(const ActionView& action) override;
  StateCheck Check(const ActionView& action) override;
  CallOutcome NotifyOperators(const std::string& summary, const std::string& link) override;

 private:
  static bool ForAgent(const ActionView& a);
  Integration& vendors_;
  store::Pool& pool_;
  Millis command_ttl_;
  const Clock& clock_;
};

}  // namespace clubos::workflows
