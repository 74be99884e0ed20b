// The probe's reproductions of 850d4a5 (shared/reference/defects-850d4a5.md) replayed through the
// API as the prober ran them, over real HTTP against real Postgres: each must now be refused or
// kept, and a refused request must change nothing.
#include "tests/api/api_fixture.h"

using namespace clubos;
using namespace clubos::apitest;

namespace {

class SafetyApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (!IsSkipped()) StartWorkers();
  }
  // D1's set-up: auto-execute off, a customer with a booking writes about the door.
  int64_t DoorSuggestion() {
    pgtest::BookNow(*db_, "bedford", kCustomer);
    EXPECT_EQ(
        Call("POST", "/v1/emergency-stop", R"({"toggles":{"auto_execute":false}})", kOperatorToken)
            .status,
        200);
    const auto r = PostMessage("I'm locked out, the door won't open");
    EXPECT_EQ(r.status, 202) << r.body;
    const int64_t thread = Body(r)["thread_id"].get<int64_t>();
    EXPECT_TRUE(ReachesState(thread, "escalated"));
    return Scalar("SELECT id FROM suggestions WHERE thread_id = $1", {thread});
  }
  std::string Toggles() {
    return Body(Call("GET", "/v1/emergency-stop", "", kOperatorToken))["toggles"].dump();
  }
};

}  // namespace

TEST_F(SafetyApiTest, D1AnOperatorCannotOpenADoorByApprovingASuggestion) {
  const int64_t s = DoorSuggestion();
  const std::string approve = "/v1/suggestions/" + std::to_string(s) + "/approve";
  auto r = Call("POST", approve, "", kOperatorToken);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE kind = 'unlock_door'"), 0);
  // Under an engaged stop even an admin is refused, unless the override is explicit.
  ASSERT_EQ(Call("POST", "/v1/emergency-stop",
                 R"({"engaged":true,"reason":"all stop","scope":"global"})", kOperatorToken)
                .status,
            200);
  r = Call("POST", approve, "", kAdminToken);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(ErrorCode(r), "emergency_stop");
  EXPECT_EQ(Call("POST", approve, R"({"override_stop":"fire brigade"})", kOperatorToken).status,
            403);
  r = Call("POST", approve, R"({"override_stop":"the fire brigade is at the door"})", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  const int64_t action = Body(r)["action_id"].get<int64_t>();
  ASSERT_TRUE(pgtest::WaitFor(
      [&] { return Text("SELECT state FROM actions WHERE id = $1", {action}) == "verified"; }));
  EXPECT_EQ(facility_->Calls("unlock_door"), 1);
  const json shown = Body(Call("GET", "/v1/actions/" + std::to_string(action), "", kOperatorToken));
  EXPECT_EQ(shown["decision"]["stop_override"]["by"], "operator:root") << shown.dump();
}

TEST_F(SafetyApiTest, D1AnOperatorsDoorByHandIsStillAdminOnly) {
  const std::string body =
      R"({"kind":"unlock_door","target":{"location":"bedford","door":"bedford-front"},"reason":"x"})";
  EXPECT_EQ(Call("POST", "/v1/actions", body, kOperatorToken).status, 403);
  EXPECT_EQ(Call("POST", "/v1/actions", body, kAdminToken).status, 202);
}

TEST_F(SafetyApiTest, D2ASecondClaimIs409AndTakingOverIsExplicit) {
  const auto r = PostMessage("this is ridiculous, I want a refund");
  const int64_t thread = Body(r)["thread_id"].get<int64_t>();
  ASSERT_TRUE(ReachesState(thread, "escalated"));
  const std::string claim = "/v1/escalations/" + std::to_string(thread) + "/claim";
  EXPECT_EQ(Call("POST", claim, "", kOperatorToken).status, 200);
  auto second = Call("POST", claim, "", kOtherOperatorToken);
  EXPECT_EQ(second.status, 409) << second.body;
  EXPECT_EQ(ErrorCode(second), "already_claimed");
  EXPECT_EQ(Text("SELECT claimed_by FROM threads WHERE id = $1", {thread}), "alice");
  EXPECT_EQ(Call("POST", claim, R"({"take_over":"yes"})", kOtherOperatorToken).status, 400);
  second = Call("POST", claim, R"({"take_over":true})", kOtherOperatorToken);
  EXPECT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(Text("SELECT claimed_by FROM threads WHERE id = $1", {thread}), "bob");
}

TEST_F(SafetyApiTest, D3ARefusedEmergencyStopRequestChangesNothing) {
  ASSERT_EQ(
      Call("POST", "/v1/emergency-stop", R"({"toggles":{"auto_execute":false}})", kOperatorToken)
          .status,
      200);
  const std::string before = Toggles();
  const std::string census = Census();
  for (
      const char* bad : {
          R"({"toggles":{"auto_execute":true},"engaged":true})",  // no reason
          R"({"toggles":{"auto_send":false,"bogus":true}})",      // an unknown toggle
          R"({"toggles":{"auto_execute":true},"engaged":false,"scope":"location:nowhere","reason":"x"})",
          R"({"toggles":{"auto_execute":true},"engaged":"yes","reason":"x"})",
          R"({"toggles":{"auto_execute":true},"reason":"x"})",  // a reason without engaged
          R"({"toggles":{"auto_execute":true},"note":"x"})",    // an unknown field
      }) {
    const auto r = Call("POST", "/v1/emergency-stop", bad, kOperatorToken);
    EXPECT_TRUE(r.status == 400 || r.status == 422) << bad << " -> " << r.status << r.body;
    EXPECT_EQ(Toggles(), before) << bad;
  }
  EXPECT_EQ(Census(), census);
  EXPECT_EQ(Body(Call("GET", "/v1/emergency-stop", "", kOperatorToken))["engaged"], false);
}

TEST_F(SafetyApiTest, D5AnApiMessageNeverSwallowsAnotherCustomersWebhookText) {
  auto r = PostMessage("hi", "ACsame", "+19025551111");
  ASSERT_EQ(r.status, 202);
  const int64_t first_thread = Body(r)["thread_id"].get<int64_t>();
  // The same id from another sender through the API: its own message, nothing of the first.
  r = PostMessage("my door is broken", "ACsame", "+19025552222");
  ASSERT_EQ(r.status, 202);
  EXPECT_FALSE(Body(r)["duplicate"].get<bool>());
  EXPECT_NE(Body(r)["thread_id"].get<int64_t>(), first_thread);
  // A real customer's signed OpenPhone text with that id is stored too.
  r = PostWebhook(OpenPhoneEvent("ACsame", "the trackman in bay 3 froze"));
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_FALSE(Body(r)["duplicate"].get<bool>());
  // Its redelivery is the duplicate.
  r = PostWebhook(OpenPhoneEvent("ACsame", "the trackman in bay 3 froze"));
  EXPECT_TRUE(Body(r)["duplicate"].get<bool>());
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages WHERE external_id = 'ACsame'"), 3);
}

TEST_F(SafetyApiTest, ALongTextOfEmojiIsAcceptedAtTheSignedWebhookAndOneLimitHasOneStatus) {
  std::string emoji;
  for (int i = 0; i < 1600; ++i) emoji += "\xF0\x9F\x98\x80";  // 😀
  auto r = PostWebhook(OpenPhoneEvent("ACemoji", emoji));
  EXPECT_EQ(r.status, 202) << r.body;
  r = PostMessage(emoji);
  EXPECT_EQ(r.status, 202) << r.body;
  // One character more is refused the same way on both paths, and nothing is stored.
  const int64_t messages = Scalar("SELECT count(*) FROM messages");
  EXPECT_EQ(PostWebhook(OpenPhoneEvent("ACemoji2", emoji + "!")).status, 422);
  EXPECT_EQ(PostMessage(emoji + "!").status, 422);
  EXPECT_EQ(PostMessage(std::string(1601, 'a')).status, 422);
  EXPECT_EQ(PostMessage(std::string(5000, 'a')).status, 422);
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), messages);
}

TEST_F(SafetyApiTest, L6AWebhookFromAFacilityLineIsKeptButNeverAnswered) {
  const auto r = PostWebhook(OpenPhoneEvent("ACline", "how much for an hour?", "message.received",
                                            "incoming", "+15555550299"));
  ASSERT_EQ(r.status, 202) << r.body;
  const int64_t thread = Body(r)["thread_id"].get<int64_t>();
  ASSERT_TRUE(ReachesState(thread, "escalated"));
  EXPECT_EQ(Text("SELECT escalation_reason FROM threads WHERE id = $1", {thread}),
            "from_facility_line");
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE kind = 'send_message'"), 0);
}
