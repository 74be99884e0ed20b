// One time source decides everything (core/clock.h): the flow's statements stamp the injected
// clock's time, not the database's, so the times the code compares (an action's `since`, its
// deadlines, the cooldown's `started_at`) are all on one clock. The flow runs here on a fake clock
// far from the wall clock, one due job at a time, without workers.
#include <gtest/gtest.h>

#include <random>

#include "tests/support/flow_fixture.h"
#include "tests/support/history.h"
#include "workers/queue_ops.h"
#include "workers/run_job.h"

using namespace clubos;
using namespace clubos::workflows;
using sim::FakeFacility;

namespace {

constexpr const char* kCustomer = "+15555550100";
constexpr const char* kBedford = "+15555550199";
// 2031-01-01T00:00:00Z: years from the database's now().
const TimePoint kStart(std::chrono::seconds(1'924'992'000));

class FlowClockTest : public ::testing::Test, protected pgtest::FlowReads {
 protected:
  void SetUp() override {
    CLUBOS_REQUIRE_PG();
    pgtest::ResetDatabase();
    db_ = pgtest::Connect();
    db = db_.get();
    facility_ = FakeFacility::InMemory();
    router_ = std::make_unique<PatternRouter>(config_.router);
    flow_ = std::make_unique<Flow>(config_, *router_, *facility_, clock_);
    flow_->Register(registry_);
  }
  // Runs every job due now, one at a time, through the runtime's own per-job step; returns how
  // many ran.
  int RunDue() {
    int ran = 0;
    for (;;) {
      workers::PromoteDue(*db_, 100, clock_);
      auto fetched = workers::Fetch(*db_, "default", 1, "test", Millis(60'000), clock_);
      if (fetched.jobs.empty()) return ran;
      const workers::Job& job = fetched.jobs[0];
      const auto run = workers::RunHandler(registry_, job, *db_, clock_, "test");
      EXPECT_FALSE(run.lease_lost) << job.kind;
      if (run.outcome.type != workers::Outcome::Type::kComplete)
        workers::RecordOutcome(*db_, registry_, job, "test", run.outcome, rng_, clock_);
      else if (!run.completed_in_tx)
        workers::Complete(*db_, {{job.id, job.attempt}}, "test");
      ++ran;
    }
  }

  Config config_ = pgtest::FastFlowConfig();
  FakeClock clock_{kStart};
  std::unique_ptr<store::Connection> db_;
  std::unique_ptr<FakeFacility> facility_;
  std::unique_ptr<PatternRouter> router_;
  std::unique_ptr<Flow> flow_;
  workers::Registry registry_;
  std::mt19937_64 rng_{12};
};

}  // namespace

TEST_F(FlowClockTest, EveryTimeTheFlowStampsIsTheInjectedClocksTime) {
  const auto in = flow_->Intake(*db_, {kCustomer, kBedford, "how much for an hour?", ""});
  clock_.Advance(config_.flow.debounce + Millis(1));
  ASSERT_GE(RunDue(), 2) << "the route job, then the answer's send";
  ASSERT_EQ(ThreadState(in.thread_id), "verified");
  const auto since = [&](const std::string& sql) {
    return Scalar(
        "SELECT count(*) FROM " + sql + " NOT BETWEEN $1::timestamptz AND $2::timestamptz",
        {kStart, clock_.Now()});
  };
  EXPECT_GT(Scalar("SELECT count(*) FROM transitions"), 4);
  EXPECT_EQ(since("transitions WHERE at"), 0) << "history on the wall clock";
  EXPECT_EQ(since("threads WHERE created_at"), 0);
  EXPECT_EQ(since("threads WHERE updated_at"), 0);
  EXPECT_EQ(since("actions WHERE created_at"), 0);
  EXPECT_EQ(since("actions WHERE updated_at"), 0) << "an action's `since` on the wall clock";
  EXPECT_EQ(since("actions WHERE executed_at"), 0);
  EXPECT_EQ(since("actions WHERE started_at"), 0);
  EXPECT_EQ(since("messages WHERE received_at"), 0);
  pgtest::ExpectValidHistories(*db_);
}

// A thread's job that dies hands its thread to a human, even when it carries the action that
// moved the thread (a close_thread scheduled by a verification's cascade does).
TEST_F(FlowClockTest, ADeadCloseJobHandsItsVerifiedThreadToAHuman) {
  const auto in = flow_->Intake(*db_, {kCustomer, kBedford, "how much for an hour?", ""});
  clock_.Advance(config_.flow.debounce + Millis(1));
  ASSERT_GE(RunDue(), 2);
  ASSERT_EQ(ThreadState(in.thread_id), "verified");
  const auto close = db_->ExecRawOne(
      "SELECT id, args::text AS args FROM jobs WHERE kind = 'close_thread' AND "
      "unique_key = 'close_thread:" +
      std::to_string(in.thread_id) + "'");
  ASSERT_EQ(close.Size(), 1u);
  workers::Job job;
  job.id = close.At(0, "id").Int64();
  job.kind = "close_thread";
  job.args = close.At(0, "args").Str();
  ASSERT_NE(job.args.find("action_id"), std::string::npos) << "the case this test is about";
  db_->Transact("dead", [&](store::Tx& tx) { registry_.RunDeadHooks(tx, job, "boom"); });
  EXPECT_EQ(ThreadState(in.thread_id), "escalated");
  EXPECT_EQ(Escalation(in.thread_id), "retries_exhausted");
  pgtest::ExpectValidHistories(*db_);
}

// An inherited call that is safe to repeat is still a new call: an emergency stop engaged after
// the first attempt (whose outcome is unknown) holds it. The fake facility takes resets as
// idempotent, so without the stop the retry would restart the bay.
TEST_F(FlowClockTest, AnInheritedResetIsNotRepeatedUnderAStopEngagedSinceItStarted) {
  const auto in = flow_->Intake(*db_, {kCustomer, kBedford, "the trackman in bay 5 is frozen", ""});
  clock_.Advance(config_.flow.debounce + Millis(1));
  RunDue();
  ASSERT_EQ(ThreadState(in.thread_id), "awaiting_confirmation");
  facility_->SetFault("105", "transient", 1);  // the call may have happened: outcome unknown
  flow_->Intake(*db_, {kCustomer, kBedford, "yes", ""});
  RunDue();
  const int64_t reset = Scalar("SELECT id FROM actions WHERE kind = 'reset_trackman'");
  ASSERT_EQ(Scalar("SELECT count(*) FROM actions WHERE id = $1 AND state = 'executing'", {reset}),
            1);
  flow_->SetEmergencyStop(*db_, "global", true, "water on the floor", "operator:ana");
  clock_.Advance(config_.flow.retry_cap + Millis(1));
  RunDue();
  EXPECT_EQ(facility_->Calls("reset_trackman"), 0) << "the reset was called again under the stop";
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE id = $1 AND state = 'escalated' AND "
                   "result = 'inconclusive' AND error LIKE '%emergency stop%'",
                   {reset}),
            1);
  EXPECT_EQ(ThreadState(in.thread_id), "escalated");
  pgtest::ExpectValidHistories(*db_);
}
