#pragma once
// OperatorGPT's pure parts: what the model is told (the facility's own knowledge, the customer's
// texts quoted as data), the strict schema of its answer, how that answer becomes an Intent for
// the same policy a pattern's goes through, the guard on drafted replies, and the cache key. No
// I/O: the consult step (flow_consult.cpp) calls the model and keeps the books.
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "workflows/knowledge_store.h"
#include "workflows/model.h"
#include "workflows/router.h"

namespace clubos::workflows {

// Bumped whenever the instructions change: part of the cache key and of every audit row.
inline constexpr const char* kRoutePromptVersion = "route-1";
inline constexpr const char* kRouteSchemaName = "route_intent";

// The facility's knowledge as the model is given it, and its version (a hash: any change to a
// FAQ answer, a procedure given, a bay or a door is a new version, and cached answers of the old
// one are not used). `faq`: the location's FAQ; `relevant`: the procedures retrieval found for
// the texts (workflows/knowledge_store.h), each given with its id and version.
struct Knowledge {
  std::string text;
  std::string version;
};
Knowledge KnowledgeFor(const Location& location, const Config& config, const FaqTable& faq,
                       const std::vector<RetrievedKnowledge>& relevant = {});

// A routing's texts as one, a line each (what retrieval searches and the bay is read from).
std::string Joined(const std::vector<std::string>& texts);

// The JSON Schema of the route intent (strict: every property required, nullable by type).
const std::string& RouteSchema();

// The request for one routing: instructions + knowledge in the system message; the texts in the
// user message, fenced as quoted data so that "ignore your rules" is something a customer wrote,
// not an instruction (the policy decides anyway).
ModelRequest RouteRequest(const std::vector<std::string>& texts, const Knowledge& knowledge,
                          const std::string& model, int max_tokens);
// What a routing's request is estimated to cost before it is sent: its prompt (about 3 bytes a
// token, a generous estimate) plus the whole max_tokens. Reserved against the budget.
int64_t EstimatedTokens(const ModelRequest& request);

// The model's answer as an intent, or nullopt with `why` when it is not one: not JSON, a key
// missing or extra, a value outside its enum, a FAQ topic not on file. A guess is never made.
std::optional<Intent> IntentFromAnswer(const std::string& content, const FaqTable& faq,
                                       const std::vector<std::string>& texts, std::string* why);

// Figures in a drafted reply (prices, times, phone numbers, other numbers) that the knowledge the
// model was given does not contain: a reply quoting any of them is not sent.
std::vector<std::string> UngroundedFigures(const std::string& reply, const std::string& knowledge);

// The cache key's material and its hash: the normalised texts, the model, the prompt version, the
// knowledge version and the schema. Anything that shapes the answer is in it.
std::string CacheKey(const std::vector<std::string>& texts, const std::string& model,
                     const std::string& knowledge_version);

// Whether the patterns' intent is sure enough to decide on without the model: a human is needed
// whatever (emergency, sensitive, asked for), or its category's threshold is met and the category
// is not one configured to be always asked. (Sure of the category but with no action on file, the
// text goes to a human as before: a model would only say so at a price.)
bool PatternsSuffice(const Intent& patterns, double category_threshold,
                     const std::vector<std::string>& always_ask);

}  // namespace clubos::workflows
