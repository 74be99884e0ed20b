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
