// The vendor adapters against `clubos sim` over real loopback HTTP, one action kind at a time:
// the call in the vendor's format, the proof read back from the vendor's state, and what each
// failure becomes (refused, certainly not done with Retry-After, unknown), including an expired
// token mid-run and a call whose answer never came.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "integrations/facility.h"
#include "tests/support/process.h"
#include "tests/support/sim_facility.h"

using namespace clubos;
using namespace clubos::workflows;
using clubos::pgtest::WaitFor;
using nlohmann::json;

namespace {

const TimePoint kStart(std::chrono::seconds(1'900'000'000));

Config BaseConfig() {
  return Config::Load(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json");
}

class VendorFacilityTest : public ::testing::Test {
 protected:
  VendorFacilityTest() : sim_(BaseConfig(), clock_, Options()) {
    config_ = sim_.config();
    config_.integrations.call_timeout = Millis(2'000);
    facility_ = std::make_unique<integrations::VendorFacility>(config_, clock_);
  }
  static sim::SimOptions Options() {
    sim::SimOptions o;
    o.reset_delay = Millis(1'500);
    o.sms_delivery_delay = Millis(200);
    return o;
  }
  ActionView Bay(const std::string& kind, int bay, int64_t id = 1) {
    ActionView v;
    v.id = id;
    v.kind = kind;
    v.idempotency_key = "key-" + std::to_string(id);
    v.location = "bedford";
    v.bay = bay;
    v.device_id = std::to_string(100 + bay);
    v.control = "ninjaone";
    v.reason = "SOP tech-reset";
    return v;
  }
  ActionView Door(int64_t id) {
    ActionView v;
    v.id = id;
    v.kind = "unlock_door";
    v.idempotency_key = "key-" + std::to_string(id);
    v.location = "bedford";
    v.door = "bedford-front";
    v.device_id = "0ed545f8-2fcd-4839-9021-b39e707f6aa9";
    v.booking_id = "b-1";
    return v;
  }
  ActionView Sms(int64_t id) {
    ActionView v;
    v.id = id;
    v.kind = "send_message";
    v.idempotency_key = "key-" + std::to_string(id);
    v.location = "bedford";
    v.phone = "+15555550100";
    v.from_line = "+15555550199";
    v.text = "The TrackMan in bay 3 has restarted.";
    return v;
  }
  // Runs the call as the flow does: baseline first, then the call; the proof is read by Check.
  CallOutcome Run(ActionView& v) {
    v.baseline = facility_->Baseline(v).value_or("");
    auto out = facility_->Execute(v);
    v.external_ref = out.external_ref;
    return out;
  }
  void Advance(Millis d) { clock_.Advance(d); }

  FakeClock clock_{kStart};
  simtest::SimFacility sim_;
  Config config_;
  std::unique_ptr<integrations::VendorFacility> facility_;
};

TEST_F(VendorFacilityTest, ATrackManResetRunsTheScriptAndIsProvenByItsCompletion) {
  auto v = Bay("reset_trackman", 3);
  ASSERT_EQ(Run(v).result, CallResult::kAccepted);
  EXPECT_EQ(facility_->Check(v), StateCheck::kUnchanged) << "the script has not finished";
  Advance(Millis(2'000));
  EXPECT_EQ(facility_->Check(v), StateCheck::kChanged);
  ASSERT_EQ(sim_.Count("ninjaone", "POST", "/v2/device/103/script/run"), 1);
  for (const auto& c : sim_.Calls()) {
    if (c["path"] != "/v2/device/103/script/run") continue;
    {
      const json body = json::parse(c["body"].get<std::string>());
      EXPECT_EQ(body["type"], "SCRIPT");
      EXPECT_EQ(body["id"], 117);
      EXPECT_EQ(body["parameters"], "-Bay 3");  // a string, as the OpenAPI says
    }
  }
  EXPECT_FALSE(facility_->Idempotent(v));
}

TEST_F(VendorFacilityTest, AResetThatDoesNothingOrAPcThatNeverComesBackIsNotProven) {
  ASSERT_EQ(sim_.Fault("ninjaone:103", "reset_noop"), 201);
  ASSERT_EQ(sim_.Fault("ninjaone:104", "stuck_offline"), 201);
  auto noop = Bay("reset_trackman", 3, 1);
  auto stuck = Bay("reboot_pc", 4, 2);
  ASSERT_EQ(Run(noop).result, CallResult::kAccepted) << "the vendor accepts the call";
  ASSERT_EQ(Run(stuck).result, CallResult::kAccepted);
  Advance(Millis(60'000));
  EXPECT_EQ(facility_->Check(noop), StateCheck::kUnchanged);
  EXPECT_EQ(facility_->Check(stuck), StateCheck::kUnchanged);
}

TEST_F(VendorFacilityTest, ARebootIsProvenByALaterBootWithTheDeviceOnline) {
  auto v = Bay("reboot_pc", 2);
  ASSERT_EQ(Run(v).result, CallResult::kAccepted);
  EXPECT_EQ(facility_->Check(v), StateCheck::kUnchanged) << "offline while it reboots";
  Advance(Millis(2'000));
  EXPECT_EQ(facility_->Check(v), StateCheck::kChanged);
  EXPECT_EQ(sim_.Count("ninjaone", "POST", "/v2/device/102/reboot/NORMAL"), 1);
}

TEST_F(VendorFacilityTest, AnUnlockIsProvenByItsOwnEntryInTheDoorLog) {
  auto mine = Door(41);
  auto other = Door(42);
  ASSERT_EQ(Run(mine).result, CallResult::kAccepted);
  other.baseline = facility_->Baseline(other).value_or("");
  EXPECT_EQ(facility_->Check(mine), StateCheck::kChanged);
  EXPECT_EQ(facility_->Check(other), StateCheck::kUnchanged)
      << "another action's unlock does not prove this one";
  ASSERT_EQ(sim_.Count("unifi", "PUT", "/api/v1/developer/doors/"), 1);
  for (const auto& c : sim_.Calls()) {
    if (c["method"] != "PUT") continue;
    EXPECT_EQ(json::parse(c["body"].get<std::string>())["actor_id"], "clubos-action-41");
  }
}

TEST_F(VendorFacilityTest, AnUnlockTheConsoleSwallowsIsNotProven) {
  ASSERT_EQ(sim_.Fault("unifi:0ed545f8-2fcd-4839-9021-b39e707f6aa9", "reset_noop"), 201);
  auto v = Door(43);
  ASSERT_EQ(Run(v).result, CallResult::kAccepted);
  EXPECT_EQ(facility_->Check(v), StateCheck::kUnchanged);
}

TEST_F(VendorFacilityTest, AnSmsIsAcceptedThenProvenWhenDelivered) {
  auto v = Sms(51);
  const auto out = Run(v);
  ASSERT_EQ(out.result, CallResult::kAccepted);
  ASSERT_FALSE(out.external_ref.empty());
  EXPECT_TRUE(json::parse(out.external_ref).contains("message_id"));
  EXPECT_EQ(facility_->Check(v), StateCheck::kUnknown) << "queued: the carrier has not said";
  Advance(Millis(500));
  EXPECT_EQ(facility_->Check(v), StateCheck::kChanged);
  ASSERT_EQ(sim_.Count("openphone", "POST", "/v1/messages"), 1);
  const json sent = json::parse(sim_.Calls()[0]["body"].get<std::string>());
  EXPECT_EQ(sent["to"], json::array({"+15555550100"}));
  EXPECT_EQ(sent["from"], "+15555550199");
  EXPECT_EQ(sent["content"], "The TrackMan in bay 3 has restarted.");
}

TEST_F(VendorFacilityTest, AnUndeliveredSmsIsNotProvenAndABadNumberIsRefused) {
  ASSERT_EQ(sim_.Fault("openphone", "reset_noop"), 201);
  auto v = Sms(52);
  ASSERT_EQ(Run(v).result, CallResult::kAccepted);
  Advance(Millis(500));
  EXPECT_EQ(facility_->Check(v), StateCheck::kUnchanged);
  auto bad = Sms(53);
  bad.phone = "555";
  EXPECT_EQ(Run(bad).result, CallResult::kRejected) << "400 is permanent";
}

TEST_F(VendorFacilityTest, A429IsCertainlyNotDoneAndCarriesRetryAfter) {
  // Two: the baseline read meets the burst first, then the call.
  ASSERT_EQ(sim_.Fault("ninjaone:103", "http_429", 2), 201);
  auto v = Bay("reset_trackman", 3);
  const auto out = Run(v);
  EXPECT_EQ(out.result, CallResult::kNotDone);
  ASSERT_TRUE(out.retry_after.has_value());
  EXPECT_EQ(*out.retry_after, Millis(1'000));
  EXPECT_EQ(Run(v).result, CallResult::kAccepted) << "the burst is over";
}

TEST_F(VendorFacilityTest, A500LeavesTheOutcomeUnknown) {
  ASSERT_EQ(sim_.Fault("unifi:0ed545f8-2fcd-4839-9021-b39e707f6aa9", "http_500"), 201);
  auto v = Door(44);
  EXPECT_EQ(Run(v).result, CallResult::kTransient);
}

TEST_F(VendorFacilityTest, AnExpiredTokenIsFetchedAgainAndTheCallMadeOnce) {
  auto warm = Bay("reboot_pc", 1, 60);
  ASSERT_EQ(Run(warm).result, CallResult::kAccepted);
  EXPECT_EQ(facility_->ninjaone().TokensFetched(), 1) << "cached across calls";
  ASSERT_EQ(sim_.Fault("ninjaone", "token_expired"), 201);
  auto v = Bay("reset_trackman", 3, 61);
  ASSERT_EQ(Run(v).result, CallResult::kAccepted);
  EXPECT_EQ(facility_->ninjaone().TokensFetched(), 2);
  EXPECT_EQ(sim_.Count("ninjaone", "POST", "/v2/device/103/script/run"), 1);
  // And a token past its lifetime is renewed before use, not after a refusal.
  Advance(std::chrono::hours(2));
  auto later = Bay("reboot_pc", 5, 62);
  ASSERT_EQ(Run(later).result, CallResult::kAccepted);
  EXPECT_EQ(facility_->ninjaone().TokensFetched(), 3);
}

TEST_F(VendorFacilityTest, ASlowConsoleTimesOutAndTheDoorLogThenTellsWhatHappened) {
  config_.integrations.call_timeout = Millis(300);
  facility_ = std::make_unique<integrations::VendorFacility>(config_, clock_);
  ASSERT_EQ(sim_.Fault("unifi:0ed545f8-2fcd-4839-9021-b39e707f6aa9", "slow", 1, 800), 201);
  auto v = Door(45);
  EXPECT_EQ(Run(v).result, CallResult::kTransient) << "no answer: it may have happened";
  // The flow's next attempt looks before acting again: the console did unlock.
  ASSERT_TRUE(WaitFor([&] { return facility_->Check(v) == StateCheck::kChanged; }));
  EXPECT_EQ(sim_.Count("unifi", "PUT", "/unlock", false), 1) << "one unlock, not two";
}

TEST_F(VendorFacilityTest, OperatorsAreToldThroughSlack) {
  const auto out = facility_->NotifyOperators("bay 3 reset failed", "https://ops/threads/7");
  EXPECT_EQ(out.result, CallResult::kAccepted);
  ASSERT_EQ(sim_.Count("slack", "POST", "/services/"), 1);
  const json body = json::parse(sim_.Calls()[0]["body"].get<std::string>());
  EXPECT_NE(body["text"].get<std::string>().find("https://ops/threads/7"), std::string::npos);
  ASSERT_EQ(sim_.Fault("slack", "http_500"), 201);
  EXPECT_EQ(facility_->NotifyOperators("again", "").result, CallResult::kTransient);
}

TEST_F(VendorFacilityTest, AMissingSecretRefusesWithoutCalling) {
  ::unsetenv("CLUBOS_UNIFI_TOKEN");
  auto v = Door(46);
  const auto out = Run(v);
  EXPECT_EQ(out.result, CallResult::kRejected);
  EXPECT_NE(out.detail.find("CLUBOS_UNIFI_TOKEN"), std::string::npos);
  EXPECT_EQ(out.detail.find("unifi-token"), std::string::npos) << "never the secret itself";
  EXPECT_EQ(sim_.Count("unifi", "PUT", "/unlock", false), 0);
}

}  // namespace
