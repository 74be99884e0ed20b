#pragma once
// The customer flow: intake, routing, decision, confirmation, execution, verification, escalation,
// closing. A facade: each step is a class of its own (flow_steps.h, one file each), a job handler
// over the queue; each state change goes through the engine in the same transaction as the jobs
// it causes, and the transition tables (statemachines/) say what each one means.
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "store/db.h"
#include "workers/job.h"
#include "workers/runtime.h"
#include "workflows/engine.h"
#include "workflows/errors.h"
#include "workflows/gate.h"
#include "workflows/integration.h"
#include "workflows/jobs.h"
#include "workflows/knowledge_cache.h"
#include "workflows/knowledge_review.h"
#include "workflows/model.h"
#include "workflows/policy_store.h"
#include "workflows/router.h"

namespace clubos::store {
class Connection;
class Tx;
}  // namespace clubos::store

namespace clubos::workflows {

struct Verdict;  // workflows/feedback.h
struct FeedbackRecord;

struct InboundMessage {
  std::string from;  // the customer, E.164
  std::string to;    // the facility line, E.164
  std::string body;
  std::string external_id;  // the provider's message id ("" when none): deduplication key
  // Who delivered it: "openphone" (the signed webhook) or "api" (POST /v1/messages). A provider's
  // id is unique per source and sender only, so that is the scope of deduplication.
  std::string source = "api";
};

struct IntakeResult {
  int64_t thread_id = 0;
  int64_t message_id = 0;
  bool duplicate = false;
};

// Who a reply goes to: the thread's customer, from the line they wrote to.
struct ThreadContact {
  int64_t thread_id;
  std::string location;
  std::string phone;
  std::string line;
};

// performAction: one entry point for every action, whoever asks (the router, an operator through
// the API, a chain of another action).
struct ActionRequest {
  std::string kind;  // reset_trackman | reboot_pc | unlock_door | send_message | notify_operator
                     // | create_ticket
  // JSON object: {"location", "bay"} for bay PCs, {"location", "door"} for doors (the door's id in
  // the facility config), {"location", "phone"} (+ optional "from_line") for send_message.
  std::string target;
  std::string triggered_by;  // router | chain | operator:<name>
  std::string reason;        // the SOP it follows
  std::optional<std::string> booking_id;
  std::optional<int64_t> thread_id;
  std::string text;  // send_message, notify_operator, create_ticket: what to say
  bool human_override = false;
  bool admin = false;  // the person asking holds the admin role (a door by hand needs it)
  // An admin's explicit override of an engaged emergency stop, with why ("" none). Recorded in
  // the action's history; without it a stop halts a person's physical action too.
  std::string stop_override;
  // The booking must be within its access window (set for an approved suggestion's unlock).
  bool booking_required = false;
};

// One request to the controls (POST /v1/emergency-stop): validated whole, applied in one
// transaction, so a refused request changes nothing.
struct ControlsRequest {
  std::map<std::string, bool> toggles;  // auto_send | auto_execute
  struct Stop {
    std::string scope = "global";  // global | location:<id> | category:<name>
    bool engaged = false;
    std::string reason;
  };
  std::optional<Stop> stop;
};

// A suggestion's states (schema/migrations/0005_policy.sql): pending until an operator decides.
namespace suggestion_state {
inline constexpr std::string_view kPending = "pending";
inline constexpr std::string_view kApproved = "approved";
inline constexpr std::string_view kRejected = "rejected";
}  // namespace suggestion_state

// Who approves a suggestion.
struct Approver {
  std::string name;
  bool admin = false;
  std::string stop_override;  // as ActionRequest::stop_override
  // The operator's edit of a message suggestion's text (none: as suggested). Only for kinds that
  // say something (send_message, ...); InvalidInput for the others.
  std::optional<std::string> text = std::nullopt;
};

class Flow {
 public:
  Flow(const Config& config, const Router& router, Integration& integration, const Clock& clock);
  ~Flow();

  // Called after the commit that brings a thread to rest (verified or escalated): metrics,
  // benchmarks, tests. Must be cheap and must not throw.
  void OnRest(std::function<void(int64_t thread_id, const std::string& state)> fn) {
    on_rest_ = std::move(fn);
  }

  // Registers every job kind of the flow, and the dead-job hook that escalates its thread.
  void Register(workers::Registry& registry);

  // OperatorGPT: consulted where the patterns are unsure, when the config names an endpoint
  // (integrations.llm.base_url). Its `consult_llm` jobs run on the queue kLlmQueue, which a worker
  // serves with executors of their own (app/flow_wiring.h). Call before Register; `model`
  // outlives the flow.
  void UseModel(Model& model);

  // What routing answers FAQ questions with and which procedures actions cite: the knowledge
  // store's active versions, cached. Tell it of a change (the store's NOTIFY, which
  // workers::RuntimeOptions::on_notice delivers) with Changed(); pin a fixed snapshot where there
  // is no store.
  KnowledgeCache& knowledge();
  // Has the runtime `opt` starts tell this flow's knowledge of a new version (the NOTIFY above).
  void HearKnowledge(workers::RuntimeOptions& opt);

  // How the knowledge store changes: proposals, their dry runs, approval by another person,
  // restore (workflows/knowledge_review.h).
  const KnowledgeReview& knowledge_review() const;
  // The reviewer model, when the config names its endpoint (integrations.reviewer.base_url): its
  // review_knowledge jobs run on kLlmQueue. Call before Register; `model` outlives the flow.
  void UseReviewer(Model& model);
  bool HasReviewer() const { return reviewer_ != nullptr; }
  // Adds the reviewer's run every integrations.reviewer.interval to the runtime's periodic jobs
  // (the leader enqueues it; one pending at a time). Nothing without a reviewer.
  void ScheduleReview(workers::RuntimeOptions& opt) const;
  // Enqueues a run of the reviewer now (POST /v1/knowledge/review); false when one is pending.
  // Conflict not_configured without a reviewer.
  bool RequestReview(store::Connection& db) const;

  // Stores an inbound message once (deduplicated on external_id) on the open thread of that
  // conversation or a new one, and applies message_received in the same transaction. A YES/NO
  // reply to a pending confirmation confirms or rejects it; anything else is routed (debounced).
  IntakeResult Intake(store::Connection& db, const InboundMessage& msg);

  // Intake of several messages in one transaction: group commit for the API, which collects the
  // requests of a moment and commits them once (one commit and one NOTIFY for all). Each message
  // is validated alone (an invalid one gets its InvalidInput, the others go on); if the shared
  // transaction fails, each message is tried in a transaction of its own, so one message cannot
  // fail another.
  struct IntakeOutcome {
    std::optional<IntakeResult> result;
    std::exception_ptr error;  // when there is no result
  };
  std::vector<IntakeOutcome> IntakeMany(store::Connection& db,
                                        const std::vector<InboundMessage>& msgs);

  // The same transition as a customer's YES/NO, for the API. Throws IllegalTransition when the
  // action no longer awaits confirmation (too late, expired, already answered).
  void Confirm(store::Connection& db, int64_t action_id, bool yes, const std::string& actor);

  // performAction: validates the kind and the target against the facility (unknown bay or door,
  // wrong location: InvalidInput, nothing written; unknown thread: NotFound), persists the action
  // and its history, and starts it through the action machine. Returns the action's id.
  int64_t Perform(store::Connection& db, const ActionRequest& request);
  int64_t PerformInTx(store::Tx& tx, const ActionRequest& request);

  // Marks a finished (verified or escalated) action as needing a rollback and tells the operators
  // (Slack and the escalation queue). Never undoes anything. IllegalTransition in other states.
  void FlagRollback(store::Connection& db, int64_t action_id, const std::string& actor,
                    const std::string& reason);

  // An operator's verdict on an automated answer (workflows/feedback.h RecordVerdict), in one
  // transaction with its history and its case.
  FeedbackRecord GiveFeedback(store::Connection& db, const Verdict& verdict);

  // ---- controls (policy and safety) ----
  // Validates the whole request (InvalidInput: nothing changes), then applies its toggles and its
  // stop in one transaction. Engaging a stop of a scope (global, location:<id>, category:<name>)
  // calls off every physical action not yet started in it (but those an admin started with an
  // explicit override) and escalates its thread (emergency_stop); workers re-check before every
  // call, so nothing touches the facility from the commit on. Returns how many were stopped.
  int ApplyControls(store::Connection& db, const ControlsRequest& request,
                    const std::string& actor);
  int SetEmergencyStop(store::Connection& db, const std::string& scope, bool engaged,
                       const std::string& reason, const std::string& actor);
  void SetToggle(store::Connection& db, const std::string& name, bool enabled,
                 const std::string& actor);
  // An operator approves what ClubOS would have done: it runs through performAction, marked
  // human_override, past the same gate as any other action (a door needs an admin, the booking
  // must still be on, the stop holds). Returns the action's id. IllegalTransition when no longer
  // pending; Conflict when it expired or its thread moved on; Forbidden.
  int64_t ApproveSuggestion(store::Connection& db, int64_t id, const Approver& approver);
  void RejectSuggestion(store::Connection& db, int64_t id, const std::string& operator_name);
  const PolicyStore& policy() const;
  const Config& config() const;

  // An operator takes an escalated thread: a compare-and-set, so of two operators claiming at
  // once one wins and the other gets Conflict("already_claimed"). Taking over another operator's
  // claim is explicit (`take_over`) and recorded with whom it was taken from. Claiming one's own
  // claim again changes nothing.
  void Claim(store::Connection& db, int64_t thread_id, const std::string& operator_name,
             bool take_over = false);
  // Closes an escalated thread: by its claimant, or by anyone while it is unclaimed; another
  // operator's claim needs `take_over` (recorded), else Conflict("claimed_by_other").
  // Taking a conversation over (workflows/flow_takeover.cpp). An operator's reply is a
  // send_message action triggered by `operator:<name>` and pauses the automation on the thread
  // until handed back or flow.takeover_ms passes; pausing by hand does the same without a text.
  // Refused (IllegalTransition, 409) while an action of the automation is under way on it, and
  // (Conflict not_taken_over) handing back a thread that is not paused.
  struct Paused {
    int64_t action_id = 0;  // the reply's send_message action (0: paused by hand)
    TimePoint until;
  };
  Paused Reply(store::Connection& db, int64_t thread_id, const std::string& operator_name,
               const std::string& text);
  // The same in the caller's transaction (the API stores its answer under an idempotency key in
  // the same commit).
  Paused ReplyInTx(store::Tx& tx, int64_t thread_id, const std::string& operator_name,
                   const std::string& text);
  Paused TakeOver(store::Connection& db, int64_t thread_id, const std::string& operator_name);
  void HandBack(store::Connection& db, int64_t thread_id, const std::string& operator_name);

  void Resolve(store::Connection& db, int64_t thread_id, const std::string& operator_name,
               const std::string& resolution, const std::string& note, bool take_over = false);

 private:
  std::unique_ptr<struct FlowContext> f_;
  std::unique_ptr<class EscalationStep> escalation_;
  std::unique_ptr<class RoutingStep> routing_;
  std::unique_ptr<class ConfirmationStep> confirmation_;
  std::unique_ptr<class IntakeStep> intake_;
  std::unique_ptr<class ExecutionStep> execution_;
  std::unique_ptr<class OperatorCommands> commands_;
  std::unique_ptr<class PolicyControls> controls_;
  std::unique_ptr<class Takeover> takeover_;
  std::unique_ptr<class ConsultStep> consult_;
  std::unique_ptr<KnowledgeReviewer> reviewer_;
  std::function<void(int64_t, const std::string&)> on_rest_;
};

}  // namespace clubos::workflows
