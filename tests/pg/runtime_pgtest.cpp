// The worker runtime with real threads, a real clock and real Postgres: draining, retries, wake-up
// by NOTIFY, leader failover, graceful stop, lost connections and lost leases.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "store/db.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"
#include "workers/queue.h"
#include "workers/runtime.h"

using namespace clubos;
using namespace clubos::workers;
using pgtest::WaitFor;

namespace {

class Latch {
 public:
  void Open() {
    std::lock_guard lk(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

class Runtimes : public ::testing::Test {
 protected:
  void SetUp() override {
    CLUBOS_REQUIRE_PG();
    pgtest::ResetDatabase();
    db_ = pgtest::Connect();
    db_->ExecRawOne(
        "CREATE TABLE IF NOT EXISTS effects (job_id bigint, attempt int); TRUNCATE effects");
  }
  RuntimeOptions Options(const std::string& name = "t") {
    RuntimeOptions o;
    o.database_url = pgtest::TestDatabaseUrl();
    o.name = name;
    o.concurrency = 4;
    o.leader_retry = Millis(100);
    o.rescue_interval = Millis(100);
    o.shutdown_grace = Millis(5'000);
    return o;
  }
  void Enq(EnqueueRequest r, int n = 1) {
    db_->Transact("enq", [&](store::Tx& tx) {
      for (int i = 0; i < n; ++i) Enqueue(tx, r, SystemClock::Instance());
    });
  }
  int64_t Count(const std::string& where = "true") {
    return db_->ExecRawOne("SELECT count(*) FROM jobs WHERE " + where).At(0, 0).Int64();
  }
  static KindSpec Kind(std::string kind, Handler h, Millis timeout = Millis(60'000)) {
    return {std::move(kind), std::move(h), {Millis(10), Millis(50), 0.0}, timeout, {}};
  }
  // Records the job in `effects` and completes it in the same transaction.
  static Outcome RecordExactlyOnce(JobContext& ctx) {
    ctx.db().Transact("effect", [&](store::Tx& tx) {
      tx.ExecRaw("INSERT INTO effects VALUES (" + std::to_string(ctx.job().id) + ", " +
                 std::to_string(ctx.job().attempt) + ")");
      ctx.CompleteInTx(tx);
    });
    return Outcome::Complete();
  }
  std::unique_ptr<store::Connection> db_;
};

}  // namespace

TEST_F(Runtimes, DrainsEverythingAndRetriesUntilSuccess) {
  Registry reg;
  std::atomic<int> ok{0};
  reg.Register(Kind("ok", [&](JobContext&) {
    ++ok;
    return Outcome::Complete();
  }));
  reg.Register(Kind("flaky", [](JobContext& ctx) {
    return ctx.job().attempt < 3 ? Outcome::Retry("not yet") : Outcome::Complete();
  }));
  Enq({.kind = "ok"}, 500);
  Enq({.kind = "flaky", .max_attempts = 5});
  Runtime rt(Options(), reg, SystemClock::Instance());
  rt.Start();
  ASSERT_TRUE(WaitFor([&] { return Count() == 0; })) << Count() << " jobs left";
  EXPECT_TRUE(rt.Stop());
  EXPECT_EQ(ok.load(), 500);
  EXPECT_EQ(rt.stats().completed.load(), 501);
  EXPECT_EQ(rt.stats().retried.load(), 2);
  EXPECT_EQ(rt.stats().lost.load(), 0);
}

// The metrics hook: every handler run is reported with its start latency, run time and outcome.
TEST_F(Runtimes, ReportsEachRunWithItsLatencyRunTimeAndOutcome) {
  Registry reg;
  reg.Register(Kind("slow", [](JobContext&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the run time to measure
    return Outcome::Complete();
  }));
  reg.Register(Kind("flaky", [](JobContext& ctx) {
    return ctx.job().attempt < 2 ? Outcome::Retry("not yet") : Outcome::Complete();
  }));
  struct Seen {
    std::string kind, outcome;
    std::chrono::microseconds latency, run;
  };
  std::mutex mu;
  std::vector<Seen> seen;
  auto opt = Options();
  opt.on_job_ran = [&](const Job& job, std::chrono::microseconds latency,
                       std::chrono::microseconds run, const char* outcome) {
    std::lock_guard lk(mu);
    seen.push_back({job.kind, outcome, latency, run});
  };
  Enq({.kind = "slow"});
  Enq({.kind = "flaky", .max_attempts = 3});
  Runtime rt(opt, reg, SystemClock::Instance());
  rt.Start();
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lk(mu);
    return seen.size() == 3;
  }));
  rt.Stop();
  std::lock_guard lk(mu);
  std::map<std::string, int> outcomes;
  for (const auto& s : seen) {
    ++outcomes[s.kind + ":" + s.outcome];
    EXPECT_GE(s.latency.count(), 0) << s.kind;
    EXPECT_LT(s.latency, std::chrono::microseconds(10'000'000)) << s.kind;
    if (s.kind == "slow") {
      EXPECT_GE(s.run, std::chrono::microseconds(30'000));
    }
  }
  EXPECT_EQ(outcomes["slow:complete"], 1);
  EXPECT_EQ(outcomes["flaky:retry"], 1);
  EXPECT_EQ(outcomes["flaky:complete"], 1);
}

TEST_F(Runtimes, TheLastFailedAttemptDiesAndRunsTheDeadHook) {
  Registry reg;
  std::atomic<int> hooks{0};
  reg.Register(Kind("broken", [](JobContext&) { return Outcome::Retry("always"); }));
  reg.Register(Kind("hopeless", [](JobContext&) { return Outcome::Fail("will never work"); }));
  reg.OnDead([&](store::Tx&, const Job&, const std::string&) { ++hooks; });
  Enq({.kind = "broken", .max_attempts = 3});
  Enq({.kind = "hopeless", .max_attempts = 10});
  Enq({.kind = "unknown_kind", .max_attempts = 2});
  Runtime rt(Options(), reg, SystemClock::Instance());
  rt.Start();
  ASSERT_TRUE(WaitFor([&] { return Count("state = 'dead'") == 3; }));
  rt.Stop();
  EXPECT_EQ(hooks.load(), 3);
  EXPECT_EQ(Count("kind = 'broken' AND attempt = 3"), 1);
  EXPECT_EQ(Count("kind = 'hopeless' AND attempt = 1"), 1) << "a permanent failure does not retry";
  EXPECT_EQ(Count("kind = 'unknown_kind' AND last_error LIKE 'no handler%'"), 1);
}

TEST_F(Runtimes, AnIdleWorkerWakesOnNotifyNotOnItsPoll) {
  Registry reg;
  std::atomic<bool> ran{false};
  reg.Register(Kind("k", [&](JobContext&) {
    ran = true;
    return Outcome::Complete();
  }));
  auto opt = Options();
  opt.poll_interval = Millis(60'000);
  Runtime rt(opt, reg, SystemClock::Instance());
  rt.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // past the start-up fetch: idle now
  Enq({.kind = "k"});
  // The poll would take a minute; only the notification can make this pass.
  EXPECT_TRUE(WaitFor([&] { return ran.load(); }, Millis(3'000)));
  EXPECT_GE(rt.stats().notifications.load(), 1);
}

TEST_F(Runtimes, ExactlyOneLeaderAndAnotherTakesOverWhenItStops) {
  Registry reg;
  auto a = std::make_unique<Runtime>(Options("a"), reg, SystemClock::Instance());
  auto b = std::make_unique<Runtime>(Options("b"), reg, SystemClock::Instance());
  a->Start();
  b->Start();
  ASSERT_TRUE(WaitFor([&] { return a->IsLeader() || b->IsLeader(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // several election rounds
  EXPECT_NE(a->IsLeader(), b->IsLeader()) << "exactly one leader";
  auto& leader = a->IsLeader() ? a : b;
  auto& follower = a->IsLeader() ? b : a;
  leader->Stop();
  EXPECT_TRUE(WaitFor([&] { return follower->IsLeader(); }, Millis(5'000)));
}

// The leader's maintenance thread sleeps until its next duty. At 850d4a5 its election deadline
// stayed in the past once it had won and still took part in the wake-up time, so every wait
// returned at once: a core spun for as long as the worker led.
TEST_F(Runtimes, AnIdleLeaderSleepsInsteadOfSpinning) {
  Registry reg;
  Runtime rt(Options(), reg, SystemClock::Instance());
  rt.Start();
  ASSERT_TRUE(WaitFor([&] { return rt.IsLeader(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past the first rounds
  auto cpu = [] {  // this process: the runtime's threads, and this one asleep
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return std::chrono::seconds(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           std::chrono::microseconds(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  };
  const auto before = cpu();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto used = std::chrono::duration_cast<Millis>(cpu() - before);
  EXPECT_TRUE(rt.IsLeader());
  // Idle, it wakes for the rescue sweep (every 100 ms here) and little else.
  EXPECT_LT(used.count(), 100) << "CPU time over 2 s of idle leadership";
}

// Sleeping until the next duty includes the periodic schedule: nothing else wakes this leader
// (its other duties are a minute away), yet a 200 ms schedule fires every round (500 ms).
TEST_F(Runtimes, PeriodicJobsFireWhenNothingElseWakesTheLeader) {
  Registry reg;
  std::atomic<int> ran{0};
  reg.Register(Kind("tick", [&](JobContext&) {
    ++ran;
    return Outcome::Complete();
  }));
  auto opt = Options();
  opt.rescue_interval = Millis(60'000);
  opt.promote_poll = Millis(60'000);
  opt.periodic = {{"tick", Millis(200), "tick"}};
  Runtime rt(opt, reg, SystemClock::Instance());
  rt.Start();
  ASSERT_TRUE(WaitFor([&] { return rt.IsLeader() && ran.load() >= 1; }));
  const int first = ran.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(2'200));
  EXPECT_GE(ran.load() - first, 3) << "rounds at 500 ms over 2.2 s";
}

TEST_F(Runtimes, AKilledLeaderSessionResignsAndExactlyOneLeaderRemains) {
  Registry reg;
  auto a = std::make_unique<Runtime>(Options("a"), reg, SystemClock::Instance());
  a->Start();
  ASSERT_TRUE(WaitFor([&] { return a->IsLeader(); }));
  auto b = std::make_unique<Runtime>(Options("b"), reg, SystemClock::Instance());
  b->Start();
  // The leader's session dies (machine lost, connection cut): its advisory lock goes with it, and
  // the worker must notice rather than reconnect and go on believing it leads.
  db_->ExecRawOne(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
      "AND application_name = 'clubos-maintenance'");
  auto lock_holders = [&] {
    return db_
        ->ExecRawOne(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 727002 AND "
            "granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        .At(0, 0)
        .Int();
  };
  ASSERT_TRUE(
      WaitFor([&] { return lock_holders() == 1 && int(a->IsLeader()) + int(b->IsLeader()) == 1; },
              Millis(5'000)));
  for (int i = 0; i < 10; ++i) {  // and it stays that way
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(int(a->IsLeader()) + int(b->IsLeader()), 1);
    EXPECT_EQ(lock_holders(), 1);
  }
}

TEST_F(Runtimes, GracefulStopLetsRunningJobsFinish) {
  Registry reg;
  std::atomic<bool> started{false};
  reg.Register(Kind("slow", [&](JobContext& ctx) {
    started = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return RecordExactlyOnce(ctx);
  }));
  Enq({.kind = "slow"});
  Runtime rt(Options(), reg, SystemClock::Instance());
  rt.Start();
  ASSERT_TRUE(WaitFor([&] { return started.load(); }));
  EXPECT_TRUE(rt.Stop());
  EXPECT_EQ(Count(), 0);
  EXPECT_EQ(db_->ExecRawOne("SELECT count(*) FROM effects").At(0, 0).Int(), 1);
}

TEST_F(Runtimes, StopHandsBackWhatOutlivesTheGracePeriod) {
  Registry reg;
  Latch release;
  std::atomic<bool> started{false};
  reg.Register(Kind("stuck", [&](JobContext&) {
    started = true;
    release.Wait();
    return Outcome::Complete();
  }));
  Enq({.kind = "stuck"});
  Enq({.kind = "stuck"}, 20);  // more than it will start: the queued ones go back at once
  auto opt = Options();
  opt.concurrency = 1;
  opt.shutdown_grace = Millis(100);
  auto rt = std::make_unique<Runtime>(opt, reg, SystemClock::Instance());
  rt->Start();
  ASSERT_TRUE(WaitFor([&] { return started.load(); }));
  EXPECT_FALSE(rt->Stop());
  EXPECT_EQ(Count("state = 'available' AND attempt = 0"), 21)
      << "all handed back, attempts refunded";
  release.Open();
  rt.reset();  // joins the handler thread
  EXPECT_EQ(Count(), 21) << "the late completion of a handed-back job must not delete it";
}

TEST_F(Runtimes, TheListenerReconnectsAfterItsBackendIsKilled) {
  Registry reg;
  std::atomic<int> ran{0};
  reg.Register(Kind("k", [&](JobContext&) {
    ++ran;
    return Outcome::Complete();
  }));
  auto opt = Options();
  opt.poll_interval = Millis(60'000);
  Runtime rt(opt, reg, SystemClock::Instance());
  rt.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  db_->ExecRawOne(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
      "AND application_name = "
      "'clubos-listener'");
  ASSERT_TRUE(WaitFor([&] {
    return db_->ExecRawOne(
                  "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                  "application_name = "
                  "'clubos-listener'")
               .At(0, 0)
               .Int() == 1;
  }));
  Enq({.kind = "k"});
  EXPECT_TRUE(WaitFor([&] { return ran.load() == 1; }, Millis(3'000)));
}

TEST_F(Runtimes, WorkersSurviveTheirConnectionsBeingKilledMidRun) {
  Registry reg;
  reg.Register(Kind("record", RecordExactlyOnce));
  Enq({.kind = "record"}, 2'000);
  auto opt = Options();
  opt.lease = Millis(2'000);
  opt.heartbeat_interval = Millis(300);
  opt.fetch_batch_max = 20;
  Runtime rt(opt, reg, SystemClock::Instance());
  rt.Start();
  for (int round = 0; round < 5; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    db_->ExecRawOne(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name IN "
        "('clubos-dispatcher', 'clubos-executor', 'clubos-completer', 'clubos-maintenance')");
  }
  ASSERT_TRUE(WaitFor([&] { return Count() == 0; }, Millis(30'000))) << Count() << " left";
  rt.Stop();
  EXPECT_EQ(db_->ExecRawOne("SELECT count(DISTINCT job_id), count(*) FROM effects").At(0, 0).Int(),
            2'000);
  EXPECT_EQ(db_->ExecRawOne("SELECT count(*) FROM effects").At(0, 0).Int(), 2'000)
      << "an effect ran twice";
}

TEST_F(Runtimes, AJobPastItsTimeoutIsRescuedAndItsLateResultDiscarded) {
  Registry reg;
  std::atomic<int> attempts{0};
  reg.Register(Kind(
      "hang_once",
      [&](JobContext& ctx) {
        ++attempts;
        if (ctx.job().attempt == 1) std::this_thread::sleep_for(std::chrono::milliseconds(1'500));
        return RecordExactlyOnce(ctx);
      },
      Millis(200)));
  Enq({.kind = "hang_once"});
  auto opt = Options();
  opt.lease = Millis(400);
  opt.heartbeat_interval = Millis(100);
  Runtime rt(opt, reg, SystemClock::Instance());
  rt.Start();
  ASSERT_TRUE(
      WaitFor([&] { return Count() == 0 && attempts.load() == 2 && rt.stats().lost.load() >= 1; }));
  rt.Stop();
  auto r = db_->ExecRawOne("SELECT count(*), max(attempt) FROM effects");
  EXPECT_EQ(r.At(0, 0).Int(), 1);
  EXPECT_EQ(r.At(0, 1).Int(), 2);
}

TEST_F(Runtimes, FinishedJobsMakeRoomForMoreWithoutWaitingForThePoll) {
  // Jobs that complete in their own transaction send no ack; freed capacity alone must trigger the
  // next claim. With a one-minute poll, anything else would stall after the first batch.
  Registry reg;
  reg.Register(Kind("record", RecordExactlyOnce));
  Enq({.kind = "record"}, 300);
  auto opt = Options();
  opt.poll_interval = Millis(60'000);
  opt.fetch_batch_max = 10;
  Runtime rt(opt, reg, SystemClock::Instance());
  rt.Start();
  EXPECT_TRUE(WaitFor([&] { return Count() == 0; }, Millis(20'000))) << Count() << " left";
  rt.Stop();
  EXPECT_GE(rt.stats().fetch_statements.load(), 300 / 10);
}

TEST_F(Runtimes, SlowHandlersAreNotPrefetchedBeyondWhatStartsSoon) {
  // 100 ms handlers on 2 executors start 0.4 jobs within the 20 ms horizon: the worker holds
  // what runs, not a batch that would wait seconds (and, if it died, a lease) for an executor.
  Registry reg;
  reg.Register(Kind("slow", [](JobContext& ctx) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return RecordExactlyOnce(ctx);
  }));
  Enq({.kind = "slow"}, 60);
  auto opt = Options();
  opt.concurrency = 2;
  opt.fetch_batch_max = 100;
  Runtime rt(opt, reg, SystemClock::Instance());
  rt.Start();
  ASSERT_TRUE(WaitFor([&] { return rt.stats().completed.load() >= 4; }, Millis(10'000)));
  std::size_t most = 0;
  for (int i = 0; i < 30; ++i) {
    most = std::max(most, rt.HeldCount());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_LE(most, 4u) << "held beyond the 2 running jobs and their pending acks";
  EXPECT_GT(Count("state = 'available'"), 40) << "the rest waits in the database, for anyone";
  rt.Stop();
}

TEST_F(Runtimes, QuickHandlersStillComeInWholeBatches) {
  Registry reg;
  reg.Register(Kind("ok", [](JobContext&) { return Outcome::Complete(); }));
  Enq({.kind = "ok"}, 2'000);
  auto opt = Options();
  opt.fetch_batch_max = 100;
  Runtime rt(opt, reg, SystemClock::Instance());
  rt.Start();
  ASSERT_TRUE(WaitFor([&] { return Count() == 0; })) << Count() << " left";
  rt.Stop();
  // 2,000 jobs in claims of about half a batch or more: prefetch adapts up for quick handlers.
  EXPECT_LE(rt.stats().fetch_statements.load(), 2'000 / 25);
}

TEST_F(Runtimes, AHandlerStillRunningIsMarkedStartedInTheDatabase) {
  // Its attempt then counts if the worker dies; a quick job is acknowledged instead of marked.
  Registry reg;
  Latch release;
  std::atomic<bool> started{false};
  reg.Register(Kind("held", [&](JobContext& ctx) {
    started = true;
    release.Wait();
    return RecordExactlyOnce(ctx);
  }));
  Enq({.kind = "held"});
  Runtime rt(Options(), reg, SystemClock::Instance());
  rt.Start();
  ASSERT_TRUE(WaitFor([&] { return started.load(); }));
  EXPECT_TRUE(WaitFor([&] { return Count("handler_started") == 1; }, Millis(2'000)))
      << "the running job was never marked started";
  release.Open();
  EXPECT_TRUE(WaitFor([&] { return Count() == 0; }));
  EXPECT_TRUE(rt.Stop());
}
