#include "sim/fake_facility.h"

#include <chrono>
#include <cstdlib>
#include <thread>

#include "store/db.h"

namespace clubos::sim {
namespace {

using workflows::ActionView;
using workflows::CallOutcome;
using workflows::CallResult;
using workflows::StateCheck;

std::string DeviceOf(const ActionView& a) {
  if (a.kind == "send_message") return "sms";
  return a.device_id;
}

}  // namespace

// The tables come from the migrations (0010_fake_facility.sql), its statements from
// schema/queries/fake_facility.sql: a database not migrated refuses the connection's statements.
FakeFacility::FakeFacility(const std::string& database_url) : db_(store::Connect(database_url)) {}

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
  db_->ExecOne("fake_facility_record", {kind, device, key, detail});
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
  auto r =
      db_->ExecOne(consume ? "fake_facility_fault_take" : "fake_facility_fault_peek", {device});
  return r.Empty() ? "" : r.At(0, "mode").Str();
}

std::optional<std::string> FakeFacility::Baseline(const ActionView& a) {
  std::lock_guard lk(mu_);
  if (!db_) {
    std::size_t n = 0;
    for (const auto& c : calls_) n += c.device == DeviceOf(a) && c.kind == a.kind;
    return "{\"calls_before\":" + std::to_string(n) + "}";
  }
  const auto n = db_->ExecOne("fake_facility_calls_to", {DeviceOf(a), a.kind}).At(0, "n").Int64();
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
  const bool effect = !db_->ExecOne("fake_facility_effect", {a.idempotency_key}).Empty();
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
  db_->ExecOne("fake_facility_fault_set", {device, mode, count});
}

void FakeFacility::ClearFaults() {
  std::lock_guard lk(mu_);
  if (!db_) {
    faults_.clear();
    return;
  }
  db_->ExecOne("fake_facility_faults_clear");
}

int FakeFacility::Calls(const std::string& kind, const std::string& key) {
  std::lock_guard lk(mu_);
  if (!db_) {
    int n = 0;
    for (const auto& c : calls_) n += c.kind == kind && (key.empty() || c.key == key);
    return n;
  }
  return db_->ExecOne("fake_facility_calls", {kind, key}).At(0, "n").Int();
}

}  // namespace clubos::sim
