#include <gtest/gtest.h>

#include "workflows/policy.h"

using namespace clubos;
using namespace clubos::workflows;

namespace {

const Config& TestConfig() {
  static const Config c =
      Config::Load(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json");
  return c;
}

Decision DecideFor(const std::string& text, bool rapid = false) {
  static const PatternRouter router(TestConfig().router);
  const Intent intent = router.Route({text});
  return Decide({intent, TestConfig().locations.front(), TestConfig(), rapid});
}

}  // namespace

TEST(Policy, APhysicalActionAsksFirst) {
  const auto d = DecideFor("trackman frozen in bay 3");
  EXPECT_EQ(d.outcome, "confirm_first");
  ASSERT_TRUE(d.action);
  EXPECT_EQ(d.action->kind, "reset_trackman");
  EXPECT_EQ(d.action->bay, 3);
  EXPECT_EQ(d.action->device_id, "103");
  EXPECT_EQ(d.action->location, "bedford");
}

TEST(Policy, AFaqIsAnsweredAtOnce) {
  const auto d = DecideFor("how much for an hour?");
  EXPECT_EQ(d.outcome, "execute");
  ASSERT_TRUE(d.action);
  EXPECT_EQ(d.action->kind, "send_message");
  EXPECT_NE(d.action->text.find("$"), std::string::npos);
}

TEST(Policy, EscalatesWithTheRightReason) {
  EXPECT_EQ(DecideFor("there's smoke coming from the projector!!").escalation_reason, "emergency");
  EXPECT_EQ(DecideFor("there's smoke coming from the projector!!").priority, 0);
  EXPECT_EQ(DecideFor("I want my money back").escalation_reason, "policy_denied");
  EXPECT_EQ(DecideFor("can I talk to a real person").escalation_reason, "operator_requested");
  EXPECT_EQ(DecideFor("trackman frozen bay 99").escalation_reason, "policy_denied");
  EXPECT_EQ(DecideFor("trackman frozen").escalation_reason, "low_confidence");
  EXPECT_EQ(DecideFor("can I move my 6pm to 7pm").escalation_reason, "low_confidence");
  EXPECT_EQ(DecideFor("YES").escalation_reason, "low_confidence");
  EXPECT_EQ(DecideFor("trackman frozen in bay 3", true).escalation_reason, "rapid_messages");
  for (const char* text :
       {"there's smoke", "I want my money back", "trackman frozen bay 99", "YES"}) {
    const auto d = DecideFor(text);
    EXPECT_EQ(d.outcome, "escalate") << text;
    EXPECT_FALSE(d.action.has_value()) << text;
    EXPECT_FALSE(d.reasons.empty()) << text << ": every decision says why";
  }
}

TEST(Policy, BookingChangesNeedAHumanEvenWhenConfident) {
  const auto d = DecideFor("need to cancel my booking, please reschedule my reservation");
  EXPECT_EQ(d.outcome, "escalate");
  EXPECT_EQ(d.escalation_reason, "policy_denied");
}

TEST(Policy, TheDoorUnlockTargetsTheLocationsDoor) {
  const auto d = DecideFor("my code isn't opening the front door");
  EXPECT_EQ(d.outcome, "confirm_first");
  ASSERT_TRUE(d.action);
  EXPECT_EQ(d.action->kind, "unlock_door");
  EXPECT_EQ(d.action->door_id, "bedford-front");
}
