// Flow::IntakeMany, the API's group commit: many messages in one transaction give what one
// Intake each would, an invalid message fails alone, and a duplicate within a batch is found.
#include <gtest/gtest.h>

#include "sim/fake_facility.h"
#include "store/db.h"
#include "tests/support/pg.h"
#include "workflows/flow.h"

using namespace clubos;
using namespace clubos::workflows;
using sim::FakeFacility;

namespace {

class IntakeManyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CLUBOS_REQUIRE_PG();
    pgtest::ResetDatabase();
    db_ = pgtest::Connect();
  }
  int64_t Scalar(const std::string& sql) { return db_->ExecRawOne(sql).At(0, 0).Int64(); }

  Config config_ = Config::Load(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json");
  PatternRouter router_{config_.router};
  std::unique_ptr<FakeFacility> facility_ = FakeFacility::InMemory();
  Flow flow_{config_, router_, *facility_, SystemClock::Instance()};
  std::unique_ptr<store::Connection> db_;
};

}  // namespace

TEST_F(IntakeManyTest, ABatchStoresWhatOneIntakeEachWouldAndRefusesOnlyTheInvalid) {
  const std::vector<InboundMessage> batch = {
      {"+15555550101", "+15555550199", "hello", "m1"},
      {"+15555550102", "+15555550299", "the trackman froze", "m2"},
      {"+15555550101", "+15555550199", "bay 3", "m3"},               // same conversation as m1
      {"+15555550103", "+15550000000", "wrong line", "m4"},          // not a facility line
      {"+15555550102", "+15555550299", "the trackman froze", "m2"},  // m2 again
      {"+15555550104", "+15555550199", "no id", ""},
  };
  const auto out = flow_.IntakeMany(*db_, batch);
  ASSERT_EQ(out.size(), batch.size());
  for (std::size_t i : {0u, 1u, 2u, 4u, 5u}) ASSERT_TRUE(out[i].result) << i;
  ASSERT_FALSE(out[3].result);
  EXPECT_THROW(std::rethrow_exception(out[3].error), InvalidInput);
  EXPECT_EQ(out[2].result->thread_id, out[0].result->thread_id) << "one thread per conversation";
  EXPECT_NE(out[1].result->thread_id, out[0].result->thread_id);
  EXPECT_FALSE(out[1].result->duplicate);
  EXPECT_TRUE(out[4].result->duplicate) << "the same provider id within one batch";
  EXPECT_EQ(out[4].result->message_id, out[1].result->message_id);
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 4);
  EXPECT_EQ(Scalar("SELECT count(*) FROM threads"), 3);
  EXPECT_EQ(Scalar("SELECT count(*) FROM transitions WHERE event = 'message_received'"), 4);
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs WHERE kind = 'route_message'"), 3)
      << "one routing job per thread, pushed later by the second text";

  // A redelivery of the whole batch creates nothing and answers the same.
  const auto again = flow_.IntakeMany(*db_, batch);
  for (std::size_t i : {0u, 1u, 2u}) {
    ASSERT_TRUE(again[i].result) << i;
    EXPECT_TRUE(again[i].result->duplicate) << i;
    EXPECT_EQ(again[i].result->message_id, out[i].result->message_id) << i;
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 5) << "only the message without an id again";
}

TEST_F(IntakeManyTest, OnlyInvalidMessagesTouchNothing) {
  const auto out = flow_.IntakeMany(*db_, {{"bad", "+15555550199", "x", ""}});
  ASSERT_FALSE(out[0].result);
  EXPECT_THROW(std::rethrow_exception(out[0].error), InvalidInput);
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 0);
  EXPECT_TRUE(flow_.IntakeMany(*db_, {}).empty());
}

// A result is an acknowledgement: the API answers 202 from it. A message whose transaction did not
// commit, or whose commit is in doubt, has none, whatever its body returned before the commit.
TEST_F(IntakeManyTest, AMessageIsAnsweredOnlyByACommitThatHappened) {
  // Each commit asks this first; it throws what a commit that went wrong would.
  std::function<void(const std::string&)> commit_check;
  store::ConnectionOptions options;
  options.application_name = "clubos-test";
  options.max_tx_attempts = 1;
  options.before_commit = [&](const std::string& what) { commit_check(what); };
  auto db = store::Connect(pgtest::TestDatabaseUrl(), options);
  const std::vector<InboundMessage> batch = {{"+15555550101", "+15555550199", "hello", "u1"},
                                             {"+15555550102", "+15555550199", "bay 2", "u2"}};

  // The shared transaction's commit is in doubt: no message of it is acknowledged.
  commit_check = [](const std::string& what) {
    if (what == "intake_batch") throw store::CommitUnknown(what + ": in doubt (injected)");
  };
  auto out = flow_.IntakeMany(*db, batch);
  ASSERT_EQ(out.size(), 2u);
  for (const auto& outcome : out) {
    EXPECT_FALSE(outcome.result) << "answered from a transaction whose commit is in doubt";
    EXPECT_THROW(std::rethrow_exception(outcome.error), store::CommitUnknown);
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 0) << "the injected failure came first";

  // The batch fails, each is tried alone, and the first one's own commit is in doubt.
  int alone = 0;
  commit_check = [&](const std::string& what) {
    if (what == "intake_batch") throw store::DbError("injected: the batch fails", "XX000");
    if (what == "intake" && alone++ == 0) throw store::CommitUnknown("intake: in doubt (injected)");
  };
  out = flow_.IntakeMany(*db, batch);
  ASSERT_FALSE(out[0].result) << "its own commit was in doubt";
  EXPECT_THROW(std::rethrow_exception(out[0].error), store::CommitUnknown);
  ASSERT_TRUE(out[1].result);
  EXPECT_FALSE(out[1].error);
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages WHERE external_id = 'u2'"), 1);
}
