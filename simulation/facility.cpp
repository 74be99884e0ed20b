#include "simulation/facility.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace clubos::simulation {

using nlohmann::json;
using workflows::ActionView;
using workflows::CallOutcome;
using workflows::CallResult;
using workflows::StateCheck;

void CrashPlan::Maybe(std::mt19937_64& rng, const std::string& where) {
  if (!armed || crashes >= budget || rate <= 0) return;
  if (std::uniform_real_distribution<double>(0, 1)(rng) >= rate) return;
  ++crashes;
  last = where;
  armed = false;  // a dead process does nothing more
  throw SimulatedCrash("simulated crash " + where);
}

namespace {

bool IsPc(const std::string& kind) {
  return kind == "reset_trackman" || kind == "reboot_pc";
}

}  // namespace

bool SimFacility::Draw(double p) {
  return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p;
}

SimFacility::Pc& SimFacility::PcOf(const std::string& device) {
  return pcs_[device];
}

int64_t SimFacility::VisibleBoots(Pc& pc) {
  const TimePoint now = clock_.Now();
  const auto n =
      std::count_if(pc.pending.begin(), pc.pending.end(), [&](TimePoint t) { return t <= now; });
  return pc.boots + static_cast<int64_t>(n);
}

bool SimFacility::Idempotent(const ActionView& a) const {
  // Restarting TrackMan twice is harmless; a door opened twice or a text sent twice is not.
  return IsPc(a.kind);
}

std::optional<std::string> SimFacility::Baseline(const ActionView& a) {
  if (IsPc(a.kind)) {
    Pc& pc = PcOf(a.device_id);
    if (pc.stuck || Draw(faults_.unreadable)) return std::nullopt;
    return json{{"boots", VisibleBoots(pc)}}.dump();
  }
  return std::string("{}");
}

CallOutcome SimFacility::Execute(const ActionView& a) {
  CallRecord rec;
  rec.seq = static_cast<int64_t>(calls_.size()) + 1;
  rec.at = clock_.Now();
  rec.action_id = a.id;
  rec.kind = a.kind;
  rec.location = a.location;
  rec.device = a.kind == "send_message" ? a.phone : a.device_id;
  rec.booking_id = a.booking_id;

  // One draw per call picks its fate from the cumulative rates.
  const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
  const std::pair<const char*, double> fates[] = {
      {"timeout_done", faults_.timeout_done}, {"timeout_not_done", faults_.timeout_not_done},
      {"500", faults_.server_error},          {"429", faults_.rate_limited},
      {"503", faults_.unavailable},           {"400", faults_.rejected},
      {"swallowed", faults_.swallowed},       {"stuck", IsPc(a.kind) ? faults_.stuck : 0.0}};
  std::string answer = "ok";
  double acc = 0;
  for (const auto& [name, p] : fates) {
    acc += p;
    if (u < acc) {
      answer = name;
      break;
    }
  }
  bool effect = answer == "ok" || answer == "timeout_done" || answer == "stuck";
  if (answer == "500") effect = Draw(0.5);
  rec.answer = answer;
  rec.effect = effect;
  rec.maybe_effect = answer != "429" && answer != "503" && answer != "400";

  if (effect) {
    if (IsPc(a.kind)) {
      Pc& pc = PcOf(a.device_id);
      if (answer == "stuck") {
        pc.stuck = true;
      } else {
        const Millis delay = Draw(faults_.slow_effect)
                                 ? Millis(std::uniform_int_distribution<int>(5'000, 90'000)(rng_))
                                 : Millis(0);
        pc.pending.push_back(clock_.Now() + delay);
      }
    } else if (a.kind == "unlock_door") {
      door_opened_by_[a.device_id].insert(a.id);
    } else {
      texts_delivered_.insert(a.id);
      if (a.kind == "send_message" && on_text) on_text(a.phone, a.text);
    }
  }
  calls_.push_back(rec);
  try {
    crash_.Maybe(rng_, "after the " + a.kind + " call of action " + std::to_string(a.id));
  } catch (const SimulatedCrash&) {
    calls_.back().answer += "+crash";
    throw;
  }

  if (answer == "ok" || answer == "swallowed" || answer == "stuck") {
    CallOutcome out{CallResult::kAccepted, "sim: " + answer};
    if (a.kind == "send_message")
      out.external_ref = json{{"message_id", "sim-" + std::to_string(a.id)}}.dump();
    return out;
  }
  if (answer == "429")
    return {CallResult::kNotDone, "sim: 429", "",
            Millis(std::uniform_int_distribution<int>(1'000, 60'000)(rng_))};
  if (answer == "503") return {CallResult::kNotDone, "sim: 503"};
  if (answer == "400") return {CallResult::kRejected, "sim: 400"};
  return {CallResult::kTransient, "sim: " + answer};
}

StateCheck SimFacility::Check(const ActionView& a) {
  if (IsPc(a.kind)) {
    Pc& pc = PcOf(a.device_id);
    if (pc.stuck || Draw(faults_.unreadable)) return StateCheck::kUnknown;
    const json base = json::parse(a.baseline.empty() ? "{}" : a.baseline, nullptr, false);
    const int64_t before =
        base.is_object() && base.contains("boots") && base["boots"].is_number_integer()
            ? base["boots"].get<int64_t>()
            : -1;
    if (before < 0) return StateCheck::kUnknown;
    return VisibleBoots(pc) > before ? StateCheck::kChanged : StateCheck::kUnchanged;
  }
  if (a.kind == "unlock_door") {
    auto it = door_opened_by_.find(a.device_id);
    return it != door_opened_by_.end() && it->second.count(a.id) ? StateCheck::kChanged
                                                                 : StateCheck::kUnchanged;
  }
  return texts_delivered_.count(a.id) ? StateCheck::kChanged : StateCheck::kUnchanged;
}

CallOutcome SimFacility::NotifyOperators(const std::string&, const std::string&) {
  if (Draw(faults_.notify_fails)) return {CallResult::kTransient, "sim: slack 500"};
  ++notifications_;
  return {CallResult::kAccepted, "sim: posted"};
}

}  // namespace clubos::simulation
