#pragma once
// An action as the flow reads it from its row, and what the flow's steps share about actions: the
// view the facility's adapters get, the facts its table's guards ask for, the lock order.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/config.h"
#include "statemachines/table.h"
#include "store/db.h"
#include "workers/job.h"
#include "workflows/integration.h"

namespace clubos::workflows {

// A thread row read with its paused_until (thread_lock): an operator has it now (takeover).
bool PausedNow(const store::Result& thread, const Clock& clock);

// A locked or read action row (action_lock, action_get), parsed.
struct ActionRow {
  explicit ActionRow(const store::Result& r);
  int64_t id;
  int64_t thread_id;  // 0: an operator's action of its own
  std::string kind, state, key, baseline, external_ref, reason, triggered_by;
  std::optional<std::string> booking_id, confirmed_by;
  TimePoint since;  // of the current state
  std::optional<TimePoint> confirm_expires_at, verify_deadline;
  nlohmann::json target, params;

  // The router or a chain of another action decided it, not a person.
  bool Autonomous() const { return triggered_by == "router" || triggered_by == "chain"; }
  bool Physical() const;
  std::string Role() const { return params.value("role", std::string()); }
  std::string StopOverride() const { return params.value("stop_override", std::string()); }
  // The facts its table's guards ask about the action itself (primary, holds_thread, confirmed).
  sm::Facts Facts() const;
  ActionView View() const;
};

// The id a job's arguments name (`field`: thread_id or action_id).
int64_t ArgId(const workers::JobContext& ctx, const char* field);

// Lock order: a thread before its actions, everywhere (intake locks the thread, then the action),
// so two transactions touching both can never deadlock.
void LockThreadOfAction(store::Tx& tx, int64_t action_id);

// The target of a requested action as the facility knows it: the caller names a bay or a door of
// a location (JSON text); the result carries the vendor's device id too. InvalidInput otherwise.
nlohmann::json ResolveTarget(const Config& config, const std::string& kind,
                             const std::string& target);

// A fresh idempotency key for a new action (stable across its retries).
std::string NewActionKey(int64_t thread_id, std::string_view kind);

}  // namespace clubos::workflows
