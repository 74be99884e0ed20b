#include "workflows/router.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <sstream>

namespace clubos::workflows {
namespace {

bool Has(const std::string& normalized, const std::string& phrase) {
  return normalized.find(NormalizeForMatching(phrase)) != std::string::npos;
}

bool HasAny(const std::string& normalized, const std::vector<std::string>& phrases,
            std::string* which = nullptr) {
  for (const auto& p : phrases)
    if (Has(normalized, p)) {
      if (which) *which = p;
      return true;
    }
  return false;
}

std::optional<int> NumberWord(const std::string& w) {
  static const std::array<const char*, 13> words = {"zero", "one",    "two",   "three", "four",
                                                    "five", "six",    "seven", "eight", "nine",
                                                    "ten",  "eleven", "twelve"};
  for (std::size_t i = 0; i < words.size(); ++i)
    if (w == words[i]) return static_cast<int>(i);
  if (!w.empty() && w.size() <= 3 &&
      std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::stoi(w);
  return std::nullopt;
}

}  // namespace

std::string NormalizeForMatching(const std::string& text) {
  std::string out = " ";
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    // U+2019 (’) is the apostrophe phones type: e2 80 99.
    if (c == 0xe2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
        static_cast<unsigned char>(text[i + 2]) == 0x99) {
      out += '\'';
      i += 2;
    } else if (std::isalnum(c) || c == '\'' || c >= 0x80) {
      out += static_cast<char>(std::tolower(c));
    } else if (out.back() != ' ') {
      out += ' ';
    }
  }
  if (out.back() != ' ') out += ' ';
  return out;
}

std::optional<int> ExtractBay(const std::string& normalized) {
  static const std::array<const char*, 11> markers = {"bay",      "box",   "sim",     "simulator",
                                                      "trackman", "tm",    "station", "room",
                                                      "bahia",    "bahía", "number"};
  std::istringstream in(normalized);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (std::find(markers.begin(), markers.end(), words[i]) == markers.end()) continue;
    std::string next = words[i + 1];
    if (next == "no" || next == "number" || next == "nr") {
      if (i + 2 >= words.size()) continue;
      next = words[i + 2];
    }
    if (auto n = NumberWord(next)) return n;
  }
  return std::nullopt;
}

std::optional<bool> ParseConfirmation(const std::string& text) {
  // The whole reply must be a yes or a no: "not sure", "yes but the door is broken too" or
  // "ok no worries" are not answers to "Reply YES to ...", and go to the router instead.
  static const std::array<const char*, 23> yes = {
      "yes",       "y",           "yep",          "yeah",          "yup",    "ok",
      "okay",      "sure",        "yes please",   "ok do it",      "do it",  "go ahead",
      "please do", "confirm",     "yes thanks",   "yes thank you", "si",     "sí",
      "yes do it", "ok go ahead", "yes go ahead", "ok please",     "yes pls"};
  static const std::array<const char*, 14> no = {
      "no",   "n",    "nope",   "nah",     "no thanks", "no thank you", "don't",
      "dont", "stop", "cancel", "not now", "no don't",  "don't do it",  "dont do it"};
  std::string n = NormalizeForMatching(text);
  n = n.substr(1, n.size() - 2);  // the padding
  for (const char* w : yes)
    if (n == w) return true;
  for (const char* w : no)
    if (n == w) return false;
  return std::nullopt;
}

Intent PatternRouter::Route(const std::vector<std::string>& texts) const {
  std::string joined;
  for (const auto& t : texts) joined += t + "\n";
  const std::string n = NormalizeForMatching(joined);
  Intent intent;
  intent.bay = ExtractBay(n);

  std::string hit;
  if (HasAny(n, config_.emergency, &hit)) {
    intent.category = "emergency";
    intent.confidence = 0.95;
    intent.must_escalate = "emergency";
    intent.flags.push_back("emergency:" + hit);
    return intent;  // nothing else matters
  }

  // Category by weighted phrases.
  std::map<std::string, double> score;
  for (const auto& [category, phrases] : config_.categories)
    for (const auto& [phrase, weight] : phrases)
      if (Has(n, phrase)) score[category] += weight;
  double best = 0, second = 0;
  for (const auto& [category, s] : score) {
    if (s > best) {
      second = best;
      best = s;
      intent.category = category;
    } else if (s > second) {
      second = s;
    }
  }
  const bool positive = HasAny(n, config_.positive, &hit);
  if (positive) intent.flags.push_back("positive:" + hit);

  // What it asks for, only within its category.
  for (const auto& [action, pattern] : config_.actions)
    if (pattern.category == intent.category && intent.action.empty() && HasAny(n, pattern.any))
      intent.action = action;
  if (intent.category == "faq") {
    for (const auto& [topic, entry] : config_.faq)
      if (HasAny(n, entry.match)) {
        intent.action = "answer";
        intent.faq_topic = topic;
        break;
      }
  }
  // "the trackman has been great today, thanks!" is not a fault report; "thanks, but it froze
  // again" is.
  if (positive && !HasAny(n, config_.problem) && intent.action != "answer") {
    intent.action.clear();
    intent.category = "faq";
  }
  intent.confidence = best == 0 ? 0.0 : std::clamp(0.5 + 0.12 * best - 0.1 * second, 0.0, 0.99);

  // Things no automation may touch, whatever else the message says.
  for (const auto& [topic, phrases] : config_.sensitive)
    if (HasAny(n, phrases)) {
      intent.flags.push_back("sensitive:" + topic);
      intent.must_escalate = "policy_denied";
    }
  if (HasAny(n, config_.human, &hit)) {
    intent.flags.push_back("human:" + hit);
    if (intent.must_escalate.empty()) intent.must_escalate = "operator_requested";
  }
  if (!intent.must_escalate.empty()) intent.action.clear();
  return intent;
}

}  // namespace clubos::workflows
