// The facade: owns the steps and the engine, registers the job handlers, and hands the API's
// commands to the step they belong to.
#include "workflows/flow.h"

#include "workers/queue.h"
#include "workflows/feedback.h"
#include "workflows/flow_steps.h"

namespace clubos::workflows {

using workers::JobContext;
using workers::Outcome;

FlowContext::FlowContext(const Config& c, const Router& r, Integration& i, const Clock& k)
    : config(c),
      router(r),
      integration(i),
      clock(k),
      timings{c.flow.debounce, c.flow.confirmation_ttl, c.flow.verify_poll, c.flow.close_after,
              c.flow.takeover},
      engine(timings, k),
      policy(c, k),
      gate(c, k, policy),
      knowledge(c),
      review(c, k) {}

Flow::Flow(const Config& config, const Router& router, Integration& integration, const Clock& clock)
    : f_(std::make_unique<FlowContext>(config, router, integration, clock)),
      escalation_(std::make_unique<EscalationStep>(*f_)),
      routing_(std::make_unique<RoutingStep>(*f_, *escalation_)),
      confirmation_(std::make_unique<ConfirmationStep>(*f_)),
      intake_(std::make_unique<IntakeStep>(*f_, *confirmation_)),
      execution_(std::make_unique<ExecutionStep>(*f_, *routing_, *escalation_)),
      commands_(std::make_unique<OperatorCommands>(*f_, *routing_, *escalation_)),
      controls_(std::make_unique<PolicyControls>(*f_, *escalation_)),
      takeover_(std::make_unique<Takeover>(*f_, *commands_)),
      consult_(std::make_unique<ConsultStep>(*f_, *routing_)) {
  // A thread comes to rest with a human or verified: metrics, benchmarks and tests hear of it.
  f_->engine.OnThreadEntered([this](int64_t id, std::string_view state) {
    if (on_rest_ && (state == tstate::kVerified || state == tstate::kEscalated))
      on_rest_(id, std::string(state));
  });
}

Flow::~Flow() = default;

const Config& Flow::config() const {
  return f_->config;
}

const PolicyStore& Flow::policy() const {
  return f_->policy;
}

void Flow::UseModel(Model& model) {
  if (f_->config.integrations.llm.Enabled()) f_->model = &model;
}

KnowledgeCache& Flow::knowledge() {
  return f_->knowledge;
}

const KnowledgeReview& Flow::knowledge_review() const {
  return f_->review;
}

void Flow::UseReviewer(Model& model) {
  if (f_->config.integrations.reviewer.Enabled())
    reviewer_ = std::make_unique<KnowledgeReviewer>(f_->review, *this, model, f_->clock);
}

void Flow::ScheduleReview(workers::RuntimeOptions& opt) const {
  if (!reviewer_) return;
  opt.periodic.push_back({.name = kReviewKnowledge,
                          .interval = f_->config.integrations.reviewer.interval,
                          .kind = kReviewKnowledge,
                          .queue = kLlmQueue});
}

bool Flow::RequestReview(store::Connection& db) const {
  if (!reviewer_)
    throw Conflict("not_configured", "no reviewer is configured (integrations.reviewer.base_url)");
  bool created = false;
  db.Transact("knowledge_review_request", [&](store::Tx& tx) {
    created = !workers::Enqueue(tx,
                                {.kind = kReviewKnowledge,
                                 .queue = kLlmQueue,
                                 .unique_key = std::string("periodic:") + kReviewKnowledge},
                                f_->clock)
                   .existed;
  });
  return created;
}

void Flow::HearKnowledge(workers::RuntimeOptions& opt) {
  opt.on_notice = [this](const std::string& payload) {
    if (payload == workers::kKnowledgePayload || payload == workers::kNoticesMissedPayload)
      f_->knowledge.Changed();
  };
}

void Flow::Register(workers::Registry& registry) {
  const workers::RetryPolicy retry{f_->config.flow.retry_base, f_->config.flow.retry_cap, 0.25};
  auto add = [&](const char* kind, workers::Handler handler) {
    registry.Register({kind, std::move(handler), retry, Millis(60'000), {}});
  };
  add(kRouteMessage, [this](JobContext& c) { return routing_->Route(c); });
  add(kExecuteAction, [this](JobContext& c) { return execution_->Execute(c); });
  add(kSendMessage, [this](JobContext& c) { return execution_->Execute(c); });
  add(kVerifyAction, [this](JobContext& c) { return execution_->Verify(c); });
  add(kExpireConfirmation, [this](JobContext& c) { return confirmation_->Expire(c); });
  add(kNotifyOperator, [this](JobContext& c) { return escalation_->Notify(c); });
  add(kCloseThread, [this](JobContext& c) { return escalation_->Close(c); });
  add(kEndTakeover, [this](JobContext& c) { return takeover_->Expire(c); });
  // A consultation's job outlives its call: one attempt's deadline, its settling, and slack.
  registry.Register({kConsultModel,
                     [this](JobContext& c) { return consult_->Consult(c); },
                     retry,
                     2 * f_->config.integrations.llm.deadline + Millis(30'000),
                     {}});
  if (reviewer_)
    registry.Register({kReviewKnowledge,
                       [this](JobContext& c) { return reviewer_->Handle(c); },
                       retry,
                       2 * f_->config.integrations.reviewer.endpoint.deadline + Millis(30'000),
                       {}});
  registry.OnDead([this](store::Tx& tx, const workers::Job& job, const std::string& reason) {
    escalation_->OnJobDead(tx, job, reason);
  });
  // Every job the tables name has a handler now, or ClubOS does not start.
  Engine::ValidateJobs(registry);
}

IntakeResult Flow::Intake(store::Connection& db, const InboundMessage& msg) {
  const Location& location = intake_->Check(msg);
  IntakeResult out;
  db.Transact("intake", [&](store::Tx& tx) { out = intake_->InTx(tx, msg, location); });
  return out;
}

std::vector<Flow::IntakeOutcome> Flow::IntakeMany(store::Connection& db,
                                                  const std::vector<InboundMessage>& msgs) {
  return intake_->Many(db, msgs);
}

void Flow::Confirm(store::Connection& db, int64_t action_id, bool yes, const std::string& actor) {
  db.Transact("confirm", [&](store::Tx& tx) {
    LockThreadOfAction(tx, action_id);
    confirmation_->ConfirmLocked(tx, action_id, yes, actor);
  });
}

int64_t Flow::Perform(store::Connection& db, const ActionRequest& req) {
  int64_t id = 0;
  db.Transact("perform_action", [&](store::Tx& tx) { id = commands_->PerformInTx(tx, req); });
  return id;
}

int64_t Flow::PerformInTx(store::Tx& tx, const ActionRequest& req) {
  return commands_->PerformInTx(tx, req);
}

void Flow::FlagRollback(store::Connection& db, int64_t action_id, const std::string& actor,
                        const std::string& reason) {
  commands_->FlagRollback(db, action_id, actor, reason);
}

FeedbackRecord Flow::GiveFeedback(store::Connection& db, const Verdict& verdict) {
  FeedbackRecord out;
  db.Transact("feedback", [&](store::Tx& tx) { out = RecordVerdict(tx, verdict, f_->clock); });
  return out;
}

int Flow::ApplyControls(store::Connection& db, const ControlsRequest& req,
                        const std::string& actor) {
  return controls_->Apply(db, req, actor);
}

int Flow::SetEmergencyStop(store::Connection& db, const std::string& scope, bool engaged,
                           const std::string& reason, const std::string& actor) {
  return ApplyControls(db, {.stop = ControlsRequest::Stop{scope, engaged, reason}}, actor);
}

void Flow::SetToggle(store::Connection& db, const std::string& name, bool enabled,
                     const std::string& actor) {
  ApplyControls(db, {.toggles = {{name, enabled}}}, actor);
}

int64_t Flow::ApproveSuggestion(store::Connection& db, int64_t id, const Approver& approver) {
  return commands_->ApproveSuggestion(db, id, approver);
}

void Flow::RejectSuggestion(store::Connection& db, int64_t id, const std::string& operator_name) {
  commands_->RejectSuggestion(db, id, operator_name);
}

void Flow::Claim(store::Connection& db, int64_t thread_id, const std::string& operator_name,
                 bool take_over) {
  commands_->Claim(db, thread_id, operator_name, take_over);
}

Flow::Paused Flow::Reply(store::Connection& db, int64_t thread_id, const std::string& operator_name,
                         const std::string& text) {
  return takeover_->Reply(db, thread_id, operator_name, text);
}

Flow::Paused Flow::ReplyInTx(store::Tx& tx, int64_t thread_id, const std::string& operator_name,
                             const std::string& text) {
  return takeover_->ReplyInTx(tx, thread_id, operator_name, text);
}

Flow::Paused Flow::TakeOver(store::Connection& db, int64_t thread_id,
                            const std::string& operator_name) {
  return takeover_->Pause(db, thread_id, operator_name);
}

void Flow::HandBack(store::Connection& db, int64_t thread_id, const std::string& operator_name) {
  takeover_->HandBack(db, thread_id, operator_name);
}

void Flow::Resolve(store::Connection& db, int64_t thread_id, const std::string& operator_name,
                   const std::string& resolution, const std::string& note, bool take_over) {
  commands_->Resolve(db, thread_id, operator_name, resolution, note, take_over);
}

}  // namespace clubos::workflows
