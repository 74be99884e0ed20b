// One time source decides everything (core/clock.h): the flow's statements stamp the injected
// clock's time, not the database's, so the times the code compares (an action's `since`, its
// deadlines, the cooldown's `started_at`) are all on one clock. The flow runs here on a fake clock
// far from the wall clock, one due job at a time, without workers.
#include <gtest/gtest.h>

#include "tests/support/flow_fixture.h"
#include "tests/support/history.h"
#include "workers/queue_ops.h"

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
  // Runs every job due now, one at a time, as a worker would; returns how many ran.
  int RunDue() {
    int ran = 0;
    workers::PromoteDue(*db_, 100, clock_);
    for (;;) {
      auto fetched = workers::Fetch(*db_, "default", 1, "test", Millis(60'000), clock_);
      if (fetched.jobs.empty()) return ran;
      const workers::Job& job = fetched.jobs[0];
      workers::JobContext ctx(job, *db_, clock_, "test");
      const auto outcome = registry_.Find(job.kind)->handler(ctx);
      EXPECT_EQ(outcome.type, workers::Outcome::Type::kComplete)
          << job.kind << ": " << outcome.reason;
      if (!ctx.completed_in_tx()) workers::Complete(*db_, {{job.id, job.attempt}}, "test");
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
