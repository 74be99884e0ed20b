#include "workflows/knowledge_cache.h"

#include <algorithm>

#include "core/log.h"
#include "store/db.h"

namespace clubos::workflows {
namespace {

using Steady = std::chrono::steady_clock;

std::string TopicOf(const std::string& id) {
  constexpr std::string_view kPrefix = "faq.";
  return id.rfind(kPrefix, 0) == 0 ? id.substr(kPrefix.size()) : id;
}

// A body as a text message: the file's closing newlines are not the customer's business.
std::string AsSent(std::string body) {
  while (!body.empty() && (body.back() == '\n' || body.back() == ' ')) body.pop_back();
  return body;
}

std::string ProcedureKey(const std::string& location, const std::string& category,
                         const std::string& action) {
  return location + '\n' + category + '\n' + action;
}

std::vector<std::string> LocationIds(const Config& config) {
  std::vector<std::string> ids;
  for (const auto& l : config.locations) ids.push_back(l.id);
  return ids;
}

}  // namespace

std::string CiteSop(const std::string& id, int version) {
  return "SOP " + id + " v" + std::to_string(version);
}

KnowledgeSnapshot::KnowledgeSnapshot(std::vector<StoredKnowledge> entries,
                                     const std::vector<std::string>& locations)
    : entries_(std::move(entries)) {
  std::sort(entries_.begin(), entries_.end(),
            [](const auto& a, const auto& b) { return a.entry.id < b.entry.id; });
  for (const auto& location : locations) faq_[location];
  for (const auto& s : entries_) {
    by_id_.emplace(s.entry.id, &s);
    for (const auto& location : locations)
      if (s.entry.AppliesTo(location))
        procedures_.emplace(ProcedureKey(location, s.entry.category, s.entry.action), &s);
    fingerprint_ += (fingerprint_.empty() ? "" : ", ") + CiteSop(s.entry.id, s.version).substr(4);
    if (s.entry.category != "faq" || s.entry.action != "answer") continue;
    for (auto& [location, table] : faq_)
      if (s.entry.AppliesTo(location))
        table.emplace(TopicOf(s.entry.id), FaqAnswer{TopicOf(s.entry.id), s.entry.id, s.version,
                                                     s.entry.triggers, AsSent(s.entry.body)});
  }
}

KnowledgeSnapshot::KnowledgeSnapshot(std::vector<StoredKnowledge> entries, const Config& config)
    : KnowledgeSnapshot(std::move(entries), LocationIds(config)) {}

std::shared_ptr<const KnowledgeSnapshot> KnowledgeSnapshot::FromFolder(const std::string& dir,
                                                                       const Config& config) {
  std::vector<StoredKnowledge> entries;
  for (const auto& f : ReadKnowledgeFolder(dir))
    entries.push_back({ParseKnowledge(f.name, f.content), 1});
  return std::make_shared<const KnowledgeSnapshot>(std::move(entries), config);
}

const FaqTable& KnowledgeSnapshot::Faq(const std::string& location) const {
  static const FaqTable kNone;
  const auto it = faq_.find(location);
  return it == faq_.end() ? kNone : it->second;
}

const StoredKnowledge* KnowledgeSnapshot::Procedure(const std::string& location,
                                                    const std::string& category,
                                                    const std::string& action) const {
  const auto it = procedures_.find(ProcedureKey(location, category, action));
  return it == procedures_.end() ? nullptr : it->second;
}

std::vector<RetrievedKnowledge> KnowledgeSnapshot::AsHeld(
    std::vector<RetrievedKnowledge> found) const {
  std::vector<RetrievedKnowledge> out;
  for (auto& r : found) {
    const auto it = by_id_.find(r.id);
    if (it == by_id_.end()) continue;
    const StoredKnowledge& held = *it->second;
    r.version = held.version;
    r.title = held.entry.title;
    r.category = held.entry.category;
    r.action = held.entry.action;
    r.body = held.entry.body;
    out.push_back(std::move(r));
  }
  return out;
}

KnowledgeCache::KnowledgeCache(const Config& config, Millis max_age)
    : config_(config), max_age_(max_age) {}

std::shared_ptr<const KnowledgeSnapshot> KnowledgeCache::Current(store::Tx& tx) {
  const uint64_t announced = changes_.load(std::memory_order_acquire);
  {
    std::lock_guard lk(mu_);
    if (held_ && (pinned_ || (held_changes_ == announced && Steady::now() - loaded_ < max_age_)))
      return held_;
  }
  // Read outside the lock: a slow read delays this routing only; the others keep deciding with
  // the snapshot held. A read that fails leaves everything as it was (the next routing tries).
  auto fresh = std::make_shared<const KnowledgeSnapshot>(ActiveKnowledge(tx), config_);
  std::lock_guard lk(mu_);
  // Two reads at once: the one that began after more announced changes wins, so a slow read of
  // the old versions never replaces a newer one; a change announced during a read keeps it stale.
  if (held_ && held_changes_ > announced) return held_;
  if (!held_ || held_->Fingerprint() != fresh->Fingerprint()) {
    if (fresh->entries().empty())
      log::Get()->warn(
          "knowledge: the store holds no document; FAQ questions go to a human "
          "(clubos sop import knowledge/)");
    else
      log::Get()->info("knowledge: routing with {} documents", fresh->entries().size());
  }
  held_ = std::move(fresh);
  held_changes_ = announced;
  loaded_ = Steady::now();
  return held_;
}

void KnowledgeCache::Pin(std::shared_ptr<const KnowledgeSnapshot> snapshot) {
  std::lock_guard lk(mu_);
  held_ = std::move(snapshot);
  pinned_ = true;
}

}  // namespace clubos::workflows
