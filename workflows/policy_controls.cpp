// The controls: the autonomy toggles and the emergency stop, validated whole and applied in one
// transaction; engaging a stop calls off what it covers that has not started.
#include "core/action_kinds.h"
#include "core/log.h"
#include "core/text.h"
#include "workflows/flow_steps.h"

namespace clubos::workflows {

int PolicyControls::Apply(store::Connection& db, const ControlsRequest& req,
                          const std::string& actor) {
  // Everything is checked before anything is written: a refused request changes nothing.
  for (const auto& [name, enabled] : req.toggles)
    if (name != "auto_send" && name != "auto_execute")
      throw InvalidInput("toggle '" + name + "' is not auto_send or auto_execute");
  if (req.stop) {
    const std::string& scope = req.stop->scope;
    const bool known =
        scope == "global" ||
        (scope.rfind("location:", 0) == 0 && f_.config.FindLocation(scope.substr(9))) ||
        (scope.rfind("category:", 0) == 0 && scope.size() > 9 && scope.size() <= 100 &&
         IsValidText(scope));
    if (!known)
      throw InvalidInput(
          "scope must be global, location:<a configured location> or category:<name>");
    const std::string& reason = req.stop->reason;
    if (reason.empty() || reason.size() > 500 || !IsValidText(reason))
      throw InvalidInput("reason must be 1..500 bytes of text");
  }
  if (req.toggles.empty() && !req.stop) throw InvalidInput("nothing to change");
  int stopped = 0;
  db.Transact("controls", [&](store::Tx& tx) {
    stopped = 0;
    for (const auto& [name, enabled] : req.toggles) {
      tx.Exec("toggle_set", {name, enabled, actor});
      tx.Exec("control_event", {name, enabled, nullptr, actor});
    }
    if (!req.stop) return;
    const auto& [scope, engaged, reason] = *req.stop;
    tx.Exec("stop_set", {scope, engaged, reason, actor});
    tx.Exec("control_event", {"emergency_stop:" + scope, engaged, reason, actor});
    if (!engaged) return;
    // Threads before actions (the lock order), ordered by thread.
    auto open = tx.Exec("actions_open_physical", {});
    const std::vector<EmergencyStop> stops = {{scope, reason, actor, f_.clock.Now()}};
    for (std::size_t i = 0; i < open.Size(); ++i) {
      const std::string location = open.At(i, "location").OptStr().value_or("");
      const std::string category(CategoryOfKind(open.At(i, "kind").Str()));
      if (PolicyStore::StopCovering(stops, location, category).empty()) continue;
      const int64_t id = open.At(i, "id").Int64();
      if (const auto thread = open.At(i, "thread_id").OptInt64()) tx.Exec("thread_lock", {*thread});
      const ActionRow a(tx.Exec("action_lock", {id}));
      if (!sm::ActionMachine().Accepts(a.state, aevent::kEmergencyStopped)) continue;
      escalation_.Refuse(
          tx, a, {"emergency_stop", "emergency stop engaged (" + scope + "): " + reason}, actor);
      ++stopped;
    }
  });
  for (const auto& [name, enabled] : req.toggles)
    log::Get()->warn("toggle {} set to {} by {}", name, enabled, actor);
  if (req.stop)
    log::Get()->warn("emergency stop {} {} by {}: {} ({} pending actions stopped)", req.stop->scope,
                     req.stop->engaged ? "engaged" : "released", actor, req.stop->reason, stopped);
  return stopped;
}

}  // namespace clubos::workflows
