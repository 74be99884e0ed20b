#pragma once
// What routing reads of the knowledge store: a snapshot of the active versions, held by every
// worker and replaced when a version changes (a NOTIFY from the store's trigger, or at the latest
// after `max_age`). Routing never waits on the store for a FAQ answer: a snapshot is immutable
// and shared, so deciding with one costs a pointer copy.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "workflows/knowledge_store.h"
#include "workflows/router.h"

namespace clubos::store {
class Tx;
}

namespace clubos::workflows {

class KnowledgeSnapshot {
 public:
  KnowledgeSnapshot(const KnowledgeSnapshot&) = delete;  // its indexes point into entries_
  KnowledgeSnapshot& operator=(const KnowledgeSnapshot&) = delete;
  // `locations`: the configuration's location ids, each given the entries that apply to it.
  KnowledgeSnapshot(std::vector<StoredKnowledge> entries,
                    const std::vector<std::string>& locations);
  // For every location of the configuration.
  KnowledgeSnapshot(std::vector<StoredKnowledge> entries, const Config& config);
  // Every `*.md` in `dir`, parsed as an import would, each at version 1: for tests and benches
  // that route without a store.
  static std::shared_ptr<const KnowledgeSnapshot> FromFolder(const std::string& dir,
                                                             const Config& config);

  const std::vector<StoredKnowledge>& entries() const { return entries_; }
  // The FAQ of a location (empty for a location it does not know).
  const FaqTable& Faq(const std::string& location) const;
  // The procedure an action follows at a location: the entry of that category and action that
  // applies there (the first by id); nullptr when none is on file.
  const StoredKnowledge* Procedure(const std::string& location, const std::string& category,
                                   const std::string& action) const;
  // "faq.price v3" and the like, for the ids and versions in this snapshot: which knowledge a
  // decision was made with, e.g. for a cache key.
  const std::string& Fingerprint() const { return fingerprint_; }
  // What retrieval found, as this snapshot has it: each entry at the version routing cites (an
  // entry the snapshot lacks is dropped), so the model is given what the action will follow.
  std::vector<RetrievedKnowledge> AsHeld(std::vector<RetrievedKnowledge> found) const;

 private:
  std::vector<StoredKnowledge> entries_;  // by id; never changed after construction
  std::map<std::string, const StoredKnowledge*> by_id_;
  // (location, category, action) -> the first entry by id: planning looks one up per routing.
  std::map<std::string, const StoredKnowledge*> procedures_;
  std::map<std::string, FaqTable> faq_;
  std::string fingerprint_;
};

// "SOP faq.price v3": how an action's reason cites what it followed (followed_sop).
std::string CiteSop(const std::string& id, int version);

class KnowledgeCache {
 public:
  explicit KnowledgeCache(const Config& config, Millis max_age = Millis(60'000));

  // The snapshot to route with, read again in `tx` when a change was announced or the one held
  // is older than `max_age`. A failed read throws (the caller's transaction fails and is retried)
  // and leaves the held snapshot in place for everyone else.
  std::shared_ptr<const KnowledgeSnapshot> Current(store::Tx& tx);
  // A version changed (the store's NOTIFY): the next Current() reads again.
  void Changed() { changes_.fetch_add(1, std::memory_order_acq_rel); }
  // Pins a snapshot (benches and tests that route without a store): Current() returns it and
  // never reads.
  void Pin(std::shared_ptr<const KnowledgeSnapshot> snapshot);

 private:
  const Config& config_;
  const Millis max_age_;
  std::atomic<uint64_t> changes_{0};  // changes announced so far
  std::mutex mu_;
  std::shared_ptr<const KnowledgeSnapshot> held_;
  uint64_t held_changes_ = 0;  // the changes announced when held_'s read began
  std::chrono::steady_clock::time_point loaded_{};
  bool pinned_ = false;
};

}  // namespace clubos::workflows
