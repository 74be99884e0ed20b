#include "workflows/router.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <sstream>
#include <string_view>

namespace clubos::workflows {
namespace {

// The phrase language (docs/configuration.md, `router`):
//   word       the word, and its plural when it has 3 letters or more (sim: sims, injury: injuries)
//   word*      any word that begins so (injur*: injured, injury, injuries)
//   word~      also a word one typo away: one letter changed, added, dropped or two swapped
//              (unconscious~: unconcious); marked word by word, because "fighting~" would also
//              be "lighting" and "fainted~" "painted"
//   a|b        either word
//   _          any one word
//   A & B      the runs of words A and B, each within kNearWords words of the first, either order
//              (chest & pain*: "chest pain", "pain in my chest")
// Texts and phrases are read the same way: lower case, accents folded (bahía: bahia), apostrophes
// dropped (can't: cant), digits apart from letters (bay3: bay 3), punctuation between words.
constexpr std::size_t kNearWords = 3;  // "hit in the head": two words between; "pain in my chest"
constexpr std::size_t kPluralMinLetters = 3;
constexpr std::size_t kTypoMinLetters = 5;  // a shorter word one typo away is another word

using Words = std::vector<std::string>;

struct Alternative {
  std::string word;
  bool prefix = false;
  bool typo = false;
  bool any = false;
};
using Slot = std::vector<Alternative>;  // one word: any of these
using Run = std::vector<Slot>;          // consecutive words
struct Phrase {
  std::vector<Run> runs;  // all of them, near each other
  std::string problem;    // why it cannot match, when it is malformed
};
struct Span {
  std::size_t begin, end;
};

// The second byte of a two-byte UTF-8 letter after 0xC3 (Latin-1: À..ÿ), folded to ASCII; 0 when
// it is not a letter with an accent.
char FoldLatin1(unsigned char second) {
  static constexpr char kFolded[] =  // 0x80 .. 0xBF
      "aaaaaa\0ceeeeiiii\0nooooo\0\0uuuuy\0\0aaaaaa\0ceeeeiiii\0nooooo\0\0uuuuy\0y";
  static_assert(sizeof(kFolded) == 0x40 + 1);
  if (second < 0x80 || second > 0xBF) return 0;
  return kFolded[second - 0x80];
}

// The bytes of the character a UTF-8 lead byte starts; 1 for a byte that starts none.
std::size_t Utf8Length(unsigned char lead) {
  if (lead >= 0xF8) return 1;
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

Words Tokenize(const std::string& text) {
  Words words;
  std::string w;
  auto flush = [&] {
    if (!w.empty()) words.push_back(std::move(w));
    w.clear();
  };
  auto letter = [&](char c) {  // digits and letters are separate words: "bay3", "7pm"
    const bool digit = c >= '0' && c <= '9';
    if (!w.empty() && digit != (w.back() >= '0' && w.back() <= '9')) flush();
    w += c;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (std::isalnum(c)) {
        letter(static_cast<char>(std::tolower(c)));
      } else if (c != '\'') {
        flush();
      }
      continue;
    }
    const std::size_t n = Utf8Length(c);
    if (n == 1 || i + n > text.size()) {  // not UTF-8: a separator
      flush();
      continue;
    }
    const unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
    if (c == 0xC3 && FoldLatin1(c1)) {
      letter(FoldLatin1(c1));
    } else if (c == 0xC3) {
      w.append(text, i, 2);  // æ, ø, ß: letters without an ASCII fold
    } else if (c == 0xC2 || (c == 0xE2 && c1 == 0x80)) {
      // Latin-1 and general punctuation (¿ ¡ « … – “), except the apostrophes phones type
      // (U+2018, U+2019), dropped like '.
      const bool apostrophe = c == 0xE2 && (static_cast<unsigned char>(text[i + 2]) == 0x98 ||
                                            static_cast<unsigned char>(text[i + 2]) == 0x99);
      if (!apostrophe) flush();
    } else {
      flush();  // an emoji or another script: a word of its own
      words.push_back(text.substr(i, n));
    }
    i += n - 1;
  }
  flush();
  return words;
}

Phrase Compile(const std::string& text) {
  Phrase p;
  std::istringstream in(text);
  Run run;
  auto end_run = [&] {
    if (run.empty())
      p.problem = "an empty side of '&'";
    else if (std::all_of(run.begin(), run.end(),
                         [](const Slot& s) { return s.size() == 1 && s[0].any; }))
      p.problem = "a run of '_' only matches anything";
    p.runs.push_back(std::move(run));
    run.clear();
  };
  for (std::string token; in >> token;) {
    if (token == "&") {
      end_run();
      continue;
    }
    Slot slot;
    std::istringstream alts(token);
    for (std::string alt; std::getline(alts, alt, '|');) {
      Alternative a;
      if (alt == "_") {
        a.any = true;
        slot.push_back(a);
        continue;
      }
      if (!alt.empty() && alt.back() == '~') {
        a.typo = true;
        alt.pop_back();
      }
      if (!alt.empty() && alt.back() == '*') {
        a.prefix = true;
        alt.pop_back();
      }
      const Words w = Tokenize(alt);
      if (w.size() != 1) {
        p.problem = "'" + alt + "' is not one word (write words apart, alternatives with '|')";
        continue;
      }
      a.word = w[0];
      if (a.typo && a.word.size() < kTypoMinLetters)
        p.problem = "'" + a.word + "~': a shorter word one typo away is another word";
      slot.push_back(a);
    }
    if (slot.empty()) p.problem = "'" + token + "' has no word";
    run.push_back(std::move(slot));
  }
  end_run();
  return p;
}

// One letter changed, added or dropped, or two neighbours swapped.
bool OneTypoApart(std::string_view a, std::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  if (b.size() - a.size() > 1) return false;
  std::size_t i = 0;
  while (i < a.size() && a[i] == b[i]) ++i;
  if (a.size() == b.size()) {
    if (i == a.size()) return false;  // equal: not a typo
    if (a.substr(i + 1) == b.substr(i + 1)) return true;
    return i + 1 < a.size() && a[i] == b[i + 1] && a[i + 1] == b[i] &&
           a.substr(i + 2) == b.substr(i + 2);
  }
  return a.substr(i) == b.substr(i + 1);
}

bool Plural(const std::string& word, const std::string& w) {
  if (word.size() < kPluralMinLetters || w.size() <= word.size()) return false;
  if (w.compare(0, word.size(), word) == 0) {
    const std::string_view rest = std::string_view(w).substr(word.size());
    return rest == "s" || rest == "es";
  }
  return word.back() == 'y' && w.size() == word.size() + 2 &&
         w.compare(0, word.size() - 1, word, 0, word.size() - 1) == 0 &&
         w.compare(word.size() - 1, 3, "ies") == 0;
}

bool AlternativeMatches(const Alternative& a, const std::string& w) {
  if (w.empty()) return false;  // read past
  if (a.any) return true;
  if (a.prefix) {
    if (w.compare(0, a.word.size(), a.word) == 0) return true;
    if (!a.typo) return false;
    for (std::size_t n = a.word.size() - 1; n <= a.word.size() + 1 && n <= w.size(); ++n)
      if (OneTypoApart(std::string_view(w).substr(0, n), a.word)) return true;
    return false;
  }
  return w == a.word || Plural(a.word, w) || (a.typo && OneTypoApart(w, a.word));
}

bool RunAt(const Run& run, const Words& words, std::size_t at) {
  if (at + run.size() > words.size()) return false;
  for (std::size_t k = 0; k < run.size(); ++k)
    if (std::none_of(run[k].begin(), run[k].end(),
                     [&](const Alternative& a) { return AlternativeMatches(a, words[at + k]); }))
      return false;
  return true;
}

// The words between two spans that do not overlap; nullopt when they do.
std::optional<std::size_t> Gap(Span a, Span b) {
  if (b.begin >= a.end) return b.begin - a.end;
  if (a.begin >= b.end) return a.begin - b.end;
  return std::nullopt;
}

// Every occurrence of the phrase (at most `limit`), as the spans of its runs.
std::vector<std::vector<Span>> Find(const Phrase& p, const Words& words, std::size_t limit) {
  std::vector<std::vector<Span>> found;
  if (!p.problem.empty()) return found;
  std::vector<std::vector<Span>> at(p.runs.size());
  for (std::size_t r = 0; r < p.runs.size(); ++r)
    for (std::size_t i = 0; i < words.size(); ++i)
      if (RunAt(p.runs[r], words, i)) at[r].push_back({i, i + p.runs[r].size()});
  for (const Span first : at[0]) {
    std::vector<Span> spans = {first};
    for (std::size_t r = 1; r < p.runs.size() && spans.size() == r; ++r)
      for (const Span s : at[r]) {
        const auto gap = Gap(first, s);
        const bool clear = std::all_of(spans.begin(), spans.end(),
                                       [&](Span taken) { return Gap(taken, s).has_value(); });
        if (gap && *gap <= kNearWords && clear) {
          spans.push_back(s);
          break;
        }
      }
    if (spans.size() == p.runs.size()) found.push_back(spans);
    if (found.size() >= limit) break;
  }
  return found;
}

bool Has(const Words& words, const std::string& phrase) {
  return !Find(Compile(phrase), words, 1).empty();
}

// The words of the text the first phrase that occurs matched ("chest pain" for "chest & pain*"),
// for the flags that say why.
std::optional<std::string> Matched(const Words& words, const std::vector<std::string>& phrases) {
  for (const auto& p : phrases) {
    const auto found = Find(Compile(p), words, 1);
    if (found.empty()) continue;
    std::vector<Span> spans = found[0];
    std::sort(spans.begin(), spans.end(), [](Span x, Span y) { return x.begin < y.begin; });
    std::string what;
    for (const Span s : spans)
      for (std::size_t i = s.begin; i < s.end; ++i) what += (what.empty() ? "" : " ") + words[i];
    return what;
  }
  return std::nullopt;
}

bool HasAny(const Words& words, const std::vector<std::string>& phrases) {
  return std::any_of(phrases.begin(), phrases.end(),
                     [&](const std::string& p) { return Has(words, p); });
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
  static const std::array<const char*, 12> markers = {"bay",      "box",   "sim",     "simulator",
                                                      "trackman", "tm",    "station", "room",
                                                      "bahia",    "bahía", "baie",    "number"};
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

Intent PatternRouter::Route(const std::vector<std::string>& texts, const FaqTable& faq) const {
  std::string joined;
  for (const auto& t : texts) joined += t + "\n";
  Words n = Tokenize(joined);
  Intent intent;
  std::string padded = " ";
  for (const auto& w : n) padded += w + " ";
  intent.bay = ExtractBay(padded);

  // "not an emergency", "nobody got hurt", "help with my booking": read past by every list.
  for (const auto& phrase : config_.read_past)
    for (const auto& spans : Find(Compile(phrase), n, n.size()))
      for (const Span s : spans)
        for (std::size_t i = s.begin; i < s.end; ++i) n[i].clear();

  for (const auto& phrase : config_.emergency)
    if (const auto what = Matched(n, {phrase})) intent.flags.push_back("emergency:" + *what);
  if (!intent.flags.empty()) {
    intent.category = "emergency";
    intent.confidence = 0.95;
    intent.must_escalate = "emergency";
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
  // "help!", "please help us": about nothing the router knows, a call for help is taken for an
  // emergency, unsure (a false alarm is cheaper than a miss; "help, the trackman froze" is not).
  if (const auto plea = Matched(n, config_.plea); plea && best == 0) {
    intent.category = "emergency";
    intent.confidence = 0.6;
    intent.must_escalate = "emergency";
    intent.flags.push_back("plea:" + *plea);
    return intent;
  }
  const auto positive = Matched(n, config_.positive);
  if (positive) intent.flags.push_back("positive:" + *positive);

  // What it asks for, only within its category.
  for (const auto& [action, pattern] : config_.actions)
    if (pattern.category == intent.category && intent.action.empty() && HasAny(n, pattern.any))
      intent.action = action;
  if (intent.category == "faq") {
    for (const auto& [topic, entry] : faq)
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
  if (const auto human = Matched(n, config_.human)) {
    intent.flags.push_back("human:" + *human);
    if (intent.must_escalate.empty()) intent.must_escalate = "operator_requested";
  }
  if (!intent.must_escalate.empty()) intent.action.clear();
  return intent;
}

bool PhraseMatches(const std::string& phrase, const std::string& text) {
  return Has(Tokenize(text), phrase);
}

std::string PhraseProblem(const std::string& phrase) {
  return Compile(phrase).problem;
}

}  // namespace clubos::workflows
