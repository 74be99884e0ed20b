#include "workflows/policy.h"

#include <cstdio>

namespace clubos::workflows {
namespace {

Decision Escalate(std::string code, std::vector<std::string> reasons, int priority = 100) {
  Decision d;
  d.outcome = "escalate";
  d.escalation_reason = std::move(code);
  d.reasons = std::move(reasons);
  d.priority = priority;
  return d;
}

std::string Pct(double v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

}  // namespace

Decision Decide(const PolicyInput& in) {
  const Intent& intent = in.intent;
  std::vector<std::string> reasons;
  for (const auto& f : intent.flags) reasons.push_back("router flag " + f);

  if (!intent.must_escalate.empty())
    return Escalate(intent.must_escalate, reasons, intent.must_escalate == "emergency" ? 0 : 50);
  if (in.rapid_messages) {
    reasons.push_back("the customer sent several messages within a minute after ClubOS answered");
    return Escalate("rapid_messages", reasons, 50);
  }
  if (intent.category.empty()) {
    reasons.push_back("no category recognised");
    return Escalate("low_confidence", reasons);
  }
  const auto it = in.config.policy.find(intent.category);
  const CategoryPolicy policy = it == in.config.policy.end() ? CategoryPolicy{} : it->second;
  if (intent.confidence < policy.confidence_threshold) {
    reasons.push_back("confidence " + Pct(intent.confidence) + " below the " + intent.category +
                      " threshold " + Pct(policy.confidence_threshold));
    return Escalate("low_confidence", reasons);
  }
  reasons.push_back("category " + intent.category + " at " + Pct(intent.confidence) +
                    " (threshold " + Pct(policy.confidence_threshold) + ")");
  if (!policy.autonomy) {
    reasons.push_back("autonomy is off for " + intent.category);
    return Escalate("policy_denied", reasons);
  }

  ActionPlan plan;
  plan.location = in.location.id;
  if (intent.action == "reset_trackman") {
    if (!intent.bay) {
      reasons.push_back("no bay named");
      return Escalate("low_confidence", reasons);
    }
    const Bay* bay = in.location.FindBay(*intent.bay);
    if (!bay) {
      reasons.push_back("no bay " + std::to_string(*intent.bay) + " at " + in.location.name +
                        ": never act on an unknown target");
      return Escalate("policy_denied", reasons);
    }
    plan.kind = "reset_trackman";
    plan.bay = bay->number;
    plan.device_id = bay->device_id;
    plan.reason = "SOP tech/trackman-frozen: restart TrackMan on the bay PC, verify it comes back";
  } else if (intent.action == "unlock_door") {
    if (in.location.doors.empty()) {
      reasons.push_back("no door configured at " + in.location.name);
      return Escalate("policy_denied", reasons);
    }
    const Door& door = in.location.doors.front();
    plan.kind = "unlock_door";
    plan.door_id = door.id;
    plan.device_id = door.device_id;
    plan.reason = "SOP access/code-failed: remote unlock of the " + door.name +
                  ", verify the opening is logged";
  } else if (intent.action == "answer") {
    const auto faq = in.config.router.faq.find(intent.faq_topic);
    if (faq == in.config.router.faq.end()) {
      reasons.push_back("no answer on file for this question");
      return Escalate("low_confidence", reasons);
    }
    plan.kind = "send_message";
    plan.text = faq->second.answer;
    plan.reason = "SOP faq/" + intent.faq_topic + ": answer from the FAQ";
  } else {
    reasons.push_back("no action recognised for a " + intent.category + " message");
    return Escalate("low_confidence", reasons);
  }

  Decision d;
  d.action = plan;
  const bool physical = plan.kind != "send_message";
  if (physical && policy.confirmation_required) {
    d.outcome = "confirm_first";
    reasons.push_back("confirmation required before a physical action");
  } else {
    d.outcome = "execute";
  }
  d.reasons = std::move(reasons);
  return d;
}

}  // namespace clubos::workflows
