#pragma once
// A knowledge entry (an SOP or an FAQ answer) as a markdown file with a small header, and back.
// Pure: no I/O. The format (docs/knowledge.md):
//
//   ---
//   id: faq.price
//   title: Prices
//   category: faq
//   locations: all
//   triggers: ["how much", "price*|pricing"]
//   action: answer
//   fallback: escalate
//   requires: []
//   timeout_ms: 120000
//   ---
//   Bays are $45/hour before 5pm and $60/hour after, up to 4 players per bay.
//
// The header is a strict subset of YAML: one `key: value` per line, each key once, no comments,
// no nesting. A value is a bare word, a "quoted string" (only \" and \\ escapes), or a list
// `[a, "b c"]` on one line. Keys may come in any order and `timeout_ms` may be left out; the
// canonical form (what Serialize writes) has the keys in the order above, triggers quoted,
// identifiers bare, and the body ending in exactly one newline. Parse then Serialize gives back a
// canonical file byte for byte.
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace clubos::workflows {

struct KnowledgeEntry {
  std::string id;                      // [a-z0-9][a-z0-9._-]*; the file is <id>.md
  std::string title;                   // one line
  std::string category;                // tech | access | booking | faq | emergency
  std::vector<std::string> locations;  // location ids, or exactly {"all"}
  std::vector<std::string> triggers;   // phrases in the router's language (PhraseProblem)
  std::string action;                  // answer | reset_trackman | unlock_door | none
  std::string fallback;                // escalate | none: what happens when the action fails
  std::vector<std::string> requires_;  // active_booking | bay_named | customer_confirmed
  std::optional<int> timeout_ms;       // how long the action may take before the fallback
  std::string body;                    // markdown; for action "answer", the text sent verbatim

  bool operator==(const KnowledgeEntry&) const = default;
  bool AppliesTo(const std::string& location) const;
};

// What is wrong with a file, where: file name, 1-based line (0: the file as a whole), field.
struct KnowledgeProblem {
  std::string file;
  int line = 0;
  std::string field;  // "" when the problem is not one field's
  std::string message;
  std::string Describe() const;  // "faq.price.md:4: category: ..." (the form compilers use)
};

class KnowledgeFormatError : public std::runtime_error {
 public:
  explicit KnowledgeFormatError(std::vector<KnowledgeProblem> problems);
  const std::vector<KnowledgeProblem>& problems() const { return problems_; }

 private:
  std::vector<KnowledgeProblem> problems_;
};

// The closed vocabularies of the header, in the order docs/knowledge.md lists them.
const std::vector<std::string>& KnowledgeCategories();
const std::vector<std::string>& KnowledgeActions();
const std::vector<std::string>& KnowledgeFallbacks();
const std::vector<std::string>& KnowledgePrerequisites();

// Bounds with their units: a header line, a body and a timeout far beyond any real entry.
inline constexpr std::size_t kMaxKnowledgeFileBytes = 64 * 1024;
inline constexpr int kMaxKnowledgeTimeoutMs = 24 * 60 * 60 * 1000;

// Parses the file `file_name` (which must be <id>.md). Throws KnowledgeFormatError with every
// problem found, each naming the file, line and field.
KnowledgeEntry ParseKnowledge(const std::string& file_name, const std::string& content);
// Every problem of an entry built in code (the same checks Parse makes), with `file_name` for
// context; empty when it is well formed.
std::vector<KnowledgeProblem> ValidateKnowledge(const KnowledgeEntry& entry,
                                                const std::string& file_name);
// The canonical file of a well-formed entry.
std::string SerializeKnowledge(const KnowledgeEntry& entry);
// "<id>.md"
std::string KnowledgeFileName(const std::string& id);

}  // namespace clubos::workflows
