#pragma once
// How the knowledge store changes after its import (docs/knowledge.md, migration 0017): through
// proposals only. A person or the reviewer model proposes a new version of one document, with its
// reasoning and the cases behind it; every proposal is dry-run over the past threads it would
// have touched; a human who is not its author approves it (a new version, made active in the same
// transaction, compare-and-set on the version it was based on) or rejects it. Restore makes an old
// version the newest again. Nothing is ever deactivated, and every step is a knowledge_events row.
//
// The reviewer (KnowledgeReviewer) is a periodic job: it reads the new cases, groups them by the
// SOP they followed, gives them with the SOPs' outcome history to a second model endpoint, and
// turns a well-formed answer into proposals and conflict flags. Down, over its daily caps or
// answering garbage, it changes nothing but its own run row: the job defers with backoff and the
// operators are told once that improvement is degraded. Routing never waits on it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "workflows/router.h"

namespace clubos::store {
class Connection;
class Tx;
}  // namespace clubos::store
namespace clubos::workers {
class JobContext;
struct Outcome;
}  // namespace clubos::workers

namespace clubos::workflows {

class Flow;
class Model;

// The job that runs the reviewer (periodically, and on POST /v1/knowledge/review).
inline constexpr const char* kReviewKnowledge = "review_knowledge";

// What a proposal's author gives.
struct ProposalInput {
  std::string document_id;
  // The version it was written against; none: the active one. A stale one is a Conflict.
  std::optional<int> base_version;
  std::string content;  // the whole document as a knowledge file (workflows/knowledge.h)
  std::string reasoning;
  std::vector<int64_t> case_ids;  // the cases behind it (each must exist)
  std::string author;             // operator:<name> | reviewer:<model>
  bool by_model = false;
};

// One past decision whose answer or action the proposal would change.
struct ChangedDecision {
  int64_t thread_id = 0;
  TimePoint decided_at{};
  std::string text;    // the customer's texts it routed, joined
  std::string before;  // with the active knowledge: outcome, action, its text or SOP
  std::string after;   // with the proposal in its place
};
// A proposal's dry run: the decisions of the replay window that cited the document (or would
// cite it with the proposal), how many of them change, and how.
struct KnowledgeReplay {
  int64_t replayed = 0;  // decisions read
  int64_t touched = 0;   // of which cite the document, before or after
  std::vector<ChangedDecision> changed;
  bool truncated = false;  // more decisions than kMaxReplayed in the window: the oldest left out
  std::string ToJson() const;
};
inline constexpr int kMaxReplayed = 20'000;
inline constexpr std::size_t kMaxChangedShown = 200;
inline constexpr std::size_t kMaxReasoningChars = 4'000;

// Who may decide: the id the API gives a person ("operator:<name>"); never a model's.
bool IsHumanActor(const std::string& actor);

class KnowledgeReview {
 public:
  KnowledgeReview(const Config& config, const Clock& clock);

  // Stores the proposal and its dry run; returns its id. InvalidInput: the content is no valid
  // knowledge file, names another document, equals the active version, a case does not exist, or
  // the reasoning is empty or too long. NotFound: no such document. Conflict: too_many_proposals
  // (config.knowledge.max_open_proposals open for the document already), stale_base (the
  // base_version given is no longer active).
  int64_t Propose(store::Connection& db, const ProposalInput& input) const;
  // Replays the proposal again (the traffic moved on) and stores the result.
  KnowledgeReplay Replay(store::Connection& db, int64_t proposal_id) const;
  // The new version it made. Forbidden: the actor is its author, or no person. IllegalTransition:
  // it is not open. Conflict not_replayed: it has no dry run; Conflict stale_base: the active
  // version is no longer the one it was based on (approving would undo that change). Two
  // approvers at once: one wins, the other finds it decided.
  int Approve(store::Connection& db, int64_t proposal_id, const std::string& actor) const;
  void Reject(store::Connection& db, int64_t proposal_id, const std::string& actor,
              const std::string& note) const;
  // Makes version `version` of the document the newest and active one, as a new version. Returns
  // its number. NotFound: no such version. InvalidInput: it is the active one already.
  int Restore(store::Connection& db, const std::string& document_id, int version,
              const std::string& actor, const std::string& note) const;
  // A conflict flag dealt with. NotFound; IllegalTransition when resolved already.
  void ResolveConflict(store::Connection& db, int64_t conflict_id, const std::string& actor) const;
  // The flag for two documents, unless that pair has an open one; true when it is new.
  bool FlagConflict(store::Tx& tx, const std::string& a, const std::string& b,
                    const std::string& reason, const std::string& found_by) const;

  const Config& config() const { return config_; }

 private:
  KnowledgeReplay ReplayContent(store::Connection& db, const std::string& document_id,
                                const std::string& content) const;

  const Config& config_;
  const Clock& clock_;
  PatternRouter router_;
};

// "- old line\n+ new line\n  same line\n": a line diff of two texts (longest common subsequence).
std::string LineDiff(const std::string& before, const std::string& after);

struct ReviewerRun {
  std::string outcome;  // ok | nothing_new | unavailable | over_budget | garbage | busy
  int cases = 0;
  int proposals = 0;
  int conflicts = 0;
  std::string detail;
};

class KnowledgeReviewer {
 public:
  // `flow` tells the operators (notify_operator) when improvement degrades and recovers.
  KnowledgeReviewer(const KnowledgeReview& review, Flow& flow, Model& model, const Clock& clock);

  // One run: the new cases to the model, its answer into proposals. Never throws for the model's
  // failures; a database failure throws (the job retries).
  ReviewerRun Run(store::Connection& db) const;
  // The job: Run, then complete, or defer after a failed run (60 s, doubling per deferral, at
  // most the review interval); over budget defers to the next day.
  workers::Outcome Handle(workers::JobContext& ctx) const;

 private:
  void Degraded(store::Connection& db, const std::string& outcome, const std::string& detail) const;
  void Recovered(store::Connection& db) const;

  const KnowledgeReview& review_;
  const Config& config_;
  Flow& flow_;
  Model& model_;
  const Clock& clock_;
};

}  // namespace clubos::workflows
