#include "workers/queue_ops.h"

#include <algorithm>
#include <set>

#include "store/db.h"
#include "workers/queue.h"

namespace clubos::workers {
namespace {

Job JobFromRow(const store::Result& r, std::size_t i) {
  Job j;
  j.id = r.At(i, "id").Int64();
  j.queue = r.At(i, "queue").Str();
  j.kind = r.At(i, "kind").Str();
  j.args = r.At(i, "args").Str();
  j.priority = r.At(i, "priority").Int();
  j.attempt = r.At(i, "attempt").Int();
  j.max_attempts = r.At(i, "max_attempts").Int();
  j.run_at = r.At(i, "run_at").Time();
  j.created_at = r.At(i, "created_at").Time();
  return j;
}

std::vector<Job> ReadJobs(const store::Result& r) {
  std::vector<Job> jobs;
  jobs.reserve(r.Size());
  for (std::size_t i = 0; i < r.Size(); ++i) {
    if (r.At(i, "id").IsNull()) continue;  // the one row of a claim that found nothing
    jobs.push_back(JobFromRow(r, i));
  }
  // UPDATE ... RETURNING has no order; dispatch in the queue's order.
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    if (a.priority != b.priority) return a.priority < b.priority;
    if (a.run_at != b.run_at) return a.run_at < b.run_at;
    return a.id < b.id;
  });
  return jobs;
}

std::pair<std::string, std::string> AckArrays(std::vector<Ack> acks) {
  // One lock order (by id) for every statement that touches many jobs: no deadlock between an ack
  // and a heartbeat or a hand-back.
  std::sort(acks.begin(), acks.end(), [](const Ack& a, const Ack& b) { return a.id < b.id; });
  std::vector<int64_t> ids;
  std::vector<int32_t> attempts;
  ids.reserve(acks.size());
  attempts.reserve(acks.size());
  for (const auto& a : acks) {
    ids.push_back(a.id);
    attempts.push_back(a.attempt);
  }
  return {store::ArrayLiteral(ids), store::ArrayLiteral(attempts)};
}

void NotifyQueues(store::Connection& db, const store::Result& per_queue) {
  if (per_queue.Empty()) return;
  db.Transact("notify_queues", [&](store::Tx& tx) {
    for (std::size_t i = 0; i < per_queue.Size(); ++i)
      tx.Notify(kJobsChannel, per_queue.At(i, "queue").Str());
  });
}

int64_t SumCounts(const store::Result& per_queue) {
  int64_t n = 0;
  for (std::size_t i = 0; i < per_queue.Size(); ++i) n += per_queue.At(i, "n").Int64();
  return n;
}

}  // namespace

FetchResult Fetch(store::Connection& db, const std::string& queue, int limit,
                  const std::string& owner, Millis lease, const Clock& clock) {
  return CompleteAndFetch(db, {}, queue, limit, owner, lease, clock);  // nothing to ack
}

FetchResult CompleteAndFetch(store::Connection& db, const std::vector<Ack>& acks,
                             const std::string& queue, int limit, const std::string& owner,
                             Millis lease, const Clock& clock) {
  const auto [ids, attempts] = AckArrays(acks);
  auto r = db.ExecOne(
      "job_complete_and_fetch",
      {ids, attempts, owner, queue, limit, static_cast<int64_t>(lease.count()), clock.DbNow()});
  FetchResult out;
  out.jobs = ReadJobs(r);
  out.completed = r.Empty() ? 0 : r.At(0, "completed").Int64();
  return out;
}

int64_t Complete(store::Connection& db, const std::vector<Ack>& acks, const std::string& owner) {
  if (acks.empty()) return 0;
  const auto [ids, attempts] = AckArrays(acks);
  return static_cast<int64_t>(db.ExecOne("job_complete", {ids, attempts, owner}).AffectedRows());
}

int64_t MarkStarted(store::Connection& db, const std::vector<Ack>& started,
                    const std::string& owner) {
  if (started.empty()) return 0;
  const auto [ids, attempts] = AckArrays(started);
  return static_cast<int64_t>(
      db.ExecOne("job_mark_started", {ids, attempts, owner}).AffectedRows());
}

Resolution Retry(store::Connection& db, const Job& job, const std::string& owner, Millis delay,
                 const std::string& error, bool refund, const Clock& clock) {
  Resolution res = Resolution::kLost;
  db.Transact("job_retry", [&](store::Tx& tx) {
    auto r = tx.Exec("job_retry", {job.id, job.attempt, owner, static_cast<int64_t>(delay.count()),
                                   error.empty() ? std::optional<std::string>() : error,
                                   clock.DbNow(), refund ? 1 : 0});
    res = r.Empty() ? Resolution::kLost : Resolution::kDone;
    if (!r.Empty())
      tx.Notify(kJobsChannel, r.At(0, "state").Str() == "available" ? job.queue : kTimersPayload);
  });
  return res;
}

Resolution Kill(store::Connection& db, const Registry& registry, const Job& job,
                const std::string& owner, const std::string& error, const Clock& clock) {
  Resolution res = Resolution::kLost;
  db.Transact("job_kill", [&](store::Tx& tx) {
    auto r = tx.Exec("job_kill", {job.id, job.attempt, owner, error, clock.DbNow()});
    res = r.Empty() ? Resolution::kLost : Resolution::kDone;
    if (res == Resolution::kDone) registry.RunDeadHooks(tx, job, error);
  });
  return res;
}

std::vector<int64_t> Heartbeat(store::Connection& db, std::vector<int64_t> ids,
                               const std::string& owner, Millis lease, const Clock& clock) {
  std::vector<int64_t> alive;
  if (ids.empty()) return alive;
  std::sort(ids.begin(), ids.end());
  auto r = db.ExecOne("job_heartbeat", {store::ArrayLiteral(ids), owner,
                                        static_cast<int64_t>(lease.count()), clock.DbNow()});
  alive.reserve(r.Size());
  for (std::size_t i = 0; i < r.Size(); ++i) alive.push_back(r.At(i, 0).Int64());
  return alive;
}

int64_t Release(store::Connection& db, std::vector<int64_t> ids, const std::string& owner) {
  if (ids.empty()) return 0;
  std::sort(ids.begin(), ids.end());
  int64_t n = 0;
  db.Transact("job_release", [&](store::Tx& tx) {
    auto r = tx.Exec("job_release", {store::ArrayLiteral(ids), owner});
    n = static_cast<int64_t>(r.Size());
    std::set<std::string> queues;
    for (std::size_t i = 0; i < r.Size(); ++i) queues.insert(r.At(i, "queue").Str());
    for (const auto& q : queues) tx.Notify(kJobsChannel, q);
  });
  return n;
}

int64_t ReleaseOrphans(store::Connection& db, const std::string& owner,
                       std::vector<int64_t> known) {
  std::sort(known.begin(), known.end());
  int64_t n = 0;
  db.Transact("job_release_orphans", [&](store::Tx& tx) {
    auto r = tx.Exec("job_release_orphans", {owner, store::ArrayLiteral(known)});
    n = static_cast<int64_t>(r.Size());
    std::set<std::string> queues;
    for (std::size_t i = 0; i < r.Size(); ++i) queues.insert(r.At(i, "queue").Str());
    for (const auto& q : queues) tx.Notify(kJobsChannel, q);
  });
  return n;
}

int64_t PromoteDue(store::Connection& db, int limit, const Clock& clock) {
  auto r = db.ExecOne("job_promote_due", {clock.DbNow(), limit});
  NotifyQueues(db, r);
  return SumCounts(r);
}

RescueResult RescueExpired(store::Connection& db, const Registry& registry, int limit,
                           const Clock& clock) {
  RescueResult out;
  auto r = db.ExecOne("job_rescue_retryable", {clock.DbNow(), limit});
  NotifyQueues(db, r);
  out.requeued = SumCounts(r);
  db.Transact("job_rescue_final", [&](store::Tx& tx) {
    out.killed = 0;
    auto finals = tx.Exec("job_rescue_final", {clock.DbNow(), limit});
    for (std::size_t i = 0; i < finals.Size(); ++i) {
      const Job j = JobFromRow(finals, i);
      const std::string reason = "lease expired on the last attempt (" + std::to_string(j.attempt) +
                                 " of " + std::to_string(j.max_attempts) + ")";
      tx.Exec("job_kill",
              {j.id, j.attempt, finals.At(i, "lease_owner").Str(), reason, clock.DbNow()});
      registry.RunDeadHooks(tx, j, reason);
      ++out.killed;
    }
  });
  return out;
}

std::optional<TimePoint> NextDue(store::Connection& db) {
  return db.ExecOne("job_next_due").At(0, 0).OptTime();
}

int64_t PruneDead(store::Connection& db, Millis retention, int limit, const Clock& clock) {
  return static_cast<int64_t>(
      db.ExecOne("job_prune_dead", {clock.DbNow(), static_cast<int64_t>(retention.count()), limit})
          .AffectedRows());
}

int FirePeriodic(store::Connection& db, const std::vector<PeriodicJob>& schedule,
                 const Clock& clock) {
  int fired = 0;
  for (const auto& p : schedule) {
    bool due = false;
    db.Transact("periodic_fire", [&](store::Tx& tx) {
      due = false;
      auto r = tx.Exec("periodic_claim",
                       {p.name, static_cast<int64_t>(p.interval.count()), clock.DbNow()});
      if (r.Empty()) return;
      EnqueueRequest req;
      req.kind = p.kind;
      req.args = p.args;
      req.queue = p.queue;
      req.unique_key = "periodic:" + p.name;  // a slow previous firing is not doubled
      Enqueue(tx, req, clock);
      due = true;
    });
    if (due) ++fired;
  }
  return fired;
}

}  // namespace clubos::workers
