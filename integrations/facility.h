#pragma once
// The facility reached through its vendors: the action kinds mapped onto OpenPhone, NinjaOne,
// UniFi Access and Slack calls, each with how it is proven (workflows/integration.h):
//   reset_trackman  NinjaOne script run; proven by a SCRIPTING activity COMPLETED after the call
//                   and the device online
//   reboot_pc       NinjaOne reboot; proven by a later os.lastBootTime and the device online
//   unlock_door     UniFi Access unlock as actor "clubos-action-<id>"; proven by a door_openings
//                   log hit of that actor on that door
//   send_message    OpenPhone send (202); proven when OpenPhone reports it delivered
//   notify_operator, create_ticket   Slack incoming webhook (200 ok); proven by the 200
// Only the Slack posts are idempotent (a repeated alert is harmless); a repeated door unlock,
// reboot, TrackMan restart or SMS is not, so a call whose outcome is unknown is never repeated
// blindly (design/state-machines.md, `executing`).
#include <memory>

#include "core/clock.h"
#include "core/config.h"
#include "integrations/clients.h"
#include "workflows/integration.h"

namespace clubos::integrations {

class VendorFacility final : public workflows::Integration {
 public:
  VendorFacility(const Config& config, const Clock& clock);

  bool Idempotent(const workflows::ActionView& action) const override;
  std::optional<std::string> Baseline(const workflows::ActionView& action) override;
  workflows::CallOutcome Execute(const workflows::ActionView& action) override;
  workflows::StateCheck Check(const workflows::ActionView& action) override;
  workflows::CallOutcome NotifyOperators(const std::string& summary,
                                         const std::string& link) override;

  NinjaOne& ninjaone() { return ninjaone_; }

 private:
  const Config& config_;
  const Clock& clock_;
  OpenPhone openphone_;
  NinjaOne ninjaone_;
  Unifi unifi_;
  Slack slack_;
};

}  // namespace clubos::integrations
