#include "workers/runtime.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>

#include "core/assert.h"
#include "core/log.h"
#include "store/db.h"
#include "store/listener.h"
#include "workers/queue.h"
#include "workers/run_job.h"

namespace clubos::workers {
namespace {

using Steady = std::chrono::steady_clock;

// How soon a due timer that the last promotion left behind is looked at again.
constexpr Millis kPromoteRetryFloor{10};

std::string MakeOwner(const std::string& name) {
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%06x", rd() & 0xffffff);
  return (name.empty() ? "worker" : name) + "-" + std::to_string(::getpid()) + "-" + suffix;
}

int MillisUntil(Steady::time_point t) {
  const auto d = std::chrono::duration_cast<Millis>(t - Steady::now()).count();
  return static_cast<int>(std::clamp<int64_t>(d, 0, 60'000));
}

}  // namespace

Runtime::Runtime(RuntimeOptions options, const Registry& registry, const Clock& clock)
    : opt_(std::move(options)), registry_(registry), clock_(clock), owner_(MakeOwner(opt_.name)) {
  CLUBOS_ASSERT(opt_.concurrency > 0, "concurrency must be positive");
  CLUBOS_ASSERT(opt_.fetch_batch_max > 0, "fetch_batch_max must be positive");
  CLUBOS_ASSERT(!opt_.queues.empty(), "a worker serves at least one queue");
  // Until a handler has run, nothing beyond what starts at once: the first quick jobs raise it.
  SetPrefetchLocked(std::max(opt_.prefetch, 0));
  for (const auto& q : opt_.queues) queues_.push_back({q, true});
}

Runtime::~Runtime() {
  Stop();
  for (auto& t : executors_)
    if (t.joinable()) t.join();  // handlers that outlived the grace period
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Runtime::Start() {
  CLUBOS_ASSERT(!started_, "Runtime::Start called twice");
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
  store::ConnectionOptions copt;
  copt.application_name = "clubos-dispatcher";
  dispatch_db_ = store::Connect(opt_.database_url, copt);
  lease_leadership_ = store::IsTransactionPooled(opt_.database_url);
  const std::string listen_url = store::ListenUrlFor(opt_.database_url, opt_.listen_url);
  if (!listen_url.empty())
    listener_ = std::make_unique<store::Listener>(
        listen_url, kJobsChannel, [this](const std::string&, const std::string& payload) {
          ++stats_.notifications;
          if (payload == kTimersPayload) {
            if (leader_) {
              timers_changed_ = true;
              maint_cv_.notify_one();
            }
            return;
          }
          if (!payload.empty() && payload.front() == ':') {
            if (opt_.on_notice) opt_.on_notice(payload);
            return;
          }
          for (auto& q : queues_)
            if (q.name == payload) q.maybe_more = true;
        });
  std::vector<std::unique_ptr<store::Connection>> conns;
  copt.application_name = "clubos-executor";
  for (int i = 0; i < opt_.concurrency; ++i)
    conns.push_back(store::Connect(opt_.database_url, copt));
  copt.application_name = "clubos-completer";
  auto completer_db = store::Connect(opt_.database_url, copt);
  started_ = true;
  const uint64_t seed =
      opt_.seed ? opt_.seed : static_cast<uint64_t>(Steady::now().time_since_epoch().count());
  for (int i = 0; i < opt_.concurrency; ++i) {
    executors_.emplace_back(
        [this, db = std::move(conns[static_cast<std::size_t>(i)]), seed, i]() mutable {
          std::mt19937_64 rng(seed + static_cast<uint64_t>(i));
          ExecutorLoop(*db, rng);
        });
  }
  completer_ = std::thread([this, db = std::move(completer_db)]() mutable { CompleterLoop(*db); });
  dispatcher_ = std::thread([this] { DispatchLoop(); });
  maintenance_ = std::thread([this] { MaintenanceLoop(); });
  log::Get()->info("worker {} started: queues={} concurrency={} batch={}", owner_,
                   opt_.queues.size(), opt_.concurrency, opt_.fetch_batch_max);
  if (lease_leadership_)
    log::Get()->info(
        "worker {} is behind a transaction pooler: statements unprepared, leadership by lease "
        "row, {}",
        owner_,
        listener_
            ? "notifications from the listen URL"
            : "no listen URL: polling every " + std::to_string(PollInterval().count()) + " ms");
}

void Runtime::SignalDispatcher() {
  const uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void Runtime::WaitForEvents(Millis timeout) {
  pollfd fds[2];
  nfds_t n = 0;
  fds[n++] = {wake_fd_, POLLIN, 0};
  if (listener_ && listener_->Socket() >= 0) fds[n++] = {listener_->Socket(), POLLIN, 0};
  const int rc = ::poll(fds, n, static_cast<int>(timeout.count()));
  if (rc > 0 && (fds[0].revents & POLLIN)) {
    uint64_t v;
    [[maybe_unused]] auto r = ::read(wake_fd_, &v, sizeof v);
  }
}

void Runtime::Accept(std::vector<Job>& jobs) {
  if (jobs.empty()) return;
  stats_.fetched += static_cast<int64_t>(jobs.size());
  {
    std::lock_guard lk(mu_);
    for (auto& j : jobs) {
      const auto* spec = registry_.Find(j.kind);
      held_[j.id] =
          Held{j.attempt, spec ? spec->timeout : Millis(60'000), std::nullopt, false, std::nullopt};
      ready_.push_back(std::move(j));
    }
  }
  if (jobs.size() == 1)
    ready_cv_.notify_one();
  else
    ready_cv_.notify_all();
}

void Runtime::ReleaseQueued() {
  std::vector<int64_t> ids;
  {
    std::lock_guard lk(mu_);
    for (const auto& j : ready_) {
      ids.push_back(j.id);
      held_.erase(j.id);
    }
    ready_.clear();
  }
  if (ids.empty()) return;
  try {
    Release(*dispatch_db_, ids, owner_);
  } catch (const std::exception& e) {
    log::Get()->warn("could not hand back {} queued jobs ({}); their leases will expire",
                     ids.size(), e.what());
  }
  idle_cv_.notify_all();
}

void Runtime::DispatchLoop() {
  std::size_t rr = 0;
  const Millis poll_interval = PollInterval();
  auto next_poll = Steady::now() + poll_interval;
  auto next_notice_poll = Steady::now() + opt_.notice_poll;
  bool listener_ok = listener_ != nullptr;
  bool released_queued = false;
  bool orphans_owed = false;  // a claim's answer was lost: it may have leased us jobs
  Steady::time_point orphans_since;
  for (;;) {
    // 1. Learn which queues may have work.
    if (listener_ok) {
      try {
        listener_->Drain();
      } catch (const store::ConnectionLost& e) {
        log::Get()->warn("listener lost its connection: {}", e.what());
        listener_ok = false;
      }
    }
    if (!listener_) {
      // Nothing listens (behind a pooler without a listen URL): notices are never heard, so
      // whoever keeps caches of what they announce is told now and then that some were missed.
      if (Steady::now() >= next_notice_poll) {
        if (opt_.on_notice) opt_.on_notice(kNoticesMissedPayload);
        next_notice_poll = Steady::now() + opt_.notice_poll;
      }
    } else if (!listener_ok) {
      try {
        listener_->Reconnect();
        listener_ok = true;
        log::Get()->info("listener reconnected");
      } catch (const store::ConnectionLost&) {
      }
      // Notifications sent while disconnected are lost: catch up by looking, and tell whoever
      // listens for notices that some may have been missed.
      for (auto& q : queues_) q.maybe_more = true;
      if (opt_.on_notice) opt_.on_notice(kNoticesMissedPayload);
    }
    if (Steady::now() >= next_poll) {
      for (auto& q : queues_) q.maybe_more = true;
      next_poll = Steady::now() + poll_interval;
    }

    const bool stopping = stopping_.load();
    if (stopping && !released_queued) {
      ReleaseQueued();
      released_queued = true;
    }

    // A claim whose answer was lost may have leased jobs to us: hand them back before claiming
    // more. Until the database answers again (a primary died, a standby is not promoted yet)
    // the debt stays: dropped, those jobs would wait out their leases.
    if (orphans_owed && !stopping_.load()) {
      try {
        dispatch_db_->Reconnect();
        HandBackOrphans();
        orphans_owed = false;
      } catch (const std::exception& e) {
        if (Steady::now() - orphans_since < opt_.lease) {
          WaitForEvents(Millis(100));
          continue;
        }
        // By now their leases have expired anyway: the rescue takes them.
        log::Get()->warn("dispatcher: gave up handing back orphaned jobs: {}", e.what());
        orphans_owed = false;
      }
    }

    // 2. Claim more work when there is room, acknowledging finished jobs in the same statement.
    int free_slots;
    {
      std::lock_guard lk(mu_);
      free_slots = capacity_ - static_cast<int>(ready_.size()) - running_;
      refill_asked_ = false;
    }
    QueueState* target = nullptr;
    if (!stopping && free_slots > 0) {
      for (std::size_t i = 0; i < queues_.size() && !target; ++i) {
        auto& q = queues_[(rr + i) % queues_.size()];
        if (q.maybe_more) target = &q;
      }
      ++rr;
    }
    if (!target) {
      if (stopping && dispatcher_exit_.load()) break;
      // 3. Sleep until a notification, a local signal or the fallback poll.
      WaitForEvents(Millis(MillisUntil(next_poll)));
      continue;
    }
    // Acknowledgements ride along with the claim when there is one: one statement, one commit.
    std::vector<Ack> acks;
    {
      std::lock_guard lk(mu_);
      acks.swap(acks_);
    }
    try {
      const int limit = std::min(opt_.fetch_batch_max, free_slots);
      FetchResult res = acks.empty()
                            ? Fetch(*dispatch_db_, target->name, limit, owner_, opt_.lease, clock_)
                            : CompleteAndFetch(*dispatch_db_, acks, target->name, limit, owner_,
                                               opt_.lease, clock_);
      ++stats_.fetch_statements;
      target->maybe_more = static_cast<int>(res.jobs.size()) == limit;
      Acked(acks, res.completed);
      Accept(res.jobs);
    } catch (const std::exception& e) {
      // The statement may or may not have committed. Acks are idempotent (compare-and-set), so
      // they are retried; jobs a lost statement claimed are handed back once we reconnect (or,
      // if that fails too, come back when their lease expires).
      log::Get()->warn("dispatcher: {}", e.what());
      Unacked(acks);
      if (!orphans_owed) orphans_since = Steady::now();
      orphans_owed = true;
      WaitForEvents(Millis(100));
    }
  }
}

// A claim whose answer was lost may have leased jobs to us that we never saw; hand them back now
// rather than let them sit until their lease expires (using up an attempt that never ran).
void Runtime::HandBackOrphans() {
  std::vector<int64_t> known;
  {
    std::lock_guard lk(mu_);
    for (const auto& [id, h] : held_) known.push_back(id);
  }
  const auto n = ReleaseOrphans(*dispatch_db_, owner_, known);
  if (n)
    log::Get()->warn("worker {} handed back {} jobs claimed by a statement whose answer was lost",
                     owner_, n);
}

void Runtime::ForgetLocked(int64_t id, int32_t attempt) {
  auto it = held_.find(id);
  if (it != held_.end() && it->second.attempt == attempt) held_.erase(it);
}

void Runtime::Acked(const std::vector<Ack>& acks, int64_t matched) {
  if (acks.empty()) return;
  stats_.completed += matched;
  stats_.lost += static_cast<int64_t>(acks.size()) - matched;
  std::lock_guard lk(mu_);
  for (const auto& a : acks) ForgetLocked(a.id, a.attempt);
}

void Runtime::Unacked(const std::vector<Ack>& acks) {
  if (acks.empty()) return;
  {
    std::lock_guard lk(mu_);
    if (acks_.empty()) first_ack_at_ = Steady::now();
    acks_.insert(acks_.begin(), acks.begin(), acks.end());
  }
  completer_cv_.notify_one();
}

std::vector<Ack> Runtime::DueStartMarksLocked(Steady::time_point now,
                                              std::optional<Steady::time_point>* next) {
  std::vector<Ack> due;
  for (auto& [id, h] : held_) {
    if (!h.started_at || h.marked) continue;
    const auto at = *h.started_at + opt_.start_mark_delay;
    if (at <= now) {
      h.marked = true;
      due.push_back({id, h.attempt});
    } else if (!*next || at < **next) {
      *next = at;
    }
  }
  return due;
}

// Acknowledges finished jobs when no claim is going to carry them (a light load, or a full local
// queue), and marks handlers still running as started (DueStartMarksLocked). Off the dispatcher's
// path, so a slow commit (an fsync stall of 4 ms was seen here) never delays waking up for new
// work.
void Runtime::CompleterLoop(store::Connection& db) {
  for (;;) {
    std::vector<Ack> acks, marks;
    {
      std::unique_lock lk(mu_);
      for (;;) {
        const auto now = Steady::now();
        std::optional<Steady::time_point> wake;
        marks = DueStartMarksLocked(now, &wake);
        if (!acks_.empty()) {
          const auto due = first_ack_at_ + opt_.ack_flush;
          if (completer_stop_ || due <= now ||
              acks_.size() >= static_cast<std::size_t>(opt_.ack_batch_max)) {
            acks.swap(acks_);
            break;
          }
          if (!wake || due < *wake) wake = due;
        } else if (completer_stop_) {
          return;  // unmarked jobs are handed back or rescued; a mark no longer matters
        }
        if (!marks.empty()) break;
        completer_waits_ = !wake;
        if (wake)
          completer_cv_.wait_until(lk, *wake);
        else
          completer_cv_.wait(lk);
        completer_waits_ = false;
      }
    }
    try {
      if (!marks.empty()) MarkStarted(db, marks, owner_);
      if (!acks.empty()) Acked(acks, Complete(db, acks, owner_));
    } catch (const std::exception& e) {
      log::Get()->warn("completer: {}", e.what());
      {
        std::lock_guard lk(mu_);  // the marks are tried again (acks below, as before)
        for (const auto& m : marks)
          if (auto it = held_.find(m.id); it != held_.end() && it->second.attempt == m.attempt)
            it->second.marked = false;
      }
      Unacked(acks);
      try {
        db.Reconnect();
      } catch (const std::exception&) {
      }
      std::unique_lock lk(mu_);
      if (completer_stop_) return;  // unacked jobs come back when their leases expire
      completer_cv_.wait_for(lk, Millis(100), [&] { return completer_stop_; });
    }
  }
}

void Runtime::ExecutorLoop(store::Connection& db, std::mt19937_64& rng) {
  for (;;) {
    Job job;
    {
      std::unique_lock lk(mu_);
      ready_cv_.wait(lk, [&] { return !ready_.empty() || executors_stop_; });
      if (ready_.empty()) return;
      job = std::move(ready_.front());
      ready_.pop_front();
      ++running_;
      if (auto it = held_.find(job.id); it != held_.end()) it->second.started_at = Steady::now();
      if (completer_waits_) completer_cv_.notify_one();  // it sets the mark's deadline
    }
    const auto t0 = Steady::now();
    RunJob(db, job, rng);
    bool refill;
    {
      std::lock_guard lk(mu_);
      --running_;
      AdaptPrefetchLocked(Steady::now() - t0);
      // Ask for more when half a batch of room has opened: fewer, larger claims. Once per look of
      // the dispatcher's, however the room got there (it also changes with the prefetch).
      refill =
          !refill_asked_ && capacity_ - static_cast<int>(ready_.size()) - running_ >= refill_at_;
      refill_asked_ = refill_asked_ || refill;
    }
    if (refill) SignalDispatcher();
    if (stopping_) idle_cv_.notify_all();
  }
}

void Runtime::AdaptPrefetchLocked(Steady::duration run_time) {
  if (opt_.prefetch >= 0) return;
  const double us = std::chrono::duration<double, std::micro>(run_time).count();
  mean_run_us_ = mean_run_us_ == 0 ? us : mean_run_us_ + (us - mean_run_us_) / 16;
  // Jobs the executors start within the horizon, at the mean run time.
  const double horizon_us =
      std::chrono::duration<double, std::micro>(opt_.prefetch_horizon).count();
  const double soon = opt_.concurrency * horizon_us / std::max(mean_run_us_, 1.0);
  SetPrefetchLocked(static_cast<int>(std::min<double>(soon, opt_.fetch_batch_max)));
}

void Runtime::SetPrefetchLocked(int prefetch) {
  capacity_ = opt_.concurrency + prefetch;
  // Half the prefetch: fewer, larger claims. With none (slow handlers), each free executor asks:
  // waiting for several to be free would leave them idle for as long as their jobs take.
  refill_at_ = std::max(1, std::min(opt_.fetch_batch_max, prefetch) / 2);
}

void Runtime::RunJob(store::Connection& db, Job& job, std::mt19937_64& rng) {
  const TimePoint started = clock_.Now();
  const auto t0 = Steady::now();
  auto report = [&](const char* outcome) {
    if (!opt_.on_job_ran) return;
    using std::chrono::duration_cast;
    using std::chrono::microseconds;
    opt_.on_job_ran(job, duration_cast<microseconds>(started - job.run_at),
                    duration_cast<microseconds>(Steady::now() - t0), outcome);
  };
  const HandlerRun run = RunHandler(registry_, job, db, clock_, owner_);
  if (run.lease_lost) {
    report("lost");
    ++stats_.lost;
    log::Get()->warn("job {} ({}): {}", job.id, job.kind, run.lost_reason);
    std::lock_guard lk(mu_);
    ForgetLocked(job.id, job.attempt);
    return;
  }
  const Outcome& out = run.outcome;

  static constexpr const char* kOutcomeNames[] = {"complete", "retry", "defer", "fail"};
  report(kOutcomeNames[static_cast<int>(out.type)]);
  if (out.type == Outcome::Type::kComplete) {
    std::lock_guard lk(mu_);
    if (run.completed_in_tx) {
      ForgetLocked(job.id, job.attempt);
      ++stats_.completed;
    } else {
      if (acks_.empty()) first_ack_at_ = Steady::now();
      acks_.push_back({job.id, job.attempt});
      if (acks_.size() == 1) completer_cv_.notify_one();
    }
    return;
  }

  try {
    // A lost connection (a primary dying, a standby about to be promoted) is retried for a few
    // seconds: given up, the job would wait out its lease. Recording twice is harmless, since each
    // statement compares the attempt and the owner, and finds nothing once one has committed.
    Recorded rec;
    for (Millis backoff(100);; backoff *= 2) {
      try {
        rec = RecordOutcome(db, registry_, job, owner_, out, rng, clock_);
        break;
      } catch (const store::DbError& e) {
        if (!store::ConnectionWentAway(e) || backoff > Millis(1'600) || stopping_) throw;
      }
      std::this_thread::sleep_for(backoff);
    }
    if (rec.resolution == Resolution::kLost) {
      ++stats_.lost;
    } else if (rec.kind == Recorded::Kind::kDead) {
      ++stats_.dead;
      log::Get()->error("job {} ({}) is dead after attempt {}/{}: {}", job.id, job.kind,
                        job.attempt, job.max_attempts, out.reason);
    } else if (rec.kind == Recorded::Kind::kRetried) {
      ++stats_.retried;
      log::Get()->warn("job {} ({}) attempt {}/{} failed, retry in {} ms: {}", job.id, job.kind,
                       job.attempt, job.max_attempts, rec.delay.count(), out.reason);
    } else {
      ++stats_.deferred;
    }
  } catch (const std::exception& e) {
    log::Get()->error(
        "job {} ({}): could not record its outcome ({}); its lease will expire and it "
        "will be rescued",
        job.id, job.kind, e.what());
    // Still ours in the database until the lease expires: kept (without heartbeats) so that a
    // hand-back of orphans, which releases what this process does not know, leaves it to the
    // rescue, which counts its attempt.
    std::lock_guard lk(mu_);
    if (auto it = held_.find(job.id); it != held_.end() && it->second.attempt == job.attempt)
      it->second.abandoned_at = Steady::now();
    return;
  }
  std::lock_guard lk(mu_);
  ForgetLocked(job.id, job.attempt);
}

void Runtime::Heartbeats(store::Connection& db) {
  std::vector<int64_t> ids;
  std::unordered_map<int64_t, int32_t> attempts;
  const auto now = Steady::now();
  {
    std::lock_guard lk(mu_);
    // An abandoned job's lease lapses; after two leases the rescue has surely taken it.
    std::erase_if(held_, [&](const auto& e) {
      return e.second.abandoned_at && now - *e.second.abandoned_at > 2 * opt_.lease;
    });
    for (const auto& [id, h] : held_) {
      if (h.abandoned_at) continue;
      if (h.started_at && now - *h.started_at >= h.timeout) continue;  // let the lease lapse
      ids.push_back(id);
      attempts[id] = h.attempt;
    }
  }
  if (ids.empty()) return;
  std::sort(ids.begin(), ids.end());  // one lock order for every statement touching many jobs
  auto alive = Heartbeat(db, ids, owner_, opt_.lease, clock_);
  if (alive.size() == ids.size()) return;
  std::sort(alive.begin(), alive.end());
  std::vector<int64_t> lost;
  for (auto id : ids)
    if (!std::binary_search(alive.begin(), alive.end(), id)) lost.push_back(id);
  std::sort(lost.begin(), lost.end());
  {
    std::lock_guard lk(mu_);
    for (auto id : lost) ForgetLocked(id, attempts[id]);
    // A lost job that has not started yet must not start: someone else owns it now.
    std::erase_if(ready_, [&](const Job& j) {
      return std::binary_search(lost.begin(), lost.end(), j.id) && j.attempt == attempts[j.id];
    });
  }
  SignalDispatcher();  // room may have opened
  stats_.lost += static_cast<int64_t>(lost.size());
  log::Get()->warn("worker {} lost the lease of {} jobs", owner_, lost.size());
}

void Runtime::MaintenanceLoop() {
  std::unique_ptr<store::Connection> db;
  auto now = Steady::now();
  auto next_heartbeat = now + opt_.heartbeat_interval;
  auto next_leader_try = now;
  auto next_promote = now, next_rescue = now, next_prune = now, next_periodic = now;
  // Every leader holds the lease row (leader_lease, migration 0020), renewed every third of the
  // lease. On a direct connection it first holds the session advisory lock, and then takes over at
  // once the row of a lock holder (whose session is gone, or the lock would not be free); behind
  // a transaction pooler the row alone. A leader resigns when a renewal fails, and acts only while
  // the lease it last renewed is certainly its own.
  const auto renew_every = opt_.leader_lease / 3;
  auto next_renew = now;
  Steady::time_point lease_until;  // of the last renewal: past it, another worker may lead
  bool locked = false;             // holds the session advisory lock
  bool may_own_lease = false;      // a row of ours may be left: deleted at the stop
  auto take_lease = [&] {
    const auto asked = Steady::now();
    const bool held =
        !db->ExecOne("leader_lease_acquire",
                     {owner_, static_cast<int64_t>(opt_.leader_lease.count()), locked})
             .Empty();
    if (held) {
      lease_until = asked + opt_.leader_lease;
      next_renew = asked + renew_every;
      may_own_lease = true;
    }
    return held;
  };
  auto resign = [&] {
    leader_ = false;
    timers_changed_ = false;
    if (locked && db) db->ExecOne("leader_release");
    locked = false;
  };
  auto try_lead = [&] {
    if (!lease_leadership_ && !(locked = db->ExecOne("leader_try_acquire").At(0, 0).Bool()))
      return false;
    if (take_lease()) return true;
    resign();  // a process behind a pooler leads by the row: the lock is not kept
    return false;
  };
  for (;;) {
    {
      std::lock_guard lk(mu_);
      if (maintenance_stop_) break;
    }
    now = Steady::now();
    try {
      if (!db) {
        store::ConnectionOptions copt;
        copt.application_name = "clubos-maintenance";
        // The advisory lock lives and dies with this session: a silent reconnect would leave a
        // worker believing it leads while another one does.
        copt.auto_reconnect = false;
        // A statement stuck past a third of the lease would let the lease run out under it.
        copt.statement_timeout_ms =
            static_cast<int>(std::clamp<int64_t>(renew_every.count(), 1'000, 30'000));
        db = store::Connect(opt_.database_url, copt);
      }
      if (now >= next_heartbeat) {
        Heartbeats(*db);
        next_heartbeat = now + opt_.heartbeat_interval;
      }
      if (opt_.maintenance && !leader_ && now >= next_leader_try) {
        leader_ = try_lead();
        next_leader_try = now + opt_.leader_retry;
        if (leader_) log::Get()->info("worker {} is now the maintenance leader", owner_);
      }
      if (leader_ && now >= next_renew) {
        const auto previous = lease_until;
        const auto asked = Steady::now();
        if (!take_lease()) {
          // Expired and taken: a renewal came too late (this process was stopped, or the
          // database was out of reach for longer than the lease).
          log::Get()->warn("worker {} lost its leader lease to another worker", owner_);
          resign();
          next_leader_try = now + opt_.leader_retry;
        } else if (asked >= previous) {
          // Renewed, but only after the last lease had run out: someone may have led meanwhile.
          throw std::runtime_error("the leader lease was renewed after it had run out");
        }
      }
      if (leader_ && Steady::now() >= lease_until)
        throw std::runtime_error("the leader lease ran out before its renewal");
      if (leader_) {
        if (now >= next_promote || timers_changed_.exchange(false)) {
          // Bounded, so a flood of due timers cannot starve this thread's heartbeats.
          bool more = false;
          for (int round = 0; round < 10; ++round) {
            more = PromoteDue(*db, opt_.maintenance_batch, clock_) >= opt_.maintenance_batch;
            if (!more) break;
          }
          // Sleep until the next timer is due; a newly scheduled job wakes us through NOTIFY.
          next_promote = now + opt_.promote_poll;
          if (more) {
            next_promote = now;
          } else if (const auto due = NextDue(*db)) {
            // A timer that is due by this clock yet was not promoted (its row locked by another
            // transaction, or the database's clock a little behind ours) is looked at again
            // after kPromoteRetryFloor, not in a loop of 1 ms waits.
            const auto wait = std::chrono::duration_cast<Millis>(*due - clock_.Now()) + Millis(1);
            next_promote = std::min(next_promote, now + std::max(wait, kPromoteRetryFloor));
          }
        }
        if (now >= next_rescue) {
          const auto r = RescueExpired(*db, registry_, opt_.maintenance_batch, clock_);
          if (r.requeued || r.killed)
            log::Get()->warn(
                "rescued {} jobs with expired leases; {} of them were on their last attempt",
                r.requeued + r.killed, r.killed);
          next_rescue = now + opt_.rescue_interval;
        }
        if (now >= next_prune) {
          PruneDead(*db, opt_.dead_retention, opt_.maintenance_batch, clock_);
          next_prune = now + opt_.prune_interval;
        }
        if (!opt_.periodic.empty() && now >= next_periodic) {
          FirePeriodic(*db, opt_.periodic, clock_);
          next_periodic = now + Millis(500);
        }
      }
    } catch (const std::exception& e) {
      // Any database trouble: drop the connection (and with it the advisory lock, so another
      // worker can lead) and start over.
      log::Get()->warn("maintenance: {}", e.what());
      if (leader_) log::Get()->warn("worker {} resigned leadership", owner_);
      leader_ = false;
      timers_changed_ = false;
      locked = false;
      db.reset();
      // Back off every duty, so an unreachable database is retried, not spun on.
      const auto retry_at = Steady::now() + opt_.leader_retry;
      next_leader_try = retry_at;
      next_heartbeat = std::max(next_heartbeat, retry_at);
    }
    // Sleep until the earliest deadline of a duty this worker has now. A deadline only counts
    // while its duty is pending: the leader never retries the election, and a deadline left in
    // the past would make every wait return at once (an idle leader spun a core this way).
    auto wake = next_heartbeat;
    if (opt_.maintenance && !leader_) wake = std::min(wake, next_leader_try);
    if (leader_) {
      wake = std::min({wake, next_promote, next_rescue, next_prune, next_renew});
      if (!opt_.periodic.empty()) wake = std::min(wake, next_periodic);
    }
    std::unique_lock lk(mu_);
    maint_cv_.wait_until(lk, wake,
                         [&] { return maintenance_stop_ || (leader_ && timers_changed_.load()); });
  }
  // The row goes (the next leader need not wait it out), also after a resignation that dropped the
  // connection; the lock goes with the session.
  if (may_own_lease) {
    try {
      if (!db) db = store::Connect(opt_.database_url);
      db->ExecOne("leader_lease_release", {owner_});
    } catch (const std::exception& e) {
      log::Get()->warn("worker {} could not give its leader lease up ({}); it runs out by itself",
                       owner_, e.what());
    }
  }
  leader_ = false;
}

bool Runtime::Stop() {
  if (!started_ || stopped_) return clean_stop_;
  stopped_ = true;
  stopping_ = true;
  SignalDispatcher();
  const auto deadline = Steady::now() + opt_.shutdown_grace;
  bool all_done;
  {
    std::unique_lock lk(mu_);
    idle_cv_.wait_until(lk, deadline, [&] { return running_ == 0 && ready_.empty(); });
    executors_stop_ = true;
    all_done = running_ == 0;
  }
  ready_cv_.notify_all();
  dispatcher_exit_ = true;
  SignalDispatcher();
  dispatcher_.join();
  {
    std::lock_guard lk(mu_);
    completer_stop_ = true;  // flushes what is left, then exits
  }
  completer_cv_.notify_all();
  completer_.join();
  // Whatever still runs past the grace period goes back to the queue for another worker.
  std::vector<int64_t> still_held;
  {
    std::lock_guard lk(mu_);
    for (const auto& [id, h] : held_) still_held.push_back(id);
  }
  if (!still_held.empty()) {
    try {
      const auto n = Release(*dispatch_db_, still_held, owner_);
      log::Get()->warn("worker {} handed back {} jobs still running after the grace period", owner_,
                       n);
    } catch (const std::exception& e) {
      log::Get()->warn("could not hand back {} jobs ({}); their leases will expire",
                       still_held.size(), e.what());
    }
  }
  if (all_done)
    for (auto& t : executors_) t.join();
  {
    std::lock_guard lk(mu_);
    maintenance_stop_ = true;
  }
  maint_cv_.notify_all();
  maintenance_.join();
  listener_.reset();
  clean_stop_ = all_done;
  log::Get()->info("worker {} stopped: completed={} retried={} dead={} lost={}", owner_,
                   stats_.completed.load(), stats_.retried.load(), stats_.dead.load(),
                   stats_.lost.load());
  return all_done;
}

}  // namespace clubos::workers
