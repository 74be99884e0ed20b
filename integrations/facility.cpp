#include "integrations/facility.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/action_kinds.h"
#include "core/log.h"

namespace clubos::integrations {

using nlohmann::json;
using workflows::ActionView;
using workflows::CallOutcome;
using workflows::CallResult;
using workflows::StateCheck;

namespace {

CallOutcome OutcomeOf(const VendorReply& v, std::string external_ref = "") {
  switch (v.status) {
    case CallStatus::kOk:
      return {CallResult::kAccepted, v.detail, std::move(external_ref)};
    case CallStatus::kRejected:
      return {CallResult::kRejected, v.detail};
    case CallStatus::kNotDone:
      return {CallResult::kNotDone, v.detail, "", v.retry_after};
    case CallStatus::kUnknown:
      break;
  }
  return {CallResult::kTransient, v.detail};
}

double Seconds(TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

std::string ActorOf(const ActionView& a) {
  return "clubos-action-" + std::to_string(a.id);
}

json Parse(const std::string& text) {
  const json j = json::parse(text.empty() ? "{}" : text, nullptr, false);
  return j.is_object() ? j : json::object();
}

}  // namespace

VendorFacility::VendorFacility(const Config& config, const Clock& clock)
    : config_(config),
      clock_(clock),
      openphone_(config.integrations.openphone, config.integrations.call_timeout),
      ninjaone_(config.integrations.ninjaone, config.integrations.call_timeout, clock),
      unifi_(config.integrations.unifi, config.integrations.call_timeout),
      slack_(config.integrations.slack, config.integrations.call_timeout) {}

bool VendorFacility::Idempotent(const ActionView& a) const {
  const ActionKind* kind = FindActionKind(a.kind);
  return kind && kind->vendor_idempotent;
}

std::optional<std::string> VendorFacility::Baseline(const ActionView& a) {
  json b = {{"at", Seconds(clock_.Now())}};
  if (a.kind == "reset_trackman") {
    std::vector<NinjaOne::Activity> acts;
    if (!ninjaone_.Activities(a.device_id, &acts).ok()) return std::nullopt;
    int64_t last = 0;
    for (const auto& act : acts) last = std::max(last, act.id);
    b["last_activity_id"] = last;
  } else if (a.kind == "reboot_pc") {
    NinjaOne::Device d;
    if (!ninjaone_.GetDevice(a.device_id, &d).ok()) return std::nullopt;
    b["last_boot"] = d.last_boot;
    b["offline"] = d.offline;
  }
  return b.dump();
}

CallOutcome VendorFacility::Execute(const ActionView& a) {
  if (a.kind == "reset_trackman") {
    const std::string params = a.bay ? "-Bay " + std::to_string(*a.bay) : "";
    return OutcomeOf(
        ninjaone_.RunScript(a.device_id, config_.integrations.ninjaone.trackman_script_id, params));
  }
  if (a.kind == "reboot_pc")
    return OutcomeOf(ninjaone_.Reboot(a.device_id, config_.integrations.ninjaone.reboot_mode,
                                      "ClubOS action " + std::to_string(a.id) + ": " + a.reason));
  if (a.kind == "unlock_door") {
    json extra = {{"action_id", a.id}, {"door", a.door}};
    if (a.booking_id) extra["booking_id"] = *a.booking_id;
    return OutcomeOf(unifi_.Unlock(a.device_id, ActorOf(a),
                                   "ClubOS (action " + std::to_string(a.id) + ")", extra.dump()));
  }
  if (a.kind == "send_message") {
    std::string message_id;
    const auto v = openphone_.Send(a.from_line, a.phone, a.text, &message_id);
    log::Get()->info("sms to {} for action {}: {}", log::MaskPhone(a.phone), a.id,
                     ToString(v.status));
    return OutcomeOf(v, v.ok() ? json{{"message_id", message_id}}.dump() : "");
  }
  if (a.kind == "notify_operator" || a.kind == "create_ticket") {
    const std::string prefix = a.kind == "create_ticket" ? "[ticket] " : "";
    return OutcomeOf(slack_.Post(prefix + a.text + " (" + a.location + ", " + a.reason + ")"),
                     json{{"posted", true}}.dump());
  }
  return {CallResult::kRejected, "no vendor performs " + a.kind};
}

StateCheck VendorFacility::Check(const ActionView& a) {
  const json base = Parse(a.baseline);
  const json ref = Parse(a.external_ref);
  if (a.kind == "reset_trackman") {
    std::vector<NinjaOne::Activity> acts;
    if (!ninjaone_.Activities(a.device_id, &acts).ok() || !base.contains("last_activity_id"))
      return StateCheck::kUnknown;
    const int64_t before = base["last_activity_id"].get<int64_t>();
    bool completed = false;
    for (const auto& act : acts)
      completed = completed ||
                  (act.id > before && act.type == "SCRIPTING" && act.status_code == "COMPLETED");
    if (!completed) return StateCheck::kUnchanged;  // not yet, or FAILED
    // The script says it restarted TrackMan; the PC must be online and have checked in since.
    NinjaOne::Device d;
    if (!ninjaone_.GetDevice(a.device_id, &d).ok()) return StateCheck::kUnknown;
    return !d.offline && d.last_contact >= base.value("at", 0.0) ? StateCheck::kChanged
                                                                 : StateCheck::kUnchanged;
  }
  if (a.kind == "reboot_pc") {
    NinjaOne::Device d;
    if (!ninjaone_.GetDevice(a.device_id, &d).ok()) return StateCheck::kUnknown;
    if (d.last_boot <= 0 || !base.contains("last_boot")) return StateCheck::kUnknown;
    return !d.offline && d.last_boot > base["last_boot"].get<double>() ? StateCheck::kChanged
                                                                       : StateCheck::kUnchanged;
  }
  if (a.kind == "unlock_door") {
    const auto since = static_cast<int64_t>(base.value("at", 0.0)) - 5;
    const auto until = static_cast<int64_t>(Seconds(clock_.Now())) + 5;
    int n = 0;
    if (!unifi_.Openings(a.device_id, ActorOf(a), since, until, &n).ok())
      return StateCheck::kUnknown;
    return n > 0 ? StateCheck::kChanged : StateCheck::kUnchanged;
  }
  if (a.kind == "send_message") {
    std::string status;
    if (!ref.contains("message_id")) {
      // The send's answer was lost, so its id is unknown: what OpenPhone shows of the
      // conversation proves it or not — an outgoing message from this line to this customer with
      // this text, created since just before the call.
      const TimePoint since =
          TimePoint(std::chrono::microseconds(static_cast<int64_t>(base.value("at", 0.0) * 1e6))) -
          std::chrono::seconds(5);
      std::vector<OpenPhone::Message> conversation;
      if (!openphone_.Conversation(a.from_line, a.phone, since, &conversation).ok())
        return StateCheck::kUnknown;
      const auto sent = std::find_if(conversation.begin(), conversation.end(), [&](const auto& m) {
        return m.direction == "outgoing" && m.text == a.text &&
               std::find(m.to.begin(), m.to.end(), a.phone) != m.to.end();
      });
      if (sent == conversation.end()) return StateCheck::kUnchanged;
      status = sent->status;
    } else if (!openphone_.Status(ref["message_id"].get<std::string>(), &status).ok()) {
      return StateCheck::kUnknown;
    }
    if (status == "delivered") return StateCheck::kChanged;
    if (status == "failed" || status == "undelivered") return StateCheck::kUnchanged;
    return StateCheck::kUnknown;  // queued or sent: the carrier has not said yet
  }
  if (a.kind == "notify_operator" || a.kind == "create_ticket")
    return ref.value("posted", false) ? StateCheck::kChanged : StateCheck::kUnknown;
  return StateCheck::kUnknown;
}

CallOutcome VendorFacility::NotifyOperators(const std::string& summary, const std::string& link) {
  const std::string text = link.empty() ? summary : summary + "\n" + link;
  json blocks =
      json::array({{{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", text}}}}});
  return OutcomeOf(slack_.Post(text, blocks.dump()));
}

}  // namespace clubos::integrations
