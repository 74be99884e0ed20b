#pragma once
// Feedback and cases (docs/cases.md): an operator's verdict on an automated answer, a customer's
// "that didn't help" on the same thread, and the cases a reviewer learns from. Each unhelpful
// verdict and each action that failed, ended inconclusive or was flagged for a rollback becomes
// one case, in the transaction of the event that caused it; the database's unique indexes hold
// "exactly once" whoever gets there first.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/config.h"

namespace clubos::store {
class Tx;
}

namespace clubos::workflows {

// What a case of an action says made it one (cases.outcome).
namespace case_outcome {
inline constexpr std::string_view kFailed = "failed";
inline constexpr std::string_view kInconclusive = "inconclusive";
inline constexpr std::string_view kRollbackNeeded = "rollback_needed";
}  // namespace case_outcome

// A case's states (schema/migrations/0015_feedback.sql): made new here; the reviewer moves it on.
namespace case_state {
inline constexpr std::string_view kNew = "new";
inline constexpr std::string_view kGrouped = "grouped";
inline constexpr std::string_view kProposed = "proposed";
inline constexpr std::string_view kClosed = "closed";
}  // namespace case_state

// The longest correction, in characters (the table's CHECK holds the same bound).
inline constexpr std::size_t kMaxCorrectionChars = 2000;

// An operator's verdict on an automated answer (POST /v1/actions/{id}/feedback).
struct Verdict {
  int64_t action_id = 0;
  bool helpful = false;
  std::optional<std::string> correction;  // only with helpful = false
  std::string author;                     // operator:<name>
};

// A verdict as stored: one per author per action; `version` counts how often it was given.
struct FeedbackRecord {
  int64_t feedback_id = 0;
  int64_t action_id = 0;
  int64_t thread_id = 0;
  bool helpful = false;
  std::optional<std::string> correction;
  std::string author;
  int version = 1;
  std::optional<int64_t> case_id;  // the case it made (unhelpful), or that it closed (helpful)
  std::string case_state;          // new | closed | ... ("" when there is no case)
};

// The case of an action with this outcome (case_outcome::...), in the caller's transaction.
// The id of the case made now, or nullopt when the action had its case already.
std::optional<int64_t> RecordActionCase(store::Tx& tx, int64_t action_id, std::string_view outcome,
                                        const Clock& clock);

// Stores an operator's verdict (replacing their earlier one on the same answer, with the history
// keeping both) and makes, closes or reopens its case. NotFound: no such action; InvalidInput: the
// action is no automated answer (another kind, or a person's); Conflict not_sent: it has not gone
// out. The correction's shape is the caller's to check (api/dto.cpp).
FeedbackRecord RecordVerdict(store::Tx& tx, const Verdict& verdict, const Clock& clock);

// The first router.not_helped phrase a customer's text matches ("that didn't help", "still
// frozen"), or nullopt.
std::optional<std::string> NotHelpedPhrase(const RouterConfig& router, const std::string& text);

// A customer's text `message_id` on thread `thread_id` (whose lock the caller holds) that says the
// automation's answer or action did not help: unhelpful feedback from the customer on the
// thread's newest answer or action of the automation, when it went out within
// router.not_helped_window_ms, and its case. Nothing else changes: the text is routed as any
// other. Returns the feedback's id, or nullopt (no such phrase, or nothing recent to be about).
std::optional<int64_t> RecordCustomerFollowUp(store::Tx& tx, const RouterConfig& router,
                                              int64_t thread_id, int64_t message_id,
                                              const std::string& text, const Clock& clock);

}  // namespace clubos::workflows
