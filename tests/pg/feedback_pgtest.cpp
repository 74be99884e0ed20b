// Feedback and cases against real Postgres, real workers and the database-backed fake facility:
// a failed action becomes exactly one case (also when workers race for it), a customer's "that
// didn't help" becomes unhelpful feedback and a case without changing how the text is routed, an
// operator's verdicts replace each other with their history kept, and `clubos feedback export`
// prints the cases as JSON lines with phone numbers masked.
#include <gtest/gtest.h>

#include <barrier>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "store/db.h"
#include "tests/support/example_knowledge.h"
#include "tests/support/flow_fixture.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"
#include "workflows/feedback.h"
#include "workflows/flow.h"

using namespace clubos;
using namespace clubos::workflows;
using nlohmann::json;
using pgtest::WaitFor;

namespace {

constexpr const char* kCustomer = "+15555550100";
constexpr const char* kBedford = "+15555550199";
// Another customer, whose failing reset leaves their thread with a human while kCustomer asks on.
constexpr const char* kOther = "+15555550105";

class FeedbackTest : public pgtest::FlowFixture {
 protected:
  void SetUp() override {
    FlowFixture::SetUp();
    if (IsSkipped()) return;
    for (const char* phone : {kCustomer, kOther, "+15555550101", "+15555550102"})
      pgtest::BookNow(*db_, "bedford", phone);
  }
  IntakeResult Say(const std::string& body) { return Intake(kCustomer, kBedford, body); }
  // The FAQ's answer to a question, sent and verified: the thread's automated answer.
  std::pair<IntakeResult, int64_t> Answered(const std::string& question,
                                            const std::string& from = kCustomer) {
    const auto in = Intake(from, kBedford, question);
    EXPECT_TRUE(ReachesState(in.thread_id, "verified"));
    return {in, Scalar("SELECT id FROM actions WHERE thread_id = $1 AND kind = 'send_message' AND "
                       "params ->> 'role' = 'primary'",
                       {in.thread_id})};
  }
  // A reset whose bay never comes back: the action fails verification (state_unchanged).
  int64_t FailedReset(const std::string& bay_text, const std::string& device) {
    facility_->SetFault(device, "stuck_offline", 100);
    const auto in = Intake(kOther, kBedford, bay_text);
    EXPECT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
    Intake(kOther, kBedford, "YES");
    EXPECT_TRUE(ReachesState(in.thread_id, "escalated"));
    return Scalar("SELECT id FROM actions WHERE thread_id = $1 AND kind = 'reset_trackman'",
                  {in.thread_id});
  }
};

}  // namespace

TEST_F(FeedbackTest, AFailedActionBecomesOneCaseWithItsRouteAndTheTextItAnswered) {
  const int64_t action = FailedReset("hey the simulator in bay 4 froze mid round", "104");
  ASSERT_GT(action, 0);
  EXPECT_EQ(Text("SELECT result FROM actions WHERE id = $1", {action}), "failed");
  ASSERT_EQ(Scalar("SELECT count(*) FROM cases"), 1);
  EXPECT_EQ(Text("SELECT origin || '/' || state || '/' || outcome FROM cases WHERE action_id = $1",
                 {action}),
            "action/new/failed");
  EXPECT_EQ(Text("SELECT intent ->> 'category' FROM cases"), "tech");
  EXPECT_EQ(Text("SELECT intent ->> 'action' FROM cases"), "reset_trackman");
  EXPECT_EQ(Text("SELECT m.body FROM cases c JOIN messages m ON m.id = c.message_id"),
            "hey the simulator in bay 4 froze mid round")
      << "the text the action answered, not the YES";
  EXPECT_EQ(Scalar("SELECT count(*) FROM cases WHERE answer IS NULL AND feedback_id IS NULL AND "
                   "sop_id = 'tech.trackman-frozen' AND sop_version = 1"),
            1)
      << "the case names the procedure the reset followed, and its version";

  // Flagged for a rollback afterwards: still one case, the action's.
  flow_->FlagRollback(*db_, action, "operator:sam", "the bay was left in a bad state");
  EXPECT_EQ(Scalar("SELECT count(*) FROM cases"), 1);
  EXPECT_EQ(Text("SELECT outcome FROM cases"), "failed");
}

TEST_F(FeedbackTest, AnInconclusiveActionAndARollbackAreCasesToo) {
  facility_->SetFault("102", "transient", 1'000);
  const auto in = Say("TM not picking up my shots in box 2");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Say("ok do it");
  ASSERT_TRUE(ReachesState(in.thread_id, "escalated"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM cases WHERE origin = 'action' AND outcome = "
                   "'inconclusive' AND thread_id = $1",
                   {in.thread_id}),
            1);

  // A verified FAQ answer flagged for a rollback: a case of its own.
  const auto [faq, answer] = Answered("do you sell gift cards?", "+15555550108");
  flow_->FlagRollback(*db_, answer, "operator:sam", "the price it quoted is wrong");
  EXPECT_EQ(Scalar("SELECT count(*) FROM cases WHERE action_id = $1 AND outcome = "
                   "'rollback_needed' AND answer LIKE '%gift%' AND sop_id = 'faq.gift_card' AND "
                   "sop_version = 1",
                   {answer}),
            1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM cases"), 2);
}

TEST_F(FeedbackTest, WorkersRacingToRecordOneFailureMakeExactlyOneCase) {
  const auto [in, answer] = Answered("how much for an hour?");
  StopWorkers();
  constexpr int kWorkers = 6;
  std::barrier start(kWorkers);
  std::vector<std::optional<int64_t>> made(kWorkers);
  std::vector<std::thread> ts;
  for (int i = 0; i < kWorkers; ++i)
    ts.emplace_back([&, i] {
      auto c = pgtest::Connect();
      start.arrive_and_wait();
      c->Transact("race", [&](store::Tx& tx) {
        made[static_cast<std::size_t>(i)] = RecordActionCase(
            tx, answer, i % 2 ? case_outcome::kFailed : case_outcome::kRollbackNeeded,
            SystemClock::Instance());
      });
    });
  for (auto& t : ts) t.join();
  int winners = 0;
  for (const auto& m : made) winners += m.has_value();
  EXPECT_EQ(winners, 1) << "one transaction made the case, the others found it";
  EXPECT_EQ(Scalar("SELECT count(*) FROM cases WHERE action_id = $1", {answer}), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM cases"), 1);
}

TEST_F(FeedbackTest, FailuresRacingThroughTheFlowMakeOneCaseEach) {
  // Four workers, two conversations failing at once, each reset failing its verification.
  facility_->SetFault("103", "stuck_offline", 100);
  facility_->SetFault("104", "stuck_offline", 100);
  const auto a = Intake("+15555550101", kBedford, "trackman in bay 3 is frozen");
  const auto b = Intake("+15555550102", kBedford, "bay 4 trackman froze");
  ASSERT_TRUE(ReachesState(a.thread_id, "awaiting_confirmation"));
  ASSERT_TRUE(ReachesState(b.thread_id, "awaiting_confirmation"));
  Intake("+15555550101", kBedford, "yes");
  Intake("+15555550102", kBedford, "yes");
  ASSERT_TRUE(ReachesState(a.thread_id, "escalated"));
  ASSERT_TRUE(ReachesState(b.thread_id, "escalated"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM cases"), 2);
  EXPECT_EQ(Scalar("SELECT count(DISTINCT action_id) FROM cases WHERE outcome = 'failed'"), 2);
}

TEST_F(FeedbackTest, ACustomersThatDidntHelpIsUnhelpfulFeedbackAndACase) {
  const auto [in, answer] = Answered("how much for an hour?");
  const auto routed_before =
      Scalar("SELECT count(*) FROM transitions WHERE entity = 'thread' AND event = 'routed'");
  const auto follow = Say("hmm, that didn't help");
  EXPECT_EQ(follow.thread_id, in.thread_id);
  ASSERT_EQ(Scalar("SELECT count(*) FROM feedback"), 1);
  EXPECT_EQ(Text("SELECT source || '/' || author || '/' || helpful::text FROM feedback"),
            "customer/customer/false");
  EXPECT_EQ(Scalar("SELECT action_id FROM feedback"), answer);
  EXPECT_EQ(Scalar("SELECT message_id FROM feedback"), follow.message_id);
  EXPECT_EQ(Scalar("SELECT count(*) FROM feedback_history"), 1);
  ASSERT_EQ(Scalar("SELECT count(*) FROM cases"), 1);
  EXPECT_EQ(Text("SELECT origin || '/' || state FROM cases"), "feedback/new");
  EXPECT_NE(Text("SELECT answer FROM cases").find("$45/hour"), std::string::npos);
  EXPECT_EQ(Text("SELECT intent ->> 'category' FROM cases"), "faq");
  EXPECT_EQ(Text("SELECT m.body FROM cases c JOIN messages m ON m.id = c.message_id"),
            "how much for an hour?");

  // The text itself is routed as any other: the router reads it and the policy decides.
  ASSERT_TRUE(WaitFor([&] {
    return Scalar("SELECT count(*) FROM transitions WHERE entity = 'thread' AND event = 'routed'") >
           routed_before;
  }));
  const Intent expected =
      router_->Route({"hmm, that didn't help"}, clubos::testsupport::ExampleFaq());
  EXPECT_EQ(Text("SELECT data -> 'intent' ->> 'category' FROM transitions WHERE entity = 'thread' "
                 "AND event = 'routed' ORDER BY id DESC LIMIT 1"),
            expected.category);
  EXPECT_EQ(json::parse(Text("SELECT data -> 'intent' -> 'flags' FROM transitions WHERE entity = "
                             "'thread' AND event = 'routed' ORDER BY id DESC LIMIT 1")),
            json(expected.flags));

  // Said again: the customer's verdict on that answer is replaced, not doubled; one case.
  ASSERT_TRUE(WaitFor([&] { return ThreadState(in.thread_id) != "received"; }));
  Say("still not working");
  EXPECT_EQ(Scalar("SELECT count(*) FROM feedback"), 1);
  EXPECT_EQ(Scalar("SELECT version FROM feedback"), 2);
  EXPECT_EQ(Scalar("SELECT count(*) FROM feedback_history"), 2);
  EXPECT_EQ(Scalar("SELECT count(*) FROM cases"), 1);
}

TEST_F(FeedbackTest, StillFrozenAfterAVerifiedResetIsFeedbackOnTheReset) {
  const auto in = Say("the trackman in bay 3 is frozen");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Say("yes");
  ASSERT_TRUE(ReachesState(in.thread_id, "verified"));
  ASSERT_TRUE(WaitFor([&] {
    return Scalar(
               "SELECT count(*) FROM actions WHERE thread_id = $1 AND params ->> 'role' = "
               "'notice' AND executed_at IS NOT NULL",
               {in.thread_id}) == 1;
  })) << "the customer was told it is done";
  Say("nope, still frozen");
  const int64_t reset = Scalar(
      "SELECT id FROM actions WHERE thread_id = $1 AND kind = 'reset_trackman'", {in.thread_id});
  EXPECT_EQ(Scalar("SELECT count(*) FROM feedback WHERE action_id = $1 AND NOT helpful", {reset}),
            1)
      << "the reset, not the notice that said it was done";
  EXPECT_EQ(Text("SELECT matched FROM feedback"),
            "still froze|frozen|freezing|broken|broke|stuck|"
            "locked|dead|down|lagging|laggy|black|offline|"
            "crashing|crashed|same|glitching");
  EXPECT_EQ(
      Scalar("SELECT count(*) FROM cases WHERE origin = 'feedback' AND action_id = $1", {reset}),
      1);
  EXPECT_EQ(Text("SELECT intent ->> 'action' FROM cases"), "reset_trackman");
}

TEST_F(FeedbackTest, NoFeedbackFromOrdinaryTextsOrOutsideTheWindowOrOnAnOperatorsReply) {
  const auto [in, answer] = Answered("how much for an hour?");
  Say("great, thanks!");
  EXPECT_EQ(Scalar("SELECT count(*) FROM feedback"), 0) << "praise is no complaint";

  // An operator replied since: the customer answers the operator, not the automation.
  flow_->Reply(*db_, in.thread_id, "sam", "It is $45 an hour, $40 off-peak.");
  ASSERT_TRUE(WaitFor([&] {
    return Scalar(
               "SELECT count(*) FROM actions WHERE thread_id = $1 AND triggered_by = "
               "'operator:sam' AND executed_at IS NOT NULL",
               {in.thread_id}) == 1;
  }));
  Say("that didn't help");
  EXPECT_EQ(Scalar("SELECT count(*) FROM feedback"), 0);

  // Too late: the window has passed since the answer went out.
  StopWorkers();
  config_.router.not_helped_window = Millis(0);
  StartWorkers();
  const auto other = Intake("+15555550107", kBedford, "do you sell gift cards?");
  ASSERT_TRUE(ReachesState(other.thread_id, "verified"));
  Intake("+15555550107", kBedford, "that didn't help");
  EXPECT_EQ(Scalar("SELECT count(*) FROM feedback"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM cases"), 0);
}

TEST_F(FeedbackTest, AnOperatorsVerdictsReplaceEachOtherAndTheHistoryKeepsThemAll) {
  const auto [in, answer] = Answered("how much for an hour?");
  auto f =
      flow_->GiveFeedback(*db_, {answer, false, "Off-peak is $40 before 4 pm.", "operator:sam"});
  EXPECT_EQ(f.version, 1);
  ASSERT_TRUE(f.case_id.has_value());
  EXPECT_EQ(f.case_state, "new");
  const int64_t case_id = *f.case_id;
  EXPECT_EQ(Text("SELECT correction FROM feedback"), "Off-peak is $40 before 4 pm.");

  f = flow_->GiveFeedback(*db_, {answer, true, std::nullopt, "operator:sam"});
  EXPECT_EQ(f.version, 2);
  EXPECT_EQ(f.case_id, case_id);
  EXPECT_EQ(f.case_state, "closed");
  EXPECT_EQ(Text("SELECT state || '/' || closed_reason FROM cases"), "closed/withdrawn");
  EXPECT_EQ(Scalar("SELECT count(*) FROM feedback WHERE helpful AND correction IS NULL"), 1);

  f = flow_->GiveFeedback(*db_, {answer, false, "It is $45; $40 off-peak.", "operator:sam"});
  EXPECT_EQ(f.version, 3);
  EXPECT_EQ(f.case_id, case_id) << "the same verdict's case, new again";
  EXPECT_EQ(Text("SELECT state FROM cases"), "new");
  EXPECT_EQ(Scalar("SELECT count(*) FROM feedback"), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM cases"), 1);
  EXPECT_EQ(Text("SELECT string_agg(helpful::text || ':' || coalesce(correction, '-'), ' | ' ORDER "
                 "BY version) FROM feedback_history"),
            "false:Off-peak is $40 before 4 pm. | true:- | false:It is $45; $40 off-peak.");
  EXPECT_THROW(db_->ExecRawOne("UPDATE feedback_history SET helpful = true"), store::DbError)
      << "the history is append-only";

  // Another operator's verdict is theirs: a second row and a second case.
  f = flow_->GiveFeedback(*db_, {answer, false, std::nullopt, "operator:ana"});
  EXPECT_EQ(f.version, 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM feedback"), 2);
  EXPECT_EQ(Scalar("SELECT count(*) FROM cases"), 2);
}

TEST_F(FeedbackTest, AVerdictOnWhatIsNoAutomatedAnswerIsRefusedAndChangesNothing) {
  const int64_t reset = FailedReset("bay 4 trackman froze", "104");
  const auto [in, answer] = Answered("how much for an hour?");
  const auto census = Text(
      "SELECT (SELECT count(*) FROM feedback) || '/' || (SELECT count(*) FROM feedback_history) || "
      "'/' || (SELECT count(*) FROM cases)");
  EXPECT_THROW(flow_->GiveFeedback(*db_, {reset, false, std::nullopt, "operator:sam"}),
               InvalidInput)
      << "a reset is no answer";
  EXPECT_THROW(flow_->GiveFeedback(*db_, {987654, true, std::nullopt, "operator:sam"}), NotFound);
  const auto reply = flow_->Reply(*db_, in.thread_id, "sam", "Anything else?");
  EXPECT_THROW(flow_->GiveFeedback(*db_, {reply.action_id, true, std::nullopt, "operator:sam"}),
               InvalidInput)
      << "an operator's own text is no automated answer";
  EXPECT_EQ(Text("SELECT (SELECT count(*) FROM feedback) || '/' || (SELECT count(*) FROM "
                 "feedback_history) || '/' || (SELECT count(*) FROM cases)"),
            census);
}

TEST_F(FeedbackTest, TheExportPrintsOneMaskedCasePerLine) {
  const int64_t reset = FailedReset("hey the simulator in bay 4 froze mid round", "104");
  const auto [in, answer] = Answered("how much for an hour?");
  Say("nope, same problem, call me at +15555550123");
  flow_->GiveFeedback(*db_, {answer, false, "Say the off-peak price too.", "operator:sam"});
  ASSERT_EQ(Scalar("SELECT count(*) FROM cases"), 3);

  const std::string out = testing::TempDir() + "/cases.jsonl";
  std::remove(out.c_str());
  const std::vector<std::string> env = {"CLUBOS_DATABASE_URL=" + pgtest::TestDatabaseUrl()};
  auto r = pgtest::RunClubos({"feedback", "export", "--since", "7d", "--out", out}, env, "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "") << "the lines go to the file";
  std::ifstream file(out);
  std::vector<json> lines;
  for (std::string line; std::getline(file, line);) {
    for (const char* number : {"5555550100", "5555550105"})
      EXPECT_EQ(line.find(number), std::string::npos) << "a customer's number: " << line;
    EXPECT_EQ(line.find("5555550123"), std::string::npos) << "a number in a text: " << line;
    lines.push_back(json::parse(line));
  }
  ASSERT_EQ(lines.size(), 3u);
  const json& failed = lines[0];
  EXPECT_EQ(failed["origin"], "action");
  EXPECT_EQ(failed["outcome"], "failed");
  EXPECT_EQ(failed["action"]["id"], reset);
  EXPECT_EQ(failed["action"]["kind"], "reset_trackman");
  EXPECT_EQ(failed["action"]["result"], "failed");
  EXPECT_EQ(failed["route"]["category"], "tech");
  EXPECT_EQ(failed["message"]["text"], "hey the simulator in bay 4 froze mid round");
  EXPECT_EQ(failed["customer"], "***0105");
  EXPECT_EQ(failed["sop_id"], "tech.trackman-frozen");
  EXPECT_EQ(failed["sop_version"], 1);
  EXPECT_TRUE(failed["feedback"].is_null());
  ASSERT_TRUE(failed["action_outcomes"].is_array());
  EXPECT_FALSE(failed["action_outcomes"].empty());

  const json& customer = lines[1];
  EXPECT_EQ(customer["origin"], "feedback");
  EXPECT_EQ(customer["feedback"]["source"], "customer");
  EXPECT_EQ(customer["feedback"]["helpful"], false);
  EXPECT_EQ(customer["feedback"]["followup"], "nope, same problem, call me at ***0123");
  EXPECT_EQ(customer["message"]["text"], "how much for an hour?");
  EXPECT_NE(customer["answer"].get<std::string>().find("$45/hour"), std::string::npos);
  EXPECT_EQ(customer["route"]["category"], "faq");
  EXPECT_EQ(customer["action"]["id"], answer);

  const json& op = lines[2];
  EXPECT_EQ(op["feedback"]["by"], "operator:sam");
  EXPECT_EQ(op["correction"], "Say the off-peak price too.");

  // To stdout, and a window that holds none of them.
  r = pgtest::RunClubos({"feedback", "export", "--since", "7d"}, env, "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);
  db_->ExecRawOne("UPDATE cases SET created_at = now() - interval '3 days'");
  r = pgtest::RunClubos({"feedback", "export", "--since", "2d"}, env, "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  r = pgtest::RunClubos({"feedback", "export", "--since", "73h"}, env, "");
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);
}

TEST_F(FeedbackTest, TheExportsUsageErrorsExitTwo) {
  const std::vector<std::string> env = {"CLUBOS_DATABASE_URL=" + pgtest::TestDatabaseUrl()};
  for (const char* bad : {"7", "d", "7w", "-7d", "0d", "7.5d", " 7d", "7dd", "30m"}) {
    const auto r = pgtest::RunClubos({"feedback", "export", "--since", bad}, env, "");
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("--since"), std::string::npos) << r.err;
  }
  EXPECT_EQ(pgtest::RunClubos({"feedback", "export", "--until", "7d"}, env, "").exit_code, 2);
  EXPECT_EQ(pgtest::RunClubos({"feedback", "import"}, env, "").exit_code, 2);
  const auto help = pgtest::RunClubos({"feedback", "export", "--help"}, env, "");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--since"), std::string::npos);
}
