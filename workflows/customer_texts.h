#pragma once
// What ClubOS says to a customer: the confirmation prompt and the "done" notice.
#include <string>

#include "core/config.h"
#include "workflows/action_row.h"
#include "workflows/policy.h"

namespace clubos::workflows {

std::string PromptFor(const ActionPlan& plan, const Location& location);
std::string DoneNotice(const ActionRow& action);

}  // namespace clubos::workflows
