// The queue's semantics, step by step, against real Postgres with a fake clock: nothing here
// waits for time to pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "store/db.h"
#include "store/listener.h"
#include "tests/support/pg.h"
#include "workers/queue.h"
#include "workers/queue_ops.h"

using namespace clubos;
using namespace clubos::workers;

namespace {

const TimePoint kStart = TimePoint(std::chrono::seconds(1'900'000'000));  // 2030-03-17
const Millis kLease(30'000);

class Queue : public ::testing::Test {
 protected:
  void SetUp() override {
    CLUBOS_REQUIRE_PG();
    pgtest::ResetDatabase();
    db_ = pgtest::Connect();
    db_->ExecRawOne(
        "CREATE TABLE IF NOT EXISTS hook_log (job_id bigint, reason text); TRUNCATE hook_log");
    registry_.OnDead([](store::Tx& tx, const Job& j, const std::string& reason) {
      tx.ExecRaw("INSERT INTO hook_log VALUES (" + std::to_string(j.id) + ", " +
                 (reason.find('\'') == std::string::npos ? "'" + reason + "'" : "'?'") + ")");
    });
  }

  EnqueueResult Enq(EnqueueRequest r) {
    EnqueueResult out;
    db_->Transact("enq", [&](store::Tx& tx) { out = Enqueue(tx, r, clock_); });
    return out;
  }
  std::string State(int64_t id) {
    auto r = db_->ExecOne("job_get", {id});
    return r.Empty() ? "deleted" : r.At(0, "state").Str();
  }
  store::Result Row(int64_t id) { return db_->ExecOne("job_get", {id}); }
  int64_t Count(const std::string& where = "true") {
    return db_->ExecRawOne("SELECT count(*) FROM jobs WHERE " + where).At(0, 0).Int64();
  }
  std::vector<Job> FetchAll(const std::string& owner = "w1", int limit = 100) {
    return Fetch(*db_, "default", limit, owner, kLease, clock_).jobs;
  }

  FakeClock clock_{kStart};
  Registry registry_;
  std::unique_ptr<store::Connection> db_;
};

}  // namespace

TEST_F(Queue, SmallerPriorityFirstThenFifo) {
  const auto a = Enq({.kind = "k"});
  clock_.Advance(std::chrono::milliseconds(1));
  const auto b = Enq({.kind = "k"});
  const auto urgent = Enq({.kind = "k", .priority = 5});
  clock_.Advance(std::chrono::milliseconds(1));
  const auto d = Enq({.kind = "k"});
  const auto jobs = FetchAll();
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs[0].id, urgent.id);
  EXPECT_EQ(jobs[1].id, a.id);
  EXPECT_EQ(jobs[2].id, b.id);
  EXPECT_EQ(jobs[3].id, d.id);
  EXPECT_EQ(jobs[0].attempt, 1);
  EXPECT_EQ(State(a.id), "running");
}

TEST_F(Queue, ConcurrentFetchersClaimDisjointJobs) {
  db_->Transact("many", [&](store::Tx& tx) {
    std::vector<EnqueueRequest> reqs(300, EnqueueRequest{.kind = "k"});
    EXPECT_EQ(EnqueueMany(tx, reqs, clock_), 300);
  });
  std::vector<std::vector<Job>> got(3);
  std::vector<std::thread> ts;
  for (int w = 0; w < 3; ++w)
    ts.emplace_back([&, w] {
      auto c = pgtest::Connect();
      for (;;) {
        auto r = Fetch(*c, "default", 7, "w" + std::to_string(w), kLease, clock_).jobs;
        if (r.empty()) break;
        got[static_cast<std::size_t>(w)].insert(got[static_cast<std::size_t>(w)].end(), r.begin(),
                                                r.end());
      }
    });
  for (auto& t : ts) t.join();
  std::set<int64_t> ids;
  std::size_t total = 0;
  for (const auto& g : got) {
    total += g.size();
    for (const auto& j : g) ids.insert(j.id);
  }
  EXPECT_EQ(total, 300u);
  EXPECT_EQ(ids.size(), 300u) << "a job was claimed twice";
}

TEST_F(Queue, ScheduledJobsWaitForTheirTime) {
  const auto j = Enq({.kind = "k", .run_at = kStart + Millis(10'000)});
  EXPECT_TRUE(j.scheduled);
  EXPECT_EQ(State(j.id), "scheduled");
  EXPECT_TRUE(FetchAll().empty());
  EXPECT_EQ(NextDue(*db_), kStart + Millis(10'000));
  clock_.Advance(Millis(9'999));
  EXPECT_EQ(PromoteDue(*db_, 100, clock_), 0);
  clock_.Advance(Millis(1));
  EXPECT_EQ(PromoteDue(*db_, 100, clock_), 1);
  EXPECT_FALSE(NextDue(*db_).has_value());
  const auto jobs = FetchAll();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, j.id);
}

TEST_F(Queue, UniqueKeyKeepsThePendingJob) {
  const auto first = Enq({.kind = "k", .args = R"({"v":1})", .unique_key = "thread:7"});
  const auto second = Enq({.kind = "k", .args = R"({"v":2})", .unique_key = "thread:7"});
  EXPECT_FALSE(first.existed);
  EXPECT_TRUE(second.existed);
  EXPECT_EQ(first.id, second.id);
  EXPECT_EQ(Count(), 1);
  EXPECT_EQ(Row(first.id).At(0, "args").Str(), R"({"v": 1})");
  // Once it runs, the key is free again: new work queues behind the running job.
  ASSERT_EQ(FetchAll().size(), 1u);
  const auto third = Enq({.kind = "k", .unique_key = "thread:7"});
  EXPECT_FALSE(third.existed);
  EXPECT_NE(third.id, first.id);
}

TEST_F(Queue, AClaimedJobGoingBackNeverCollidesWithANewerJobOfItsKey) {
  const auto old = Enq({.kind = "k", .max_attempts = 5, .unique_key = "periodic:x"});
  const auto other = Enq({.kind = "k", .max_attempts = 5});
  auto jobs = FetchAll("w1");
  ASSERT_EQ(jobs.size(), 2u);
  const auto newer = Enq({.kind = "k", .unique_key = "periodic:x"});
  EXPECT_FALSE(newer.existed);
  EXPECT_EQ(Retry(*db_, jobs[0], "w1", Millis(0), "again", false, clock_), Resolution::kDone);
  ASSERT_EQ(FetchAll("w2", 1).size(), 1u);  // the retried one or the newer one, both keyed before
  EXPECT_EQ(Release(*db_, {old.id, newer.id}, "w2"), 1);
  clock_.Advance(kLease + Millis(1));
  EXPECT_NO_THROW(RescueExpired(*db_, registry_, 100, clock_));
  EXPECT_EQ(State(other.id), "available") << "the rescue of unrelated jobs must not be blocked";
  EXPECT_EQ(Count("unique_key = 'periodic:x'"), 1)
      << "only the never-claimed job still holds the key";
}

TEST_F(Queue, UniqueKeyReplaceMovesTheJobLater) {  // the debounce of route_message
  const auto first = Enq({.kind = "route",
                          .run_at = kStart + Millis(3'000),
                          .unique_key = "route:1",
                          .key_mode = KeyMode::kReplace});
  clock_.Advance(Millis(2'000));
  const auto second = Enq({.kind = "route",
                           .run_at = clock_.Now() + Millis(3'000),
                           .unique_key = "route:1",
                           .key_mode = KeyMode::kReplace});
  EXPECT_EQ(first.id, second.id);
  EXPECT_TRUE(second.existed);
  EXPECT_EQ(Row(first.id).At(0, "run_at").Time(), kStart + Millis(5'000));
  clock_.Advance(Millis(1'500));  // the original time has passed, the moved one has not
  EXPECT_EQ(PromoteDue(*db_, 100, clock_), 0);
  clock_.Advance(Millis(1'500));
  EXPECT_EQ(PromoteDue(*db_, 100, clock_), 1);
}

TEST_F(Queue, RetryBacksOffThenTheLastAttemptDiesWithItsHook) {
  const auto j = Enq({.kind = "k", .max_attempts = 2});
  auto jobs = FetchAll();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(Retry(*db_, jobs[0], "w1", Millis(1'000), "vendor timed out", false, clock_),
            Resolution::kDone);
  EXPECT_EQ(State(j.id), "scheduled");
  EXPECT_EQ(Row(j.id).At(0, "attempt").Int(), 1);
  EXPECT_EQ(Row(j.id).At(0, "last_error").Str(), "vendor timed out");
  EXPECT_TRUE(FetchAll().empty());
  clock_.Advance(Millis(1'000));
  PromoteDue(*db_, 100, clock_);
  jobs = FetchAll();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].attempt, 2);
  EXPECT_TRUE(jobs[0].LastAttempt());
  EXPECT_EQ(Kill(*db_, registry_, jobs[0], "w1", "vendor timed out", clock_), Resolution::kDone);
  EXPECT_EQ(State(j.id), "dead");
  EXPECT_EQ(db_->ExecRawOne("SELECT count(*) FROM hook_log WHERE job_id = " + std::to_string(j.id))
                .At(0, 0)
                .Int(),
            1);
}

TEST_F(Queue, AFailingDeadHookLeavesTheJobAsItWas) {
  const auto j = Enq({.kind = "k"});
  auto jobs = FetchAll();
  Registry bad;
  bad.OnDead(
      [](store::Tx&, const Job&, const std::string&) { throw std::runtime_error("hook failed"); });
  EXPECT_THROW(Kill(*db_, bad, jobs[0], "w1", "boom", clock_), std::runtime_error);
  EXPECT_EQ(State(j.id), "running");
}

TEST_F(Queue, DeferralDoesNotConsumeAnAttempt) {
  const auto j = Enq({.kind = "k", .max_attempts = 1});
  auto jobs = FetchAll();
  EXPECT_EQ(Retry(*db_, jobs[0], "w1", Millis(60'000), "cooldown", true, clock_),
            Resolution::kDone);
  EXPECT_EQ(Row(j.id).At(0, "attempt").Int(), 0);
  clock_.Advance(Millis(60'000));
  PromoteDue(*db_, 100, clock_);
  jobs = FetchAll();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].attempt, 1) << "still the first real attempt";
}

TEST_F(Queue, ExpiredLeasesAreRescuedAndTheLastAttemptDies) {
  const auto retryable = Enq({.kind = "k", .max_attempts = 3});
  const auto final = Enq({.kind = "k", .max_attempts = 1});
  const auto claimed = FetchAll("crashed-worker");
  ASSERT_EQ(claimed.size(), 2u);
  EXPECT_EQ(MarkStarted(*db_, {{claimed[0].id, 1}, {claimed[1].id, 1}}, "crashed-worker"), 2);
  clock_.Advance(kLease - Millis(1));
  auto r = RescueExpired(*db_, registry_, 100, clock_);
  EXPECT_EQ(r.requeued + r.killed, 0) << "leases still valid";
  clock_.Advance(Millis(2));
  r = RescueExpired(*db_, registry_, 100, clock_);
  EXPECT_EQ(r.requeued, 1);
  EXPECT_EQ(r.killed, 1);
  EXPECT_EQ(State(retryable.id), "available");
  EXPECT_EQ(Row(retryable.id).At(0, "attempt").Int(), 1) << "the crashed attempt stays used";
  EXPECT_NE(Row(retryable.id).At(0, "last_error").Str().find("lease expired"), std::string::npos);
  EXPECT_EQ(State(final.id), "dead");
  EXPECT_EQ(
      db_->ExecRawOne("SELECT count(*) FROM hook_log WHERE job_id = " + std::to_string(final.id))
          .At(0, 0)
          .Int(),
      1);
  // The crashed worker's late ack finds the job no longer its own.
  EXPECT_EQ(Complete(*db_, {{retryable.id, 1}}, "crashed-worker"), 0);
}

TEST_F(Queue, AnAttemptThatNeverStartedIsGivenBackThreeTimesAtMost) {
  // A worker dies holding a job it claimed but had not started (it waited in its local queue).
  // The attempt is given back as one more allowed, so attempt numbers only grow.
  const auto j = Enq({.kind = "k", .max_attempts = 1});
  for (int rescue = 1; rescue <= 3; ++rescue) {
    ASSERT_EQ(FetchAll("crashed-worker").size(), 1u);
    EXPECT_EQ(Row(j.id).At(0, "attempt").Int(), rescue);
    clock_.Advance(kLease + Millis(1));
    const auto r = RescueExpired(*db_, registry_, 100, clock_);
    EXPECT_EQ(r.requeued, 1) << "rescue " << rescue << ": an attempt that never ran is not spent";
    EXPECT_EQ(r.killed, 0) << "rescue " << rescue;
    EXPECT_EQ(State(j.id), "available");
    EXPECT_EQ(Row(j.id).At(0, "max_attempts").Int(), 1 + rescue);
    EXPECT_NE(Row(j.id).At(0, "last_error").Str().find("not counted"), std::string::npos);
  }
  // A handler that kills its worker before the mark is written looks unstarted: after three
  // refunds its attempts count again, so it still dies.
  ASSERT_EQ(FetchAll("crashed-worker").size(), 1u);
  clock_.Advance(kLease + Millis(1));
  const auto r = RescueExpired(*db_, registry_, 100, clock_);
  EXPECT_EQ(r.killed, 1);
  EXPECT_EQ(State(j.id), "dead");
}

TEST_F(Queue, AStartMarkCountsOnlyForTheAttemptAndOwnerItNames) {
  const auto j = Enq({.kind = "k", .max_attempts = 5});
  ASSERT_EQ(FetchAll("w1").size(), 1u);
  EXPECT_EQ(MarkStarted(*db_, {{j.id, 1}}, "someone-else"), 0);
  EXPECT_EQ(MarkStarted(*db_, {{j.id, 2}}, "w1"), 0) << "not the attempt it holds";
  EXPECT_EQ(MarkStarted(*db_, {{j.id, 1}}, "w1"), 1);
  EXPECT_EQ(MarkStarted(*db_, {{j.id, 1}}, "w1"), 0) << "marked once";
  EXPECT_EQ(ReleaseOrphans(*db_, "w1", {}), 0) << "a started job is no orphan: the rescue's";
  clock_.Advance(kLease + Millis(1));
  ASSERT_EQ(RescueExpired(*db_, registry_, 100, clock_).requeued, 1);
  EXPECT_EQ(Row(j.id).At(0, "max_attempts").Int(), 5) << "a started attempt stays used";
  // The next claim starts unmarked again.
  ASSERT_EQ(FetchAll("w2").size(), 1u);
  clock_.Advance(kLease + Millis(1));
  ASSERT_EQ(RescueExpired(*db_, registry_, 100, clock_).requeued, 1);
  EXPECT_EQ(Row(j.id).At(0, "attempt").Int(), 2);
  EXPECT_EQ(Row(j.id).At(0, "max_attempts").Int(), 6) << "attempt 2 never started: given back";
}

TEST_F(Queue, ARefundNeverPassesTheBoundOfAThousandAttempts) {
  const auto j = Enq({.kind = "k", .max_attempts = 1000});
  db_->ExecRawOne("UPDATE jobs SET attempt = 999 WHERE id = " + std::to_string(j.id));
  ASSERT_EQ(FetchAll("crashed-worker").size(), 1u);
  clock_.Advance(kLease + Millis(1));
  const auto r = RescueExpired(*db_, registry_, 100, clock_);
  EXPECT_EQ(r.killed, 1) << "attempt 1000 of 1000, unstarted: no room to give it back";
  EXPECT_EQ(State(j.id), "dead");
}

TEST_F(Queue, AcksAreCompareAndSetOnOwnerAndAttempt) {
  const auto j = Enq({.kind = "k"});
  ASSERT_EQ(FetchAll("w1").size(), 1u);
  EXPECT_EQ(Complete(*db_, {{j.id, 2}}, "w1"), 0);
  EXPECT_EQ(Complete(*db_, {{j.id, 1}}, "w2"), 0);
  EXPECT_EQ(State(j.id), "running");
  EXPECT_EQ(Complete(*db_, {{j.id, 1}}, "w1"), 1);
  EXPECT_EQ(State(j.id), "deleted");
  EXPECT_EQ(Complete(*db_, {{j.id, 1}}, "w1"), 0) << "a second ack is a harmless no-op";
}

TEST_F(Queue, CompleteAndFetchAcksAndClaimsInOneStatement) {
  const auto a = Enq({.kind = "k"});
  ASSERT_EQ(FetchAll("w1", 1).size(), 1u);
  const auto b = Enq({.kind = "k"});
  auto res =
      CompleteAndFetch(*db_, {{a.id, 1}, {b.id + 1000, 1}}, "default", 10, "w1", kLease, clock_);
  EXPECT_EQ(res.completed, 1);
  ASSERT_EQ(res.jobs.size(), 1u);
  EXPECT_EQ(res.jobs[0].id, b.id);
  EXPECT_EQ(State(a.id), "deleted");
  res = CompleteAndFetch(*db_, {{b.id, 1}}, "default", 10, "w1", kLease, clock_);
  EXPECT_EQ(res.completed, 1);
  EXPECT_TRUE(res.jobs.empty());
}

TEST_F(Queue, CompletingInTheHandlersTransactionIsExactlyOnce) {
  db_->ExecRawOne("CREATE TABLE IF NOT EXISTS effects (job_id bigint); TRUNCATE effects");
  Enq({.kind = "k"});
  auto jobs = FetchAll("w1");
  ASSERT_EQ(jobs.size(), 1u);
  auto run = [&](const std::string& owner) {
    JobContext ctx(jobs[0], *db_, clock_, owner);
    db_->Transact("handler", [&](store::Tx& tx) {
      tx.ExecRaw("INSERT INTO effects VALUES (" + std::to_string(jobs[0].id) + ")");
      ctx.CompleteInTx(tx);
    });
    return ctx.completed_in_tx();
  };
  EXPECT_THROW(run("someone-else"), LeaseLost);
  EXPECT_EQ(db_->ExecRawOne("SELECT count(*) FROM effects").At(0, 0).Int(), 0)
      << "rolled back with the lost lease";
  EXPECT_TRUE(run("w1"));
  EXPECT_THROW(run("w1"), LeaseLost);
  EXPECT_EQ(db_->ExecRawOne("SELECT count(*) FROM effects").At(0, 0).Int(), 1);
  EXPECT_EQ(State(jobs[0].id), "deleted");
}

TEST_F(Queue, HeartbeatsExtendOnlyLeasesStillOwned) {
  const auto a = Enq({.kind = "k"});
  const auto b = Enq({.kind = "k"});
  ASSERT_EQ(FetchAll("w1").size(), 2u);
  Complete(*db_, {{b.id, 1}}, "w1");
  clock_.Advance(Millis(20'000));
  const auto alive = Heartbeat(*db_, {a.id, b.id}, "w1", kLease, clock_);
  EXPECT_EQ(alive, std::vector<int64_t>{a.id});
  EXPECT_EQ(Heartbeat(*db_, {a.id}, "w2", kLease, clock_).size(), 0u);
  clock_.Advance(Millis(20'000));  // 40 s after the claim, 20 s after the heartbeat
  EXPECT_EQ(RescueExpired(*db_, registry_, 100, clock_).requeued, 0);
  EXPECT_EQ(State(a.id), "running");
}

TEST_F(Queue, ReleaseRefundsTheAttemptAndKeepsThePlaceInLine) {
  const auto first = Enq({.kind = "k"});
  clock_.Advance(Millis(1));
  const auto second = Enq({.kind = "k"});
  ASSERT_EQ(FetchAll("w1", 1).size(), 1u);
  EXPECT_EQ(Release(*db_, {first.id, second.id}, "w1"), 1);
  EXPECT_EQ(Row(first.id).At(0, "attempt").Int(), 0);
  const auto jobs = FetchAll("w2");
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, first.id);
}

TEST_F(Queue, DeadJobsArePrunedAfterRetention) {
  const auto j = Enq({.kind = "k"});
  auto jobs = FetchAll();
  Kill(*db_, registry_, jobs[0], "w1", "permanent", clock_);
  clock_.Advance(Millis(59'000));
  EXPECT_EQ(PruneDead(*db_, Millis(60'000), 100, clock_), 0);
  clock_.Advance(Millis(2'000));
  EXPECT_EQ(PruneDead(*db_, Millis(60'000), 100, clock_), 1);
  EXPECT_EQ(State(j.id), "deleted");
}

TEST_F(Queue, PeriodicJobsFireOncePerIntervalWhoeverLeads) {
  const std::vector<PeriodicJob> schedule = {
      {"close_quiet_threads", Millis(60'000), "close_threads"}};
  auto other_leader = pgtest::Connect();
  EXPECT_EQ(FirePeriodic(*db_, schedule, clock_), 1);
  EXPECT_EQ(FirePeriodic(*other_leader, schedule, clock_), 0);
  clock_.Advance(Millis(30'000));
  EXPECT_EQ(FirePeriodic(*db_, schedule, clock_), 0);
  clock_.Advance(Millis(30'000));
  EXPECT_EQ(FirePeriodic(*other_leader, schedule, clock_), 1);
  EXPECT_EQ(Count("kind = 'close_threads'"), 1)
      << "the pending firing absorbs the second (unique key)";
}

TEST_F(Queue, BadInputChangesNothing) {
  EXPECT_THROW(Enq({.kind = "k", .args = "{not json"}), store::DbError);
  EXPECT_THROW(Enq({.kind = "BAD KIND"}), std::invalid_argument);
  EXPECT_THROW(db_->Transact("mixed",
                             [&](store::Tx& tx) {
                               Enqueue(tx, {.kind = "k"}, clock_);
                               Enqueue(tx,
                                       {.kind = "k", .args = std::string(kMaxArgsBytes + 1, 'x')},
                                       clock_);
                             }),
               std::invalid_argument);
  EXPECT_EQ(Count(), 0);
}

TEST_F(Queue, OneNotificationPerTransactionAndQueue) {
  std::vector<std::string> got;
  store::Listener l(pgtest::TestDatabaseUrl(), kJobsChannel,
                    [&](const std::string&, const std::string& p) { got.push_back(p); });
  db_->Transact("burst", [&](store::Tx& tx) {
    for (int i = 0; i < 50; ++i) Enqueue(tx, {.kind = "k"}, clock_);
    Enqueue(tx, {.kind = "k", .run_at = clock_.Now() + Millis(5'000)}, clock_);
  });
  for (int i = 0; i < 200 && got.size() < 2; ++i) {
    l.Drain();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{":timers", "default"}));
}
