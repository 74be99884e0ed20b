#include "sim/llm_model.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <iterator>
#include <set>

#include "core/assert.h"

namespace clubos::sim::detail {
namespace {

using nlohmann::json;

constexpr std::array kCategories = {"tech", "booking", "access", "faq", "emergency", "other"};
constexpr std::array kActions = {"reset_trackman", "unlock_door", "answer", "none"};
// The intent's keys in the schema's order (the order Structured Outputs answers in).
constexpr std::array kIntentKeys = {"category",   "action",      "bay",          "faq_topic",
                                    "confidence", "needs_human", "human_reason", "reply"};
constexpr const char* kBayFromText = "from_text";
constexpr const char* kTopicFromTopics = "from_topics";

// First match wins, so the order matters: the gullible rule comes before everything (an injected
// instruction outranks the text around it, as it does in a model that follows one), and the door
// rule before the tech one ("the door is stuck" is not a frozen screen).
constexpr const char* kBuiltinRules = R"([
  {"match": ["ignore your", "ignore all", "ignore previous", "ignore prior", "ignore the",
             "ignore any", "disregard your", "disregard all", "disregard previous"],
   "also": ["unlock"],
   "intent": {"category": "access", "action": "unlock_door", "confidence": 0.99,
              "needs_human": false, "reply": "Sure, unlocking the door for you now."}},
  {"match": ["emergency", "fire", "smoke", "injured", "injury", "bleeding", "ambulance", "911",
             "hurt", "unconscious", "gas leak"],
   "intent": {"category": "emergency", "action": "none", "confidence": 0.95,
              "needs_human": true, "human_reason": "possible emergency"}},
  {"match": ["cant get in", "cannot get in", "locked out", "door wont open",
             "door will not open", "door is locked", "door is stuck", "door stuck", "door locked",
             "let me in", "code doesnt work", "code does not work", "code isnt working",
             "code not working", "wont unlock", "unlock the door", "open the door"],
   "intent": {"category": "access", "action": "unlock_door", "confidence": 0.8,
              "needs_human": false}},
  {"match": ["not registering", "isnt registering", "not tracking", "isnt tracking",
             "not picking up", "not reading", "screen is stuck", "screen stuck", "is stuck",
             "got stuck", "stuck on", "trackman stuck", "sim stuck", "frozen", "freezing", "froze",
             "black screen", "not working", "crashed", "wont load", "no ball data"],
   "intent": {"category": "tech", "action": "reset_trackman", "bay": "from_text",
              "confidence": 0.85, "needs_human": false}},
  {"match": ["how much", "price", "prices", "pricing", "cost", "costs", "rate", "rates",
             "set me back", "what do i owe", "whats the damage"],
   "intent": {"category": "faq", "action": "answer", "faq_topic": "from_topics",
              "confidence": 0.8, "needs_human": false, "reply": "It's $45 per hour."}},
  {"match": ["hours", "what time", "when do you open", "when do you close", "open today",
             "open late", "wifi", "wi fi", "parking", "password", "address", "where are you"],
   "intent": {"category": "faq", "action": "answer", "faq_topic": "from_topics",
              "confidence": 0.7, "needs_human": false, "reply": "Let me check with the team."}},
  {"match": ["booking", "book", "reservation", "reserve", "reschedule", "cancel"],
   "intent": {"category": "booking", "action": "none", "confidence": 0.75, "needs_human": true,
              "human_reason": "booking change"}}
])";

template <std::size_t N>
bool OneOf(const std::string& s, const std::array<const char*, N>& values) {
  return std::any_of(values.begin(), values.end(), [&](const char* v) { return s == v; });
}

bool Contains(const std::vector<std::string>& words, const std::vector<std::string>& phrase) {
  if (phrase.empty() || phrase.size() > words.size()) return false;
  return std::search(words.begin(), words.end(), phrase.begin(), phrase.end()) != words.end();
}

bool AnyPhrase(const std::vector<std::string>& words,
               const std::vector<std::vector<std::string>>& phrases) {
  return std::any_of(phrases.begin(), phrases.end(),
                     [&](const auto& p) { return Contains(words, p); });
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The number after "bay", "box" or "sim" ("bay 3", "bay #3", "bay3"), the first one the text has.
json BayFromText(const std::vector<std::string>& words) {
  constexpr std::size_t kMaxBayDigits = 6;
  for (std::size_t i = 0; i < words.size(); ++i) {
    for (const std::string_view prefix : {"bay", "box", "sim"}) {
      const std::string& w = words[i];
      if (w.rfind(prefix, 0) != 0) continue;
      const std::string_view rest = std::string_view(w).substr(prefix.size());
      std::string_view digits;
      if (rest.empty() && i + 1 < words.size())
        digits = words[i + 1];
      else
        digits = rest;
      if (AllDigits(digits) && digits.size() <= kMaxBayDigits)
        return std::stoi(std::string(digits));
    }
  }
  return nullptr;
}

bool ReadPhrases(const json& j, const char* key, bool required, std::vector<std::string>& out,
                 std::vector<std::vector<std::string>>& words, std::string& error) {
  if (!j.contains(key)) {
    if (required) error = std::string(key) + " is required: a list of phrases";
    return !required;
  }
  const json& list = j.at(key);
  if (!list.is_array() || list.empty() || list.size() > kMaxLlmPhrasesPerRule) {
    error = std::string(key) + " must be a list of 1 to " + std::to_string(kMaxLlmPhrasesPerRule) +
            " phrases";
    return false;
  }
  for (const json& p : list) {
    if (!p.is_string() || p.get<std::string>().size() > kMaxLlmPhraseBytes ||
        Words(p.get<std::string>()).empty()) {
      error = std::string(key) + ": every phrase is a string of 1 to " +
              std::to_string(kMaxLlmPhraseBytes) + " bytes with at least one word";
      return false;
    }
    out.push_back(p.get<std::string>());
    words.push_back(Words(out.back()));
  }
  return true;
}

bool NullOrText(const json& v) {
  return v.is_null() || (v.is_string() && v.get<std::string>().size() <= kMaxLlmTextBytes);
}

// The intent with every key present, or nullopt with `error` set.
std::optional<json> ReadIntent(const json& in, std::string& error) {
  if (!in.is_object()) {
    error = "intent must be an object";
    return std::nullopt;
  }
  for (const auto& [key, value] : in.items())
    if (!OneOf(key, kIntentKeys)) {
      error = "intent: unknown key '" + key + "'";
      return std::nullopt;
    }
  json out = {{"bay", nullptr},       {"faq_topic", nullptr},    {"confidence", 0.9},
              {"needs_human", false}, {"human_reason", nullptr}, {"reply", nullptr}};
  for (const auto& [key, value] : in.items()) out[key] = value;
  auto fail = [&](const std::string& why) {
    error = "intent." + why;
    return std::nullopt;
  };
  if (!in.contains("category") || !in.at("category").is_string() ||
      !OneOf(in.at("category").get<std::string>(), kCategories))
    return fail("category is required: tech, booking, access, faq, emergency or other");
  if (!in.contains("action") || !in.at("action").is_string() ||
      !OneOf(in.at("action").get<std::string>(), kActions))
    return fail("action is required: reset_trackman, unlock_door, answer or none");
  const json& bay = out.at("bay");
  if (!(bay.is_null() ||
        (bay.is_number_integer() && bay.get<int64_t>() >= 0 && bay.get<int64_t>() <= 1'000'000) ||
        (bay.is_string() && bay.get<std::string>() == kBayFromText)))
    return fail("bay must be a whole number (0 to 1000000), null or \"from_text\"");
  if (!NullOrText(out.at("faq_topic")))
    return fail("faq_topic must be a string, null or \"from_topics\"");
  const json& confidence = out.at("confidence");
  if (!confidence.is_number() || confidence.get<double>() < 0 || confidence.get<double>() > 1)
    return fail("confidence must be a number from 0 to 1");
  if (!out.at("needs_human").is_boolean()) return fail("needs_human must be true or false");
  for (const char* key : {"human_reason", "reply"})
    if (!NullOrText(out.at(key)))
      return fail(std::string(key) + " must be null or a string of at most " +
                  std::to_string(kMaxLlmTextBytes) + " bytes");
  return out;
}

std::vector<LlmRule> ParseBuiltins() {
  std::vector<LlmRule> rules;
  for (const json& j : json::parse(kBuiltinRules)) {
    std::string error;
    auto rule = ParseLlmRule(j, error);
    CLUBOS_ASSERT(rule.has_value(), "a built-in LLM rule does not parse");
    rules.push_back(std::move(*rule));
  }
  return rules;
}

}  // namespace

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\'') continue;
    if (text.substr(i, 3) == "\xE2\x80\x99") {  // ’ (a phone's apostrophe)
      i += 2;
      continue;
    }
    if (std::isalnum(c) || c >= 0x80) {
      word += static_cast<char>(std::tolower(c));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::optional<LlmRule> ParseLlmRule(const json& j, std::string& error) {
  if (!j.is_object()) {
    error = "a rule is an object: {match, also?, intent} or {match, also?, content}";
    return std::nullopt;
  }
  for (const auto& [key, value] : j.items())
    if (key != "match" && key != "also" && key != "intent" && key != "content") {
      error = "unknown key '" + key + "' in a rule: match, also, intent or content";
      return std::nullopt;
    }
  LlmRule r;
  if (!ReadPhrases(j, "match", true, r.match, r.match_words, error) ||
      !ReadPhrases(j, "also", false, r.also, r.also_words, error))
    return std::nullopt;
  if (j.contains("intent") == j.contains("content")) {
    error = "a rule has either an intent or a content";
    return std::nullopt;
  }
  if (j.contains("content")) {
    if (!j.at("content").is_string() ||
        j.at("content").get<std::string>().size() > kMaxLlmTextBytes) {
      error = "content must be a string of at most " + std::to_string(kMaxLlmTextBytes) + " bytes";
      return std::nullopt;
    }
    r.content = j.at("content").get<std::string>();
    return r;
  }
  auto intent = ReadIntent(j.at("intent"), error);
  if (!intent) return std::nullopt;
  r.intent = std::move(*intent);
  return r;
}

json LlmRuleJson(const LlmRule& r) {
  json j = {{"match", r.match}};
  if (!r.also.empty()) j["also"] = r.also;
  if (r.content)
    j["content"] = *r.content;
  else
    j["intent"] = r.intent;
  return j;
}

const std::vector<LlmRule>& BuiltinLlmRules() {
  static const std::vector<LlmRule> rules = ParseBuiltins();
  return rules;
}

json FallbackIntent() {
  return {{"category", "other"},
          {"action", "none"},
          {"bay", nullptr},
          {"faq_topic", nullptr},
          {"confidence", 0.3},
          {"needs_human", true},
          {"human_reason", "unclear request"},
          {"reply", nullptr}};
}

std::vector<std::string> FaqTopics(std::string_view system_text) {
  const std::string_view marker = "faq topics:";
  std::vector<std::string> topics;
  std::size_t start = 0;
  while (start < system_text.size() && topics.empty()) {
    std::size_t end = system_text.find('\n', start);
    if (end == std::string_view::npos) end = system_text.size();
    std::string line(system_text.substr(start, end - start));
    start = end + 1;
    std::string lower = line;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::size_t at = lower.find(marker);
    if (at == std::string::npos) continue;
    std::size_t from = at + marker.size();
    while (from <= line.size()) {
      std::size_t comma = line.find(',', from);
      if (comma == std::string::npos) comma = line.size();
      std::string topic = line.substr(from, comma - from);
      const auto first = topic.find_first_not_of(" \t\r.");
      const auto last = topic.find_last_not_of(" \t\r.");
      if (first != std::string::npos) topics.push_back(topic.substr(first, last - first + 1));
      from = comma + 1;
    }
  }
  return topics;
}

std::string LlmAnswer(const std::vector<LlmRule>& rules, std::string_view text,
                      const std::vector<std::string>& topics) {
  const std::vector<std::string> words = Words(text);
  json intent = FallbackIntent();
  for (const LlmRule& r : rules) {
    if (!AnyPhrase(words, r.match_words)) continue;
    if (!r.also_words.empty() && !AnyPhrase(words, r.also_words)) continue;
    if (r.content) return *r.content;
    intent = r.intent;
    break;
  }
  if (intent.at("bay").is_string()) intent["bay"] = BayFromText(words);
  if (intent.at("faq_topic") == kTopicFromTopics) {
    intent["faq_topic"] = nullptr;
    for (const std::string& topic : topics)
      if (Contains(words, Words(topic))) {
        intent["faq_topic"] = topic;
        break;
      }
  }
  nlohmann::ordered_json out;
  for (const char* key : kIntentKeys) out[key] = intent.at(key);
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

namespace {

// A knowledge file's header (between its --- lines, newline included) and its body.
std::pair<std::string, std::string> SplitDocument(const std::string& content) {
  const std::string open = "---\n";
  if (content.rfind(open, 0) != 0) return {"", content};
  const auto close = content.find("\n---\n", open.size());
  if (close == std::string::npos) return {"", content};
  const auto body = close + 5;
  return {content.substr(0, body), content.substr(body)};
}

std::set<std::string> Triggers(const std::string& header) {
  std::set<std::string> out;
  const auto at = header.find("\ntriggers:");
  if (at == std::string::npos) return out;
  const auto end = header.find('\n', at + 1);
  const json list = json::parse(header.substr(at + 10, end - at - 10), nullptr, false);
  if (list.is_array())
    for (const auto& t : list)
      if (t.is_string()) out.insert(t.get<std::string>());
  return out;
}

// The "$45"-like figures a body quotes.
std::set<std::string> Figures(const std::string& body) {
  std::set<std::string> out;
  for (std::size_t i = body.find('$'); i != std::string::npos; i = body.find('$', i + 1)) {
    std::size_t j = i + 1;
    while (j < body.size() && (std::isdigit(static_cast<unsigned char>(body[j])) || body[j] == '.'))
      ++j;
    if (j > i + 1) out.insert(body.substr(i, j - i));
  }
  return out;
}

}  // namespace

std::string ReviewAnswer(std::string_view input) {
  const json in = json::parse(input, nullptr, false);
  if (!in.is_object() || !in.contains("documents") || !in["documents"].is_array() ||
      !in.contains("cases") || !in["cases"].is_array())
    return "{}";
  struct Doc {
    std::string id, header, body;
  };
  std::vector<Doc> docs;
  for (const auto& d : in["documents"]) {
    if (!d.is_object() || !d.value("id", json()).is_string() ||
        !d.value("content", json()).is_string())
      return "{}";
    auto [header, body] = SplitDocument(d["content"].get<std::string>());
    docs.push_back({d["id"].get<std::string>(), std::move(header), std::move(body)});
  }
  json proposals = json::array();
  for (const auto& doc : docs) {
    std::string correction;
    json ids = json::array();
    for (const auto& c : in["cases"]) {
      if (!c.is_object() || c.value("sop_id", json()) != doc.id) continue;
      const json corr = c.value("correction", json());
      if (!corr.is_string() || corr.get<std::string>().empty() ||
          !c.value("id", json()).is_number_integer())
        continue;
      correction = corr.get<std::string>();  // the latest one wins: cases come oldest first
      ids.push_back(c["id"]);
    }
    if (ids.empty() || doc.header.empty()) continue;
    std::string body = correction;
    if (body.back() != '\n') body += '\n';
    if (body == doc.body) continue;
    std::string cited;
    for (const auto& id : ids) cited += (cited.empty() ? "" : ", ") + id.dump();
    proposals.push_back({{"document_id", doc.id},
                         {"content", doc.header + body},
                         {"reasoning", "Operators corrected the answer in case" +
                                           std::string(ids.size() > 1 ? "s " : " ") + cited +
                                           "; the body now says what they wrote."},
                         {"case_ids", ids}});
  }
  json conflicts = json::array();
  for (std::size_t a = 0; a < docs.size(); ++a)
    for (std::size_t b = a + 1; b < docs.size(); ++b) {
      const auto ta = Triggers(docs[a].header), tb = Triggers(docs[b].header);
      std::vector<std::string> shared;
      std::set_intersection(ta.begin(), ta.end(), tb.begin(), tb.end(), std::back_inserter(shared));
      const auto fa = Figures(docs[a].body), fb = Figures(docs[b].body);
      if (shared.empty() || fa.empty() || fb.empty() || fa == fb) continue;
      conflicts.push_back(
          {{"documents", {docs[a].id, docs[b].id}},
           {"reason", "Both answer \"" + shared.front() + "\" but quote different figures."}});
    }
  return json{{"proposals", proposals}, {"conflicts", conflicts}}.dump();
}

}  // namespace clubos::sim::detail
