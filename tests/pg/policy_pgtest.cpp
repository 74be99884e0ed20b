// Policy and safety against real Postgres and real workers: limits that cannot race, one unlock
// per booking, the emergency stop (swept and re-checked before the call), budgets, suggestions,
// and versioned profiles proposed, approved by someone else, and restored.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <map>
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

std::string Phone(int i) {
  return "+1555777" + std::to_string(1000 + i);
}

class PolicyTest : public pgtest::FlowFixture {
 protected:
  IntakeResult Text(const std::string& from, const std::string& body) {
    return Intake(from, kBedford, body);
  }
  bool Reaches(int64_t thread, const std::string& state) { return ReachesState(thread, state); }
  bool Rests(int64_t thread) {
    return WaitFor([&] {
      const auto s = ThreadState(thread);
      return s == "verified" || s == "escalated" || s == "closed" || s == "awaiting_confirmation";
    });
  }
  std::string Text1(const std::string& sql, const std::vector<store::Param>& params = {}) {
    return db_->ExecSql(sql, params).At(0, 0).Str();
  }
  // Moves every message so far ten minutes into the past.
  void Earlier() {
    db_->ExecRawOne("UPDATE messages SET received_at = received_at - interval '10 minutes'");
  }
  int64_t ProposeTechConfirmation(const std::string& confirmation, const std::string& by) {
    json profile = json::parse(config_.policy_json);
    profile["tech"]["confirmation"] = confirmation;
    return flow_->policy().Propose(*db_, profile.dump(), "tech " + confirmation, by);
  }
};

}  // namespace

TEST_F(PolicyTest, ConcurrentResetRequestsForOneBayNeverExceedTheCooldown) {
  // Six customers report bay 2 at once; four workers decide concurrently.
  std::vector<IntakeResult> in;
  for (int i = 0; i < 6; ++i) in.push_back(Text(Phone(i), "the trackman in bay 2 is frozen"));
  for (const auto& t : in) ASSERT_TRUE(Rests(t.thread_id));
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE kind = 'reset_trackman' AND target ->> "
                   "'device_id' = '102' AND state NOT IN ('cancelled', 'rejected')"),
            1)
      << "one reset of bay 2; the rest saw it";
  EXPECT_EQ(Scalar("SELECT count(*) FROM threads WHERE escalation_reason = 'cooldown'"), 5);
  EXPECT_EQ(Scalar("SELECT count(*) FROM threads WHERE state = 'awaiting_confirmation'"), 1);
  // The reasons say why, with the policy version.
  EXPECT_NE(Text1("SELECT decision::text FROM threads WHERE escalation_reason = 'cooldown' LIMIT 1")
                .find("cooldown"),
            std::string::npos);
  EXPECT_EQ(Scalar("SELECT count(*) FROM threads WHERE (decision ->> 'policy_version')::int = 1"),
            6);
}

TEST_F(PolicyTest, ASecondUnlockForABookingIsRefusedUnlessTheFirstFailed) {
  pgtest::BookNow(*db_, "bedford", Phone(1));
  const auto first = Text(Phone(1), "my code isn't opening the front door");
  ASSERT_TRUE(Reaches(first.thread_id, "awaiting_confirmation"));
  Text(Phone(1), "yes");
  ASSERT_TRUE(Reaches(first.thread_id, "verified"));
  EXPECT_EQ(Text1("SELECT booking_id FROM actions WHERE kind = 'unlock_door'"),
            "test-bedford-" + Phone(1));
  Earlier();  // not three texts in a minute (that alone would escalate)
  const auto second = Text(Phone(1), "the door is locked again, can't get in");
  ASSERT_TRUE(Reaches(second.thread_id, "escalated"));
  EXPECT_EQ(Escalation(second.thread_id), "policy_denied");
  EXPECT_EQ(facility_->Calls("unlock_door"), 1);

  // Another booking whose first unlock failed may try once more.
  pgtest::BookNow(*db_, "bedford", Phone(2));
  facility_->SetFault("0ed545f8-2fcd-4839-9021-b39e707f6aa9", "reject", 1);
  const auto a = Text(Phone(2), "door keypad is dead");
  ASSERT_TRUE(Reaches(a.thread_id, "awaiting_confirmation"));
  Text(Phone(2), "yes");
  ASSERT_TRUE(Reaches(a.thread_id, "escalated"));
  EXPECT_EQ(Escalation(a.thread_id), "action_failed");
  flow_->Claim(*db_, a.thread_id, "sam");
  flow_->Resolve(*db_, a.thread_id, "sam", "asked them to retry", "");
  Earlier();
  const auto b = Text(Phone(2), "still can't get in, door won't open");
  ASSERT_TRUE(Reaches(b.thread_id, "awaiting_confirmation")) << Escalation(b.thread_id);
}

TEST_F(PolicyTest, AnUnlockOutsideTheBookingWindowEscalatesNoBooking) {
  db_->ExecSql(
      "INSERT INTO bookings (id, location, bay, customer_phone, start_at, end_at) VALUES ('late', "
      "'bedford', 2, $1, now() + interval '2 hours', now() + interval '3 hours')",
      {Phone(3)});
  const auto t = Text(Phone(3), "my code isn't opening the front door");
  ASSERT_TRUE(Reaches(t.thread_id, "escalated"));
  EXPECT_EQ(Escalation(t.thread_id), "no_booking");
  const auto stranger = Text(Phone(4), "my code isn't opening the front door");
  ASSERT_TRUE(Reaches(stranger.thread_id, "escalated"));
  EXPECT_EQ(Escalation(stranger.thread_id), "no_booking");
  EXPECT_EQ(facility_->Calls("unlock_door"), 0);
}

TEST_F(PolicyTest, EngagingTheEmergencyStopCallsOffPendingActionsAndEscalates) {
  const auto t = Text(Phone(1), "trackman frozen in bay 4");
  ASSERT_TRUE(Reaches(t.thread_id, "awaiting_confirmation"));
  EXPECT_THROW(flow_->SetEmergencyStop(*db_, "location:narnia", true, "x", "operator:sam"),
               InvalidInput);
  EXPECT_EQ(flow_->SetEmergencyStop(*db_, "location:bedford", true, "water leak", "operator:sam"),
            1);
  ASSERT_TRUE(Reaches(t.thread_id, "escalated"));
  EXPECT_EQ(Escalation(t.thread_id), "emergency_stop");
  EXPECT_EQ(Text1("SELECT state FROM actions WHERE kind = 'reset_trackman'"), "escalated");
  Text(Phone(1), "YES");  // too late: nothing to confirm
  // New requests at that location escalate while it is engaged; other locations go on.
  const auto again = Text(Phone(2), "trackman frozen in bay 5");
  ASSERT_TRUE(Reaches(again.thread_id, "escalated"));
  EXPECT_EQ(Escalation(again.thread_id), "emergency_stop");
  const auto elsewhere =
      flow_->Intake(*db_, {Phone(3), "+15555550299", "trackman frozen in bay 2", ""});
  ASSERT_TRUE(Reaches(elsewhere.thread_id, "awaiting_confirmation"));
  flow_->SetEmergencyStop(*db_, "location:bedford", false, "fixed", "operator:sam");
  const auto after = Text(Phone(4), "trackman frozen in bay 6");
  ASSERT_TRUE(Reaches(after.thread_id, "awaiting_confirmation"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(facility_->Calls("reset_trackman"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM control_events WHERE control = "
                   "'emergency_stop:location:bedford'"),
            2);
  pgtest::ExpectValidHistories(*db_);
}

TEST_F(PolicyTest, AStopEngagedAfterTheYesStopsTheActionBeforeItsCall) {
  const auto t = Text(Phone(1), "trackman frozen in bay 3");
  ASSERT_TRUE(Reaches(t.thread_id, "awaiting_confirmation"));
  StopWorkers();  // the confirmed action waits for a worker
  Text(Phone(1), "YES");
  // Engaged by another process that did not sweep (the worker's own re-check must catch it).
  db_->ExecRawOne(
      "INSERT INTO emergency_stops (scope, engaged, reason, changed_by) VALUES ('global', true, "
      "'drill', 'operator:ana')");
  StartWorkers();
  ASSERT_TRUE(Reaches(t.thread_id, "escalated"));
  EXPECT_EQ(Escalation(t.thread_id), "emergency_stop");
  EXPECT_EQ(facility_->Calls("reset_trackman"), 0) << "the call was never made";
  EXPECT_EQ(Scalar("SELECT count(*) FROM transitions WHERE event = 'emergency_stopped'"), 1);
}

TEST_F(PolicyTest, ASpentBudgetLeavesWhatThePatternsAreSureOfAlone) {
  // The budget is the model's (tests/pg/llm_pgtest.cpp): a sure pattern costs no tokens.
  db_->ExecRawOne(
      "INSERT INTO token_usage (location, day, tokens) VALUES ('bedford', (now() AT TIME ZONE "
      "'America/Halifax')::date, 200000)");
  const auto t = Text(Phone(1), "how much for an hour?");
  ASSERT_TRUE(Reaches(t.thread_id, "verified"));
}

TEST_F(PolicyTest, WithAutoExecuteOffItSuggestsAndAnOperatorDecides) {
  flow_->SetToggle(*db_, "auto_execute", false, "operator:sam");
  EXPECT_THROW(flow_->SetToggle(*db_, "autopilot", false, "operator:sam"), InvalidInput);
  const auto a = Text(Phone(1), "trackman frozen in bay 3");
  const auto b = Text(Phone(2), "trackman frozen in bay 5");
  ASSERT_TRUE(Reaches(a.thread_id, "escalated"));
  ASSERT_TRUE(Reaches(b.thread_id, "escalated"));
  EXPECT_EQ(Escalation(a.thread_id), "suggestion_review");
  EXPECT_EQ(facility_->Calls("reset_trackman"), 0);
  const int64_t sa = Scalar("SELECT id FROM suggestions WHERE thread_id = $1", {a.thread_id});
  const int64_t sb = Scalar("SELECT id FROM suggestions WHERE thread_id = $1", {b.thread_id});
  const int64_t action = flow_->ApproveSuggestion(*db_, sa, {"sam"});
  EXPECT_THROW(flow_->ApproveSuggestion(*db_, sa, {"sam"}), IllegalTransition);
  flow_->RejectSuggestion(*db_, sb, "ana");
  EXPECT_THROW(flow_->ApproveSuggestion(*db_, sb, {"sam"}), IllegalTransition);
  EXPECT_THROW(flow_->ApproveSuggestion(*db_, 9999, {"sam"}), NotFound);
  ASSERT_TRUE(WaitFor(
      [&] { return Text1("SELECT state FROM actions WHERE id = $1", {action}) == "verified"; }));
  EXPECT_EQ(Scalar("SELECT count(*) FROM action_outcomes WHERE action_id = $1 AND human_override "
                   "AND trigger_source = 'operator:sam' AND linked_thread = $2",
                   {action, a.thread_id}),
            1);
  EXPECT_EQ(facility_->Calls("reset_trackman"), 1);
  EXPECT_EQ(Text1("SELECT state || '/' || decided_by FROM suggestions WHERE id = $1", {sb}),
            "rejected/operator:ana");
}

TEST_F(PolicyTest, AProposalIsApprovedBySomeoneElseAndCanBeRolledBack) {
  const int64_t v2 = ProposeTechConfirmation("none", "admin:alice");
  EXPECT_NE(
      Text1("SELECT diff::text FROM policy_versions WHERE id = $1", {v2}).find("tech.confirmation"),
      std::string::npos);
  EXPECT_THROW(flow_->policy().Approve(*db_, v2, "admin:alice"), Forbidden);
  EXPECT_THROW(
      flow_->policy().Propose(*db_, R"({"tech": {"confidence_threshold": 7}})", "", "admin:alice"),
      InvalidProfile);
  flow_->policy().Approve(*db_, v2, "admin:bob");
  EXPECT_THROW(flow_->policy().Approve(*db_, v2, "admin:bob"), IllegalTransition);
  const auto t = Text(Phone(1), "trackman frozen in bay 3");
  ASSERT_TRUE(Reaches(t.thread_id, "verified")) << "version 2 acts without asking";
  EXPECT_EQ(Scalar("SELECT (decision ->> 'policy_version')::int FROM threads WHERE id = $1",
                   {t.thread_id}),
            v2);
  const int64_t v3 = flow_->policy().Restore(*db_, 1, "admin:bob", "");
  EXPECT_EQ(Scalar("SELECT count(*) FROM policy_versions WHERE state = 'active'"), 1);
  EXPECT_EQ(Scalar("SELECT id FROM policy_versions WHERE state = 'active'"), v3);
  const auto u = Text(Phone(2), "trackman frozen in bay 5");
  ASSERT_TRUE(Reaches(u.thread_id, "awaiting_confirmation")) << "version 1's rules again";
  EXPECT_EQ(Scalar("SELECT (decision ->> 'policy_version')::int FROM threads WHERE id = $1",
                   {u.thread_id}),
            v3);
  // The four-eyes rule is the database's too.
  EXPECT_THROW(db_->ExecRawOne("UPDATE policy_versions SET approved_by = proposed_by WHERE id = " +
                               std::to_string(v2)),
               store::DbError);
}

TEST_F(PolicyTest, ReplayShowsWhichStoredDecisionsAProposalWouldChange) {
  const auto reset = Text(Phone(1), "trackman frozen in bay 3");
  const auto faq = Text(Phone(2), "how much for an hour?");
  const auto fire = Text(Phone(3), "the fire alarm is going off");
  ASSERT_TRUE(Reaches(reset.thread_id, "awaiting_confirmation"));
  ASSERT_TRUE(Reaches(faq.thread_id, "verified"));
  ASSERT_TRUE(Reaches(fire.thread_id, "escalated"));
  const int64_t v2 = ProposeTechConfirmation("none", "admin:alice");
  const auto report =
      flow_->policy().Replay(*db_, v2, SystemClock::Instance().Now() - std::chrono::hours(24 * 7));
  EXPECT_EQ(report.replayed, 3);
  ASSERT_EQ(report.changed.size(), 1u);
  EXPECT_EQ(report.changed[0].thread_id, reset.thread_id);
  EXPECT_EQ(report.changed[0].before, "confirm_first");
  EXPECT_EQ(report.changed[0].after, "execute");
  // Under the active version itself, nothing changes: replay is faithful to what was decided.
  EXPECT_TRUE(flow_->policy()
                  .Replay(*db_, 1, SystemClock::Instance().Now() - std::chrono::hours(1))
                  .changed.empty());
  EXPECT_THROW(flow_->policy().Replay(*db_, 99, SystemClock::Instance().Now()), NotFound);
}

// A proposal replaces the whole profile, so approving one made before another was approved would
// silently revert that one (at 850d4a5 it did: B's approval undid A's tech.autonomy=false). It is
// a VersionConflict carrying the diff against the version active now, and nothing changes.
TEST_F(PolicyTest, ApprovingAStaleProposalIsAVersionConflictWithTheDiffAgainstTheActiveVersion) {
  json base = json::parse(config_.policy_json);
  json a = base, b = base;
  a["tech"]["autonomy"] = false;
  b["faq"]["confidence_threshold"] = 0.8;
  const int64_t va = flow_->policy().Propose(*db_, a.dump(), "tech off", "admin:alice");
  const int64_t vb = flow_->policy().Propose(*db_, b.dump(), "faq stricter", "admin:alice");
  flow_->policy().Approve(*db_, va, "admin:bob");
  try {
    flow_->policy().Approve(*db_, vb, "admin:bob");
    ADD_FAILURE() << "a stale proposal was approved";
  } catch (const VersionConflict& e) {
    EXPECT_EQ(e.proposal(), vb);
    EXPECT_EQ(e.active(), va);
    const json diff = json::parse(e.diff_json());
    std::map<std::string, std::pair<json, json>> changes;
    for (const auto& d : diff) changes[d["path"].get<std::string>()] = {d["from"], d["to"]};
    ASSERT_EQ(changes.size(), 2u) << diff.dump();
    EXPECT_EQ(changes["tech.autonomy"], std::make_pair(json(false), json(true)))
        << "approving it would turn autonomy back on";
    EXPECT_EQ(changes["faq.confidence_threshold"], std::make_pair(json(0.7), json(0.8)));
    EXPECT_NE(std::string(e.what()).find("version " + std::to_string(va)), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(Scalar("SELECT id FROM policy_versions WHERE state = 'active'"), va);
  EXPECT_EQ(Text1("SELECT state FROM policy_versions WHERE id = $1", {vb}), "proposed");
  EXPECT_EQ(Text1("SELECT (profile #>> '{tech,autonomy}') FROM policy_versions "
                  "WHERE state = 'active'"),
            "false");
  // Proposed again on top of the active version, it is approved.
  json again = a;
  again["faq"]["confidence_threshold"] = 0.8;
  const int64_t vc = flow_->policy().Propose(*db_, again.dump(), "faq stricter", "admin:alice");
  flow_->policy().Approve(*db_, vc, "admin:bob");
  EXPECT_EQ(Scalar("SELECT id FROM policy_versions WHERE state = 'active'"), vc);
  // A restore moves the active version on too.
  const int64_t vd = ProposeTechConfirmation("none", "admin:alice");
  flow_->policy().Restore(*db_, va, "admin:bob", "");
  EXPECT_THROW(flow_->policy().Approve(*db_, vd, "admin:bob"), VersionConflict);
}

// Two approvals at once: at 850d4a5 both read the active version before taking the lock and the
// loser got a duplicate key in policy_versions_one_active (a 500). Now exactly one wins and the
// other is the version conflict, trial after trial; an approval racing a restore never fails
// with a database error either.
TEST_F(PolicyTest, ConcurrentApprovalsLetExactlyOneWinAndTheOtherIsAVersionConflict) {
  json base = json::parse(config_.policy_json);
  auto run_together = [&](std::function<void(store::Connection&)> left,
                          std::function<void(store::Connection&)> right) {
    std::array<std::string, 2> outcome;
    std::atomic<int> ready{0};
    auto side = [&](int i, const std::function<void(store::Connection&)>& fn) {
      auto conn = pgtest::Connect();
      ++ready;
      while (ready.load() < 2) std::this_thread::yield();  // both connected: go at once
      try {
        fn(*conn);
        outcome[static_cast<std::size_t>(i)] = "ok";
      } catch (const VersionConflict&) {
        outcome[static_cast<std::size_t>(i)] = "conflict";
      } catch (const std::exception& e) {
        outcome[static_cast<std::size_t>(i)] = std::string("error: ") + e.what();
      }
    };
    std::thread l(side, 0, left), r(side, 1, right);
    l.join();
    r.join();
    return outcome;
  };
  for (int trial = 0; trial < 8; ++trial) {
    json x = base, y = base;
    x["tech"]["cooldown_seconds"] = 600 + trial;
    y["faq"]["confidence_threshold"] = 0.5 + trial / 100.0;
    const int64_t vx = flow_->policy().Propose(*db_, x.dump(), "x", "admin:alice");
    const int64_t vy = flow_->policy().Propose(*db_, y.dump(), "y", "admin:alice");
    auto outcome =
        run_together([&](store::Connection& c) { flow_->policy().Approve(c, vx, "admin:bob"); },
                     [&](store::Connection& c) { flow_->policy().Approve(c, vy, "admin:carol"); });
    std::sort(outcome.begin(), outcome.end());
    EXPECT_EQ(outcome, (std::array<std::string, 2>{"conflict", "ok"})) << "trial " << trial;
    EXPECT_EQ(Scalar("SELECT count(*) FROM policy_versions WHERE state = 'active'"), 1);
    // Start the next trial from the version that won.
    base = json::parse(Text1("SELECT profile::text FROM policy_versions WHERE state = 'active'"));
  }
  for (int trial = 0; trial < 4; ++trial) {
    const int64_t v = ProposeTechConfirmation(trial % 2 ? "none" : "required", "admin:alice");
    auto outcome = run_together(
        [&](store::Connection& c) { flow_->policy().Approve(c, v, "admin:bob"); },
        [&](store::Connection& c) { flow_->policy().Restore(c, 1, "admin:carol", ""); });
    for (const auto& o : outcome)
      EXPECT_TRUE(o == "ok" || o == "conflict") << "trial " << trial << ": " << o;
    EXPECT_EQ(outcome[1], "ok") << "a restore is not based on a version";
    EXPECT_EQ(Scalar("SELECT count(*) FROM policy_versions WHERE state = 'active'"), 1);
  }
}

// Versions are 64-bit end to end: an id past 32 bits is a version that does not exist, never the
// one its low bits name (at 850d4a5 approving 4294967299 approved version 3).
TEST_F(PolicyTest, VersionIdsPast32BitsAreNotFoundNotTruncated) {
  const int64_t v2 = ProposeTechConfirmation("none", "admin:alice");
  const int64_t wrapped = (int64_t{1} << 32) + v2;
  EXPECT_THROW(flow_->policy().Approve(*db_, wrapped, "admin:bob"), NotFound);
  EXPECT_THROW(flow_->policy().Reject(*db_, wrapped, "admin:bob"), NotFound);
  EXPECT_THROW(flow_->policy().Restore(*db_, (int64_t{1} << 32) + 1, "admin:bob", ""), NotFound);
  EXPECT_THROW(flow_->policy().Replay(*db_, wrapped, SystemClock::Instance().Now()), NotFound);
  EXPECT_EQ(Text1("SELECT state FROM policy_versions WHERE id = $1", {v2}), "proposed");
  EXPECT_EQ(Scalar("SELECT id FROM policy_versions WHERE state = 'active'"), 1);
  // A booking's bay is checked before it is narrowed: bay 2^32+2 is no bay, not bay 2.
  BookingInput b{"big-bay",
                 "bedford",
                 (int64_t{1} << 32) + 2,
                 Phone(1),
                 SystemClock::Instance().Now(),
                 SystemClock::Instance().Now() + std::chrono::hours(1)};
  EXPECT_THROW(flow_->policy().UpsertBooking(*db_, b), std::invalid_argument);
  EXPECT_EQ(Scalar("SELECT count(*) FROM bookings"), 0);
}

// The first routings of a new database bootstrap the configuration's profile at once; it is
// version 1 whatever the race (at 850d4a5 each loser's ON CONFLICT still took a number from the
// sequence, so the active version could be 2 or 3, and "version 1" named nothing).
TEST_F(PolicyTest, TheFirstVersionIsVersionOneWhenManyBootstrapAtOnce) {
  for (int trial = 0; trial < 5; ++trial) {
    db_->ExecRawOne("TRUNCATE policy_versions RESTART IDENTITY");
    constexpr int kThreads = 6;
    std::atomic<int> ready{0};
    std::array<int64_t, kThreads> seen{};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
      threads.emplace_back([&, i] {
        auto conn = pgtest::Connect();
        ++ready;
        while (ready.load() < kThreads) std::this_thread::yield();
        conn->Transact("bootstrap race", [&](store::Tx& tx) {
          seen[static_cast<std::size_t>(i)] = flow_->policy().Active(tx).version;
        });
      });
    for (auto& t : threads) t.join();
    for (const auto v : seen) EXPECT_EQ(v, 1) << "trial " << trial;
    EXPECT_EQ(Scalar("SELECT count(*) FROM policy_versions"), 1);
    EXPECT_EQ(Scalar("SELECT max(id) FROM policy_versions"), 1) << "trial " << trial;
  }
}
