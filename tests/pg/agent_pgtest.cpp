// Bay agents and performAction against real Postgres: the pull protocol over the ordinary queue
// (claim, report, expiry, idempotent queuing), an agent-controlled reset proven by what the agent
// says, and performAction's validation and rollback flags.
#include <gtest/gtest.h>

#include <thread>

#include "sim/fake_facility.h"
#include "store/db.h"
#include "store/pool.h"
#include "tests/support/history.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"
#include "workers/queue_ops.h"
#include "workers/runtime.h"
#include "workflows/agent.h"
#include "workflows/engine.h"
#include "workflows/flow.h"

using namespace clubos;
using namespace clubos::workflows;
using pgtest::WaitFor;
using sim::FakeFacility;

namespace {

const TimePoint kStart(std::chrono::seconds(1'900'000'000));

class AgentProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CLUBOS_REQUIRE_PG();
    pgtest::ResetDatabase();
    db_ = pgtest::Connect();
  }
  int64_t Queue(const std::string& device, const std::string& key, Millis ttl = Millis(60'000)) {
    int64_t id = 0;
    db_->Transact("test", [&](store::Tx& tx) {
      id = EnqueueAgentCommand(tx, device, "restart", key, 7, clock_.Now() + ttl, clock_);
    });
    return id;
  }
  int64_t Scalar(const std::string& sql, const std::vector<store::Param>& params = {}) {
    return db_->ExecSql(sql, params).At(0, 0).Int64();
  }
  FakeClock clock_{kStart};
  AgentProtocol agents_{{{"201", "agent-key-201-0123"}, {"202", "agent-key-202-0123"}}, clock_};
  std::unique_ptr<store::Connection> db_;
};

TEST_F(AgentProtocolTest, AKeyNamesItsDeviceAndNothingElseDoes) {
  EXPECT_EQ(agents_.Authenticate("agent-key-201-0123"), "201");
  EXPECT_EQ(agents_.Authenticate("agent-key-202-0123"), "202");
  EXPECT_THROW(agents_.Authenticate("agent-key-20-0123"), AgentAuthError);
  EXPECT_THROW(agents_.Authenticate("agent-key-201-01234"), AgentAuthError);
  EXPECT_THROW(agents_.Authenticate(""), AgentAuthError);
}

// A short device key is guessable (the demo's `demo-agent-201` was 14 characters, defect L10):
// refused at start-up, with the entry and device named and the key never shown.
TEST(AgentKeys, ShortOrMalformedKeysAreRefusedAtStartUp) {
  const auto keys = AgentProtocol::ParseKeys("201:agent-key-201-0123, 202:agent-key-202-0123,");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys.at("201"), "agent-key-201-0123");
  EXPECT_EQ(keys.at("202"), "agent-key-202-0123");
  EXPECT_TRUE(AgentProtocol::ParseKeys("").empty());
  auto refusal = [](const std::string& spec) {
    try {
      AgentProtocol::ParseKeys(spec);
    } catch (const AgentKeyError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string short_key = refusal("201:agent-key-201-0123,202:demo-agent-202");
  EXPECT_NE(short_key.find("entry 2 (device 202)"), std::string::npos) << short_key;
  EXPECT_NE(short_key.find("shorter than 16"), std::string::npos) << short_key;
  EXPECT_EQ(short_key.find("demo-agent-202"), std::string::npos) << "names the key";
  for (const char* bad : {"201", "201:", ":agent-key-201-0123", "201:agent key 201 0123",
                          "201:agent-key-201-0123,201:agent-key-201-4567"})
    EXPECT_FALSE(refusal(bad).empty()) << bad;
  FakeClock clock(kStart);
  EXPECT_THROW(AgentProtocol({{"201", "short"}}, clock), AgentKeyError);
  EXPECT_THROW(AgentProtocol({{"201", "agent-key-0123456"}, {"202", "agent-key-0123456"}}, clock),
               AgentKeyError)
      << "two devices with one key";
}

TEST_F(AgentProtocolTest, APollClaimsTheCommandOnceAndTheReportCompletesIt) {
  const int64_t id = Queue("201", "action-key-1");
  ASSERT_GT(id, 0);
  EXPECT_FALSE(agents_.Poll(*db_, "202").has_value()) << "another bay's agent sees nothing";
  const auto cmd = agents_.Poll(*db_, "201");
  ASSERT_TRUE(cmd.has_value());
  EXPECT_EQ(cmd->id, id);
  EXPECT_EQ(cmd->action, "restart");
  EXPECT_EQ(cmd->source, "action:7");
  EXPECT_FALSE(agents_.Poll(*db_, "201").has_value()) << "claimed: not offered twice";
  EXPECT_FALSE(agents_.Report(*db_, "202", id, true, "not mine")) << "only its claimant reports";
  EXPECT_TRUE(agents_.Report(*db_, "201", id, true, "TPS restarted"));
  EXPECT_FALSE(agents_.Report(*db_, "201", id, true, "again")) << "a second report is refused";
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs WHERE id = $1", {id}), 0) << "completed";
  EXPECT_EQ(Scalar("SELECT count(*) FROM agent_reports WHERE command_id = $1 AND success AND "
                   "action_key = 'action-key-1'",
                   {id}),
            1);
}

TEST_F(AgentProtocolTest, QueuingIsIdempotentPerActionWhateverBecameOfTheCommand) {
  const int64_t id = Queue("201", "k");
  EXPECT_EQ(Queue("201", "k"), 0) << "pending";
  ASSERT_TRUE(agents_.Poll(*db_, "201"));
  EXPECT_EQ(Queue("201", "k"), 0) << "claimed";
  ASSERT_TRUE(agents_.Report(*db_, "201", id, false, "TPS would not start"));
  EXPECT_EQ(Queue("201", "k"), 0) << "reported";
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs"), 0);
  EXPECT_GT(Queue("201", "other-action"), 0);
}

TEST_F(AgentProtocolTest, ACommandNotPickedUpInTimeDiesInsteadOfRunningLate) {
  Queue("201", "late", Millis(1'000));
  const int64_t fresh = Queue("201", "fresh", Millis(60'000));
  clock_.Advance(std::chrono::seconds(5));
  const auto cmd = agents_.Poll(*db_, "201");
  ASSERT_TRUE(cmd.has_value());
  EXPECT_EQ(cmd->id, fresh) << "the expired one is skipped";
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs WHERE state = 'dead' AND args ->> 'action_key' = "
                   "'late'"),
            1);
}

TEST_F(AgentProtocolTest, HeartbeatsKeepTheLatestState) {
  agents_.Heartbeat(*db_, "201", {"2.1", false, true, std::nullopt, kStart});
  agents_.Heartbeat(*db_, "201", {"2.2", true, true, kStart + std::chrono::seconds(3), kStart});
  auto r = db_->ExecOne("agent_device", {"201"});
  ASSERT_FALSE(r.Empty());
  EXPECT_TRUE(r.At(0, "tps_running").Bool());
  EXPECT_EQ(r.At(0, "tps_started_at").OptTime(), kStart + std::chrono::seconds(3));
  EXPECT_EQ(Scalar("SELECT count(*) FROM agent_devices"), 1);
}

// ---- performAction through the flow, with agent bays -------------------------------------------

Config AgentConfig() {
  Config c = Config::Load(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json");
  c.flow.debounce = Millis(0);
  c.flow.verify_timeout = Millis(1'500);
  c.flow.verify_poll = Millis(50);
  c.flow.retry_base = Millis(10);
  c.flow.retry_cap = Millis(40);
  c.integrations.verify_timeout.clear();
  return c;
}

class PerformTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CLUBOS_REQUIRE_PG();
    pgtest::ResetDatabase();
    db_ = pgtest::Connect();
    fake_ = std::make_unique<FakeFacility>(pgtest::TestDatabaseUrl());
    db_->ExecRawOne("TRUNCATE fake_facility_calls, fake_facility_faults");
    pool_ = std::make_unique<store::Pool>(pgtest::TestDatabaseUrl(), 2);
    facility_ =
        std::make_unique<WithBayAgents>(*fake_, *pool_, Millis(60'000), SystemClock::Instance());
    router_ = std::make_unique<PatternRouter>(config_.router);
    flow_ = std::make_unique<Flow>(config_, *router_, *facility_, SystemClock::Instance());
    flow_->Register(registry_);
    workers::RuntimeOptions opt;
    opt.database_url = pgtest::TestDatabaseUrl();
    opt.concurrency = 4;
    runtime_ = std::make_unique<workers::Runtime>(opt, registry_, SystemClock::Instance());
    runtime_->Start();
  }
  void TearDown() override {
    if (runtime_) runtime_->Stop();
  }
  std::string State(int64_t action) {
    return db_->ExecSql("SELECT state FROM actions WHERE id = $1", {action}).At(0, 0).Str();
  }
  bool Reaches(int64_t action, const std::string& state) {
    return WaitFor([&] { return State(action) == state; }, Millis(10'000));
  }
  int64_t Scalar(const std::string& sql, const std::vector<store::Param>& params = {}) {
    return db_->ExecSql(sql, params).At(0, 0).Int64();
  }
  ActionRequest Reset(const std::string& location, int bay) {
    return {.kind = "reset_trackman",
            .target = "{\"location\":\"" + location + "\",\"bay\":" + std::to_string(bay) + "}",
            .triggered_by = "operator:sam",
            .reason = "SOP tech-reset"};
  }

  Config config_ = AgentConfig();
  std::unique_ptr<store::Connection> db_;
  std::unique_ptr<FakeFacility> fake_;
  std::unique_ptr<store::Pool> pool_;
  std::unique_ptr<WithBayAgents> facility_;
  std::unique_ptr<PatternRouter> router_;
  std::unique_ptr<Flow> flow_;
  workers::Registry registry_;
  std::unique_ptr<workers::Runtime> runtime_;
  AgentProtocol agents_{{{"201", "agent-key-201-0123"}}, SystemClock::Instance()};
};

TEST_F(PerformTest, AnAgentBaysResetIsVerifiedByWhatTheAgentReports) {
  const int64_t id = flow_->Perform(*db_, Reset("dartmouth", 1));
  ASSERT_TRUE(Reaches(id, "executed")) << "the command is queued for the agent";
  EXPECT_EQ(fake_->Calls("reset_trackman"), 0) << "no RMM call for an agent bay";
  std::optional<AgentCommand> cmd;
  ASSERT_TRUE(WaitFor([&] { return (cmd = agents_.Poll(*db_, "201")).has_value(); }));
  EXPECT_EQ(cmd->action, "restart");
  EXPECT_EQ(cmd->source, "action:" + std::to_string(id));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(State(id), "executed") << "a claimed command proves nothing yet";
  const TimePoint restarted = SystemClock::Instance().Now();
  ASSERT_TRUE(agents_.Report(*db_, "201", cmd->id, true, "TPS restarted"));
  agents_.Heartbeat(*db_, "201", {"2.2", true, true, restarted, std::nullopt});
  ASSERT_TRUE(Reaches(id, "verified"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM action_outcomes WHERE action_id = $1 AND result = "
                   "'success' AND trigger_source = 'operator:sam' AND followed_sop = 'SOP "
                   "tech-reset' AND location = 'dartmouth' AND bay = 1",
                   {id}),
            1);
  pgtest::ExpectValidHistories(*db_);
}

// An agent whose clock is wrong (or a forged heartbeat, stored before the API refused such times)
// left tps_started_at in 2099: every later reset of the bay was "verified" by it, with no restart
// seen (defect L11). A time beyond the allowed skew is no evidence: the reset is escalated.
TEST_F(PerformTest, AStartTimeFromTheFutureIsNoEvidenceOfARestart) {
  const TimePoint future = SystemClock::Instance().Now() + std::chrono::hours(24 * 365 * 70);
  agents_.Heartbeat(*db_, "201", {"2.2", true, true, future, future});
  const int64_t id = flow_->Perform(*db_, Reset("dartmouth", 1));
  std::optional<AgentCommand> cmd;
  ASSERT_TRUE(WaitFor([&] { return (cmd = agents_.Poll(*db_, "201")).has_value(); }));
  ASSERT_TRUE(agents_.Report(*db_, "201", cmd->id, true, "TPS restarted"));
  ASSERT_TRUE(Reaches(id, "escalated")) << State(id);
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE id = $1 AND result = 'success'", {id}), 0)
      << "no restart was seen";
  // Within the skew, a clock a little ahead still proves the restart.
  const int64_t again = flow_->Perform(*db_, Reset("dartmouth", 1));
  ASSERT_TRUE(WaitFor([&] { return (cmd = agents_.Poll(*db_, "201")).has_value(); }));
  ASSERT_TRUE(agents_.Report(*db_, "201", cmd->id, true, "TPS restarted"));
  const TimePoint ahead = SystemClock::Instance().Now() + std::chrono::seconds(5);
  agents_.Heartbeat(*db_, "201", {"2.2", true, true, ahead, std::nullopt});
  ASSERT_TRUE(Reaches(again, "verified")) << State(again);
}

TEST_F(PerformTest, AnAgentThatReportsFailureLeavesTheActionEscalatedAndOperatorsTold) {
  const int64_t id = flow_->Perform(*db_, Reset("dartmouth", 1));
  std::optional<AgentCommand> cmd;
  ASSERT_TRUE(WaitFor([&] { return (cmd = agents_.Poll(*db_, "201")).has_value(); }));
  ASSERT_TRUE(agents_.Report(*db_, "201", cmd->id, false, "TPS.exe not found"));
  agents_.Heartbeat(*db_, "201", {"2.2", false, true, std::nullopt, std::nullopt});
  ASSERT_TRUE(Reaches(id, "escalated"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE id = $1 AND result = 'failed'", {id}), 1);
  // An operator's action has no thread: the operators hear of it directly.
  ASSERT_TRUE(WaitFor([&] { return fake_->Calls("notify_operator") == 1; }));
}

TEST_F(PerformTest, AnRmmBayGoesToTheVendorAndADoorByItsConfigId) {
  const int64_t reset = flow_->Perform(*db_, Reset("bedford", 2));
  const int64_t door =
      flow_->Perform(*db_, {.kind = "unlock_door",
                            .target = R"({"location":"bedford","door":"bedford-front"})",
                            .triggered_by = "operator:ana",
                            .reason = "SOP door-unlock",
                            .booking_id = "b-77",
                            .human_override = true,
                            .admin = true});
  ASSERT_TRUE(Reaches(reset, "verified"));
  ASSERT_TRUE(Reaches(door, "verified"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM fake_facility_calls WHERE kind = 'reset_trackman' AND "
                   "device = '102'"),
            1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM fake_facility_calls WHERE kind = 'unlock_door' AND "
                   "device = '0ed545f8-2fcd-4839-9021-b39e707f6aa9'"),
            1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM action_outcomes WHERE action_id = $1 AND human_override "
                   "AND booking_id = 'b-77' AND door = 'bedford-front'",
                   {door}),
            1);
}

TEST_F(PerformTest, BadRequestsAreRefusedAndWriteNothing) {
  auto refused = [&](ActionRequest r) {
    EXPECT_THROW(flow_->Perform(*db_, r), InvalidInput) << r.kind << " " << r.target;
  };
  refused(Reset("bedford", 9));    // no bay 9
  refused(Reset("narnia", 1));     // no such location
  refused(Reset("dartmouth", 5));  // Dartmouth has 4 bays
  auto r = Reset("bedford", 1);
  r.kind = "launch_rocket";
  refused(r);
  r = Reset("bedford", 1);
  r.target = R"({"location":"bedford","bay":"one"})";
  refused(r);
  r.target = "not json";
  refused(r);
  r.target = R"({"location":"bedford","bay":4294967298})";  // 2^32 + 2 is not bay 2
  refused(r);
  r.target = R"({"location":"bedford","bay":18446744073709551615})";
  refused(r);
  r = Reset("bedford", 1);
  r.triggered_by = "someone";
  refused(r);
  r = Reset("bedford", 1);
  r.reason = "";
  refused(r);
  refused({.kind = "unlock_door",
           .target = R"({"location":"bedford","door":"dartmouth-front"})",
           .triggered_by = "operator:x",
           .reason = "SOP"});
  refused({.kind = "send_message",
           .target = R"({"location":"bedford","phone":"555-0100"})",
           .triggered_by = "operator:x",
           .reason = "SOP",
           .text = "hi"});
  refused({.kind = "send_message",
           .target = R"({"location":"bedford","phone":"+15555550100"})",
           .triggered_by = "operator:x",
           .reason = "SOP"});  // nothing to say
  refused({.kind = "send_message",
           .target = R"({"location":"bedford","phone":"+15555550100","from_line":"+15555550299"})",
           .triggered_by = "operator:x",
           .reason = "SOP",
           .text = "hi"});  // Dartmouth's line
  r = Reset("bedford", 1);
  r.thread_id = 424242;
  EXPECT_THROW(flow_->Perform(*db_, r), NotFound);
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs"), 0);
}

TEST_F(PerformTest, ARollbackFlagNotifiesAndUndoesNothing) {
  const int64_t id = flow_->Perform(*db_, Reset("bedford", 4));
  EXPECT_THROW(flow_->FlagRollback(*db_, id + 1000, "operator:sam", "wrong bay"), NotFound);
  ASSERT_TRUE(Reaches(id, "verified"));
  flow_->FlagRollback(*db_, id, "operator:sam", "the customer was mid-round on bay 4");
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE id = $1 AND rollback_needed AND state = "
                   "'verified' AND rollback ->> 'by' = 'operator:sam'",
                   {id}),
            1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM action_outcomes WHERE action_id = $1 AND "
                   "rollback_needed",
                   {id}),
            1);
  ASSERT_TRUE(WaitFor([&] { return fake_->Calls("notify_operator") == 1; }));
  EXPECT_EQ(fake_->Calls("reset_trackman"), 1) << "nothing undone, nothing redone";
  EXPECT_THROW(flow_->FlagRollback(*db_, id, "operator:sam", ""), InvalidInput);
  pgtest::ExpectValidHistories(*db_);
}

TEST_F(PerformTest, ARollbackFlagOnAnUnfinishedActionIsAnIllegalTransition) {
  runtime_->Stop();  // keep it in `routed`
  runtime_.reset();
  const int64_t id = flow_->Perform(*db_, Reset("bedford", 4));
  EXPECT_THROW(flow_->FlagRollback(*db_, id, "operator:sam", "oops"), IllegalTransition);
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE rollback_needed"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM transitions WHERE event = 'rollback_flagged'"), 0);
}

}  // namespace
