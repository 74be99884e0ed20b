#pragma once
// A worker: fetches jobs in batches, runs them on `concurrency` threads, acknowledges completions
// in batches piggybacked on the next fetch, keeps leases alive, and takes part in the leader
// election that runs maintenance (timers, rescue of lost jobs, pruning, periodic jobs).
//
// Threads and connections (one connection each, never shared):
//   dispatcher   LISTEN connection + work connection; claims jobs, acking finished ones in the
//                same statement
//   completer    acks finished jobs that no claim carried (light load), off the claim path
//   executors    `concurrency` threads running handlers, each with its own connection
//   maintenance  heartbeats for held jobs; when elected leader, the maintenance duties
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "workers/job.h"
#include "workers/queue_ops.h"

namespace clubos::store {
class Connection;
class Listener;
}  // namespace clubos::store

namespace clubos::workers {

struct RuntimeOptions {
  std::string database_url;
  std::string name;  // lease owner prefix; a unique suffix is added per process start
  std::vector<std::string> queues{"default"};
  int concurrency = 10;
  int fetch_batch_max = 100;  // jobs claimed per statement
  // Jobs held beyond the running ones. -1: what the executors can start within
  // prefetch_horizon, from the handlers' mean run time (at most fetch_batch_max): jobs held by a
  // worker that dies wait for their leases to expire, so a worker holds only what starts soon.
  int prefetch = -1;
  Millis prefetch_horizon{20};
  // A handler still running this long after its start is marked started in the database (in
  // batches, off the executors' path): its attempt then counts if its worker dies. Jobs that
  // finish sooner are acknowledged instead; an unmarked attempt is given back when rescued.
  Millis start_mark_delay{20};
  Millis lease{30'000};
  Millis heartbeat_interval{10'000};
  Millis poll_interval{1'000};  // fallback for lost notifications
  // The queues' only wake-up when nothing listens (behind a transaction pooler without listen_url).
  Millis unwoken_poll_interval{100};
  // Where to LISTEN, when not on database_url: needed when that goes through a pooler in
  // transaction mode (store::IsTransactionPooled), which cannot carry a LISTEN; a direct
  // connection or a pool in session mode. Empty behind such a pooler: nothing listens, the queues
  // are looked at every poll_interval and on_notice hears kNoticesMissedPayload every notice_poll.
  std::string listen_url;
  Millis notice_poll{10'000};
  Millis ack_flush{2};  // an ack waits at most this long for company
  int ack_batch_max = 1'000;
  Millis shutdown_grace{10'000};
  // Maintenance (leader only).
  bool maintenance = true;
  Millis leader_retry{1'000};
  // The leader holds a lease row (leader_lease, migration 0020) for this long, renews it every
  // third of it, and resigns when a renewal fails. On a direct connection it also holds a session
  // advisory lock, and a leader that dies is replaced as soon as its session is gone; behind a
  // transaction pooler (the row alone), within this.
  Millis leader_lease{15'000};
  Millis promote_poll{1'000};  // timers are promoted when due (NOTIFY-driven); this is the fallback
  Millis rescue_interval{1'000};
  Millis prune_interval{60'000};
  Millis dead_retention{7LL * 24 * 3600 * 1000};
  int maintenance_batch = 1'000;
  std::vector<PeriodicJob> periodic;
  uint64_t seed = 0;  // backoff jitter; 0: from the clock
  // Called on the executor thread after each handler returned (metrics): how long the job waited
  // past its run_at before it started, how long the handler ran, and what it answered
  // (complete | retry | defer | fail | lost). Must be cheap and must not throw.
  std::function<void(const Job& job, std::chrono::microseconds start_latency,
                     std::chrono::microseconds run_time, const char* outcome)>
      on_job_ran;
  // Called on the dispatcher thread with every notice on the jobs channel that is neither a
  // queue's name nor the timers' (payloads beginning with ':', e.g. ":knowledge": a knowledge
  // version changed), and kNoticesMissedPayload after the listener reconnected. Must be cheap and
  // must not throw.
  std::function<void(const std::string& payload)> on_notice;
};

struct RuntimeStats {
  std::atomic<int64_t> fetched{0};
  std::atomic<int64_t> completed{0};
  std::atomic<int64_t> retried{0};
  std::atomic<int64_t> deferred{0};
  std::atomic<int64_t> dead{0};
  std::atomic<int64_t> lost{0};  // acks or resolutions that found the job no longer ours
  std::atomic<int64_t> fetch_statements{0};
  std::atomic<int64_t> notifications{0};
};

class Runtime {
 public:
  Runtime(RuntimeOptions options, const Registry& registry, const Clock& clock);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Connects and starts the threads; throws store::DbError when the database is unreachable.
  void Start();
  // Stops fetching, hands back jobs not started, waits up to shutdown_grace for running ones,
  // flushes acks, hands back what is still running, resigns leadership. Returns true when every
  // started job finished within the grace period. Idempotent.
  bool Stop();

  bool IsLeader() const { return leader_.load(); }
  // How often the dispatcher looks at the queues unprompted (after Start: whether it listens).
  Millis PollInterval() const {
    return listener_ ? opt_.poll_interval : opt_.unwoken_poll_interval;
  }
  // Jobs leased to this worker: queued locally, running, or finished but not yet acknowledged.
  std::size_t HeldCount() {
    std::lock_guard lk(mu_);
    return held_.size();
  }
  const std::string& lease_owner() const { return owner_; }
  const RuntimeStats& stats() const { return stats_; }

 private:
  struct Held {
    int32_t attempt;
    Millis timeout;
    // Set when an executor starts the job: the timeout counts from here, not from the claim, and
    // a job waiting in the local queue keeps its lease alive.
    std::optional<std::chrono::steady_clock::time_point> started_at;
    bool marked = false;  // the database knows the handler started
    // Its outcome could not be recorded: it stays ours until its lease lapses (no heartbeats).
    std::optional<std::chrono::steady_clock::time_point> abandoned_at;
  };
  struct QueueState {
    std::string name;
    bool maybe_more = true;
  };

  void DispatchLoop();
  void ExecutorLoop(store::Connection& db, std::mt19937_64& rng);
  void CompleterLoop(store::Connection& db);
  void Acked(const std::vector<Ack>& acks, int64_t matched);
  void Unacked(const std::vector<Ack>& acks);
  // Drops the entry of `id` only if it still describes `attempt` (a rescued job may have come back
  // to this worker as a newer attempt). Requires mu_.
  void ForgetLocked(int64_t id, int32_t attempt);
  void HandBackOrphans();
  void MaintenanceLoop();
  void RunJob(store::Connection& db, Job& job, std::mt19937_64& rng);
  void Accept(std::vector<Job>& jobs);
  void SignalDispatcher();
  void WaitForEvents(Millis timeout);
  void ReleaseQueued();
  void Heartbeats(store::Connection& db);
  // The running jobs due a start mark (now marked here), and when the next one falls due.
  std::vector<Ack> DueStartMarksLocked(std::chrono::steady_clock::time_point now,
                                       std::optional<std::chrono::steady_clock::time_point>* next);
  // Learns from one handler's run time how much to prefetch. Requires mu_.
  void AdaptPrefetchLocked(std::chrono::steady_clock::duration run_time);
  void SetPrefetchLocked(int prefetch);

  RuntimeOptions opt_;
  const Registry& registry_;
  const Clock& clock_;
  std::string owner_;
  int capacity_;   // concurrency + prefetch; changes with the handlers' run time (under mu_)
  int refill_at_;  // free slots at which executors ask the dispatcher for more
  bool refill_asked_ = false;  // an executor asked and the dispatcher has not looked since
  double mean_run_us_ = 0;     // the handlers' run time, moving average (0: none ran yet)

  std::mutex mu_;
  std::condition_variable ready_cv_;      // executors wait for jobs
  std::condition_variable idle_cv_;       // Stop() waits for running jobs
  std::condition_variable maint_cv_;      // maintenance sleeps
  std::condition_variable completer_cv_;  // acks waiting for a flush
  std::deque<Job> ready_;                 // fetched, not started
  std::vector<Ack> acks_;                 // finished, not yet acknowledged in the database
  std::chrono::steady_clock::time_point first_ack_at_;
  bool completer_waits_ = false;            // with no deadline: a job's start must wake it
  std::unordered_map<int64_t, Held> held_;  // leased to us: ready, running or awaiting ack
  int running_ = 0;
  bool executors_stop_ = false;
  bool maintenance_stop_ = false;
  bool completer_stop_ = false;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> dispatcher_exit_{false};
  std::atomic<bool> leader_{false};
  std::atomic<bool> timers_changed_{false};
  bool started_ = false;
  bool stopped_ = false;
  bool clean_stop_ = true;
  int wake_fd_ = -1;

  std::unique_ptr<store::Connection> dispatch_db_;
  std::unique_ptr<store::Listener> listener_;  // none behind a pooler without listen_url
  bool lease_leadership_ = false;              // transaction-pooled: the lease row alone leads
  std::vector<QueueState> queues_;
  std::thread dispatcher_;
  std::thread completer_;
  std::vector<std::thread> executors_;
  std::thread maintenance_;
  RuntimeStats stats_;
};

}  // namespace clubos::workers
