#pragma once
// Routing: what a customer's texts are about and what they ask for. The default router is
// deterministic (weighted phrases from config, never compiled in); an LLM router can sit behind
// the same interface and be consulted only when the patterns are not confident.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"

namespace clubos::workflows {

struct Intent {
  std::string category;    // tech | booking | access | faq | emergency | "" (unknown)
  std::string action;      // reset_trackman | unlock_door | answer | "" (none)
  std::optional<int> bay;  // as the customer wrote it; the policy checks it exists
  std::string faq_topic;   // for action "answer"
  double confidence = 0;   // 0..1
  // A human must take it whatever the policy says, with this reason code: "" | emergency |
  // operator_requested | policy_denied | needs_human (the model says a person should handle it) |
  // ungrounded_answer (its draft quotes a figure the knowledge it was given does not have).
  std::string must_escalate;
  std::vector<std::string> flags;   // why: "sensitive:refund", "positive", "emergency:smoke", ...
  std::string router = "patterns";  // patterns | llm | cache (the model's answer, from the cache)
  std::string reply;                // the model's drafted answer, when action is "answer"
  // The patterns were unsure and the model could not be asked: llm_unavailable (down, failed,
  // refused, malformed) or budget_exhausted. An unsure intent escalates with this reason.
  std::string unconsulted;
  std::optional<int64_t> llm_call_id;  // the audit row of the call (llm_calls)
};

// A FAQ entry as the router and the policy use it: its phrases and its answer, and the document
// and version it comes from (cited in every answer sent).
struct FaqAnswer {
  std::string topic;  // the document id without its "faq." prefix: "price", "gift_card"
  std::string sop_id;
  int version = 0;
  std::vector<std::string> match;
  std::string answer;
};
// The FAQ a location answers from, by topic (the order the router tries them in).
using FaqTable = std::map<std::string, FaqAnswer>;

class Router {
 public:
  virtual ~Router() = default;
  // `texts`: every customer message since the last routing, oldest first; `faq`: the questions
  // the location answers, with their phrases (the knowledge store's FAQ entries).
  virtual Intent Route(const std::vector<std::string>& texts, const FaqTable& faq) const = 0;
};

class PatternRouter final : public Router {
 public:
  explicit PatternRouter(const RouterConfig& config) : config_(config) {}
  Intent Route(const std::vector<std::string>& texts, const FaqTable& faq) const override;

 private:
  const RouterConfig& config_;
};

// " text like this " : lower case, punctuation to spaces, padded, so a phrase matches whole words.
std::string NormalizeForMatching(const std::string& text);
// The bay a text names ("bay 3", "box two", "trackman 5", "bahía 2"), if any.
std::optional<int> ExtractBay(const std::string& normalized);
// YES / NO replies to a pending confirmation; nullopt for anything else.
std::optional<bool> ParseConfirmation(const std::string& text);

// Whether `text` holds `phrase`, in the language of the router's lists: "injur*" (word forms),
// "unconscious~" (one typo away), "cant|cannot" (either), "_" (any word), "chest & pain*" (near
// each other). See docs/configuration.md.
bool PhraseMatches(const std::string& phrase, const std::string& text);
// What is wrong with a phrase of the router's lists; "" when it is well formed.
std::string PhraseProblem(const std::string& phrase);

}  // namespace clubos::workflows
