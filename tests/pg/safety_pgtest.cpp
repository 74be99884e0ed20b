// The holes the hostile probe of 850d4a5 found in the flow (shared/reference/defects-850d4a5.md),
// each as the test that would have caught it, against real Postgres and real workers: one gate
// for every physical action (D1), exclusive claims (D2), controls applied whole or not at all
// (D3), deduplication per source and sender (D5), a text's length in characters, the facility's
// own lines, masked alerts (L5, L6), and the chaos run's findings (the cooldown measured between
// executions, a secondary action's failure that must not re-open a finished thread).
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "sim/fake_facility.h"
#include "store/db.h"
#include "tests/support/flow_fixture.h"
#include "tests/support/history.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"
#include "workers/runtime.h"
#include "workflows/engine.h"
#include "workflows/flow.h"

using namespace clubos;
using namespace clubos::workflows;
using nlohmann::json;
using pgtest::WaitFor;

namespace {

constexpr const char* kBedford = "+15555550199";
constexpr const char* kDartmouth = "+15555550299";

std::string Phone(int i) {
  return "+1555888" + std::to_string(1000 + i);
}

class SafetyTest : public pgtest::FlowFixture {
 protected:
  IntakeResult Text(const std::string& from, const std::string& body,
                    const std::string& line = kBedford) {
    return Intake(from, line, body);
  }
  bool Reaches(int64_t thread, const std::string& state) { return ReachesState(thread, state); }
  std::string Str(const std::string& sql, const std::vector<store::Param>& params = {}) {
    return db_->ExecSql(sql, params).At(0, 0).Str();
  }
  // A door suggestion for a customer with a booking, auto-execute off.
  int64_t DoorSuggestion(const std::string& phone, int64_t* thread = nullptr) {
    pgtest::BookNow(*db_, "bedford", phone);
    flow_->SetToggle(*db_, "auto_execute", false, "operator:sam");
    const auto t = Text(phone, "my code isn't opening the front door");
    EXPECT_TRUE(Reaches(t.thread_id, "escalated"));
    EXPECT_EQ(Escalation(t.thread_id), "suggestion_review");
    if (thread) *thread = t.thread_id;
    return Scalar("SELECT id FROM suggestions WHERE thread_id = $1", {t.thread_id});
  }
  ActionRequest Reset(const std::string& by, int bay = 3) {
    return {.kind = "reset_trackman",
            .target = json{{"location", "bedford"}, {"bay", bay}}.dump(),
            .triggered_by = by,
            .reason = "operator asked"};
  }
  template <typename E>
  std::string CodeOf(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const E& e) {
      if constexpr (std::is_same_v<E, Conflict>) return e.code();
      return "thrown";
    }
    return "";
  }
};

}  // namespace

// ---- D1: one gate for every physical action --------------------------------------------------

TEST_F(SafetyTest, AnOperatorCannotUnlockADoorByApprovingASuggestion) {
  const int64_t s = DoorSuggestion(Phone(1));
  EXPECT_THROW(flow_->ApproveSuggestion(*db_, s, {"ana"}), Forbidden);
  EXPECT_EQ(Str("SELECT state FROM suggestions WHERE id = $1", {s}), "pending")
      << "a refused approval changes nothing";
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE kind = 'unlock_door'"), 0);
  const int64_t action = flow_->ApproveSuggestion(*db_, s, {"root", /*admin=*/true});
  ASSERT_TRUE(WaitFor(
      [&] { return Str("SELECT state FROM actions WHERE id = $1", {action}) == "verified"; }));
  EXPECT_EQ(facility_->Calls("unlock_door"), 1);
}

TEST_F(SafetyTest, AStaleSuggestionOrOneWhoseThreadMovedOnCannotBeApproved) {
  int64_t thread = 0;
  const int64_t s = DoorSuggestion(Phone(1), &thread);
  db_->ExecSql("UPDATE suggestions SET expires_at = now() - interval '1 second' WHERE id = $1",
               {s});
  EXPECT_EQ(CodeOf<Conflict>([&] {
              flow_->ApproveSuggestion(*db_, s, {"root", true});
            }),
            "suggestion_expired");
  EXPECT_EQ(Scalar("SELECT count(*) FROM suggestions WHERE state = 'pending'"), 1);
  flow_->RejectSuggestion(*db_, s, "ana");  // an expired one can still be cleared

  // Fresh, but its thread was resolved meanwhile.
  const int64_t s2 = DoorSuggestion(Phone(2), &thread);
  flow_->Resolve(*db_, thread, "ana", "let them in myself", "");
  EXPECT_EQ(CodeOf<Conflict>([&] {
              flow_->ApproveSuggestion(*db_, s2, {"root", true});
            }),
            "thread_moved_on");
  EXPECT_EQ(facility_->Calls("unlock_door"), 0);
}

TEST_F(SafetyTest, ASuggestedUnlockIsRefusedOnceItsBookingIsOver) {
  const int64_t s = DoorSuggestion(Phone(1));
  db_->ExecRawOne(
      "UPDATE bookings SET start_at = now() - interval '3 hours', end_at = now() - "
      "interval '1 hour'");
  EXPECT_EQ(CodeOf<Conflict>([&] {
              flow_->ApproveSuggestion(*db_, s, {"root", true});
            }),
            "no_booking");
  EXPECT_EQ(facility_->Calls("unlock_door"), 0);
}

TEST_F(SafetyTest, TheStopHaltsAPersonsActionUnlessAnAdminOverridesItOnTheRecord) {
  flow_->SetEmergencyStop(*db_, "global", true, "fire drill", "operator:bob");
  // An operator's reset, and an approved suggestion, are refused while the stop holds.
  EXPECT_EQ(CodeOf<Conflict>([&] { flow_->Perform(*db_, Reset("operator:ana")); }),
            "emergency_stop");
  ActionRequest overridden = Reset("operator:ana");
  overridden.stop_override = "the fire brigade needs the screens";
  EXPECT_THROW(flow_->Perform(*db_, overridden), Forbidden) << "only an admin overrides the stop";
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions"), 0);
  // A message is not physical: the stop leaves it alone.
  EXPECT_GT(
      flow_->Perform(*db_, {.kind = "send_message",
                            .target = json{{"location", "bedford"}, {"phone", Phone(9)}}.dump(),
                            .triggered_by = "operator:ana",
                            .reason = "reply",
                            .text = "we are on it"}),
      0);

  overridden = Reset("operator:root");
  overridden.admin = true;
  overridden.stop_override = "the fire brigade needs the screens";
  const int64_t id = flow_->Perform(*db_, overridden);
  ASSERT_TRUE(
      WaitFor([&] { return Str("SELECT state FROM actions WHERE id = $1", {id}) == "verified"; }));
  EXPECT_EQ(facility_->Calls("reset_trackman"), 1);
  // The history says who overrode which stop, and why.
  EXPECT_NE(Str("SELECT data::text FROM transitions WHERE entity = 'action' AND entity_id = $1 "
                "AND event = 'requested'",
                {id})
                .find("operator:root: the fire brigade"),
            std::string::npos);
  EXPECT_NE(Str("SELECT reason FROM transitions WHERE entity = 'action' AND entity_id = $1 AND "
                "event = 'execution_started'",
                {id})
                .find("emergency-stop override"),
            std::string::npos);
  pgtest::ExpectValidHistories(*db_);
}

TEST_F(SafetyTest, AStopEngagedAfterAPersonsActionWasQueuedHaltsIt) {
  StopWorkers();  // the operator's reset waits for a worker
  const int64_t queued = flow_->Perform(*db_, Reset("operator:ana", 4));
  // Engaged by a process that did not sweep: the worker's own check must catch it.
  db_->ExecRawOne(
      "INSERT INTO emergency_stops (scope, engaged, reason, changed_by) VALUES "
      "('location:bedford', "
      "true, 'leak', 'operator:bob')");
  StartWorkers();
  ASSERT_TRUE(WaitFor(
      [&] { return Str("SELECT state FROM actions WHERE id = $1", {queued}) == "escalated"; }));
  EXPECT_EQ(Scalar("SELECT count(*) FROM transitions WHERE entity_id = $1 AND entity = 'action' "
                   "AND event = 'emergency_stopped'",
                   {queued}),
            1);
  // And engaging a stop sweeps a person's pending action too.
  db_->ExecRawOne("DELETE FROM emergency_stops");
  StopWorkers();
  const int64_t second = flow_->Perform(*db_, Reset("operator:ana", 5));
  EXPECT_EQ(flow_->SetEmergencyStop(*db_, "category:tech", true, "firmware update", "operator:bob"),
            1);
  EXPECT_EQ(Str("SELECT state FROM actions WHERE id = $1", {second}), "escalated");
  StartWorkers();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(facility_->Calls("reset_trackman"), 0);
}

// ---- the cooldown is measured between executions -----------------------------------------------

TEST_F(SafetyTest, TheCooldownHoldsBetweenExecutionsNotDecisions) {
  // The customer is asked; meanwhile an operator resets the same bay by hand.
  const auto t = Text(Phone(1), "the trackman in bay 2 is frozen");
  ASSERT_TRUE(Reaches(t.thread_id, "awaiting_confirmation"));
  const int64_t by_hand = flow_->Perform(*db_, Reset("operator:ana", 2));
  ASSERT_TRUE(WaitFor(
      [&] { return Str("SELECT state FROM actions WHERE id = $1", {by_hand}) == "verified"; }));
  // The customer's YES comes after; the decision was minutes ago, the execution seconds ago.
  Text(Phone(1), "yes");
  ASSERT_TRUE(Reaches(t.thread_id, "escalated"));
  EXPECT_EQ(Escalation(t.thread_id), "cooldown");
  EXPECT_EQ(facility_->Calls("reset_trackman"), 1) << "bay 2 was reset once";
  EXPECT_EQ(Scalar("SELECT count(*) FROM transitions WHERE event = 'start_refused'"), 1);
  // A pending request on the bay counts as acting now: a second customer's decision waits.
  const auto u = Text(Phone(2), "trackman in bay 6 is frozen");
  ASSERT_TRUE(Reaches(u.thread_id, "awaiting_confirmation"));
  db_->ExecRawOne("UPDATE actions SET created_at = created_at - interval '1 hour'");
  const auto v = Text(Phone(3), "trackman in bay 6 is frozen");
  ASSERT_TRUE(Reaches(v.thread_id, "escalated"));
  EXPECT_EQ(Escalation(v.thread_id), "cooldown");
  pgtest::ExpectValidHistories(*db_);
}

// ---- D2: a claim is a compare-and-set ---------------------------------------------------------

TEST_F(SafetyTest, TwoOperatorsClaimingAtOnceGetOneWinnerAndTakingOverIsExplicit) {
  for (int trial = 0; trial < 5; ++trial) {
    const auto t = Text(Phone(10 + trial), "this is ridiculous, I want a refund");
    ASSERT_TRUE(Reaches(t.thread_id, "escalated"));
    std::atomic<int> won{0}, lost{0};
    std::vector<std::thread> ops;
    for (const char* name : {"ana", "bob"})
      ops.emplace_back([&, name] {
        auto conn = pgtest::Connect();
        try {
          flow_->Claim(*conn, t.thread_id, name);
          ++won;
        } catch (const Conflict& e) {
          EXPECT_EQ(e.code(), "already_claimed");
          ++lost;
        }
      });
    for (auto& o : ops) o.join();
    EXPECT_EQ(won.load(), 1);
    EXPECT_EQ(lost.load(), 1);
    EXPECT_EQ(Scalar("SELECT count(*) FROM transitions WHERE entity = 'thread' AND entity_id = $1 "
                     "AND event = 'claimed'",
                     {t.thread_id}),
              1);
  }
  const auto t = Text(Phone(1), "I want a refund, this is ridiculous");
  ASSERT_TRUE(Reaches(t.thread_id, "escalated"));
  flow_->Claim(*db_, t.thread_id, "ana");
  flow_->Claim(*db_, t.thread_id, "ana");  // one's own claim again: nothing changes
  EXPECT_EQ(CodeOf<Conflict>([&] { flow_->Claim(*db_, t.thread_id, "bob"); }), "already_claimed");
  EXPECT_EQ(CodeOf<Conflict>([&] { flow_->Resolve(*db_, t.thread_id, "root", "done", ""); }),
            "claimed_by_other");
  EXPECT_EQ(Str("SELECT claimed_by FROM threads WHERE id = $1", {t.thread_id}), "ana");
  flow_->Claim(*db_, t.thread_id, "bob", /*take_over=*/true);
  EXPECT_EQ(Str("SELECT claimed_by FROM threads WHERE id = $1", {t.thread_id}), "bob");
  EXPECT_EQ(Str("SELECT data ->> 'taken_from' FROM transitions WHERE entity = 'thread' AND "
                "entity_id = $1 AND event = 'claimed' ORDER BY id DESC LIMIT 1",
                {t.thread_id}),
            "ana");
  EXPECT_EQ(CodeOf<Conflict>([&] { flow_->Resolve(*db_, t.thread_id, "ana", "done", ""); }),
            "claimed_by_other");
  flow_->Resolve(*db_, t.thread_id, "bob", "refunded", "");
  EXPECT_EQ(ThreadState(t.thread_id), "closed");
  pgtest::ExpectValidHistories(*db_);
}

// ---- D3: a refused control request changes nothing ----------------------------------------------

TEST_F(SafetyTest, ARefusedControlsRequestChangesNothing) {
  flow_->SetToggle(*db_, "auto_execute", false, "operator:sam");
  const int64_t events = Scalar("SELECT count(*) FROM control_events");
  auto toggle = [&](const char* name) {
    return Str("SELECT enabled::text FROM toggles WHERE name = $1", {std::string(name)});
  };
  // auto_execute back on, with a stop whose scope is unknown: refused whole.
  EXPECT_THROW(flow_->ApplyControls(*db_,
                                    {.toggles = {{"auto_execute", true}},
                                     .stop = ControlsRequest::Stop{"location:nowhere", false, "x"}},
                                    "operator:ana"),
               InvalidInput);
  // A valid toggle with an unknown one, or with a stop without a reason: refused whole.
  EXPECT_THROW(flow_->ApplyControls(*db_, {.toggles = {{"auto_send", false}, {"bogus", true}}},
                                    "operator:ana"),
               InvalidInput);
  EXPECT_THROW(flow_->ApplyControls(*db_,
                                    {.toggles = {{"auto_send", false}},
                                     .stop = ControlsRequest::Stop{"global", true, ""}},
                                    "operator:ana"),
               InvalidInput);
  EXPECT_EQ(toggle("auto_execute"), "false");
  EXPECT_EQ(Scalar("SELECT count(*) FROM toggles WHERE name = 'auto_send' AND NOT enabled"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM emergency_stops"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM control_events"), events);
  // A valid one applies all of it at once.
  flow_->ApplyControls(*db_,
                       {.toggles = {{"auto_execute", true}, {"auto_send", false}},
                        .stop = ControlsRequest::Stop{"global", true, "drill"}},
                       "operator:ana");
  EXPECT_EQ(toggle("auto_execute"), "true");
  EXPECT_EQ(toggle("auto_send"), "false");
  EXPECT_EQ(Scalar("SELECT count(*) FROM emergency_stops WHERE engaged"), 1);
}

// ---- D5 and the text's length: nothing a customer sends is lost -------------------------------

TEST_F(SafetyTest, DeduplicationIsPerSourceAndSenderSoNoCustomerTextIsSwallowed) {
  const auto first = flow_->Intake(*db_, {Phone(1), kBedford, "hi", "ACsame", "api"});
  EXPECT_FALSE(first.duplicate);
  // Another customer's genuine OpenPhone text with the same id: stored, its own thread.
  const auto victim =
      flow_->Intake(*db_, {Phone(2), kBedford, "my door is broken", "ACsame", "openphone"});
  EXPECT_FALSE(victim.duplicate);
  EXPECT_NE(victim.thread_id, first.thread_id);
  // A third sender through the API with that id learns nothing of the others.
  const auto third = flow_->Intake(*db_, {Phone(3), kBedford, "hello", "ACsame", "api"});
  EXPECT_FALSE(third.duplicate);
  EXPECT_NE(third.thread_id, first.thread_id);
  // A redelivery of the same message from the same source and sender is a duplicate.
  const auto again =
      flow_->Intake(*db_, {Phone(2), kBedford, "my door is broken", "ACsame", "openphone"});
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.message_id, victim.message_id);
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages WHERE external_id = 'ACsame'"), 3);
}

TEST_F(SafetyTest, ATextIsMeasuredInCharactersNotBytes) {
  std::string emoji;
  for (int i = 0; i < 1600; ++i) emoji += "\xF0\x9F\x8F\x8C";  // 🏌, four bytes each
  const auto stored = Text(Phone(1), emoji);
  EXPECT_GT(stored.message_id, 0);
  EXPECT_EQ(Scalar("SELECT char_length(body) FROM messages WHERE id = $1", {stored.message_id}),
            1600);
  EXPECT_THROW(Text(Phone(2), emoji + "a"), InvalidInput) << "1601 characters";
  std::string accents;
  for (int i = 0; i < 1600; ++i) accents += "\xC3\xA9";  // é
  EXPECT_GT(Text(Phone(3), accents).message_id, 0);
}

// ---- L6 and L5: the facility's own lines, masked alerts ----------------------------------------

TEST_F(SafetyTest, TheFacilitysOwnLinesAreNeverAnsweredAutomatically) {
  const auto t = Text(kDartmouth, "how much for an hour?");  // Dartmouth's line to Bedford's
  ASSERT_TRUE(Reaches(t.thread_id, "escalated"));
  EXPECT_EQ(Escalation(t.thread_id), "from_facility_line");
  const auto self = Text(kBedford, "how much for an hour?");  // a line to itself
  ASSERT_TRUE(Reaches(self.thread_id, "escalated"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE kind = 'send_message'"), 0);
  EXPECT_THROW(
      flow_->Perform(*db_, {.kind = "send_message",
                            .target = json{{"location", "bedford"}, {"phone", kDartmouth}}.dump(),
                            .triggered_by = "operator:ana",
                            .reason = "reply",
                            .text = "hello"}),
      InvalidInput);
}

TEST_F(SafetyTest, AnAlertAboutAnActionMasksTheCustomersNumber) {
  facility_->SetFault("sms", "reject", 1);
  const int64_t id = flow_->Perform(
      *db_, {.kind = "send_message",
             .target = json{{"location", "bedford"}, {"phone", "+19025554321"}}.dump(),
             .triggered_by = "operator:ana",
             .reason = "reply",
             .text = "we are on it"});
  ASSERT_TRUE(
      WaitFor([&] { return Str("SELECT state FROM actions WHERE id = $1", {id}) == "escalated"; }));
  ASSERT_TRUE(WaitFor([&] { return facility_->Calls("notify_operator") >= 1; }));
  const std::string alert =
      Str("SELECT detail FROM fake_facility_calls WHERE kind = 'notify_operator' LIMIT 1");
  EXPECT_EQ(alert.find("+19025554321"), std::string::npos) << alert;
  EXPECT_NE(alert.find("***4321"), std::string::npos) << alert;
}

// ---- a secondary action's failure does not re-open a finished thread --------------------------

TEST_F(SafetyTest, AFailedDoneNoticeNotifiesButLeavesTheVerifiedThreadAlone) {
  const auto t = Text(Phone(1), "the trackman in bay 5 is frozen");
  ASSERT_TRUE(Reaches(t.thread_id, "awaiting_confirmation"));
  ASSERT_TRUE(WaitFor([&] {  // the prompt went out
    return Scalar(
               "SELECT count(*) FROM actions WHERE thread_id = $1 AND params ->> 'role' = "
               "'prompt' AND state = 'verified'",
               {t.thread_id}) == 1;
  }));
  // The next SMS is the "done" notice, which the carrier refuses.
  facility_->SetFault("sms", "reject", 1);
  Text(Phone(1), "yes");
  ASSERT_TRUE(Reaches(t.thread_id, "verified"));
  ASSERT_TRUE(WaitFor([&] {
    return Scalar(
               "SELECT count(*) FROM actions WHERE thread_id = $1 AND params ->> 'role' = "
               "'notice' AND state = 'escalated'",
               {t.thread_id}) == 1;
  }));
  ASSERT_TRUE(WaitFor([&] { return facility_->Calls("notify_operator") >= 1; }));
  EXPECT_EQ(ThreadState(t.thread_id), "verified") << "the reset worked; only the notice failed";
  EXPECT_NE(Str("SELECT detail FROM fake_facility_calls WHERE kind = 'notify_operator' LIMIT 1")
                .find("Thread " + std::to_string(t.thread_id)),
            std::string::npos);
}

// An answer is the thread's too: once the thread went to a human (here its prompt could not be
// sent), a YES through the API is refused and nothing starts.
TEST_F(SafetyTest, AConfirmationTheThreadNoLongerAwaitsIsRefusedAndNothingStarts) {
  facility_->SetFault("sms", "reject", 1);  // the prompt
  const auto t = Text(Phone(2), "the trackman in bay 5 is frozen");
  ASSERT_TRUE(Reaches(t.thread_id, "escalated"));
  const int64_t reset = Scalar(
      "SELECT id FROM actions WHERE thread_id = $1 AND kind = 'reset_trackman'", {t.thread_id});
  EXPECT_EQ(Str("SELECT state FROM actions WHERE id = $1", {reset}), "awaiting_confirmation");
  EXPECT_THROW(flow_->Confirm(*db_, reset, true, "service:console"), IllegalTransition);
  EXPECT_EQ(Str("SELECT state FROM actions WHERE id = $1", {reset}), "awaiting_confirmation")
      << "nothing written";
  EXPECT_TRUE(Str("SELECT coalesce(confirmed_by, '') FROM actions WHERE id = $1", {reset}).empty());
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs WHERE unique_key = $1",
                   {"execute_action:" + std::to_string(reset)}),
            0)
      << "no execution was enqueued";
  EXPECT_EQ(facility_->Calls("reset_trackman"), 0);
  pgtest::ExpectValidHistories(*db_);
}
