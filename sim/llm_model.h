#pragma once
// The simulated LLM's "model" (sim/README.md, "LLM"): rules over the customer's text that give the
// route intent OperatorGPT asks for, and OpenAI-style token counts. Pure: no I/O, no clock, no
// lock; sim/llm.cpp serves it on POST /v1/chat/completions.
//
// Deterministic on purpose: the same text gives the same intent, so a test (or the demo) knows
// what the "model" will say. The built-in rules include a gullible one that follows instructions
// injected into a customer's text: what ClubOS does with the intent is its policy's decision, and
// the tests downstream need a model that can be fooled.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clubos::sim::detail {

// Bounds on what PUT /_sim/llm accepts.
constexpr std::size_t kMaxLlmRules = 200;
constexpr std::size_t kMaxLlmPhrasesPerRule = 100;
constexpr std::size_t kMaxLlmPhraseBytes = 200;
constexpr std::size_t kMaxLlmTextBytes = 4'000;  // a rule's reply, human_reason or content

// The words of a text as rules compare them: ASCII lower-cased, apostrophes dropped ("won't" is
// "wont"), split at anything that is not a letter or a digit (bytes of other UTF-8 characters are
// kept inside words).
std::vector<std::string> Words(std::string_view text);

// One rule: when any phrase of `match` (and, if `also` is not empty, any of `also` too) appears in
// the text as whole words, the model answers `intent` (or the raw `content`).
struct LlmRule {
  std::vector<std::string> match;  // as given, for GET /_sim/llm
  std::vector<std::string> also;
  std::vector<std::vector<std::string>> match_words;
  std::vector<std::vector<std::string>> also_words;
  // The intent with every key present; "bay": "from_text" and "faq_topic": "from_topics" are
  // filled per request. Null when the rule gives `content` instead.
  nlohmann::json intent;
  // A string returned as the message's content verbatim (not checked against the schema): for
  // tests of a client's handling of a model that answers off-schema.
  std::optional<std::string> content;
};

// A rule from its JSON form ({"match": [...], "also"?: [...], "intent": {...}} or
// {"match": [...], "also"?: [...], "content": "..."}); nullopt with `error` set when it is not one.
// Intent keys left out take these values: bay, faq_topic, human_reason and reply null, confidence
// 0.9, needs_human false; category and action are required.
std::optional<LlmRule> ParseLlmRule(const nlohmann::json& j, std::string& error);
nlohmann::json LlmRuleJson(const LlmRule& r);

// The rules the simulator starts with (and returns to on PUT {"rules": null}).
const std::vector<LlmRule>& BuiltinLlmRules();

// What the model answers when no rule matches.
nlohmann::json FallbackIntent();

// The topics listed in a system message's "FAQ topics: a, b, c" line, in order; none when no
// line says so.
std::vector<std::string> FaqTopics(std::string_view system_text);

// The message content the model answers for the customer's `text`: the first matching rule's
// intent as a JSON string (every key of the schema present, in schema order), or its raw content;
// the fallback intent when none matches. `topics` are the FAQ topics the request listed.
std::string LlmAnswer(const std::vector<LlmRule>& rules, std::string_view text,
                      const std::vector<std::string>& topics);

// The reviewer model's answer (schema "knowledge_review", workflows/knowledge_review.h) to the
// user message `input` ({documents: [{id, version, content}], cases: [{id, sop_id, correction?,
// ...}], outcome_history}): per document with corrected cases, a proposal whose body is the latest
// correction (the header kept) citing those cases; a conflict for two documents sharing a trigger
// phrase whose bodies quote different "$" figures. Not JSON, or not that shape: "{}" (off-schema,
// as a confused model answers).
std::string ReviewAnswer(std::string_view input);

// Tokens as the simulator counts them: a quarter of the bytes, rounded up.
inline int64_t LlmTokens(std::size_t bytes) {
  return static_cast<int64_t>((bytes + 3) / 4);
}

}  // namespace clubos::sim::detail
