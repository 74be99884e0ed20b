#include "workflows/agent.h"

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/text.h"
#include "core/time_format.h"
#include "store/db.h"
#include "store/pool.h"
#include "workers/queue.h"
#include "workers/queue_ops.h"
#include "workflows/errors.h"

namespace clubos::workflows {

using nlohmann::json;

namespace {

std::string Owner(const std::string& device_id) {
  return "agent:" + device_id;
}

}  // namespace

std::string AgentQueue(const std::string& device_id) {
  // Queue names are [a-z0-9_.-]; a device id is mapped onto that alphabet.
  std::string q = "agent.";
  for (unsigned char c : device_id)
    q.push_back(std::isalnum(c) ? static_cast<char>(std::tolower(c)) : '-');
  return q.substr(0, 64);
}

int64_t EnqueueAgentCommand(store::Tx& tx, const std::string& device_id, const std::string& command,
                            const std::string& action_key, int64_t action_id, TimePoint expires_at,
                            const Clock& clock) {
  const std::string queue = AgentQueue(device_id);
  // Idempotent per action: a command queued once (whatever became of it since) is not queued
  // again, so the action may be executed again safely after a crash.
  if (!tx.Exec("agent_command_exists", {queue, action_key}).Empty()) return 0;
  const json args = {{"action", command},
                     {"source", "action:" + std::to_string(action_id)},
                     {"action_key", action_key},
                     {"expires_at", FormatTimestamp(expires_at)}};
  return workers::Enqueue(tx,
                          {.kind = "agent_command",
                           .args = args.dump(),
                           .queue = queue,
                           .priority = 50,
                           // The agent reports or the lease runs out: a command is never offered
                           // twice (a reboot must not repeat because a report was lost).
                           .max_attempts = 1,
                           .unique_key = "agent:" + action_key},
                          clock)
      .id;
}

namespace {

void CheckKey(const std::string& device, const std::string& key, const std::string& where) {
  if (key.size() < kMinAgentKeyChars)
    throw AgentKeyError(where + " (device " + device + "): the key is shorter than " +
                        std::to_string(kMinAgentKeyChars) + " characters");
  for (unsigned char c : key)
    if (c <= ' ' || c > '~')
      throw AgentKeyError(where + " (device " + device +
                          "): the key must be printable ASCII without spaces");
}

}  // namespace

AgentProtocol::AgentProtocol(std::map<std::string, std::string> keys, const Clock& clock)
    : keys_(std::move(keys)), clock_(clock) {
  std::map<std::string, std::string> owner;  // key -> device
  for (const auto& [device, key] : keys_) {
    CheckKey(device, key, "the agent key");
    if (!owner.emplace(key, device).second)
      throw AgentKeyError("devices " + owner[key] + " and " + device + " share one agent key");
  }
}

std::map<std::string, std::string> AgentProtocol::ParseKeys(const std::string& all) {
  std::map<std::string, std::string> keys;
  std::size_t start = 0, position = 0;
  while (start <= all.size()) {
    std::size_t end = all.find(',', start);
    if (end == std::string::npos) end = all.size();
    std::string pair = all.substr(start, end - start);
    start = end + 1;
    const std::size_t first = pair.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) continue;
    pair = pair.substr(first, pair.find_last_not_of(" \t\r\n") - first + 1);
    const std::string where = "agent key entry " + std::to_string(++position);
    const std::size_t colon = pair.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == pair.size())
      throw AgentKeyError(where + " is not device:key");
    const std::string device = pair.substr(0, colon);
    CheckKey(device, pair.substr(colon + 1), where);
    if (!keys.emplace(device, pair.substr(colon + 1)).second)
      throw AgentKeyError(where + " repeats device " + device);
  }
  return keys;
}

std::map<std::string, std::string> AgentProtocol::KeysFromEnv() {
  const char* v = std::getenv("CLUBOS_AGENT_KEYS");
  return v ? ParseKeys(v) : std::map<std::string, std::string>{};
}

std::string AgentProtocol::Authenticate(const std::string& device_key) const {
  std::string found;
  // Every key is compared (no early exit), so timing tells nothing about which one nearly matched.
  for (const auto& [device, key] : keys_)
    if (ConstantTimeEqual(device_key, key) && !device_key.empty()) found = device;
  if (found.empty()) throw AgentAuthError("unknown device key");
  return found;
}

std::optional<AgentCommand> AgentProtocol::Poll(store::Connection& db, const std::string& device_id,
                                                Millis lease) {
  static const workers::Registry no_hooks;
  for (;;) {
    auto fetched = workers::Fetch(db, AgentQueue(device_id), 1, Owner(device_id), lease, clock_);
    if (fetched.jobs.empty()) return std::nullopt;
    const workers::Job& job = fetched.jobs.front();
    const json args = json::parse(job.args, nullptr, false);
    const auto expires = args.is_discarded()
                             ? std::nullopt
                             : ParseTimestamp(args.value("expires_at", std::string()));
    if (!expires || *expires <= clock_.Now()) {
      // Not picked up in time: the bay may be in use by now. It dies; verification sees no report.
      workers::Kill(db, no_hooks, job, Owner(device_id), "expired before an agent picked it up",
                    clock_);
      continue;
    }
    return AgentCommand{job.id, args.value("action", std::string()),
                        args.value("source", std::string()), *expires};
  }
}

void AgentProtocol::Heartbeat(store::Connection& db, const std::string& device_id,
                              const AgentHeartbeat& hb) {
  if (hb.tps_version.size() > 100) throw InvalidInput("tps_version is too long");
  db.ExecOne("agent_heartbeat",
             {device_id, hb.tps_version.empty() ? std::nullopt : std::optional(hb.tps_version),
              hb.tps_running, hb.radar_reachable, hb.tps_started_at, hb.booted_at, clock_.DbNow()});
}

bool AgentProtocol::Report(store::Connection& db, const std::string& device_id, int64_t command_id,
                           bool success, const std::string& message) {
  bool ok = false;
  db.Transact("agent_report", [&](store::Tx& tx) {
    ok = false;
    auto job = tx.Exec("agent_claimed_command", {command_id, Owner(device_id)});
    if (job.Empty()) return;  // not this device's claimed command (any more)
    const json args = json::parse(job.At(0, "args").Str(), nullptr, false);
    tx.Exec("agent_report_insert", {command_id, device_id, args.value("action_key", std::string()),
                                    args.value("action", std::string()), success,
                                    message.substr(0, 4096), clock_.DbNow()});
    // The report is the command's completion: its job leaves the queue in this transaction.
    auto done = tx.Exec(
        "job_complete",
        {store::ArrayLiteral(std::vector<int64_t>{command_id}),
         store::ArrayLiteral(std::vector<int32_t>{job.At(0, "attempt").Int()}), Owner(device_id)});
    ok = done.AffectedRows() == 1;
  });
  if (ok)
    log::Get()->info("agent {} reported command {}: {}", device_id, command_id,
                     success ? "success" : "failure");
  return ok;
}

}  // namespace clubos::workflows

namespace clubos::workflows {

WithBayAgents::WithBayAgents(Integration& vendors, store::Pool& pool, Millis command_ttl,
                             const Clock& clock)
    : vendors_(vendors), pool_(pool), command_ttl_(command_ttl), clock_(clock) {}

bool WithBayAgents::ForAgent(const ActionView& a) {
  return a.control == "agent" && (a.kind == "reset_trackman" || a.kind == "reboot_pc");
}

bool WithBayAgents::Idempotent(const ActionView& a) const {
  return ForAgent(a) || vendors_.Idempotent(a);
}

std::optional<std::string> WithBayAgents::Baseline(const ActionView& a) {
  if (!ForAgent(a)) return vendors_.Baseline(a);
  return json{{"queued_after", FormatTimestamp(clock_.Now())}}.dump();
}

CallOutcome WithBayAgents::Execute(const ActionView& a) {
  if (!ForAgent(a)) return vendors_.Execute(a);
  try {
    auto db = pool_.Acquire();
    int64_t id = 0;
    db->Transact("agent_command", [&](store::Tx& tx) {
      id = EnqueueAgentCommand(tx, a.device_id, a.kind == "reboot_pc" ? "reboot" : "restart",
                               a.idempotency_key, a.id, clock_.Now() + command_ttl_, clock_);
    });
    return {CallResult::kAccepted,
            id ? "queued for the bay agent as command " + std::to_string(id)
               : "already queued for the bay agent",
            id ? json{{"command_id", id}}.dump() : ""};
  } catch (const store::DbError& e) {
    return {CallResult::kTransient, std::string("agent command not stored: ") + e.what()};
  }
}

StateCheck WithBayAgents::Check(const ActionView& a) {
  if (!ForAgent(a)) return vendors_.Check(a);
  const json base = json::parse(a.baseline.empty() ? "{}" : a.baseline, nullptr, false);
  const auto queued =
      base.is_object() ? ParseTimestamp(base.value("queued_after", std::string())) : std::nullopt;
  if (!queued) return StateCheck::kUnknown;
  try {
    auto db = pool_.Acquire();
    auto device = db->ExecOne("agent_device", {a.device_id});
    if (device.Empty()) return StateCheck::kUnknown;  // this agent never reported in
    // Evidence is a time after the command was queued and not beyond what the agent's clock may
    // be ahead: a time from the future proves nothing (defect L11).
    const TimePoint latest = clock_.Now() + kMaxAgentClockSkew;
    auto after_queued = [&](const std::optional<TimePoint>& t) {
      return t && *t > *queued && *t <= latest;
    };
    const auto booted = device.At(0, "booted_at").OptTime();
    if (a.kind == "reboot_pc")
      return after_queued(booted) ? StateCheck::kChanged : StateCheck::kUnchanged;
    auto report = db->ExecOne("agent_report_of_action", {a.idempotency_key});
    if (report.Empty() || !report.At(0, "success").Bool()) return StateCheck::kUnchanged;
    const auto started = device.At(0, "tps_started_at").OptTime();
    const bool running = device.At(0, "tps_running").Bool();
    return running && after_queued(started) ? StateCheck::kChanged : StateCheck::kUnchanged;
  } catch (const store::DbError&) {
    return StateCheck::kUnknown;
  }
}

CallOutcome WithBayAgents::NotifyOperators(const std::string& summary, const std::string& link) {
  return vendors_.NotifyOperators(summary, link);
}

}  // namespace clubos::workflows
