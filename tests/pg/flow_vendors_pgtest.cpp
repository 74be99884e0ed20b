// The customer flow with the real vendor adapters against `clubos sim` over loopback HTTP: the
// paths of the flow tests, now proven from the vendors' own state, and what the vendors' failures
// become (a PC that never comes back, a refused unlock, a 429 burst honoured, a persistent one,
// a call whose answer is lost).
#include <gtest/gtest.h>

#include <thread>

#include "integrations/facility.h"
#include "store/db.h"
#include "store/pool.h"
#include "tests/support/history.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"
#include "tests/support/sim_facility.h"
#include "workers/runtime.h"
#include "workflows/agent.h"
#include "workflows/flow.h"

using namespace clubos;
using namespace clubos::workflows;
using pgtest::WaitFor;

namespace {

constexpr const char* kCustomer = "+15555550100";
constexpr const char* kBedford = "+15555550199";
constexpr const char* kFrontDoor = "0ed545f8-2fcd-4839-9021-b39e707f6aa9";

Config VendorFlowConfig() {
  Config c = Config::Load(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json");
  c.flow.debounce = Millis(0);
  c.flow.confirmation_ttl = Millis(5'000);
  c.flow.verify_timeout = Millis(2'000);
  c.flow.verify_poll = Millis(50);
  c.flow.close_after = Millis(60'000);
  c.flow.retry_base = Millis(10);
  c.flow.retry_cap = Millis(40);
  c.integrations.verify_timeout.clear();
  c.integrations.call_timeout = Millis(1'000);
  return c;
}

sim::SimOptions FastSim() {
  sim::SimOptions o;
  o.reset_delay = Millis(150);
  o.sms_delivery_delay = Millis(20);
  return o;
}

// Vendors whose change is visible as soon as they answer: a script completes at once, an SMS is
// delivered at once.
sim::SimOptions InstantSim() {
  sim::SimOptions o;
  o.reset_delay = Millis(0);
  o.sms_delivery_delay = Millis(0);
  return o;
}

class VendorFlowTest : public ::testing::Test, protected pgtest::FlowReads {
 protected:
  explicit VendorFlowTest(sim::SimOptions options = FastSim())
      : sim_(VendorFlowConfig(), SystemClock::Instance(), options) {}
  void SetUp() override {
    CLUBOS_REQUIRE_PG();
    pgtest::ResetDatabase();
    db_ = pgtest::Connect();
    db = db_.get();
    pgtest::BookNow(*db_, "bedford", kCustomer);
    config_ = sim_.config();
    vendors_ = std::make_unique<integrations::VendorFacility>(config_, SystemClock::Instance());
    pool_ = std::make_unique<store::Pool>(pgtest::TestDatabaseUrl(), 2);
    facility_ =
        std::make_unique<WithBayAgents>(*vendors_, *pool_, Millis(60'000), SystemClock::Instance());
    router_ = std::make_unique<PatternRouter>(config_.router);
    flow_ = std::make_unique<Flow>(config_, *router_, *facility_, SystemClock::Instance());
    StartWorkers();
  }
  void TearDown() override {
    if (runtime_) runtime_->Stop();
  }
  void StartWorkers() {
    registry_ = std::make_unique<workers::Registry>();
    flow_->Register(*registry_);
    workers::RuntimeOptions opt;
    opt.database_url = pgtest::TestDatabaseUrl();
    opt.concurrency = 4;
    opt.rescue_interval = Millis(100);
    runtime_ = std::make_unique<workers::Runtime>(opt, *registry_, SystemClock::Instance());
    runtime_->Start();
  }
  IntakeResult Text(const std::string& body) {
    return flow_->Intake(*db_, {kCustomer, kBedford, body, ""});
  }
  int Sms() { return sim_.Count("openphone", "POST", "/v1/messages"); }
  int Unlocks(bool only_2xx = true) { return sim_.Count("unifi", "PUT", "/unlock", only_2xx); }
  int Resets(const std::string& device) {
    return sim_.Count("ninjaone", "POST", "/v2/device/" + device + "/script/run");
  }

  simtest::SimFacility sim_;
  Config config_;
  std::unique_ptr<store::Connection> db_;
  std::unique_ptr<integrations::VendorFacility> vendors_;
  std::unique_ptr<store::Pool> pool_;
  std::unique_ptr<WithBayAgents> facility_;
  std::unique_ptr<PatternRouter> router_;
  std::unique_ptr<Flow> flow_;
  std::unique_ptr<workers::Registry> registry_;
  std::unique_ptr<workers::Runtime> runtime_;
};

class InstantVendorFlowTest : public VendorFlowTest {
 protected:
  InstantVendorFlowTest() : VendorFlowTest(InstantSim()) {}
};

}  // namespace

// With the real adapters, a change already visible when the vendor answers is verified in the
// transaction that records the answer, measured from the baseline taken before the call and the
// vendor's reference in its answer: no verify_action job runs. (The history's times show it: a
// transaction's now() is one instant, and a verification job would run a poll later.)
TEST_F(InstantVendorFlowTest, AChangeVisibleAtOnceIsVerifiedWithTheCallsOutcome) {
  const auto in = Text("the trackman in bay 3 is frozen");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Text("YES");
  ASSERT_TRUE(ReachesState(in.thread_id, "verified"));
  ASSERT_TRUE(WaitFor([&] { return Sms() == 2; })) << "the prompt and the done notice";
  ASSERT_TRUE(WaitFor([&] {
    return Scalar("SELECT count(*) FROM actions WHERE state = 'verified'") == 3;
  })) << "the reset, the prompt and the notice";
  for (const char* kind : {"reset_trackman", "send_message"}) {
    const auto apart = Scalar(
        "SELECT count(*) FROM actions a "
        "JOIN transitions s ON s.entity = 'action' AND s.entity_id = a.id "
        "  AND s.event = 'execution_succeeded' "
        "JOIN transitions v ON v.entity = 'action' AND v.entity_id = a.id "
        "  AND v.event = 'verification_passed' "
        "WHERE a.kind = $1 AND v.at <> s.at",
        {std::string(kind)});
    EXPECT_EQ(apart, 0) << kind << ": verified by a later job, not with the call's outcome";
  }
  EXPECT_EQ(Resets("103"), 1);
  pgtest::ExpectValidHistories(*db_);
}

TEST_F(VendorFlowTest, AFaqAnswerIsSentAndVerifiedOnDelivery) {
  const auto in = Text("how much for an hour?");
  ASSERT_TRUE(ReachesState(in.thread_id, "verified"));
  EXPECT_EQ(Sms(), 1);
  EXPECT_NE(sim_.Calls()[0]["body"].get<std::string>().find("$45/hour"), std::string::npos);
  pgtest::ExpectValidHistories(*db_);
}

TEST_F(VendorFlowTest, AResetConfirmedByYesRunsTheScriptAndIsVerified) {
  const auto in = Text("the trackman in bay 3 is frozen");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  ASSERT_TRUE(WaitFor([&] { return Sms() == 1; })) << "the prompt went out";
  EXPECT_EQ(Resets("103"), 0) << "nothing physical before the YES";
  Text("YES");
  ASSERT_TRUE(ReachesState(in.thread_id, "verified"));
  EXPECT_EQ(Resets("103"), 1);
  ASSERT_TRUE(WaitFor([&] { return Sms() == 2; })) << "and the customer is told";
  pgtest::ExpectValidHistories(*db_);
}

TEST_F(VendorFlowTest, ADoorUnlockIsVerifiedFromTheConsolesLog) {
  const auto in = Text("my code isn't opening the front door");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Text("yes");
  ASSERT_TRUE(ReachesState(in.thread_id, "verified"));
  EXPECT_EQ(Unlocks(), 1);
  const auto state = sim_.State();
  bool logged = false;
  for (const auto& door : state["doors"])
    if (door["id"] == kFrontDoor) logged = !door["events"].empty();
  EXPECT_TRUE(logged);
}

TEST_F(VendorFlowTest, APcThatNeverComesBackEscalatesStateUnchanged) {
  ASSERT_EQ(sim_.Fault("ninjaone:104", "stuck_offline", 0), 201);
  const auto in = Text("hey the simulator in bay 4 froze mid round");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Text("YES");
  ASSERT_TRUE(ReachesState(in.thread_id, "escalated"));
  EXPECT_EQ(Escalation(in.thread_id), "state_unchanged");
  EXPECT_EQ(Resets("104"), 1) << "not repeated";
  ASSERT_TRUE(WaitFor([&] { return sim_.Count("slack", "POST", "/services/") == 1; }))
      << "operators told, with the story";
  const std::string told = sim_.Calls().back()["body"].get<std::string>();
  EXPECT_NE(told.find("state_unchanged"), std::string::npos);
  EXPECT_NE(told.find("reset_trackman escalated (failed)"), std::string::npos) << told;
  EXPECT_EQ(told.find(kCustomer), std::string::npos) << "the customer's number is masked";
  pgtest::ExpectValidHistories(*db_);
}

TEST_F(VendorFlowTest, ARefusedUnlockEscalatesActionFailed) {
  ASSERT_EQ(sim_.Fault(std::string("unifi:") + kFrontDoor, "http_403"), 201);
  const auto in = Text("I'm outside and locked out, booking at 7");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Text("yes");
  ASSERT_TRUE(ReachesState(in.thread_id, "escalated"));
  EXPECT_EQ(Escalation(in.thread_id), "action_failed");
  EXPECT_EQ(Unlocks(false), 1);
  EXPECT_EQ(Unlocks(), 0);
}

TEST_F(VendorFlowTest, A429BurstIsWaitedOutAndTheMessageIsSentOnce) {
  // Each 429 is "certainly not done": the action goes back to routed and starts afresh.
  ASSERT_EQ(sim_.Fault("openphone", "http_429", 2), 201);
  const auto in = Text("how much for an hour?");
  ASSERT_TRUE(ReachesState(in.thread_id, "verified"));
  EXPECT_EQ(Sms(), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM transitions WHERE event = 'execution_deferred'"), 2);
  pgtest::ExpectValidHistories(*db_);
}

// A confirmed unlock the vendor put off (429) stays confirmed: a text the customer sends while it
// waits is kept, not taken for a new request that would cancel it.
TEST_F(VendorFlowTest, AConfirmedUnlockPutOffByTheVendorStaysConfirmed) {
  const auto in = Text("my code isn't opening the front door");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  ASSERT_EQ(sim_.Fault("unifi", "http_429", 2), 201);
  Text("yes");
  ASSERT_TRUE(WaitFor([&] {
    return Scalar("SELECT count(*) FROM transitions WHERE event = 'execution_deferred'") >= 1;
  }));
  Text("thank you!");
  ASSERT_TRUE(ReachesState(in.thread_id, "verified"));
  EXPECT_EQ(Unlocks(), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE kind = 'unlock_door'"), 1)
      << "no second action from the text";
  EXPECT_EQ(Scalar("SELECT count(*) FROM transitions WHERE event = 'execution_deferred' AND "
                   "to_state <> 'confirmed'"),
            0)
      << "put off, it stays confirmed";
  pgtest::ExpectValidHistories(*db_);
}

TEST_F(VendorFlowTest, AResetWhoseBaselineCannotBeReadIsNotStartedUntilItCan) {
  // The activities read before the call fails (429 twice, then a 500): without a baseline the
  // reset could never be proven, so it is not started; once the read works it runs, once.
  ASSERT_EQ(sim_.Fault("ninjaone:105", "http_429", 2), 201);
  ASSERT_EQ(sim_.Fault("ninjaone:105", "http_500", 1), 201);
  const auto in = Text("can you restart trackman 5 please");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Text("y");
  ASSERT_TRUE(ReachesState(in.thread_id, "verified"));
  EXPECT_EQ(Resets("105"), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM transitions t JOIN actions a ON a.id = t.entity_id AND "
                   "t.entity = 'action' WHERE t.event = 'execution_started' AND a.kind = "
                   "'reset_trackman'"),
            1)
      << "entered executing once, after a readable baseline";
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE kind = 'reset_trackman' AND baseline ? "
                   "'last_activity_id'"),
            1);
  pgtest::ExpectValidHistories(*db_);
}

TEST_F(VendorFlowTest, ASendWhoseAnswerIsLostIsProvenFromTheConversationNotRepeated) {
  // OpenPhone takes the message but answers after ClubOS stopped waiting: the message id is never
  // known. The next attempt finds the message in the conversation and verifies it.
  ASSERT_EQ(sim_.Fault("openphone", "slow", 1, 1'500), 201);
  const auto in = Text("how much for an hour?");
  ASSERT_TRUE(ReachesState(in.thread_id, "verified")) << Escalation(in.thread_id);
  EXPECT_EQ(Sms(), 1) << "sent once, never again";
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE result = 'inconclusive'"), 0);
  EXPECT_GE(sim_.Count("openphone", "GET", "/v1/phone-numbers"), 1) << "the conversation was read";
}

TEST_F(VendorFlowTest, RecoveryKeepsLookingWhileTheDoorLogCannotBeRead) {
  // The unlock's answer is lost (the console opens the door after ClubOS stopped waiting), and
  // then the door log cannot be read for longer than twice the call timeout. "Could not read" is
  // not "unchanged": the worker keeps looking until the verification deadline, and finds it.
  config_.integrations.verify_timeout["unlock_door"] = Millis(10'000);  // workers idle till now
  ASSERT_EQ(sim_.Fault(std::string("unifi:") + kFrontDoor, "slow", 1, 1'500), 201);
  const auto in = Text("door keypad is dead");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Text("yes");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the PUT is on the wire
  ASSERT_EQ(sim_.Fault("unifi", "http_500", 25), 201);          // every read of the log fails
  ASSERT_TRUE(ReachesState(in.thread_id, "verified")) << Escalation(in.thread_id);
  EXPECT_EQ(Unlocks(false), 1) << "the door was unlocked once";
  EXPECT_GE(sim_.Count("unifi", "POST", "/system/logs", false), 20) << "it kept looking";
}

TEST_F(VendorFlowTest, ACallWhoseAnswerIsLostIsProvenFromTheDoorLogNotRepeated) {
  // The console unlocks after 1.5 s; ClubOS gives up waiting after 1 s, so it cannot know. The
  // next attempt reads the door log first and finds the opening.
  ASSERT_EQ(sim_.Fault(std::string("unifi:") + kFrontDoor, "slow", 1, 1'500), 201);
  const auto in = Text("door keypad is dead");
  ASSERT_TRUE(ReachesState(in.thread_id, "awaiting_confirmation"));
  Text("yes");
  ASSERT_TRUE(ReachesState(in.thread_id, "verified"));
  EXPECT_EQ(Unlocks(false), 1) << "the door was unlocked once";
}

TEST_F(VendorFlowTest, AnOperatorsActionGoesThroughTheSameRouter) {
  const int64_t id = flow_->Perform(*db_, {.kind = "reboot_pc",
                                           .target = R"({"location":"bedford","bay":6})",
                                           .triggered_by = "operator:sam",
                                           .reason = "SOP tech/pc-unresponsive"});
  ASSERT_TRUE(WaitFor([&] {
    return db_->ExecSql("SELECT state FROM actions WHERE id = $1", {id}).At(0, 0).Str() ==
           "verified";
  }));
  EXPECT_EQ(sim_.Count("ninjaone", "POST", "/v2/device/106/reboot/NORMAL"), 1);
}

TEST_F(VendorFlowTest, EmergenciesReachOperatorsAndTouchNothing) {
  const auto fire = Text("the fire alarm is going off");
  ASSERT_TRUE(ReachesState(fire.thread_id, "escalated"));
  EXPECT_EQ(Escalation(fire.thread_id), "emergency");
  ASSERT_TRUE(WaitFor([&] { return sim_.Count("slack", "POST", "/services/") == 1; }));
  EXPECT_EQ(sim_.Count("ninjaone", "POST", "/v2/") + Unlocks(false), 0);
}
