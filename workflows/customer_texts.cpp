#include "workflows/customer_texts.h"

namespace clubos::workflows {

std::string PromptFor(const ActionPlan& plan, const Location& location) {
  if (plan.kind == "reset_trackman")
    return "Sorry about that! Reply YES to restart the TrackMan in bay " +
           std::to_string(*plan.bay) + " at " + location.name +
           " (takes about a minute), or NO to leave it.";
  if (plan.kind == "unlock_door")
    return "Reply YES and we'll unlock the front door at " + location.name +
           " for you now, or NO to cancel.";
  return "Reply YES to go ahead, or NO to cancel.";
}

std::string DoneNotice(const ActionRow& a) {
  if (a.kind == "reset_trackman")
    return "Done: the TrackMan in bay " + std::to_string(a.target.value("bay", 0)) +
           " has restarted and is back online. Enjoy your round!";
  if (a.kind == "unlock_door") return "The door is unlocked now; come on in!";
  return "Done.";
}

}  // namespace clubos::workflows
