#pragma once
// The queue's steps, one statement (or one transaction) each. The runtime is a loop over these;
// tests call them directly with a fake clock to exercise leases and timers without waiting.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "workers/job.h"

namespace clubos::store {
class Connection;
}

namespace clubos::workers {

struct Ack {
  int64_t id;
  int32_t attempt;
};

struct FetchResult {
  std::vector<Job> jobs;  // in dispatch order: priority, then FIFO
  int64_t completed = 0;  // acks that matched (the rest were lost races: the job is not ours now)
};

// Claims up to `limit` available jobs of `queue` for `owner`, leased for `lease`.
FetchResult Fetch(store::Connection& db, const std::string& queue, int limit,
                  const std::string& owner, Millis lease, const Clock& clock);
// Acknowledges `acks` and claims the next batch in one statement.
FetchResult CompleteAndFetch(store::Connection& db, const std::vector<Ack>& acks,
                             const std::string& queue, int limit, const std::string& owner,
                             Millis lease, const Clock& clock);
int64_t Complete(store::Connection& db, const std::vector<Ack>& acks, const std::string& owner);
// Records that the handlers of these attempts started (job_mark_started); returns how many were
// still this owner's and unmarked.
int64_t MarkStarted(store::Connection& db, const std::vector<Ack>& started,
                    const std::string& owner);

enum class Resolution { kDone, kLost };
// Back to the queue after `delay` (measured on the database clock); `refund` gives the attempt
// back (a deferral is not a failure).
Resolution Retry(store::Connection& db, const Job& job, const std::string& owner, Millis delay,
                 const std::string& error, bool refund, const Clock& clock);
// Dead, with the dead hooks in the same transaction.
Resolution Kill(store::Connection& db, const Registry& registry, const Job& job,
                const std::string& owner, const std::string& error, const Clock& clock);
// Extends leases; returns the ids that are still this owner's.
std::vector<int64_t> Heartbeat(store::Connection& db, std::vector<int64_t> ids,
                               const std::string& owner, Millis lease, const Clock& clock);
// Hands jobs back (attempt refunded, place in line kept); returns how many were still ours.
int64_t Release(store::Connection& db, std::vector<int64_t> ids, const std::string& owner);

// Hands back jobs leased to `owner` other than `known` (claimed by a statement whose answer was
// lost); returns how many.
int64_t ReleaseOrphans(store::Connection& db, const std::string& owner, std::vector<int64_t> known);

// ---- maintenance (run by the elected leader) ----
// Moves due scheduled jobs to available and notifies their queues; returns how many.
int64_t PromoteDue(store::Connection& db, int limit, const Clock& clock);
// When the earliest scheduled job is due (none: nothing scheduled).
std::optional<TimePoint> NextDue(store::Connection& db);
// Requeues jobs with expired leases; the ones on their last attempt die (dead hooks run).
struct RescueResult {
  int64_t requeued = 0;
  int64_t killed = 0;
};
RescueResult RescueExpired(store::Connection& db, const Registry& registry, int limit,
                           const Clock& clock);
int64_t PruneDead(store::Connection& db, Millis retention, int limit, const Clock& clock);

struct PeriodicJob {
  std::string name;  // the schedule's identity across leaders
  Millis interval;
  std::string kind;
  std::string args = "{}";
  std::string queue = "default";
};
// Enqueues each periodic job that is due, exactly once across all leaders; returns how many fired.
int FirePeriodic(store::Connection& db, const std::vector<PeriodicJob>& schedule,
                 const Clock& clock);

}  // namespace clubos::workers
