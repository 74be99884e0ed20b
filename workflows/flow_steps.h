#pragma once
// The flow's steps, one class (and one file) each, as the diagram draws them: intake, routing and
// decision, confirmation, execution and verification, escalation, operator commands and policy
// controls. Internal to workflows/: the outside world uses the facade in flow.h.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "statemachines/action_machine.h"
#include "statemachines/thread_machine.h"
#include "store/db.h"
#include "workers/job.h"
#include "workflows/action_row.h"
#include "workflows/engine.h"
#include "workflows/flow.h"
#include "workflows/gate.h"
#include "workflows/integration.h"
#include "workflows/knowledge_cache.h"
#include "workflows/model.h"
#include "workflows/policy_store.h"
#include "workflows/router.h"

namespace clubos::workflows {

namespace tstate = sm::thread_state;
namespace tevent = sm::thread_event;
namespace tguard = sm::thread_guard;
namespace astate = sm::action_state;
namespace aevent = sm::action_event;
namespace aguard = sm::action_guard;

// What every step shares: the facility, the decision makers, the one clock and the engine.
struct FlowContext {
  FlowContext(const Config& config, const Router& router, Integration& integration,
              const Clock& clock);
  const Config& config;
  const Router& router;
  Integration& integration;
  const Clock& clock;
  sm::Timings timings;
  Engine engine;
  PolicyStore policy;
  ActionGate gate;
  KnowledgeCache knowledge;  // the FAQ and the procedures, as the store's active versions
  KnowledgeReview review;    // how the store changes
  Model* model = nullptr;    // OperatorGPT (Flow::UseModel); none: patterns only
};

// To a human: an escalated thread, the dead-job policy, the operators' notification, closing.
class EscalationStep {
 public:
  explicit EscalationStep(FlowContext& f) : f_(f) {}
  // Moves the thread to `escalated` with its reason, if its table allows that from where it is
  // (a thread with a human already, or finished, stays as it is).
  void Escalate(store::Tx& tx, int64_t thread_id, const Escalation& why, const std::string& actor,
                int priority = 100);
  // The action leaves for a human (`event` enters escalated): its row's cascade moves the thread
  // it holds up, or else tells the operators.
  void FailAction(store::Tx& tx, const ActionRow& a, std::string_view event, const Escalation& why,
                  const std::string& actor, const ActionEffects& fx = {});
  // Stopped or refused by the gate before its call.
  void Refuse(store::Tx& tx, const ActionRow& a, const GateRefusal& refused,
              const std::string& actor);
  // A flow job died after its last attempt: each state a dead job can strand an action in has an
  // exit, and the thread goes to a human.
  void OnJobDead(store::Tx& tx, const workers::Job& job, const std::string& reason);
  workers::Outcome Notify(workers::JobContext& ctx);
  workers::Outcome Close(workers::JobContext& ctx);

 private:
  FlowContext& f_;
};

// Routing and decision: the router's intent, the policy's decision, the action it creates.
class RoutingStep {
 public:
  RoutingStep(FlowContext& f, EscalationStep& escalation) : f_(f), escalation_(escalation) {}
  workers::Outcome Route(workers::JobContext& ctx);
  // The policy's decision on an intent (the patterns', or the model's) for the texts up to
  // `last_id`, on a locked thread in `received`: the routed transition, and the action or the
  // escalation it leads to.
  void Decide(store::Tx& tx, const store::Result& thread, int64_t last_id, const Intent& intent,
              const Location& location);
  // A new action, born decided: executing at once, or (confirm_first) waiting for the customer.
  int64_t CreateAction(store::Tx& tx, ActionBirth birth);
  // A text to the thread's customer, as a send_message action of its own.
  void Reply(store::Tx& tx, const ThreadContact& to, const std::string& role,
             const std::string& text, const std::string& reason, int priority);

 private:
  // Whether the patterns' intent needs the model (they are unsure, or the category is always
  // asked); the consult job is then enqueued in `tx` and the thread stays `received`.
  bool Consult(store::Tx& tx, int64_t thread_id, const Intent& patterns);
  FlowContext& f_;
  EscalationStep& escalation_;
};

// Calls of a thread pending since before `started_before` (their worker died, or their job did):
// marked abandoned and settled at their reservation, which the provider may have billed.
void SettleAbandonedCalls(store::Tx& tx, int64_t thread_id, TimePoint started_before);

// OperatorGPT: the `consult_llm` job (flow_consult.cpp). Two-phase like execution: the
// reservation and the audit row are committed before the call, the outcome and the decision after.
class ConsultStep {
 public:
  ConsultStep(FlowContext& f, RoutingStep& routing) : f_(f), routing_(routing) {}
  workers::Outcome Consult(workers::JobContext& ctx);

 private:
  struct Prepared {
    std::optional<int64_t> call_id;  // a call to make (none: decided, or nothing to do)
    std::optional<TimePoint> defer_until;
    std::vector<std::string> texts;
    Intent patterns;  // what the patterns made of them
    int64_t last_id = 0;
    const Location* location = nullptr;
    std::string model, tier, knowledge, knowledge_version, cache_key, budget_day;
    std::shared_ptr<const KnowledgeSnapshot> snapshot;  // the FAQ the answer is checked against
    ModelRequest request;
    int64_t reserved = 0;
  };
  Prepared Prepare(workers::JobContext& ctx, int64_t thread_id);
  void Finish(workers::JobContext& ctx, const Prepared& p, const ModelAnswer& answer);
  void Outage(store::Tx& tx, const ModelAnswer& answer, int64_t thread_id,
              const std::string& location, TimePoint now);
  FlowContext& f_;
  RoutingStep& routing_;
};

// Confirmation: the customer's YES or NO, and its expiry.
class ConfirmationStep {
 public:
  explicit ConfirmationStep(FlowContext& f) : f_(f) {}
  // The caller holds the thread's lock. IllegalTransition when the action awaits no answer (or
  // its confirmation expired): nothing written.
  void ConfirmLocked(store::Tx& tx, int64_t action_id, bool yes, const std::string& actor);
  workers::Outcome Expire(workers::JobContext& ctx);

 private:
  FlowContext& f_;
};

// Intake: a customer's text stored once, on its thread, and what it means there.
class IntakeStep {
 public:
  IntakeStep(FlowContext& f, ConfirmationStep& confirmation) : f_(f), confirmation_(confirmation) {}
  // The location the message's line belongs to; InvalidInput for a message intake refuses.
  const Location& Check(const InboundMessage& msg) const;
  IntakeResult InTx(store::Tx& tx, const InboundMessage& msg, const Location& location);
  std::vector<Flow::IntakeOutcome> Many(store::Connection& db,
                                        const std::vector<InboundMessage>& msgs);

 private:
  void OnOpenThread(store::Tx& tx, const InboundMessage& msg, IntakeResult& out,
                    const std::string& state, bool paused);
  FlowContext& f_;
  ConfirmationStep& confirmation_;
};

// Execution and verification: the two-phase protocol around the external call. The file a
// reviewer of "no door is unlocked twice" reads.
class ExecutionStep {
 public:
  ExecutionStep(FlowContext& f, RoutingStep& routing, EscalationStep& escalation)
      : f_(f), routing_(routing), escalation_(escalation) {}
  workers::Outcome Execute(workers::JobContext& ctx);
  workers::Outcome Verify(workers::JobContext& ctx);

 private:
  enum class Started { kYes, kNo, kElsewhere };
  Started Start(workers::JobContext& ctx, const ActionRow& a, const std::string& baseline);
  std::optional<workers::Outcome> Recover(workers::JobContext& ctx, const ActionRow& a,
                                          CallOutcome& call);
  workers::Outcome Unknown(workers::JobContext& ctx, const ActionRow& a, const std::string& why);
  workers::Outcome Deferred(workers::JobContext& ctx, int64_t action_id, const CallOutcome& call);
  void Finish(store::Tx& tx, int64_t action_id, const CallOutcome& outcome, StateCheck seen);
  void Verified(store::Tx& tx, const ActionRow& action);
  GateInput StartGate(const ActionRow& action) const;
  TimePoint RecoveryDeadline(workers::JobContext& ctx, const ActionRow& action);
  FlowContext& f_;
  RoutingStep& routing_;
  EscalationStep& escalation_;
};

// What operators do by hand: perform an action, flag a rollback, decide a suggestion, claim and
// resolve a thread. The API's commands; the job handlers do not need them.
class OperatorCommands {
 public:
  OperatorCommands(FlowContext& f, RoutingStep& routing, EscalationStep& escalation)
      : f_(f), routing_(routing), escalation_(escalation) {}
  int64_t PerformInTx(store::Tx& tx, const ActionRequest& request);
  void FlagRollback(store::Connection& db, int64_t action_id, const std::string& actor,
                    const std::string& reason);
  int64_t ApproveSuggestion(store::Connection& db, int64_t id, const Approver& approver);
  void RejectSuggestion(store::Connection& db, int64_t id, const std::string& operator_name);
  void Claim(store::Connection& db, int64_t thread_id, const std::string& operator_name,
             bool take_over);
  void Resolve(store::Connection& db, int64_t thread_id, const std::string& operator_name,
               const std::string& resolution, const std::string& note, bool take_over);

 private:
  FlowContext& f_;
  RoutingStep& routing_;
  EscalationStep& escalation_;
};

// An operator takes a conversation over from the automation (by replying, or by hand) and hands
// it back; the pause also runs out by itself (config flow.takeover_ms). While it lasts, texts are
// stored and shown, never answered or acted on automatically (the thread table's `paused` rows).
class Takeover {
 public:
  Takeover(FlowContext& f, OperatorCommands& commands) : f_(f), commands_(commands) {}
  Flow::Paused ReplyInTx(store::Tx& tx, int64_t thread_id, const std::string& operator_name,
                         const std::string& text);
  Flow::Paused Reply(store::Connection& db, int64_t thread_id, const std::string& operator_name,
                     const std::string& text);
  Flow::Paused Pause(store::Connection& db, int64_t thread_id, const std::string& operator_name);
  void HandBack(store::Connection& db, int64_t thread_id, const std::string& operator_name);
  workers::Outcome Expire(workers::JobContext& ctx);  // the end_takeover job

 private:
  // Pauses (or extends the pause of) a locked thread: refused where the automation is under way.
  // `holder`: who had it until now (recorded as taken_from when it is someone else).
  TimePoint PauseLocked(store::Tx& tx, int64_t thread_id, const std::string& state,
                        const std::string& actor, const std::string& why,
                        const std::optional<std::string>& holder);
  void EndLocked(store::Tx& tx, int64_t thread_id, const std::string& state, std::string_view event,
                 const std::string& actor);
  FlowContext& f_;
  OperatorCommands& commands_;
};

// The controls: the emergency stop and the autonomy toggles.
class PolicyControls {
 public:
  PolicyControls(FlowContext& f, EscalationStep& escalation) : f_(f), escalation_(escalation) {}
  int Apply(store::Connection& db, const ControlsRequest& request, const std::string& actor);

 private:
  void Validate(const ControlsRequest& request) const;
  int StopPending(store::Tx& tx, const ControlsRequest::Stop& stop, const std::string& actor);
  FlowContext& f_;
  EscalationStep& escalation_;
};

}  // namespace clubos::workflows
