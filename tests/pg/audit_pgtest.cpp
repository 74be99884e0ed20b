// The audit cookbook (docs/audit.md) against a database filled by the real flow: real workers,
// real Postgres, the database-backed fake facility. Every ```sql block of the cookbook must run
// (read-only) and the key ones must give the answers the scenario implies, so the documentation
// cannot rot: rename a view or a column, or change what the flow records, and this fails.
//
// CLUBOS_AUDIT_KEEP_AS=<name> keeps a copy of the filled database under that name (the cookbook's
// sample answers come from such a copy).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "sim/fake_facility.h"
#include "store/db.h"
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
using sim::FakeFacility;

namespace {

constexpr const char* kBedford = "+15555550199";
constexpr const char* kDartmouth = "+15555550299";
// The cookbook's section whose queries look for trouble (empty when all is well).
constexpr const char* kStuckChecks = "Is anything stuck?";

std::string Phone(int i) {
  return "+1555888" + std::to_string(1000 + i);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A ```sql block of the cookbook and the heading it stands under.
struct Block {
  std::string heading;
  std::string sql;
  int line = 0;
};

std::vector<Block> CookbookBlocks() {
  std::istringstream in(ReadFile(std::string(CLUBOS_SOURCE_DIR) + "/docs/audit.md"));
  std::vector<Block> blocks;
  std::string line, heading;
  bool in_sql = false, in_other = false;
  for (int n = 1; std::getline(in, line); ++n) {
    if (in_sql) {
      if (line.rfind("```", 0) == 0)
        in_sql = false;
      else
        blocks.back().sql += line + "\n";
    } else if (in_other) {
      if (line.rfind("```", 0) == 0) in_other = false;
    } else if (line == "```sql") {
      blocks.push_back({heading, "", n});
      in_sql = true;
    } else if (line.rfind("```", 0) == 0) {
      in_other = true;
    } else if (line.rfind("## ", 0) == 0) {
      heading = line.substr(3);
    }
  }
  return blocks;
}

// The audit_* views the migrations create.
std::set<std::string> AuditViews() {
  std::set<std::string> views;
  const std::regex create(R"(CREATE (OR REPLACE )?VIEW (audit_[a-z_]+))");
  for (const auto& f :
       std::filesystem::directory_iterator(std::string(CLUBOS_SOURCE_DIR) + "/schema/migrations")) {
    const std::string text = ReadFile(f.path().string());
    for (std::sregex_iterator it(text.begin(), text.end(), create), end; it != end; ++it)
      views.insert((*it)[2].str());
  }
  return views;
}

Config AuditConfig() {
  Config c = Config::Load(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json");
  c.flow.debounce = Millis(0);
  c.flow.confirmation_ttl = Millis(60'000);
  c.flow.verify_timeout = Millis(800);
  c.flow.verify_poll = Millis(50);
  c.flow.close_after = Millis(600'000);
  c.flow.retry_base = Millis(10);
  c.flow.retry_cap = Millis(40);
  c.integrations.verify_timeout.clear();
  return c;
}

// Stops the fill at the first thread that does not get where the scenario says.
#define REACH(thread, state) ASSERT_NO_FATAL_FAILURE(Reach(thread, state))

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CLUBOS_REQUIRE_PG();
    pgtest::ResetDatabase();
    db_ = pgtest::Connect();
    facility_ = std::make_unique<FakeFacility>(pgtest::TestDatabaseUrl());
    db_->ExecRawOne("TRUNCATE fake_facility_calls, fake_facility_faults");
    router_ = std::make_unique<PatternRouter>(config_.router);
    flow_ = std::make_unique<Flow>(config_, *router_, *facility_, SystemClock::Instance());
    registry_ = std::make_unique<workers::Registry>();
    flow_->Register(*registry_);
    workers::RuntimeOptions opt;
    opt.database_url = pgtest::TestDatabaseUrl();
    opt.concurrency = 4;
    runtime_ = std::make_unique<workers::Runtime>(opt, *registry_, SystemClock::Instance());
    runtime_->Start();
  }
  void TearDown() override {
    if (runtime_) runtime_->Stop();
  }

  int64_t Text(int customer, const std::string& body, const char* line = kBedford) {
    return flow_->Intake(*db_, {Phone(customer), line, body, ""}).thread_id;
  }
  std::string Str(const std::string& sql, const std::vector<store::Param>& params = {}) {
    return db_->ExecSql(sql, params).At(0, 0).Str();
  }
  int64_t Scalar(const std::string& sql, const std::vector<store::Param>& params = {}) {
    return db_->ExecSql(sql, params).At(0, 0).Int64();
  }
  // Waits for the thread to reach `state`; a test fails here, not later with a puzzling answer.
  void Reach(int64_t thread, const std::string& state) {
    const bool reached =
        WaitFor([&] { return Str("SELECT state FROM threads WHERE id = $1", {thread}) == state; },
                Millis(15'000));
    ASSERT_TRUE(reached) << "thread " << thread << " did not reach " << state << " (it is "
                         << Str("SELECT state FROM threads WHERE id = $1", {thread}) << ")";
  }
  int64_t ActionOf(int64_t thread, const std::string& kind) {
    return Scalar("SELECT max(id) FROM actions WHERE thread_id = $1 AND kind = $2", {thread, kind});
  }

  // One morning at the facility, in an order that makes thread ids 1..9 the same on every run:
  //  1 a gift card question answered from the FAQ          verified
  //  2 a frozen TrackMan in bay 3, confirmed with YES       verified
  //  3 bay 3 again from someone else, inside the cooldown   escalated cooldown
  //  4 a door code that fails within the booking; the unlock is flagged rollback_needed by ana,
  //    who then resolves the thread                         closed
  //  5 smoke from a projector, claimed and resolved by sam  closed
  //  6 bay 4's PC never comes back after the reset          escalated state_unchanged
  //  (auto_execute off)
  //  7 bay 5 frozen: a suggestion, approved by sam          escalated suggestion_review
  //  8 bay 6 frozen: a suggestion, rejected by ana          escalated suggestion_review
  //  (auto_execute on; policy version 2 without the tech confirmation, approved by bob)
  //  9 Dartmouth bay 2 frozen, reset without asking         verified
  //  and the emergency stop engaged and released by sam.
  void FillLikeAMorning() {
    const int64_t faq = Text(1, "hi, do you sell gift cards?");
    ASSERT_EQ(faq, 1);
    REACH(faq, "verified");

    const int64_t reset = Text(2, "the trackman in bay 3 is frozen");
    REACH(reset, "awaiting_confirmation");
    Text(2, "YES");
    REACH(reset, "verified");

    const int64_t again = Text(3, "trackman frozen in bay 3");
    REACH(again, "escalated");

    pgtest::BookNow(*db_, "bedford", Phone(4));
    const int64_t door = Text(4, "my code isn't opening the front door");
    REACH(door, "awaiting_confirmation");
    Text(4, "yes");
    REACH(door, "verified");
    flow_->FlagRollback(*db_, ActionOf(door, "unlock_door"), "operator:ana",
                        "opened for a customer whose booking was cancelled");
    REACH(door, "escalated");
    flow_->Claim(*db_, door, "ana");
    flow_->Resolve(*db_, door, "ana", "door locked again remotely", "called the customer");

    const int64_t smoke = Text(5, "there's smoke coming from the projector!!");
    REACH(smoke, "escalated");
    flow_->Claim(*db_, smoke, "sam");
    flow_->Resolve(*db_, smoke, "sam", "checked on camera: dust on the lamp, no fire",
                   "projector off until serviced");

    facility_->SetFault("104", "stuck_offline", 100);
    const int64_t stuck = Text(6, "hey the simulator in bay 4 froze mid round");
    REACH(stuck, "awaiting_confirmation");
    Text(6, "Yes please");
    REACH(stuck, "escalated");

    flow_->SetToggle(*db_, "auto_execute", false, "operator:sam");
    const int64_t approved = Text(7, "trackman frozen in bay 5");
    REACH(approved, "escalated");
    const int64_t rejected = Text(8, "trackman frozen in bay 6");
    REACH(rejected, "escalated");
    const int64_t suggested_action = flow_->ApproveSuggestion(
        *db_, Scalar("SELECT id FROM suggestions WHERE thread_id = $1", {approved}), {"sam"});
    flow_->RejectSuggestion(
        *db_, Scalar("SELECT id FROM suggestions WHERE thread_id = $1", {rejected}), "ana");
    ASSERT_TRUE(WaitFor([&] {
      return Str("SELECT state FROM actions WHERE id = $1", {suggested_action}) == "verified";
    }));
    flow_->SetToggle(*db_, "auto_execute", true, "operator:sam");

    json profile = json::parse(config_.policy_json);
    profile["tech"]["confirmation"] = "none";
    const int v2 = flow_->policy().Propose(
        *db_, profile.dump(), "tech resets without asking the customer", "admin:alice");
    flow_->policy().Approve(*db_, v2, "admin:bob");
    const int64_t dartmouth = Text(9, "the trackman in bay 2 is frozen", kDartmouth);
    REACH(dartmouth, "verified");

    flow_->SetEmergencyStop(*db_, "global", true, "fire alarm test", "operator:sam");
    flow_->SetEmergencyStop(*db_, "global", false, "test over", "operator:sam");

    // Replies and notices finish on their own time: wait for every action to be at rest.
    ASSERT_TRUE(WaitFor([&] {
      return Scalar(
                 "SELECT count(*) FROM actions WHERE state IN ('routed', 'executing', "
                 "'executed')") == 0;
    }));
    pgtest::ExpectValidHistories(*db_);
  }

  // Runs a cookbook query the way an auditor should be able to: in a read-only transaction.
  store::Result RunReadOnly(const std::string& sql) {
    store::Result r;
    db_->Transact("audit_cookbook", [&](store::Tx& tx) {
      tx.ExecRaw("SET TRANSACTION READ ONLY");
      r = tx.ExecRaw(sql);
    });
    return r;
  }
  // The result of the n-th block under `heading`; fails the test when the cookbook lost it.
  store::Result Answer(const std::string& heading, std::size_t n = 0) {
    std::size_t seen = 0;
    for (const auto& b : CookbookBlocks())
      if (b.heading == heading && seen++ == n) return RunReadOnly(b.sql);
    ADD_FAILURE() << "docs/audit.md has no sql block " << n << " under \"## " << heading << "\"";
    return {};
  }

  // Copies the filled database for exploring (CLUBOS_AUDIT_KEEP_AS). The copy needs the source to
  // have no other sessions, so the workers stop and the remaining sessions are ended first.
  void KeepIfAsked() {
    const char* name = std::getenv("CLUBOS_AUDIT_KEEP_AS");
    if (!name || !*name) return;
    runtime_->Stop();
    runtime_.reset();
    facility_.reset();
    const std::string source = Str("SELECT current_database()");
    db_.reset();
    auto admin = store::Connect(std::getenv("CLUBOS_TEST_DATABASE_URL"));
    admin->ExecSql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                   {source});
    admin->ExecRawOne(std::string("DROP DATABASE IF EXISTS ") + name);
    admin->ExecRawOne(std::string("CREATE DATABASE ") + name + " TEMPLATE " + source);
    std::printf("kept the filled database as %s\n", name);
  }

  Config config_ = AuditConfig();
  std::unique_ptr<store::Connection> db_;
  std::unique_ptr<FakeFacility> facility_;
  std::unique_ptr<PatternRouter> router_;
  std::unique_ptr<Flow> flow_;
  std::unique_ptr<workers::Registry> registry_;
  std::unique_ptr<workers::Runtime> runtime_;
};

}  // namespace

TEST(AuditCookbook, EveryAuditViewIsInTheCookbook) {
  const auto blocks = CookbookBlocks();
  ASSERT_GE(blocks.size(), 12u);
  std::string all;
  for (const auto& b : blocks) {
    EXPECT_FALSE(b.heading.empty())
        << "the sql block at docs/audit.md:" << b.line << " stands under no ## heading";
    EXPECT_NE(b.sql.find_first_not_of(" \n"), std::string::npos)
        << "empty sql block at docs/audit.md:" << b.line;
    all += b.sql;
  }
  const auto views = AuditViews();
  EXPECT_EQ(views.size(), 8u);
  for (const auto& v : views)
    EXPECT_NE(all.find(v), std::string::npos) << v << " is not used in docs/audit.md";
}

TEST_F(AuditTest, EveryCookbookQueryRunsReadOnlyOnAFlowFilledDatabase) {
  ASSERT_NO_FATAL_FAILURE(FillLikeAMorning());
  for (const auto& b : CookbookBlocks()) {
    try {
      const auto r = RunReadOnly(b.sql);
      // Every question has an answer in this database, except the checks for stuck work, which
      // must find nothing after a healthy morning.
      if (b.heading == kStuckChecks) {
        EXPECT_EQ(r.Size(), 0u) << "docs/audit.md:" << b.line << " found stuck work";
      } else {
        EXPECT_GT(r.Size(), 0u) << "docs/audit.md:" << b.line << " (" << b.heading
                                << ") found nothing";
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "docs/audit.md:" << b.line << " (" << b.heading << "): " << e.what();
    }
  }
  KeepIfAsked();
}

TEST_F(AuditTest, TheCookbooksAnswersAreWhatHappened) {
  ASSERT_NO_FATAL_FAILURE(FillLikeAMorning());

  {  // thread 2 in order: the texts, the decision, the prompt, the YES, the reset, the proof
    const auto r = Answer("Everything that happened on a thread");
    ASSERT_GT(r.Size(), 10u);
    EXPECT_EQ(r.At(0, "source").Str(), "message");
    EXPECT_EQ(r.At(0, "detail").Str(), "the trackman in bay 3 is frozen");
    std::vector<std::string> story;
    for (std::size_t i = 0; i < r.Size(); ++i) {
      EXPECT_EQ(r.At(i, "seq").Int64(), static_cast<int64_t>(i + 1));
      const std::string kind = r.At(i, "action_kind").OptStr().value_or("");
      const std::string event = r.At(i, "event").Str();
      if (r.At(i, "source").Str() == "message")
        story.push_back("said " + r.At(i, "detail").Str());
      else if (kind.empty() || kind == "reset_trackman")
        story.push_back((kind.empty() ? "thread " : "reset ") + event);
    }
    const std::vector<std::string> expected = {
        "said the trackman in bay 3 is frozen",
        "thread message_received",
        "thread routed",
        "reset requested",
        "reset policy_decided",
        "reset confirmation_requested",
        "thread confirmation_requested",
        "said YES",
        "reset confirmed",
        "thread confirmed",
        "reset execution_started",
        "reset execution_succeeded",
        "thread action_executed",
        "reset verification_passed",
        "thread verified",
    };
    EXPECT_EQ(story, expected);
  }
  {  // thread 4: the operator's flag, the escalation it caused, the claim and the resolution
    const auto r = Answer("Everything that happened on a thread", 1);
    std::vector<std::string> by_ana;
    for (std::size_t i = 0; i < r.Size(); ++i) {
      EXPECT_NE(r.At(i, "action_kind").OptStr().value_or(""), "send_message");
      if (r.At(i, "actor").Str() == "operator:ana")
        by_ana.push_back(r.At(i, "source").Str() + " " + r.At(i, "event").Str());
    }
    const std::vector<std::string> expected = {"action rollback_flagged", "thread escalated",
                                               "thread claimed", "thread resolved"};
    EXPECT_EQ(by_ana, expected);
  }
  {  // the unlock nearest to 23:10 is thread 4's, and the answer says why and that it was flagged
    const auto r = Answer("Why did it unlock the front door at 23:10?");
    ASSERT_EQ(r.Size(), 1u);
    EXPECT_EQ(r.At(0, "thread_id").Int64(), 4);
    EXPECT_EQ(r.At(0, "triggered_by").Str(), "router");
    EXPECT_EQ(r.At(0, "confirmed_by").Str(), "customer");
    EXPECT_EQ(r.At(0, "booking_id").Str(), "test-bedford-" + Phone(4));
    EXPECT_EQ(r.At(0, "result").Str(), "success");
    EXPECT_EQ(r.At(0, "decision").Str(), "confirm_first");
    EXPECT_NE(r.At(0, "reasons").Str().find("is within its window"), std::string::npos);
    EXPECT_EQ(r.At(0, "customer_said").Str(), "my code isn't opening the front door / yes");
    EXPECT_TRUE(r.At(0, "rollback_needed").Bool());
  }
  {  // five physical actions, each with who asked, the policy version and the result
    const auto r = Answer("Every physical action in a period");
    ASSERT_EQ(r.Size(), 5u);
    std::map<std::string, std::size_t> row;  // "kind location target" -> row
    for (std::size_t i = 0; i < r.Size(); ++i)
      row[r.At(i, "kind").Str() + " " + r.At(i, "location").Str() + " " + r.At(i, "target").Str()] =
          i;
    ASSERT_EQ(row.size(), 5u);
    const auto bay3 = row.at("reset_trackman bedford bay 3");
    EXPECT_EQ(r.At(bay3, "triggered_by").Str(), "router");
    EXPECT_EQ(r.At(bay3, "confirmed_by").Str(), "customer");
    EXPECT_EQ(r.At(bay3, "policy_version").Int(), 1);
    EXPECT_EQ(r.At(bay3, "result").Str(), "success");
    EXPECT_EQ(r.At(row.at("reset_trackman bedford bay 4"), "result").Str(), "failed");
    EXPECT_EQ(r.At(row.at("unlock_door bedford bedford-front"), "result").Str(), "success");
    const auto bay5 = row.at("reset_trackman bedford bay 5");
    EXPECT_EQ(r.At(bay5, "triggered_by").Str(), "operator:sam");
    EXPECT_EQ(r.At(bay5, "decision").Str(), "suggest") << "the policy's own decision is shown";
    EXPECT_EQ(r.At(bay5, "policy_version").Int(), 1);
    const auto dartmouth = row.at("reset_trackman dartmouth bay 2");
    EXPECT_EQ(r.At(dartmouth, "policy_version").Int(), 2);
    EXPECT_EQ(r.At(dartmouth, "decision").Str(), "execute");
    EXPECT_TRUE(r.At(dartmouth, "confirmed_by").IsNull());
  }
  {  // success per kind, location and bay
    const auto r = Answer("Success rate per action kind, location and bay");
    std::map<std::string, std::string> pct;
    for (std::size_t i = 0; i < r.Size(); ++i)
      pct[r.At(i, "location").Str() + " " + r.At(i, "kind").Str() + " " +
          r.At(i, "target").OptStr().value_or("-")] = r.At(i, "success").Str() + "/" +
                                                      r.At(i, "finished").Str() + " " +
                                                      r.At(i, "success_pct").OptStr().value_or("-");
    EXPECT_EQ(pct.at("bedford reset_trackman bay 3"), "1/1 100.0");
    EXPECT_EQ(pct.at("bedford reset_trackman bay 4"), "0/1 0.0");
    EXPECT_EQ(pct.at("bedford unlock_door bedford-front"), "1/1 100.0");
    EXPECT_EQ(pct.at("dartmouth reset_trackman bay 2"), "1/1 100.0");
    EXPECT_EQ(pct.count("bedford reset_trackman bay 6"), 0u) << "a rejected suggestion never ran";
  }
  {  // escalations by reason
    const auto r = Answer("Escalations by reason per day");
    std::map<std::string, int64_t> by_reason;
    for (std::size_t i = 0; i < r.Size(); ++i)
      by_reason[r.At(i, "reason").Str()] += r.At(i, "escalations").Int64();
    const std::map<std::string, int64_t> expected = {{"cooldown", 1},
                                                     {"emergency", 1},
                                                     {"rollback_needed", 1},
                                                     {"state_unchanged", 1},
                                                     {"suggestion_review", 2}};
    EXPECT_EQ(by_reason, expected);
  }
  {  // the flagged unlock: who, why, and who put it right
    const auto r = Answer("Actions flagged rollback_needed");
    ASSERT_EQ(r.Size(), 1u);
    EXPECT_EQ(r.At(0, "kind").Str(), "unlock_door");
    EXPECT_EQ(r.At(0, "flagged_by").Str(), "operator:ana");
    EXPECT_EQ(r.At(0, "flag_reason").Str(), "opened for a customer whose booking was cancelled");
    EXPECT_EQ(r.At(0, "resolved_by").Str(), "operator:ana");
    EXPECT_EQ(r.At(0, "resolution").Str(), "door locked again remotely");
  }
  {  // suggestions: one approved (and it worked), one rejected
    const auto r = Answer("Suggestions approved vs rejected");
    std::map<std::string, std::string> by_state;
    for (std::size_t i = 0; i < r.Size(); ++i)
      by_state[r.At(i, "state").Str()] =
          r.At(i, "suggestions").Str() + " " + r.At(i, "actions_succeeded").Str();
    const std::map<std::string, std::string> expected = {{"approved", "1 1"}, {"rejected", "1 0"}};
    EXPECT_EQ(by_state, expected);
    const auto each = Answer("Suggestions approved vs rejected", 1);
    ASSERT_EQ(each.Size(), 2u);
    EXPECT_EQ(each.At(0, "decided_by").Str(), "operator:sam");
    EXPECT_EQ(each.At(1, "decided_by").Str(), "operator:ana");
  }
  {  // message to verified: the four verified threads; the reset waited for its YES
    const auto r = Answer("Time from message to verified");
    ASSERT_EQ(r.Size(), 4u);
    std::vector<int64_t> threads;
    for (std::size_t i = 0; i < r.Size(); ++i) {
      threads.push_back(r.At(i, "thread_id").Int64());
      EXPECT_GE(r.At(i, "seconds").Double(), 0.0);
      EXPECT_GE(r.At(i, "clubos_seconds").Double(), 0.0);
    }
    EXPECT_EQ(threads, (std::vector<int64_t>{1, 2, 4, 9}));
    EXPECT_FALSE(r.At(1, "customer_seconds").IsNull()) << "thread 2 asked for a YES";
    EXPECT_TRUE(r.At(3, "customer_seconds").IsNull()) << "version 2 did not ask";
  }
  {  // decisions per policy version: eight under version 1, one under version 2
    const auto r = Answer("Decisions made while a policy version was active");
    std::map<int, int64_t> per_version;
    for (std::size_t i = 0; i < r.Size(); ++i)
      per_version[r.At(i, "policy_version").Int()] += r.At(i, "decisions").Int64();
    const std::map<int, int64_t> expected = {{1, 8}, {2, 1}};
    EXPECT_EQ(per_version, expected);
  }
  {  // the controls in order: auto_execute off and on, version 2 approved, the stop engaged and
     // released
    const auto r = Answer("Who changed the controls");
    std::vector<std::string> changes;
    for (std::size_t i = 0; i < r.Size(); ++i)
      changes.push_back(r.At(i, "control").Str() + "=" + r.At(i, "value").Str() + " by " +
                        r.At(i, "actor").Str());
    const std::vector<std::string> expected = {
        "auto_execute=f by operator:sam", "auto_execute=t by operator:sam",
        "policy_version:2=t by admin:bob", "emergency_stop:global=t by operator:sam",
        "emergency_stop:global=f by operator:sam"};
    EXPECT_EQ(changes, expected);
  }
}
