#include "workflows/action_row.h"

#include <cstdio>
#include <random>
#include <stdexcept>

#include "core/action_kinds.h"
#include "statemachines/action_machine.h"

namespace clubos::workflows {

bool PausedNow(const store::Result& thread, const Clock& clock) {
  const store::Field f = thread.At(0, "paused_until");
  return !f.IsNull() && f.Time() > clock.Now();
}

using nlohmann::json;

ActionRow::ActionRow(const store::Result& r)
    : id(r.At(0, "id").Int64()),
      thread_id(r.At(0, "thread_id").OptInt64().value_or(0)),
      kind(r.At(0, "kind").Str()),
      state(r.At(0, "state").Str()),
      key(r.At(0, "idempotency_key").Str()),
      baseline(r.At(0, "baseline").OptStr().value_or("{}")),
      external_ref(r.At(0, "external_ref").OptStr().value_or("")),
      reason(r.At(0, "reason").Str()),
      triggered_by(r.At(0, "triggered_by").Str()),
      booking_id(r.At(0, "booking_id").OptStr()),
      confirmed_by(r.At(0, "confirmed_by").OptStr()),
      since(r.At(0, "updated_at").Time()),
      confirm_expires_at(r.At(0, "confirm_expires_at").OptTime()),
      verify_deadline(r.At(0, "verify_deadline").OptTime()),
      target(json::parse(r.At(0, "target").Str())),
      params(json::parse(r.At(0, "params").Str())) {}

bool ActionRow::Physical() const {
  return IsPhysicalKind(kind);
}

sm::Facts ActionRow::Facts() const {
  const bool primary = Role() == "primary";
  // The primary action, or the question its customer must answer, holds the thread up; a
  // secondary action (the "done" notice, an operator's reply) that fails is told to the operators.
  const bool holds = thread_id != 0 && (primary || Role() == "prompt");
  return {{sm::action_guard::kPrimary, primary},
          {sm::action_guard::kHoldsThread, holds},
          {sm::action_guard::kConfirmed, confirmed_by.has_value()}};
}

ActionView ActionRow::View() const {
  ActionView v;
  v.id = id;
  v.thread_id = thread_id;
  v.kind = kind;
  v.idempotency_key = key;
  v.location = target.value("location", "");
  if (target.contains("bay")) v.bay = target.at("bay").get<int>();
  v.device_id = target.value("device_id", "");
  v.control = target.value("control", "");
  v.door = target.value("door", "");
  v.phone = target.value("phone", "");
  v.from_line = target.value("from_line", "");
  v.text = params.value("text", "");
  v.baseline = baseline;
  v.external_ref = external_ref;
  v.reason = reason;
  v.booking_id = booking_id;
  return v;
}

int64_t ArgId(const workers::JobContext& ctx, const char* field) {
  const json args = json::parse(ctx.job().args, nullptr, false);
  if (args.is_discarded() || !args.contains(field) || !args.at(field).is_number_integer())
    throw std::invalid_argument(std::string("job args lack ") + field);
  return args.at(field).get<int64_t>();
}

void LockThreadOfAction(store::Tx& tx, int64_t action_id) {
  tx.Exec("action_thread_lock", {action_id});
}

std::string NewActionKey(int64_t thread_id, std::string_view kind) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return (thread_id ? "thread-" + std::to_string(thread_id) : std::string("operator")) + "-" +
         std::string(kind) + "-" + buf;
}

}  // namespace clubos::workflows
