#pragma once
// The knowledge store in Postgres (migration 0014): import a folder of knowledge files as new
// versions in one transaction, export the active versions, retrieve the entries relevant to a
// customer's text. Nothing here ever deactivates a document: a document missing from an imported
// folder is left as it is, and said to be.
#include <cstdint>
#include <string>
#include <vector>

#include "workflows/knowledge.h"

namespace clubos::store {
class Connection;
class Result;
class Tx;
}  // namespace clubos::store

namespace clubos::workflows {

// A file of a knowledge folder: its name (no directory) and its bytes.
struct KnowledgeFile {
  std::string name;
  std::string content;
};

// Every `*.md` file directly in `dir`, by name. Throws std::runtime_error when the folder cannot
// be read, and on a subfolder or a file over kMaxKnowledgeFileBytes.
std::vector<KnowledgeFile> ReadKnowledgeFolder(const std::string& dir);

struct ImportedDocument {
  std::string id;
  std::string file;
  std::string outcome;  // added | changed | unchanged
  int version = 0;      // the active version after the import
  int was_version = 0;  // before it (0 when added)
};
struct ImportReport {
  std::vector<ImportedDocument> documents;  // by id
  // Documents in the store that the folder does not have: left active, never deactivated.
  std::vector<std::string> left_alone;
  int Count(const std::string& outcome) const;
};

struct ImportOptions {
  std::string author = "import";
  // When not empty, every location an entry names must be one of these (the config's).
  std::vector<std::string> known_locations;
};

// Parses every file first: any problem in any file throws KnowledgeFormatError listing them all,
// and nothing is written. Then, in one transaction: a file equal to its document's active version
// changes nothing; a changed file becomes a new version, made active; a new id becomes a document.
ImportReport ImportKnowledge(store::Connection& db, const std::vector<KnowledgeFile>& files,
                             const ImportOptions& options = {});
// The same within the caller's transaction, which commits it or not (`clubos bench router`
// measures retrieval over synthetic documents it then rolls back).
ImportReport ImportKnowledge(store::Tx& tx, const std::vector<KnowledgeFile>& files,
                             const ImportOptions& options = {});

struct StoredKnowledge {
  KnowledgeEntry entry;
  int version = 0;
};
// Every document's active version, by id.
std::vector<StoredKnowledge> ActiveKnowledge(store::Connection& db);
std::vector<StoredKnowledge> ActiveKnowledge(store::Tx& tx);

struct ExportReport {
  std::vector<std::string> written;     // file names, by id
  std::vector<std::string> left_alone;  // *.md files already in the folder that are no document
};
// Writes every active document to `dir` (created if missing) as <id>.md in canonical form, each
// file replaced whole (written beside it, then renamed). Other files are not touched.
ExportReport ExportKnowledge(store::Connection& db, const std::string& dir);

struct RetrievedKnowledge {
  std::string id;
  int version = 0;
  std::string title;
  std::string category;
  std::string action;
  std::string body;
  double score = 0;      // text_rank + 0.3 trigram + kTriggerBonus when a trigger matched
  double text_rank = 0;  // full-text rank, 0..1
  double trigram = 0;    // trigram word similarity, 0..1
  bool trigger_matched = false;
};

struct RetrieveOptions {
  int k = 3;
  // Whether a trigger phrase of an entry that holds in the text (workflows::PhraseMatches) adds
  // to its score. Off only to measure what Postgres's ranking does alone.
  bool trigger_phrases = true;
};
inline constexpr int kMaxRetrieved = 20;
// What a matching trigger phrase adds: more than text_rank + 0.3 trigram can reach (1.3), so a
// phrase the facility wrote for an entry outranks words the entry merely shares with the text.
inline constexpr double kTriggerBonus = 1.5;

// The `options.k` active entries for `location` most relevant to `text`, best first, each with
// its score; fewer (or none) when fewer share anything with the text. One query.
std::vector<RetrievedKnowledge> RetrieveKnowledge(store::Connection& db,
                                                  const std::string& location,
                                                  const std::string& text,
                                                  const RetrieveOptions& options = {});
std::vector<RetrievedKnowledge> RetrieveKnowledge(store::Tx& tx, const std::string& location,
                                                  const std::string& text,
                                                  const RetrieveOptions& options = {});

// How the store's rows carry an entry: a text[] literal ({"a","b \"c\""}, pqxx 6 has no array
// parameters), a text[] in the text form Postgres gives back, and an entry read off row `row` of a
// result with the columns of knowledge_active_all.
std::string KnowledgeTextArray(const std::vector<std::string>& items);
std::vector<std::string> ParseKnowledgeTextArray(const std::string& s);
KnowledgeEntry KnowledgeEntryOf(const store::Result& r, std::size_t row);

}  // namespace clubos::workflows
