#include "workflows/fake_facility.h"

#include <chrono>
#include <cstdlib>
#include <thread>

#include "store/db.h"

namespace clubos::workflows {
namespace {

std::string DeviceOf(const ActionView& a) {
  if (a.kind == "send_message") return "sms";
  return a.device_id;
}

}  // namespace

FakeFacility::FakeFacility(const std::string& database_url) : db_(store::Connect(database_url)) {
  db_->ExecRawOne(
      "CREATE TABLE IF NOT EXISTS fake_facility_calls (id bigserial PRIMARY KEY, at timestamptz "
      "NOT NULL "
      "DEFAULT clock_timestamp(), kind text NOT NULL, device text NOT NULL, idempotency_key text "
      "NOT NULL, "
      "detail text NOT NULL DEFAULT '');"
      "CREATE TABLE IF NOT EXISTS fake_facility_faults (device text PRIMARY KEY, mode text NOT "
      "NULL, "
      "remaining int NOT NULL)");
}

FakeFacility::~FakeFacility() = default;

std::unique_ptr<FakeFacility> FakeFacility::InMemory() {
  return std::unique_ptr<FakeFacility>(new FakeFacility());
}

void FakeFacility::Record(const std::string& kind, const std::string& device,
                          const std::string& key, const std::string& detail) {
  if (!db_) {
    calls_.push_back({kind, device, key, detail != "no effect"});
    effect_by_key_[key] = effect_by_key_[key] || detail != "no effect";
    return;
  }
  db_->ExecSql(
      "INSERT INTO fake_facility_calls (kind, device, idempotency_key, detail) VALUES ($1, $2, $3, "
      "$4)",
      {kind, device, key, detail});
}

bool FakeFacility::Idempotent(const ActionView& a) const {
  // Restarting TrackMan twice is harmless; a door opened twice or an SMS sent twice is not.
  return a.kind == "reset_trackman" || a.kind == "reboot_pc";
}

std::string FakeFacility::FaultOf(const std::string& device, bool consume) {
  if (!db_) {
    auto it = faults_.find(device);
    if (it == faults_.end() || it->second.second <= 0) return "";
    if (consume) --it->second.second;
    return it->second.first;
  }
  auto r = db_->ExecSql(
      consume ? "UPDATE fake_facility_faults SET remaining = remaining - 1 WHERE device = $1 AND "
                "remaining > 0 "
                "RETURNING mode"
              : "SELECT mode FROM fake_facility_faults WHERE device = $1 AND remaining > 0",
      {device});
  return r.Empty() ? "" : r.At(0, 0).Str();
}

std::optional<std::string> FakeFacility::Baseline(const ActionView& a) {
  std::lock_guard lk(mu_);
  if (!db_) {
    std::size_t n = 0;
    for (const auto& c : calls_) n += c.device == DeviceOf(a) && c.kind == a.kind;
    return "{\"calls_before\":" + std::to_string(n) + "}";
  }
  const auto n =
      db_->ExecSql("SELECT count(*) FROM fake_facility_calls WHERE device = $1 AND kind = $2",
                   {DeviceOf(a), a.kind})
          .At(0, 0)
          .Int64();
  return "{\"calls_before\":" + std::to_string(n) + "}";
}

CallOutcome FakeFacility::Execute(const ActionView& a) {
  // Crash tests widen the window between the committed `executing` and the call's effect.
  static const int latency_ms = [] {
    const char* v = std::getenv("CLUBOS_FAKE_FACILITY_LATENCY_MS");
    return v ? std::atoi(v) : 0;
  }();
  if (latency_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(latency_ms));
  std::lock_guard lk(mu_);
  const std::string device = DeviceOf(a);
  const std::string fault = FaultOf(device, /*consume=*/true);
  if (fault == "reject") return {CallResult::kRejected, "400 refused by " + device};
  if (fault == "transient") return {CallResult::kTransient, "503 from " + device};
  Record(a.kind, device, a.idempotency_key, fault == "stuck_offline" ? "no effect" : a.text);
  return {CallResult::kAccepted, "accepted"};
}

StateCheck FakeFacility::Check(const ActionView& a) {
  std::lock_guard lk(mu_);
  const std::string device = DeviceOf(a);
  const std::string fault = FaultOf(device, /*consume=*/false);
  if (fault == "unknown") return StateCheck::kUnknown;
  if (!db_) {
    const auto it = effect_by_key_.find(a.idempotency_key);
    return it != effect_by_key_.end() && it->second ? StateCheck::kChanged : StateCheck::kUnchanged;
  }
  const bool effect =
      !db_->ExecSql(
              "SELECT 1 FROM fake_facility_calls WHERE idempotency_key = $1 AND detail <> "
              "'no effect' LIMIT 1",
              {a.idempotency_key})
           .Empty();
  return effect ? StateCheck::kChanged : StateCheck::kUnchanged;
}

CallOutcome FakeFacility::NotifyOperators(const std::string& summary, const std::string& link) {
  std::lock_guard lk(mu_);
  if (FaultOf("slack", true) == "transient") return {CallResult::kTransient, "500 from slack"};
  Record("notify_operator", "slack", link, summary);
  return {CallResult::kAccepted, "ok"};
}

void FakeFacility::SetFault(const std::string& device, const std::string& mode, int count) {
  std::lock_guard lk(mu_);
  if (!db_) {
    faults_[device] = {mode, count};
    return;
  }
  db_->ExecSql(
      "INSERT INTO fake_facility_faults (device, mode, remaining) VALUES ($1, $2, $3) ON CONFLICT "
      "(device) DO "
      "UPDATE SET mode = EXCLUDED.mode, remaining = EXCLUDED.remaining",
      {device, mode, count});
}

void FakeFacility::ClearFaults() {
  std::lock_guard lk(mu_);
  if (!db_) {
    faults_.clear();
    return;
  }
  db_->ExecRawOne("DELETE FROM fake_facility_faults");
}

int FakeFacility::Calls(const std::string& kind, const std::string& key) {
  std::lock_guard lk(mu_);
  if (!db_) {
    int n = 0;
    for (const auto& c : calls_) n += c.kind == kind && (key.empty() || c.key == key);
    return n;
  }
  return db_
      ->ExecSql(
          "SELECT count(*) FROM fake_facility_calls WHERE kind = $1 AND ($2 = '' OR "
          "idempotency_key = $2)",
          {kind, key})
      .At(0, 0)
      .Int();
}

}  // namespace clubos::workflows
