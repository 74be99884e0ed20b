#pragma once
// The flow's job kinds (a contract: design/state-machines.md) and the one recipe for their unique
// keys. Every flow job is an effect of a transition table row (statemachines/*_machine.h); the
// engine enqueues it, keyed by the row that caused it.
#include <array>
#include <string_view>

namespace clubos::workflows {

inline constexpr const char* kRouteMessage = "route_message";
inline constexpr const char* kExecuteAction = "execute_action";
inline constexpr const char* kSendMessage = "send_message";
inline constexpr const char* kVerifyAction = "verify_action";
inline constexpr const char* kExpireConfirmation = "expire_confirmation";
inline constexpr const char* kNotifyOperator = "notify_operator";
inline constexpr const char* kCloseThread = "close_thread";
inline constexpr const char* kEndTakeover = "end_takeover";
// OperatorGPT (flow_consult.cpp): enqueued by routing where the patterns are unsure, not by a
// table row, one pending per thread.
inline constexpr const char* kConsultModel = "consult_llm";
// The queue of consult_llm jobs: served by executors of their own, so a slow model holds up
// nothing but other consultations.
inline constexpr const char* kLlmQueue = "llm";

struct FlowJob {
  std::string_view kind;
  // One pending job of this kind per row ("<kind>:<row id>"): a second effect of the same kind
  // for the same row is the same job. A notification is not: each one is a message of its own.
  bool unique_per_row;
};

inline constexpr std::array<FlowJob, 8> kFlowJobs = {{
    {kRouteMessage, true},
    {kExecuteAction, true},
    {kSendMessage, true},
    {kVerifyAction, true},
    {kExpireConfirmation, true},
    {kNotifyOperator, false},
    {kCloseThread, true},
    {kEndTakeover, true},
}};

constexpr const FlowJob* FindFlowJob(std::string_view kind) {
  for (const auto& j : kFlowJobs)
    if (j.kind == kind) return &j;
  return nullptr;
}

}  // namespace clubos::workflows
