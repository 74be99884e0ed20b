#include "workflows/knowledge.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <set>
#include <sstream>

#include "core/text.h"
#include "workflows/router.h"

namespace clubos::workflows {
namespace {

// The header's keys in canonical order; the first six must be present.
constexpr std::array kKeys = {"id",       "title",    "category", "locations", "action",
                              "fallback", "triggers", "requires", "timeout_ms"};
constexpr std::size_t kRequiredKeys = 6;
// Canonical order of the written header (the order a reader wants: what it is, where, when, what).
constexpr std::array kCanonicalOrder = {"id",     "title",    "category", "locations", "triggers",
                                        "action", "fallback", "requires", "timeout_ms"};
constexpr const char* kFence = "---";

bool Contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

std::string Join(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& s : list) out += (out.empty() ? "" : ", ") + s;
  return out;
}

bool IsIdentifier(const std::string& s, bool dots) {
  if (s.empty() || !(std::islower(static_cast<unsigned char>(s[0])) || std::isdigit(s[0])))
    return false;
  return std::all_of(s.begin(), s.end(), [dots](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
           (dots && c == '.');
  });
}

std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// A value of the header, before it is given a meaning.
struct Value {
  bool list = false;
  std::vector<std::string> items;  // one item for a scalar
};

// "a \"b\"" -> a "b"; the position after the closing quote in `end`. Throws std::string.
std::string Unquote(const std::string& s, std::size_t start, std::size_t& end) {
  std::string out;
  for (std::size_t i = start + 1; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') {
      end = i + 1;
      return out;
    }
    if (static_cast<unsigned char>(c) < 0x20) throw std::string("a control character in a string");
    if (c == '\\') {
      if (i + 1 >= s.size() || (s[i + 1] != '"' && s[i + 1] != '\\'))
        throw std::string("only \\\" and \\\\ are escapes in a string");
      out += s[++i];
      continue;
    }
    out += c;
  }
  throw std::string("a string without its closing quote");
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

Value ParseValue(const std::string& raw) {
  Value v;
  if (raw.empty()) throw std::string("no value");
  if (raw[0] == '"') {
    std::size_t end = 0;
    v.items.push_back(Unquote(raw, 0, end));
    if (end != raw.size()) throw std::string("text after the closing quote");
    return v;
  }
  if (raw[0] != '[') {
    v.items.push_back(raw);
    return v;
  }
  v.list = true;
  if (raw.back() != ']') throw std::string("a list must end with ] on the same line");
  const std::string inner = Trim(raw.substr(1, raw.size() - 2));
  if (inner.empty()) return v;
  std::size_t i = 0;
  for (;;) {
    while (i < inner.size() && inner[i] == ' ') ++i;
    if (i >= inner.size()) throw std::string("an empty item in the list");
    if (inner[i] == '"') {
      std::size_t end = 0;
      v.items.push_back(Unquote(inner, i, end));
      i = end;
      while (i < inner.size() && inner[i] == ' ') ++i;
    } else {
      const auto comma = inner.find(',', i);
      const std::string item =
          Trim(inner.substr(i, comma == std::string::npos ? std::string::npos : comma - i));
      if (item.empty()) throw std::string("an empty item in the list");
      if (item.find_first_of("\"[]") != std::string::npos)
        throw std::string("item '" + item + "' holds a quote or bracket: quote the whole item");
      v.items.push_back(item);
      i = comma == std::string::npos ? inner.size() : comma;
    }
    if (i >= inner.size()) return v;
    if (inner[i] != ',') throw std::string("items of a list are separated by commas");
    ++i;
  }
}

// A scalar may be written bare when reading it back bare gives the same text.
std::string Scalar(const std::string& s) {
  const bool bare = !s.empty() && s[0] != '"' && s[0] != '[' && Trim(s) == s;
  return bare ? s : Quote(s);
}

std::string BareList(const std::vector<std::string>& items) {
  return "[" + Join(items) + "]";
}

std::string QuotedList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + Quote(items[i]);
  return out + "]";
}

struct Checker {
  std::string file;
  std::map<std::string, int> lines;  // key -> its line (0 when absent)
  std::vector<KnowledgeProblem> problems;
  void Add(const std::string& field, std::string message) {
    const auto it = lines.find(field);
    problems.push_back({file, it == lines.end() ? 0 : it->second, field, std::move(message)});
  }
};

void CheckEntry(const KnowledgeEntry& e, Checker& c) {
  if (!IsIdentifier(e.id, true))
    c.Add("id", "'" + e.id + "' is not an id (lower-case letters, digits, . _ -)");
  else if (c.file != KnowledgeFileName(e.id))
    c.Add("id", "the file of id '" + e.id + "' must be named " + KnowledgeFileName(e.id));
  if (e.title.empty() || e.title.find('\n') != std::string::npos || !IsValidText(e.title))
    c.Add("title", "a title is one non-empty line of text");
  if (!Contains(KnowledgeCategories(), e.category))
    c.Add("category", "'" + e.category + "' is not one of " + Join(KnowledgeCategories()));
  if (e.locations.empty()) c.Add("locations", "name the locations, or write `locations: all`");
  std::set<std::string> seen;
  for (const auto& l : e.locations) {
    if (l == "all" && e.locations.size() > 1)
      c.Add("locations", "`all` stands alone: write `locations: all`");
    else if (!IsIdentifier(l, false))
      c.Add("locations", "'" + l + "' is not a location id");
    if (!seen.insert(l).second) c.Add("locations", "'" + l + "' twice");
  }
  seen.clear();
  for (const auto& t : e.triggers) {
    const std::string problem = PhraseProblem(t);
    if (!problem.empty()) c.Add("triggers", "\"" + t + "\": " + problem);
    if (!seen.insert(t).second) c.Add("triggers", "\"" + t + "\" twice");
  }
  if (!Contains(KnowledgeActions(), e.action))
    c.Add("action", "'" + e.action + "' is not one of " + Join(KnowledgeActions()));
  else if (e.action == "reset_trackman" && e.category != "tech")
    c.Add("action", "reset_trackman is a tech action (category is " + e.category + ")");
  else if (e.action == "unlock_door" && e.category != "access")
    c.Add("action", "unlock_door is an access action (category is " + e.category + ")");
  if (!Contains(KnowledgeFallbacks(), e.fallback))
    c.Add("fallback", "'" + e.fallback + "' is not one of " + Join(KnowledgeFallbacks()));
  seen.clear();
  for (const auto& r : e.requires_) {
    if (!Contains(KnowledgePrerequisites(), r))
      c.Add("requires", "'" + r + "' is not one of " + Join(KnowledgePrerequisites()));
    if (!seen.insert(r).second) c.Add("requires", "'" + r + "' twice");
  }
  if (e.timeout_ms && (*e.timeout_ms <= 0 || *e.timeout_ms > kMaxKnowledgeTimeoutMs))
    c.Add("timeout_ms", "must be 1.." + std::to_string(kMaxKnowledgeTimeoutMs));
  const int body_line = c.lines.count("") ? c.lines.at("") : 0;
  auto body_problem = [&](std::string m) {
    c.problems.push_back({c.file, body_line, "body", std::move(m)});
  };
  if (e.body.empty() || e.body.back() != '\n' || Trim(e.body).empty() ||
      e.body.find_first_not_of("\n") != 0 ||
      (e.body.size() >= 2 && e.body[e.body.size() - 2] == '\n'))
    body_problem("the body is text after the header, ending in one newline");
  else if (!IsValidText(e.body))
    body_problem("the body is not valid UTF-8 text");
  else if (e.body.find('\r') != std::string::npos)
    body_problem("carriage returns (CRLF line ends): save the file with LF line ends");
  else if (e.action == "answer" && Utf8Length(e.body) - 1 > kMaxSmsChars)
    body_problem("an answer is sent as one text: at most " + std::to_string(kMaxSmsChars) +
                 " characters");
}

}  // namespace

bool KnowledgeEntry::AppliesTo(const std::string& location) const {
  return Contains(locations, "all") || Contains(locations, location);
}

std::string KnowledgeProblem::Describe() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (!field.empty()) out += field + ": ";
  return out + message;
}

KnowledgeFormatError::KnowledgeFormatError(std::vector<KnowledgeProblem> problems)
    : std::runtime_error([&] {
        std::string what;
        for (const auto& p : problems) what += (what.empty() ? "" : "\n") + p.Describe();
        return what;
      }()),
      problems_(std::move(problems)) {}

const std::vector<std::string>& KnowledgeCategories() {
  static const std::vector<std::string> v = {"tech", "access", "booking", "faq", "emergency"};
  return v;
}
const std::vector<std::string>& KnowledgeActions() {
  static const std::vector<std::string> v = {"answer", "reset_trackman", "unlock_door", "none"};
  return v;
}
const std::vector<std::string>& KnowledgeFallbacks() {
  static const std::vector<std::string> v = {"escalate", "none"};
  return v;
}
const std::vector<std::string>& KnowledgePrerequisites() {
  static const std::vector<std::string> v = {"active_booking", "bay_named", "customer_confirmed"};
  return v;
}

std::string KnowledgeFileName(const std::string& id) {
  return id + ".md";
}

KnowledgeEntry ParseKnowledge(const std::string& file_name, const std::string& content) {
  Checker c;
  c.file = file_name;
  auto fail = [&](int line, const std::string& field, const std::string& message) {
    c.problems.push_back({file_name, line, field, message});
    throw KnowledgeFormatError(c.problems);
  };
  if (content.size() > kMaxKnowledgeFileBytes)
    fail(0, "", "larger than " + std::to_string(kMaxKnowledgeFileBytes) + " bytes");
  if (content.find('\r') != std::string::npos)
    fail(0, "", "carriage returns (CRLF line ends): save the file with LF line ends");
  std::vector<std::string> lines;
  {
    std::istringstream in(content);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
  }
  if (lines.empty() || lines[0] != kFence) fail(1, "", "a knowledge file starts with a --- line");
  std::size_t close = 0;
  for (std::size_t i = 1; i < lines.size() && !close; ++i)
    if (lines[i] == kFence) close = i;
  if (!close) fail(1, "", "the header has no closing --- line");

  KnowledgeEntry e;
  std::set<std::string> present;
  for (std::size_t i = 1; i < close; ++i) {
    const int n = static_cast<int>(i) + 1;
    const std::string& line = lines[i];
    const auto colon = line.find(':');
    const std::string key = colon == std::string::npos ? "" : line.substr(0, colon);
    if (Trim(line).empty()) {
      c.problems.push_back({file_name, n, "", "a blank line in the header"});
      continue;
    }
    if (line[0] == '#') {
      c.problems.push_back(
          {file_name, n, "", "comments are not kept in the header; write notes in the body"});
      continue;
    }
    if (key.empty() || !IsIdentifier(key, false) ||
        (colon + 1 < line.size() && line[colon + 1] != ' ')) {
      c.problems.push_back({file_name, n, "", "a header line is `key: value`"});
      continue;
    }
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      c.problems.push_back({file_name, n, key, "unknown field"});
      continue;
    }
    if (!present.insert(key).second) {
      c.problems.push_back({file_name, n, key, "given twice"});
      continue;
    }
    c.lines[key] = n;
    Value v;
    try {
      v = ParseValue(Trim(line.substr(colon + 1)));
    } catch (const std::string& why) {
      c.problems.push_back({file_name, n, key, why});
      continue;
    }
    const bool list_field = key == "triggers" || key == "requires" || key == "locations";
    if (list_field && !v.list &&
        !(key == "locations" && v.items == std::vector<std::string>{"all"})) {
      c.problems.push_back(
          {file_name, n, key,
           key == "locations" ? "a list [a, b] or `all`" : "a list: [a, b], or [] for none"});
      continue;
    }
    if (!list_field && v.list) {
      c.problems.push_back({file_name, n, key, "one value, not a list"});
      continue;
    }
    if (key == "locations" && v.list && Contains(v.items, "all")) {
      c.problems.push_back({file_name, n, key, "`all` stands alone: write `locations: all`"});
      continue;
    }
    const std::string& s = v.items.empty() ? "" : v.items[0];
    if (key == "id")
      e.id = s;
    else if (key == "title")
      e.title = s;
    else if (key == "category")
      e.category = s;
    else if (key == "locations")
      e.locations = v.items;
    else if (key == "triggers")
      e.triggers = v.items;
    else if (key == "action")
      e.action = s;
    else if (key == "fallback")
      e.fallback = s;
    else if (key == "requires")
      e.requires_ = v.items;
    else if (key == "timeout_ms") {
      // Digits only, no leading zero: what is read is what is written back.
      const bool digits = !s.empty() && s.size() <= 9 && s[0] != '0' &&
                          std::all_of(s.begin(), s.end(), [](char ch) { return std::isdigit(ch); });
      if (!digits) {
        c.problems.push_back({file_name, n, key, "a whole number of milliseconds"});
        continue;
      }
      e.timeout_ms = std::stoi(s);
    }
  }
  for (std::size_t k = 0; k < kRequiredKeys; ++k)
    if (!present.count(kKeys[k]))
      c.problems.push_back({file_name, static_cast<int>(close) + 1, kKeys[k], "missing"});

  // The body: blank lines around it dropped, one newline at its end.
  std::size_t first = close + 1;
  while (first < lines.size() && Trim(lines[first]).empty()) ++first;
  std::size_t last = lines.size();
  while (last > first && Trim(lines[last - 1]).empty()) --last;
  for (std::size_t i = first; i < last; ++i) e.body += lines[i] + "\n";
  if (e.body.empty())
    c.problems.push_back({file_name, static_cast<int>(close) + 1, "body",
                          "the body is empty: write the answer or procedure"});
  // What the fields say, for every field that could be read: all of a file's problems at once.
  std::set<std::string> unread;
  for (const auto& p : c.problems) unread.insert(p.field);
  Checker meaning;
  meaning.file = file_name;
  meaning.lines = c.lines;
  meaning.lines[""] = static_cast<int>(first) + 1;
  CheckEntry(e, meaning);
  for (auto& p : meaning.problems)
    if (!unread.count(p.field)) c.problems.push_back(std::move(p));
  std::stable_sort(c.problems.begin(), c.problems.end(),
                   [](const auto& a, const auto& b) { return a.line < b.line; });
  if (!c.problems.empty()) throw KnowledgeFormatError(c.problems);
  return e;
}

std::vector<KnowledgeProblem> ValidateKnowledge(const KnowledgeEntry& entry,
                                                const std::string& file_name) {
  Checker c;
  c.file = file_name;
  CheckEntry(entry, c);
  return c.problems;
}

std::string SerializeKnowledge(const KnowledgeEntry& e) {
  const auto problems = ValidateKnowledge(e, KnowledgeFileName(e.id));
  if (!problems.empty()) throw KnowledgeFormatError(problems);
  std::string out = std::string(kFence) + "\n";
  for (const char* key : kCanonicalOrder) {
    const std::string k = key;
    std::string value;
    if (k == "id")
      value = e.id;
    else if (k == "title")
      value = Scalar(e.title);
    else if (k == "category")
      value = e.category;
    else if (k == "locations")
      value = e.locations == std::vector<std::string>{"all"} ? "all" : BareList(e.locations);
    else if (k == "triggers")
      value = QuotedList(e.triggers);
    else if (k == "action")
      value = e.action;
    else if (k == "fallback")
      value = e.fallback;
    else if (k == "requires")
      value = BareList(e.requires_);
    else if (k == "timeout_ms") {
      if (!e.timeout_ms) continue;
      value = std::to_string(*e.timeout_ms);
    }
    out += k + ": " + value + "\n";
  }
  return out + kFence + "\n" + e.body;
}

}  // namespace clubos::workflows
