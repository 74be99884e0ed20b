// Feedback and cases: verdicts stored one per author per answer with their history, and the cases
// they and failed actions make (workflows/feedback.h, docs/cases.md).
#include "workflows/feedback.h"

#include "store/db.h"
#include "workflows/errors.h"
#include "workflows/router.h"

namespace clubos::workflows {
namespace {

struct Stored {
  int64_t id = 0;
  int version = 1;
};

Stored Upsert(store::Tx& tx, int64_t action_id, int64_t thread_id, std::string_view source,
              const std::string& author, bool helpful, const std::optional<std::string>& correction,
              std::optional<int64_t> message_id, const std::optional<std::string>& matched,
              const Clock& clock) {
  const auto r =
      tx.Exec("feedback_upsert", {action_id, thread_id, std::string(source), author, helpful,
                                  correction, message_id, matched, clock.DbNow()});
  const Stored s{r.At(0, "id").Int64(), r.At(0, "version").Int()};
  tx.Exec("feedback_history_insert",
          {s.id, action_id, author, helpful, correction, message_id, s.version, clock.DbNow()});
  return s;
}

}  // namespace

std::optional<int64_t> RecordActionCase(store::Tx& tx, int64_t action_id, std::string_view outcome,
                                        const Clock& clock) {
  const auto r = tx.Exec("case_from_action", {action_id, std::string(outcome), clock.DbNow()});
  if (r.Empty()) return std::nullopt;
  return r.At(0, "id").Int64();
}

FeedbackRecord RecordVerdict(store::Tx& tx, const Verdict& v, const Clock& clock) {
  const auto a = tx.Exec("feedback_answer", {v.action_id});
  if (a.Empty()) throw NotFound("action " + std::to_string(v.action_id) + " does not exist");
  const std::string id = std::to_string(v.action_id);
  const std::string triggered_by = a.At(0, "triggered_by").Str();
  if (a.At(0, "kind").Str() != "send_message")
    throw InvalidInput("action " + id + " is a " + a.At(0, "kind").Str() +
                       ", not an answer: feedback is for the texts ClubOS sent on its own");
  if (triggered_by != "router" && triggered_by != "chain")
    throw InvalidInput("action " + id + " was sent by " + triggered_by +
                       ", not by ClubOS on its own: feedback is for automated answers");
  if (a.At(0, "executed_at").IsNull() || a.At(0, "thread_id").IsNull())
    throw Conflict("not_sent", "action " + id + " has not been sent: there is no answer to judge");
  FeedbackRecord out;
  out.action_id = v.action_id;
  out.thread_id = a.At(0, "thread_id").Int64();
  out.helpful = v.helpful;
  out.correction = v.helpful ? std::nullopt : v.correction;
  out.author = v.author;
  const Stored s = Upsert(tx, v.action_id, out.thread_id, "operator", v.author, v.helpful,
                          out.correction, std::nullopt, std::nullopt, clock);
  out.feedback_id = s.id;
  out.version = s.version;
  if (!v.helpful) {
    const auto made = tx.Exec("case_from_feedback", {s.id, clock.DbNow()});
    out.case_id = made.At(0, "id").Int64();
    out.case_state = made.At(0, "state").Str();  // new, or where the reviewer has it
  } else if (auto closed = tx.Exec("case_withdraw", {s.id, clock.DbNow()}); !closed.Empty()) {
    out.case_id = closed.At(0, "id").Int64();
    out.case_state = case_state::kClosed;
  } else if (auto c = tx.Exec("case_of_feedback", {s.id}); !c.Empty()) {
    // A case the reviewer has taken up already is theirs: a change of mind does not pull it back.
    out.case_id = c.At(0, "id").Int64();
    out.case_state = c.At(0, "state").Str();
  }
  return out;
}

std::optional<std::string> NotHelpedPhrase(const RouterConfig& router, const std::string& text) {
  for (const auto& phrase : router.not_helped)
    if (PhraseMatches(phrase, text)) return phrase;
  return std::nullopt;
}

std::optional<int64_t> RecordCustomerFollowUp(store::Tx& tx, const RouterConfig& router,
                                              int64_t thread_id, int64_t message_id,
                                              const std::string& text, const Clock& clock) {
  // The phrases first: most texts say nothing of the kind, and cost no query.
  const auto phrase = NotHelpedPhrase(router, text);
  if (!phrase) return std::nullopt;
  const auto target =
      tx.Exec("feedback_followup_target",
              {thread_id, static_cast<int64_t>(router.not_helped_window.count()), clock.DbNow()});
  if (target.Empty()) return std::nullopt;
  const int64_t action_id = target.At(0, "id").Int64();
  const Stored s = Upsert(tx, action_id, thread_id, "customer", "customer", false, std::nullopt,
                          message_id, phrase, clock);
  tx.Exec("case_from_feedback", {s.id, clock.DbNow()});
  return s.id;
}

}  // namespace clubos::workflows
