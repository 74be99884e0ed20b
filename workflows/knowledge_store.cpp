#include "workflows/knowledge_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/assert.h"
#include "store/db.h"
#include "workflows/router.h"

namespace clubos::workflows {

namespace fs = std::filesystem;

// {"a","b \"c\""}: a Postgres text[] literal (pqxx 6 has no array parameters).
std::string KnowledgeTextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += i ? ",\"" : "\"";
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// The text form Postgres gives a text[] (`{all}`, `{"how much",price*|pricing}`) back as items.
std::vector<std::string> ParseKnowledgeTextArray(const std::string& s) {
  CLUBOS_ASSERT(s.size() >= 2 && s.front() == '{' && s.back() == '}', "a text[] in its text form");
  std::vector<std::string> out;
  std::size_t i = 1;
  const std::size_t end = s.size() - 1;
  while (i < end) {
    std::string item;
    if (s[i] == '"') {
      for (++i; i < end && s[i] != '"'; ++i) {
        if (s[i] == '\\') ++i;
        item += s[i];
      }
      ++i;  // the closing quote
    } else {
      while (i < end && s[i] != ',') item += s[i++];
      CLUBOS_ASSERT(item != "NULL", "the columns are arrays of non-null text");
    }
    out.push_back(std::move(item));
    if (i < end) {
      CLUBOS_ASSERT(s[i] == ',', "items of a text[] are separated by commas");
      ++i;
    }
  }
  return out;
}

KnowledgeEntry KnowledgeEntryOf(const store::Result& r, std::size_t row) {
  KnowledgeEntry e;
  e.id = r.At(row, "id").Str();
  e.title = r.At(row, "title").Str();
  e.category = r.At(row, "category").Str();
  e.locations = ParseKnowledgeTextArray(r.At(row, "locations").Str());
  e.triggers = ParseKnowledgeTextArray(r.At(row, "triggers").Str());
  e.action = r.At(row, "action").Str();
  e.fallback = r.At(row, "fallback").Str();
  e.requires_ = ParseKnowledgeTextArray(r.At(row, "requires").Str());
  if (!r.At(row, "timeout_ms").IsNull()) e.timeout_ms = r.At(row, "timeout_ms").Int();
  e.body = r.At(row, "body").Str();
  return e;
}

namespace {

// Candidates the query returns for the trigger phrases to re-rank: an entry whose phrase holds
// shares a word with the text, so it is among the first few the ranking finds.
constexpr int kCandidates = 20;

std::vector<StoredKnowledge> ActiveOf(const store::Result& r) {
  std::vector<StoredKnowledge> out;
  for (std::size_t i = 0; i < r.Size(); ++i)
    out.push_back({KnowledgeEntryOf(r, i), r.At(i, "version").Int()});
  return out;
}

void InsertVersion(store::Tx& tx, const KnowledgeEntry& e, int version, const std::string& author,
                   const std::string& file, const std::string& reason) {
  tx.Exec("knowledge_version_insert",
          {e.id, version, e.title, e.category, KnowledgeTextArray(e.locations),
           KnowledgeTextArray(e.triggers), e.action, e.fallback, KnowledgeTextArray(e.requires_),
           e.timeout_ms, e.body, author, "import", file, reason});
}

std::vector<RetrievedKnowledge> Ranked(const store::Result& r, const std::string& text,
                                       const RetrieveOptions& options) {
  std::vector<RetrievedKnowledge> out;
  for (std::size_t i = 0; i < r.Size(); ++i) {
    RetrievedKnowledge k;
    k.id = r.At(i, "id").Str();
    k.version = r.At(i, "version").Int();
    k.title = r.At(i, "title").Str();
    k.category = r.At(i, "category").Str();
    k.action = r.At(i, "action").Str();
    k.body = r.At(i, "body").Str();
    k.text_rank = r.At(i, "text_rank").Double();
    k.trigram = r.At(i, "trigram").Double();
    k.score = k.text_rank + 0.3 * k.trigram;
    if (options.trigger_phrases) {
      for (const auto& phrase : ParseKnowledgeTextArray(r.At(i, "triggers").Str()))
        if (PhraseMatches(phrase, text)) {
          k.trigger_matched = true;
          k.score += kTriggerBonus;
          break;
        }
    }
    out.push_back(std::move(k));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.score > b.score; });
  if (out.size() > static_cast<std::size_t>(options.k)) out.resize(options.k);
  return out;
}

std::vector<store::Param> RetrieveParams(const std::string& location, const std::string& text,
                                         const RetrieveOptions& options) {
  if (options.k < 1 || options.k > kMaxRetrieved)
    throw std::invalid_argument("k must be 1.." + std::to_string(kMaxRetrieved));
  // The text as the router reads it: lower case, accents folded (cuánto: cuanto), apostrophes
  // dropped, punctuation between words.
  return {location, NormalizeForMatching(text),
          options.trigger_phrases ? std::max(options.k, kCandidates) : options.k};
}

}  // namespace

int ImportReport::Count(const std::string& outcome) const {
  return static_cast<int>(std::count_if(documents.begin(), documents.end(),
                                        [&](const auto& d) { return d.outcome == outcome; }));
}

std::vector<KnowledgeFile> ReadKnowledgeFolder(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw std::runtime_error(dir + ": not a folder");
  std::vector<KnowledgeFile> files;
  for (const auto& item : fs::directory_iterator(dir)) {
    const std::string name = item.path().filename().string();
    if (item.path().extension() != ".md") continue;
    if (!item.is_regular_file())
      throw std::runtime_error(item.path().string() + ": not a regular file");
    if (item.file_size() > kMaxKnowledgeFileBytes)
      throw std::runtime_error(item.path().string() + ": larger than " +
                               std::to_string(kMaxKnowledgeFileBytes) + " bytes");
    std::ifstream in(item.path(), std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    if (!in) throw std::runtime_error(item.path().string() + ": cannot be read");
    files.push_back({name, content.str()});
  }
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return files;
}

namespace {

using ParsedFiles = std::map<std::string, std::pair<KnowledgeEntry, std::string>>;  // id -> entry,
                                                                                    // file

// Every file parsed, and every problem of every file collected, before anything is written.
ParsedFiles ParseAll(const std::vector<KnowledgeFile>& files, const ImportOptions& options) {
  std::vector<KnowledgeProblem> problems;
  ParsedFiles entries;
  for (const auto& f : files) {
    try {
      KnowledgeEntry e = ParseKnowledge(f.name, f.content);
      for (const auto& l : e.locations)
        if (!options.known_locations.empty() && l != "all" &&
            std::find(options.known_locations.begin(), options.known_locations.end(), l) ==
                options.known_locations.end())
          problems.push_back({f.name, 0, "locations", "no location '" + l + "' in the config"});
      if (!entries.emplace(e.id, std::make_pair(e, f.name)).second)
        problems.push_back({f.name, 0, "id", "'" + e.id + "' is also " + entries[e.id].second});
    } catch (const KnowledgeFormatError& err) {
      problems.insert(problems.end(), err.problems().begin(), err.problems().end());
    }
  }
  if (!problems.empty()) throw KnowledgeFormatError(problems);
  return entries;
}

ImportReport Write(store::Tx& tx, const ParsedFiles& entries, const ImportOptions& options) {
  ImportReport report;
  tx.Exec("knowledge_import_lock");
  std::map<std::string, StoredKnowledge> active;
  for (auto& s : ActiveOf(tx.Exec("knowledge_active_all"))) active.emplace(s.entry.id, s);
  for (const auto& [id, entry_file] : entries) {
    const auto& [entry, file] = entry_file;
    const auto it = active.find(id);
    if (it == active.end()) {
      tx.Exec("knowledge_document_insert", {id});
      InsertVersion(tx, entry, 1, options.author, file, "imported from " + file);
      report.documents.push_back({id, file, "added", 1, 0});
      continue;
    }
    if (it->second.entry == entry) {
      report.documents.push_back({id, file, "unchanged", it->second.version, it->second.version});
      continue;
    }
    const auto locked = tx.Exec("knowledge_document_lock", {id});
    CLUBOS_ASSERT(locked.Size() == 1, "an active document has its row");
    const int was = locked.At(0, "active_version").Int();
    const int version = locked.At(0, "newest").Int() + 1;
    InsertVersion(tx, entry, version, options.author, file,
                  "imported from " + file + " (was version " + std::to_string(was) + ")");
    // Under the import lock and the row's lock: zero rows would be a bug, not a race.
    const auto activated = tx.Exec("knowledge_activate", {id, was, version});
    CLUBOS_ASSERT(activated.AffectedRows() == 1, "the locked document has the version read");
    report.documents.push_back({id, file, "changed", version, was});
  }
  for (const auto& [id, stored] : active)
    if (!entries.count(id)) report.left_alone.push_back(id);
  return report;
}

}  // namespace

ImportReport ImportKnowledge(store::Connection& db, const std::vector<KnowledgeFile>& files,
                             const ImportOptions& options) {
  const ParsedFiles entries = ParseAll(files, options);
  ImportReport report;
  db.Transact("knowledge_import", [&](store::Tx& tx) { report = Write(tx, entries, options); });
  return report;
}

ImportReport ImportKnowledge(store::Tx& tx, const std::vector<KnowledgeFile>& files,
                             const ImportOptions& options) {
  return Write(tx, ParseAll(files, options), options);
}

std::vector<StoredKnowledge> ActiveKnowledge(store::Connection& db) {
  return ActiveOf(db.ExecOne("knowledge_active_all"));
}

std::vector<StoredKnowledge> ActiveKnowledge(store::Tx& tx) {
  return ActiveOf(tx.Exec("knowledge_active_all"));
}

ExportReport ExportKnowledge(store::Connection& db, const std::string& dir) {
  const auto active = ActiveKnowledge(db);
  fs::create_directories(dir);
  ExportReport report;
  std::set<std::string> names;
  for (const auto& s : active) {
    const std::string name = KnowledgeFileName(s.entry.id);
    const fs::path path = fs::path(dir) / name;
    const fs::path tmp = fs::path(dir) / ("." + name + ".tmp");
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << SerializeKnowledge(s.entry);
      out.close();
      if (!out) throw std::runtime_error(tmp.string() + ": cannot be written");
    }
    fs::rename(tmp, path);
    report.written.push_back(name);
    names.insert(name);
  }
  for (const auto& item : fs::directory_iterator(dir)) {
    const std::string name = item.path().filename().string();
    if (item.path().extension() == ".md" && !names.count(name)) report.left_alone.push_back(name);
  }
  std::sort(report.left_alone.begin(), report.left_alone.end());
  return report;
}

std::vector<RetrievedKnowledge> RetrieveKnowledge(store::Connection& db,
                                                  const std::string& location,
                                                  const std::string& text,
                                                  const RetrieveOptions& options) {
  return Ranked(db.ExecOne("knowledge_retrieve", RetrieveParams(location, text, options)), text,
                options);
}

std::vector<RetrievedKnowledge> RetrieveKnowledge(store::Tx& tx, const std::string& location,
                                                  const std::string& text,
                                                  const RetrieveOptions& options) {
  return Ranked(tx.Exec("knowledge_retrieve", RetrieveParams(location, text, options)), text,
                options);
}

}  // namespace clubos::workflows
