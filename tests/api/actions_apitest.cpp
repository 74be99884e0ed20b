// performAction, the rollback flag and the bay agents over real HTTP.
#include "core/time_format.h"
#include "tests/api/api_fixture.h"

using namespace clubos;
using namespace clubos::apitest;

namespace {

constexpr const char* kAgentKey = "agent-key-201-0123456789";  // device 201: Dartmouth bay 1

class ActionsApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (!HasFatalFailure() && !IsSkipped()) StartWorkers();
  }
  std::string ActionState(int64_t id) {
    return Text("SELECT state FROM actions WHERE id = $1", {id});
  }
  bool ActionReaches(int64_t id, const std::string& state) {
    return pgtest::WaitFor([&] { return ActionState(id) == state; });
  }
  integrations::HttpResponse Agent(const std::string& method, const std::string& path,
                                   const std::string& body = "",
                                   const std::string& key = kAgentKey) {
    std::map<std::string, std::string> h;
    if (!key.empty()) h["X-Device-Key"] = key;
    return Call(method, path, body, "", h);
  }
};

const char* kReset =
    R"({"kind":"reset_trackman","target":{"location":"bedford","bay":2},"reason":"SOP tech/trackman-frozen"})";

}  // namespace

TEST_F(ActionsApiTest, AnOperatorsActionRunsAndIsRecordedInTheirName) {
  auto r = Call("POST", "/v1/actions", kReset, kOperatorToken);
  ASSERT_EQ(r.status, 202) << r.body;
  const int64_t id = Body(r)["action_id"].get<int64_t>();
  ASSERT_GT(id, 0);
  EXPECT_EQ(Text("SELECT triggered_by FROM actions WHERE id = $1", {id}), "operator:alice");
  EXPECT_EQ(Text("SELECT actor FROM transitions WHERE entity = 'action' AND entity_id = $1 ORDER "
                 "BY id LIMIT 1",
                 {id}),
            "operator:alice");
  ASSERT_TRUE(ActionReaches(id, "verified"));
  r = Call("GET", "/v1/actions/" + std::to_string(id), "", kOperatorToken);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["triggered_by"], "operator:alice");
  EXPECT_EQ(Body(r)["outcome"]["trigger_source"], "operator:alice");
  EXPECT_EQ(Body(r)["result"], "success");
}

TEST_F(ActionsApiTest, AnAdminUnlocksADoorByHand) {
  const auto r = Call(
      "POST", "/v1/actions",
      R"({"kind":"unlock_door","target":{"location":"bedford","door":"bedford-front"},"reason":"customer locked out"})",
      kAdminToken);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(
      Text("SELECT triggered_by FROM actions WHERE id = $1", {Body(r)["action_id"].get<int64_t>()}),
      "operator:root");
}

TEST_F(ActionsApiTest, AnUnknownTargetIs422AndAnUnknownThread404AndNothingIsCreated) {
  const std::string census = Census();
  for (const char* bad :
       {R"({"kind":"reset_trackman","target":{"location":"bedford","bay":99},"reason":"r"})",
        R"({"kind":"reset_trackman","target":{"location":"atlantis","bay":1},"reason":"r"})",
        R"({"kind":"launch_rocket","target":{"location":"bedford"},"reason":"r"})"}) {
    const auto r = Call("POST", "/v1/actions", bad, kOperatorToken);
    EXPECT_EQ(r.status, 422) << bad << " " << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_input");
  }
  const auto r = Call(
      "POST", "/v1/actions",
      R"({"kind":"reset_trackman","target":{"location":"bedford","bay":2},"reason":"r","thread_id":424242})",
      kOperatorToken);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(Census(), census);
}

TEST_F(ActionsApiTest, AnIdempotencyKeyCreatesOneAction) {
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "reset-bay-2"}};
  const auto a = Call("POST", "/v1/actions", kReset, kOperatorToken, key);
  ASSERT_EQ(a.status, 202) << a.body;
  const auto b = Call("POST", "/v1/actions", kReset, kOperatorToken, key);
  EXPECT_EQ(b.status, 202);
  EXPECT_EQ(b.body, a.body);
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE triggered_by = 'operator:alice'"), 1);
  const auto c =
      Call("POST", "/v1/actions",
           R"({"kind":"reset_trackman","target":{"location":"bedford","bay":3},"reason":"SOP"})",
           kOperatorToken, key);
  EXPECT_EQ(c.status, 422);
  EXPECT_EQ(ErrorCode(c), "idempotency_key_reused");
}

// The action and the answer stored under its key commit together. Before, the action committed on
// a connection of its own while the key's row waited: when the key's commit then failed, the
// client's retry with the same key made a second action (a second unlock of a door).
TEST_F(ActionsApiTest, AnActionWhoseKeyCouldNotBeStoredIsNotMadeTwiceByTheRetry) {
  std::atomic<int> fail_key_commits{1};
  auto o = Options();
  o.db_before_commit = [&](const std::string& what) {
    if (what == "idempotency" && fail_key_commits-- > 0)
      throw store::CommitUnknown("idempotency: connection lost during commit (injected)");
  };
  StartServer(std::move(o));
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "reset-bay-2-retry"}};
  const auto first = Call("POST", "/v1/actions", kReset, kOperatorToken, key);
  EXPECT_EQ(first.status, 503) << first.body;
  const auto again = Call("POST", "/v1/actions", kReset, kOperatorToken, key);
  ASSERT_EQ(again.status, 202) << again.body;
  EXPECT_EQ(Scalar("SELECT count(*) FROM actions WHERE triggered_by = 'operator:alice'"), 1)
      << "the retry made a second action";
  const auto replay = Call("POST", "/v1/actions", kReset, kOperatorToken, key);
  EXPECT_EQ(replay.body, again.body);
}

TEST_F(ActionsApiTest, AFinishedActionIsFlaggedForRollbackAndAnUnfinishedOneIs409) {
  const int64_t id =
      Body(Call("POST", "/v1/actions", kReset, kOperatorToken))["action_id"].get<int64_t>();
  ASSERT_TRUE(ActionReaches(id, "verified"));
  const std::string path = "/v1/actions/" + std::to_string(id) + "/flag-rollback";
  EXPECT_EQ(Call("POST", path, R"({"reason":"wrong bay"})", kServiceToken).status, 403);
  EXPECT_EQ(Call("POST", path, "{}", kOperatorToken).status, 400);
  auto r = Call("POST", path, R"({"reason":"wrong bay"})", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Body(r)["rollback_needed"].get<bool>());
  EXPECT_EQ(Text("SELECT rollback_needed::text FROM actions WHERE id = $1", {id}), "true");
  EXPECT_EQ(Scalar("SELECT count(*) FROM transitions WHERE entity = 'action' AND entity_id = $1 "
                   "AND event = 'rollback_flagged' AND actor = 'operator:alice'",
                   {id}),
            1);
  EXPECT_EQ(
      Call("POST", "/v1/actions/555555/flag-rollback", R"({"reason":"x"})", kOperatorToken).status,
      404);

  const int64_t thread =
      Body(PostMessage("the trackman in bay 3 is frozen"))["thread_id"].get<int64_t>();
  ASSERT_TRUE(ReachesState(thread, "awaiting_confirmation"));
  const int64_t pending = Scalar(
      "SELECT id FROM actions WHERE thread_id = $1 AND state = 'awaiting_confirmation'", {thread});
  r = Call("POST", "/v1/actions/" + std::to_string(pending) + "/flag-rollback",
           R"({"reason":"too early"})", kOperatorToken);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r)["error"]["state"], "awaiting_confirmation");
}

// clubos_actions_total labels how an action ended: its `result` when it ran, else its final
// state; a rollback flag on a finished action ends nothing and counts nothing.
TEST_F(ActionsApiTest, ActionsAreCountedByHowTheyEndedInTheMetrics) {
  const int64_t id =
      Body(Call("POST", "/v1/actions", kReset, kOperatorToken))["action_id"].get<int64_t>();
  ASSERT_TRUE(ActionReaches(id, "verified"));
  ASSERT_EQ(Call("POST", "/v1/actions/" + std::to_string(id) + "/flag-rollback",
                 R"({"reason":"wrong bay"})", kOperatorToken)
                .status,
            200);
  const int64_t thread =
      Body(PostMessage("the trackman in bay 3 is frozen"))["thread_id"].get<int64_t>();
  ASSERT_TRUE(ReachesState(thread, "awaiting_confirmation"));
  const int64_t pending = Scalar(
      "SELECT id FROM actions WHERE thread_id = $1 AND state = 'awaiting_confirmation'", {thread});
  ASSERT_EQ(Call("POST", "/v1/actions/" + std::to_string(pending) + "/reject", "{}", kOperatorToken)
                .status,
            200);
  const std::string m = Call("GET", "/metrics").body;
  for (const char* want : {"clubos_actions_total{kind=\"reset_trackman\",result=\"success\"} 1\n",
                           "clubos_actions_total{kind=\"reset_trackman\",result=\"rejected\"} 1\n"})
    EXPECT_NE(m.find(want), std::string::npos) << want << "\nin:\n" << m;
}

TEST_F(ActionsApiTest, BayAgentsAuthenticateByDeviceKey) {
  auto r = Agent("GET", "/v1/agent/poll", "", "");
  EXPECT_EQ(r.status, 401);
  r = Agent("GET", "/v1/agent/poll", "", "not-a-device-key-000");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorCode(r), "unauthorized");
  r = Agent("GET", "/v1/agent/poll");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Body(r)["success"].get<bool>());
  EXPECT_TRUE(Body(r)["command"].is_null());
  EXPECT_EQ(Agent("POST", "/v1/agent/heartbeat",
                  R"({"tps_version":"4.2","tps_running":true,"radar_reachable":true,)"
                  R"("tps_started_at":"2026-11-21T08:00:00Z","booted_at":"2026-11-21T07:58:00Z"})")
                .status,
            204);
  EXPECT_EQ(Agent("POST", "/v1/agent/heartbeat", R"({"tps_version":"4.2"})").status, 400);
  EXPECT_EQ(Agent("POST", "/v1/agent/heartbeat",
                  R"({"tps_version":"4.2","tps_running":true,)"
                  R"("radar_reachable":true})",
                  "wrong-key-0123456789")
                .status,
            401);
  r = Agent("POST", "/v1/agent/report", R"({"command_id":999999,"success":true,"message":"ok"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(ErrorCode(r), "not_claimed");
}

TEST_F(ActionsApiTest, AnAgentPollsItsCommandAndReportsItOnce) {
  auto r = Call(
      "POST", "/v1/actions",
      R"({"kind":"reset_trackman","target":{"location":"dartmouth","bay":1},"reason":"SOP tech/trackman-frozen"})",
      kOperatorToken);
  ASSERT_EQ(r.status, 202) << r.body;
  json command;
  ASSERT_TRUE(pgtest::WaitFor([&] {
    const auto p = Agent("GET", "/v1/agent/poll");
    if (p.status != 200) return false;
    command = Body(p)["command"];
    return !command.is_null();
  })) << "the command reaches the agent";
  EXPECT_GT(command["id"].get<int64_t>(), 0);
  EXPECT_FALSE(command["action"].get<std::string>().empty());
  EXPECT_NE(command["expires_at"].get<std::string>().find('T'), std::string::npos);
  const std::string report =
      json{{"command_id", command["id"]}, {"success", true}, {"message", "restarted"}}.dump();
  EXPECT_EQ(Agent("POST", "/v1/agent/report", report).status, 204);
  EXPECT_EQ(Agent("POST", "/v1/agent/report", report).status, 409) << "reported once";
}

// A heartbeat time from the future (an agent whose clock is wrong, or a forgery) is refused, so
// it can never be taken as proof of a later restart (defect L11); a clock a little ahead is fine.
TEST_F(ActionsApiTest, AHeartbeatFromTheFutureIsRefused) {
  auto heartbeat = [](const std::string& key, TimePoint at) {
    return json{{"tps_version", "4.2"},
                {"tps_running", true},
                {"radar_reachable", true},
                {key, FormatIso8601(at)}}
        .dump();
  };
  const TimePoint now = SystemClock::Instance().Now();
  for (const char* key : {"tps_started_at", "booted_at"}) {
    auto r = Agent("POST", "/v1/agent/heartbeat",
                   heartbeat(key, *ParseTimestamp("2099-01-01T00:00:00Z")));
    EXPECT_EQ(r.status, 400) << key << " " << r.body;
    r = Agent("POST", "/v1/agent/heartbeat", heartbeat(key, now + std::chrono::minutes(5)));
    EXPECT_EQ(r.status, 400) << key << " " << r.body;
    EXPECT_EQ(Scalar("SELECT count(*) FROM agent_devices WHERE tps_started_at > now() + "
                     "interval '1 minute' OR booted_at > now() + interval '1 minute'"),
              0);
    r = Agent("POST", "/v1/agent/heartbeat", heartbeat(key, now + std::chrono::seconds(10)));
    EXPECT_EQ(r.status, 204) << key << " " << r.body;
  }
}
