// The customer flow end to end against real Postgres, real workers and the database-backed fake
// facility: every path of the flow issue, and the history of every thread checked as a valid walk
// through the transition table.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "sim/fake_facility.h"
#include "statemachines/thread_machine.h"
#include "store/db.h"
#include "tests/support/flow_fixture.h"
#include "tests/support/history.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"
#include "workers/runtime.h"
#include "workflows/engine.h"
#include "workflows/flow.h"
#include "workflows/knowledge_store.h"

using namespace clubos;
using namespace clubos::workflows;
using pgtest::WaitFor;

namespace {

constexpr const char* kCustomer = "+15555550100";
constexpr const char* kBedford = "+15555550199";

class FlowTest : public pgtest::FlowFixture {
 protected:
  FlowTest() {
    config_.flow.confirmation_ttl = Millis(600);
    config_.flow.verify_timeout = Millis(500);
  }
  void SetUp() override {
    FlowFixture::SetUp();
    if (!IsSkipped()) pgtest::BookNow(*db_, "bedford", kCustomer);
  }
  IntakeResult Text(const std::string& body, const std::string& external_id = "") {
    return Intake(kCustomer, kBedford, body, external_id);
  }
  void ExpectValidHistories() { pgtest::ExpectValidHistories(*db_); }
};

}  // namespace

TEST_F(FlowTest, AFaqIsAnsweredAutonomouslyAndVerified) {
  const auto in = Text("how much for an hour?");
  ASSERT_TRUE(ReachesState(in.thread_id, "verified"));
  EXPECT_EQ(facility_->Calls("send_message"), 1);
  EXPECT_EQ(
      Scalar("SELECT count(*) FROM action_outcomes WHERE linked_thread = $1 AND result = 'success'",
             {in.thread_id}),
      1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM fake_facility_calls WHERE detail LIKE '%$45/hour%'"), 1);
  ExpectValidHistories();
}

// The answer comes from the knowledge store and cites the version it sent; a new version,
// imported while the workers run, reaches the next customer through the store's NOTIFY (the
// cache's minute-long fallback is far longer than this test waits).
TEST_F(FlowTest, AnAnswerCitesItsSopVersionAndANewVersionReachesTheNextCustomer) {
  auto reason_and_text = [&](int64_t thread) {
    auto r = db_->ExecSql(
        "SELECT reason, params->>'text' AS text FROM actions WHERE thread_id = $1 AND kind = "
        "'send_message' ORDER BY id LIMIT 1",
        {thread});
    return r.Empty() ? std::pair<std::string, std::string>{}
                     : std::pair{r.At(0, "reason").Str(), r.At(0, "text").Str()};
  };
  const auto first = Intake("+15550001001", kBedford, "do you sell gift cards?");
  ASSERT_TRUE(ReachesState(first.thread_id, "verified"));
  const auto [reason, text] = reason_and_text(first.thread_id);
  EXPECT_EQ(reason.rfind("SOP faq.gift_card v1: ", 0), 0u) << reason;
  EXPECT_NE(text.find("clubhouse247golf.com/gift-cards"), std::string::npos) << text;

  auto files = workflows::ReadKnowledgeFolder(std::string(CLUBOS_SOURCE_DIR) + "/knowledge");
  auto card = std::find_if(files.begin(), files.end(),
                           [](const auto& f) { return f.name == "faq.gift_card.md"; });
  ASSERT_NE(card, files.end());
  const std::string old_body = "in any amount.";
  ASSERT_NE(card->content.find(old_body), std::string::npos);
  card->content.replace(card->content.find(old_body), old_body.size(),
                        "in any amount, and at the front desk kiosk.");
  const auto report = workflows::ImportKnowledge(*db_, files);
  ASSERT_EQ(report.Count("changed"), 1);

  bool seen = false;
  for (int i = 0; i < 20 && !seen; ++i) {
    const auto next =
        Intake("+1555000110" + std::to_string(i), kBedford, "do you sell gift cards?");
    ASSERT_TRUE(ReachesState(next.thread_id, "verified"));
    const auto [r2, t2] = reason_and_text(next.thread_id);
    seen = t2.find("front desk kiosk") != std::string::npos;
    if (seen) {
      EXPECT_EQ(r2.rfind("SOP faq.gift_card v2: ", 0), 0u) << r2;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_TRUE(seen) << "the new version never reached a customer";
  ExpectValidHistories();
}

TEST_F(FlowTest, AResetConfirmedByYesIsExecutedAndVerified) {
  const auto in = Text("the trackman in bay 3 is frozen");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  ASSERT_TRUE(WaitFor([&] { return facility_->Calls("send_message") == 1; }))
      << "the prompt went out";
  EXPECT_EQ(facility_->Calls("reset_trackman"), 0) << "nothing physical before the YES";
  const auto yes = Text("Yes please");
  EXPECT_EQ(yes.thread_id, in.thread_id);
  ASSERT_TRUE(ReachesState(in.thread_id, "verified"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM fake_facility_calls WHERE kind = 'reset_trackman' AND "
                   "device = '103'"),
            1);
  ASSERT_TRUE(WaitFor([&] { return facility_->Calls("send_message") == 2; }))
      << "and the customer is told";
  ExpectValidHistories();
}

TEST_F(FlowTest, ANoClosesTheThreadAndTouchesNothing) {
  const auto in = Text("door keypad is dead");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Text("no");
  ASSERT_TRUE(ReachesState(in.thread_id, "closed"));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // past the confirmation's expiry
  EXPECT_EQ(ThreadState(in.thread_id), "closed");
  EXPECT_EQ(facility_->Calls("unlock_door"), 0);
  ExpectValidHistories();
}

TEST_F(FlowTest, NoAnswerEscalatesAtExpiry) {
  const auto in = Text("my code isn't opening the front door");
  ASSERT_TRUE(ReachesState(in.thread_id, "escalated", Millis(5'000)));
  EXPECT_EQ(Escalation(in.thread_id), "not_confirmed");
  EXPECT_EQ(facility_->Calls("unlock_door"), 0);
  ASSERT_TRUE(WaitFor([&] { return facility_->Calls("notify_operator") == 1; }));
  EXPECT_THROW(
      flow_->Confirm(*db_, Scalar("SELECT max(id) FROM actions WHERE kind = 'unlock_door'"), true,
                     "api"),
      IllegalTransition)
      << "a late YES is refused";
  ExpectValidHistories();
}

TEST_F(FlowTest, AResetWhoseDeviceNeverComesBackEscalatesStateUnchanged) {
  facility_->SetFault("104", "stuck_offline", 100);
  const auto in = Text("hey the simulator in bay 4 froze mid round");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Text("YES");
  ASSERT_TRUE(ReachesState(in.thread_id, "escalated"));
  EXPECT_EQ(Escalation(in.thread_id), "state_unchanged");
  EXPECT_EQ(
      Scalar("SELECT count(*) FROM actions WHERE kind = 'reset_trackman' AND result = 'failed'"),
      1);
  ExpectValidHistories();
}

TEST_F(FlowTest, ARefusedCallEscalatesActionFailed) {
  facility_->SetFault("bedford-front", "reject", 1);
  facility_->SetFault("0ed545f8-2fcd-4839-9021-b39e707f6aa9", "reject", 1);
  const auto in = Text("I'm outside and locked out, booking at 7");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Text("yes");
  ASSERT_TRUE(ReachesState(in.thread_id, "escalated"));
  EXPECT_EQ(Escalation(in.thread_id), "action_failed");
  ExpectValidHistories();
}

TEST_F(FlowTest, ATransientErrorIsRetriedThenEscalatedWhenItPersists) {
  facility_->SetFault("102", "transient", 1'000);
  const auto in = Text("TM not picking up my shots in box 2");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Text("ok do it");
  ASSERT_TRUE(ReachesState(in.thread_id, "escalated"));
  EXPECT_EQ(Escalation(in.thread_id), "retries_exhausted");
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs WHERE kind = 'execute_action' AND state = 'dead'"),
            1);
  EXPECT_EQ(
      Scalar(
          "SELECT count(*) FROM actions WHERE kind = 'reset_trackman' AND result = 'inconclusive'"),
      1);
  ExpectValidHistories();
}

TEST_F(FlowTest, ATransientErrorThatClearsIsRetriedToSuccess) {
  facility_->SetFault("105", "transient", 2);
  const auto in = Text("can you restart trackman 5 please");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Text("y");
  ASSERT_TRUE(ReachesState(in.thread_id, "verified"));
  EXPECT_EQ(facility_->Calls("reset_trackman"), 1);
}

TEST_F(FlowTest, ADuplicateDeliveryStoresOneMessage) {
  const auto a = Text("do you sell memberships", "AC123");
  const auto b = Text("do you sell memberships", "AC123");
  EXPECT_FALSE(a.duplicate);
  EXPECT_TRUE(b.duplicate);
  EXPECT_EQ(a.message_id, b.message_id);
  EXPECT_EQ(a.thread_id, b.thread_id);
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages WHERE external_id = 'AC123'"), 1);
}

TEST_F(FlowTest, ConcurrentMessagesOnOneConversationAreSerialized) {
  runtime_->Stop();  // look at intake alone
  std::vector<std::thread> ts;
  std::vector<IntakeResult> out(8);
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&, i] {
      auto c = pgtest::Connect();
      out[static_cast<std::size_t>(i)] =
          flow_->Intake(*c, {kCustomer, kBedford, "message " + std::to_string(i), ""});
    });
  for (auto& t : ts) t.join();
  for (const auto& o : out) EXPECT_EQ(o.thread_id, out[0].thread_id);
  EXPECT_EQ(Scalar("SELECT count(*) FROM threads"), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 8);
  EXPECT_EQ(Scalar("SELECT count(*) FROM transitions WHERE entity = 'thread'"), 8);
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs WHERE kind = 'route_message'"), 1)
      << "one pending route per thread";
  EXPECT_EQ(Scalar("SELECT version FROM threads"), 8) << "no lost update";
}

TEST_F(FlowTest, SplitTextsAreRoutedOnceAfterTheDebounce) {
  runtime_->Stop();
  config_.flow.debounce = Millis(400);
  StartWorkers();
  const auto a = Text("hey");
  Text("trackman frozen");
  Text("bay 3");
  ASSERT_TRUE(ReachesState(a.thread_id, "awaiting_confirmation"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM transitions WHERE entity = 'thread' AND event = 'routed'"),
            1);
  EXPECT_EQ(Scalar("SELECT (target ->> 'bay')::int FROM actions WHERE kind = 'reset_trackman'"), 3);
}

TEST_F(FlowTest, AnIllegalTransitionIsRefusedAndChangesNothing) {
  const auto in = Text("how much for an hour?");
  ASSERT_TRUE(ReachesState(in.thread_id, "verified"));
  const auto before = Scalar("SELECT count(*) FROM transitions");
  const auto action = Scalar("SELECT id FROM actions WHERE thread_id = $1", {in.thread_id});
  try {
    flow_->Confirm(*db_, action, true, "operator:sam");
    FAIL() << "confirming a finished action must be refused";
  } catch (const IllegalTransition& e) {
    EXPECT_EQ(e.event(), "confirmed");
    EXPECT_EQ(e.state(), "verified");
  }
  EXPECT_THROW(flow_->Claim(*db_, in.thread_id, "sam"), IllegalTransition);
  EXPECT_EQ(Scalar("SELECT count(*) FROM transitions"), before);
  EXPECT_EQ(ThreadState(in.thread_id), "verified");
}

TEST_F(FlowTest, EmergenciesAndSensitiveMessagesGoStraightToAHuman) {
  const auto fire = Text("the fire alarm is going off");
  ASSERT_TRUE(ReachesState(fire.thread_id, "escalated"));
  EXPECT_EQ(Escalation(fire.thread_id), "emergency");
  EXPECT_EQ(Scalar("SELECT priority FROM threads WHERE id = $1", {fire.thread_id}), 0);
  ASSERT_TRUE(WaitFor([&] { return facility_->Calls("notify_operator") == 1; }));
  flow_->Claim(*db_, fire.thread_id, "sam");
  flow_->Resolve(*db_, fire.thread_id, "sam", "called the fire department",
                 "false alarm, reset panel");
  EXPECT_EQ(ThreadState(fire.thread_id), "closed");
  EXPECT_EQ(
      Scalar(
          "SELECT count(*) FROM transitions WHERE entity_id = $1 AND entity = 'thread' AND actor = "
          "'operator:sam'",
          {fire.thread_id}),
      2);
  EXPECT_EQ(facility_->Calls("reset_trackman") + facility_->Calls("unlock_door"), 0);
  ExpectValidHistories();
}

TEST_F(FlowTest, BadInputIsRefusedBeforeAnythingIsStored) {
  EXPECT_THROW(flow_->Intake(*db_, {"5555", kBedford, "hi", ""}), InvalidInput);
  EXPECT_THROW(flow_->Intake(*db_, {kCustomer, "+15550000000", "hi", ""}), InvalidInput);
  EXPECT_THROW(flow_->Intake(*db_, {kCustomer, kBedford, "", ""}), InvalidInput);
  EXPECT_THROW(flow_->Intake(*db_, {kCustomer, kBedford, std::string("a\0b", 3), ""}),
               InvalidInput);
  EXPECT_THROW(flow_->Intake(*db_, {kCustomer, kBedford, "caf\xc3", ""}), InvalidInput);
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 0);
}

TEST_F(FlowTest, TheHistoryTableIsAppendOnly) {
  Text("how much for an hour?");
  EXPECT_THROW(db_->ExecRawOne("UPDATE transitions SET actor = 'someone else'"), store::DbError);
  EXPECT_THROW(db_->ExecRawOne("DELETE FROM transitions"), store::DbError);
}

TEST_F(FlowTest, AYesThatArrivesAfterTheConfirmationExpiredIsStillKept) {
  const auto in = Text("door keypad is dead");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  runtime_->Stop();  // the expiry timer does not get to run
  std::this_thread::sleep_for(config_.flow.confirmation_ttl + Millis(100));
  IntakeResult late;
  EXPECT_NO_THROW(late = Text("YES"));
  EXPECT_EQ(late.thread_id, in.thread_id);
  EXPECT_EQ(
      Scalar("SELECT count(*) FROM messages WHERE thread_id = $1 AND body = 'YES'", {in.thread_id}),
      1);
  EXPECT_EQ(ThreadState(in.thread_id), "received") << "routed again like any other text";
  EXPECT_EQ(
      Scalar("SELECT count(*) FROM actions WHERE kind = 'unlock_door' AND state = 'cancelled'"), 1);
  EXPECT_EQ(facility_->Calls("unlock_door"), 0);
}

TEST_F(FlowTest, TextAfterAYesDoesNotUndoTheConfirmedAction) {
  const auto in = Text("the trackman in bay 2 is frozen");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  runtime_->Stop();  // the confirmed action waits for a worker
  Text("YES");
  Text("thanks!!");
  Text("yes");
  EXPECT_EQ(
      Scalar("SELECT count(*) FROM actions WHERE kind = 'reset_trackman' AND state = 'cancelled'"),
      0);
  EXPECT_EQ(ThreadState(in.thread_id), "awaiting_confirmation");
  StartWorkers();
  ASSERT_TRUE(ReachesState(in.thread_id, "verified"));
  EXPECT_EQ(facility_->Calls("reset_trackman"), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages WHERE thread_id = $1", {in.thread_id}), 4)
      << "every text kept";
  ExpectValidHistories();
}

TEST_F(FlowTest, AComplaintSentWhileTheActionRunsIsRoutedOnceItIsDone) {
  const auto in = Text("restart the trackman in bay 1 please, it froze");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Text("yes");
  ASSERT_TRUE(WaitFor([&] { return facility_->Calls("reset_trackman") == 1; }));
  Text("this is ridiculous, still frozen");
  // Whether it arrived while the reset ran (kept, then read at verification) or just after (a new
  // text on a verified thread), the complaint is routed and reaches a human instead of being lost.
  ASSERT_TRUE(ReachesState(in.thread_id, "escalated"));
  EXPECT_EQ(Escalation(in.thread_id), "policy_denied");
  EXPECT_EQ(
      Scalar(
          "SELECT count(*) FROM transitions WHERE entity = 'thread' AND entity_id = $1 AND event = "
          "'verified'",
          {in.thread_id}),
      1);
  ExpectValidHistories();
}
