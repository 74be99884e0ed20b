#pragma once
// Enqueueing, callable inside any transaction (the transactional outbox comes for free).
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "workers/job.h"

namespace clubos::store {
class Tx;
}

namespace clubos::workers {

inline constexpr const char* kJobsChannel = "clubos_jobs";
// Payload on kJobsChannel when a job was scheduled for later: the leader re-reads the next due
// time instead of polling for it. Not a valid queue name, so no queue mistakes it for work.
inline constexpr const char* kTimersPayload = ":timers";
// Sent by the knowledge store's trigger when a document's active version changes (0016).
inline constexpr const char* kKnowledgePayload = ":knowledge";
// Not sent by anyone: what RuntimeOptions::on_notice hears after the listener lost its connection
// (notices sent meanwhile are gone; whatever they would have said must be read again).
inline constexpr const char* kNoticesMissedPayload = ":missed";
inline constexpr std::size_t kMaxArgsBytes = 64 * 1024;
inline constexpr int kDefaultPriority = 100;  // smaller runs first; emergencies use 0..99

enum class KeyMode {
  kKeep,     // a pending job with the key stays as it is (idempotent enqueue)
  kReplace,  // the pending job takes the new run_at, args and priority (debounce)
};

struct EnqueueRequest {
  std::string kind;
  std::string args = "{}";
  std::string queue = "default";
  int priority = kDefaultPriority;
  std::optional<TimePoint> run_at;  // none: now
  int max_attempts = 10;
  std::optional<std::string> unique_key;
  KeyMode key_mode = KeyMode::kKeep;
};

struct EnqueueResult {
  int64_t id = 0;
  bool existed = false;    // the unique key matched a pending job
  bool scheduled = false;  // run_at is in the future
};

// Throws std::invalid_argument for a request the database would refuse (args too large, bad
// names, attempts out of range), before touching the database.
EnqueueResult Enqueue(store::Tx& tx, const EnqueueRequest& req, const Clock& clock);
// Bulk insert of immediately available jobs without unique keys; one statement. Returns the count.
int64_t EnqueueMany(store::Tx& tx, const std::vector<EnqueueRequest>& reqs, const Clock& clock);

void Validate(const EnqueueRequest& req);

}  // namespace clubos::workers
