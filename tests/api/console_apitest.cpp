// What the operator console stands on, over real HTTP with real workers: taking a conversation
// over (the customer's texts are kept, not answered; handing back and the timer end it, in the
// history), and the live event feed (commit-safe cursor, woken by the commit, SSE and JSON).
#include <spdlog/sinks/ostream_sink.h>

#include <future>
#include <sstream>

#include "api/accounts.h"
#include "core/log.h"
#include "tests/api/api_fixture.h"

using namespace clubos;
using namespace clubos::apitest;

namespace {

class ConsoleApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (!HasFatalFailure() && !IsSkipped()) StartWorkers();
  }
  int64_t Count(const std::string& sql, int64_t id) { return Scalar(sql, {id}); }
  std::string Path(int64_t thread, const char* verb) {
    return "/v1/threads/" + std::to_string(thread) + verb;
  }
  // The transitions of a thread by event, as "event:actor" in order.
  std::vector<std::string> History(int64_t thread) {
    const auto r = db_->ExecRawOne(
        "SELECT event || ':' || actor AS e FROM transitions WHERE entity = 'thread' AND "
        "entity_id = " +
        std::to_string(thread) + " ORDER BY id");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < r.Size(); ++i) out.push_back(r.At(i, "e").Str());
    return out;
  }
  bool Has(const std::vector<std::string>& h, const std::string& e) {
    return std::find(h.begin(), h.end(), e) != h.end();
  }
};

}  // namespace

TEST_F(ConsoleApiTest, AReplyTakesTheConversationOverUntilHandedBack) {
  const int64_t t = Escalated("I want a refund for last night", "+15555550401");
  ASSERT_EQ(
      Call("POST", "/v1/escalations/" + std::to_string(t) + "/claim", "", kOperatorToken).status,
      200);
  auto r = Call("POST", Path(t, "/reply"), R"({"text":"Sorry about that, looking now"})",
                kOperatorToken);
  ASSERT_EQ(r.status, 202) << r.body;
  const json reply = Body(r);
  const int64_t action = reply["action_id"].get<int64_t>();
  EXPECT_EQ(reply["paused_by"], "operator:alice");
  ASSERT_TRUE(reply["paused_until"].is_string());
  // The reply is a send_message action of the operator's, sent and verified like any other.
  EXPECT_EQ(Text("SELECT kind || ':' || triggered_by FROM actions WHERE id = $1", {action}),
            "send_message:operator:alice");
  ASSERT_TRUE(pgtest::WaitFor(
      [&] { return Text("SELECT state FROM actions WHERE id = $1", {action}) == "verified"; }));
  json thread = Body(Call("GET", "/v1/threads/" + std::to_string(t), "", kOperatorToken));
  EXPECT_EQ(thread["paused_by"], "operator:alice");
  EXPECT_EQ(thread["paused_until"], reply["paused_until"]);

  // The customer's next text, even one the router would act on, is stored and shown only.
  const int64_t actions_before = Count("SELECT count(*) FROM actions WHERE thread_id = $1", t);
  ASSERT_EQ(PostMessage("the trackman in bay 2 is frozen", "", "+15555550401").status, 202);
  ASSERT_TRUE(pgtest::WaitFor([&] {
    return Count("SELECT count(*) FROM messages WHERE thread_id = $1 AND direction = 'in'", t) == 2;
  }));
  EXPECT_EQ(ThreadState(t), "escalated");
  EXPECT_EQ(Count("SELECT count(*) FROM actions WHERE thread_id = $1", t), actions_before)
      << "no action and no automatic answer while taken over";

  // Only the operator holding the claim talks in a claimed thread.
  r = Call("POST", Path(t, "/reply"), R"({"text":"me too"})", kOtherOperatorToken);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(ErrorCode(r), "claimed_by_other");

  r = Call("POST", Path(t, "/hand-back"), "", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Body(r)["paused_until"].is_null());
  thread = Body(Call("GET", "/v1/threads/" + std::to_string(t), "", kOperatorToken));
  EXPECT_TRUE(thread["paused_until"].is_null());
  const auto h = History(t);
  EXPECT_TRUE(Has(h, "taken_over:operator:alice"));
  EXPECT_TRUE(Has(h, "handed_back:operator:alice"));
  // Handing back twice: nothing to hand back, and nothing changes.
  r = Call("POST", Path(t, "/hand-back"), "", kOperatorToken);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(ErrorCode(r), "not_taken_over");
  EXPECT_EQ(History(t), h);
}

TEST_F(ConsoleApiTest, APausedVerifiedThreadKeepsTheCustomersTextUntilHandedBackThenRoutesIt) {
  const int64_t t =
      Body(PostMessage("the trackman in bay 4 is frozen", "", "+15555550402"))["thread_id"]
          .get<int64_t>();
  ASSERT_TRUE(ReachesState(t, "awaiting_confirmation"));
  // Under way (a confirmation pending): taking over is refused with the state, nothing written.
  auto r = Call("POST", Path(t, "/takeover"), "", kOperatorToken);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(ErrorCode(r), "illegal_transition");
  EXPECT_EQ(Body(r)["error"]["state"], "awaiting_confirmation");
  EXPECT_TRUE(Text("SELECT coalesce(paused_by, '') FROM threads WHERE id = $1", {t}).empty());

  ASSERT_EQ(PostMessage("YES", "", "+15555550402").status, 202);
  ASSERT_TRUE(ReachesState(t, "verified"));
  r = Call("POST", Path(t, "/takeover"), "", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  const int64_t actions = Count("SELECT count(*) FROM actions WHERE thread_id = $1", t);
  ASSERT_EQ(PostMessage("now the door is stuck too", "", "+15555550402").status, 202);
  ASSERT_TRUE(pgtest::WaitFor([&] {
    return Has(History(t), "message_received:customer") &&
           Count("SELECT count(*) FROM messages WHERE thread_id = $1 AND direction = 'in'", t) == 3;
  }));
  EXPECT_EQ(ThreadState(t), "received") << "kept for the operator, not routed (nor closed)";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(ThreadState(t), "received");
  EXPECT_EQ(Count("SELECT count(*) FROM actions WHERE thread_id = $1", t), actions);

  // Someone else's conversation is theirs to hand back.
  r = Call("POST", Path(t, "/hand-back"), "", kOtherOperatorToken);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(ErrorCode(r), "taken_over_by_other");
  // Handed back, the text that came meanwhile is routed: it is never lost to the quiet close.
  ASSERT_EQ(Call("POST", Path(t, "/hand-back"), "", kOperatorToken).status, 200);
  ASSERT_TRUE(pgtest::WaitFor([&] { return ThreadState(t) != "received"; }));
  const auto h = History(t);
  EXPECT_EQ(std::count(h.begin(), h.end(), "routed:router"), 2)
      << "the door request was routed once the automation had the thread again";
}

TEST_F(ConsoleApiTest, AChangeOfTheControlsBetweenTwoReadsOfTheFeedIsReported) {
  const std::map<std::string, std::string> as_json = {{"Accept", "application/json"}};
  const std::string cursor =
      Body(Call("GET", "/v1/events", "", kOperatorToken, as_json))["last_id"].get<std::string>();
  // No request waits now: the change must be found in the database, not in a notification.
  ASSERT_EQ(
      Call("POST", "/v1/emergency-stop", R"({"engaged":true,"reason":"drill"})", kOperatorToken)
          .status,
      200);
  auto r = Call("GET", "/v1/events?after=" + cursor, "", kOperatorToken, as_json);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Body(r)["controls_changed"].get<bool>()) << r.body;
  r = Call("GET", "/v1/events?after=" + Body(r)["last_id"].get<std::string>(), "", kOperatorToken,
           as_json);
  EXPECT_FALSE(Body(r)["controls_changed"].get<bool>()) << "reported once";
}

class ShortTakeoverTest : public ConsoleApiTest {
 protected:
  void SetUp() override {
    config_.flow.takeover = Millis(300);
    ConsoleApiTest::SetUp();
  }
};

TEST_F(ShortTakeoverTest, ThePauseRunsOutByItselfAsATransitionOfTheTimer) {
  const int64_t t = Escalated("I want a refund for my booking", "+15555550403");
  ASSERT_EQ(Call("POST", Path(t, "/takeover"), "", kOperatorToken).status, 200);
  ASSERT_TRUE(pgtest::WaitFor([&] { return Has(History(t), "takeover_expired:timer"); }));
  EXPECT_EQ(Text("SELECT coalesce(paused_by, 'none') FROM threads WHERE id = $1", {t}), "none");
  EXPECT_EQ(ThreadState(t), "escalated") << "still the operators' until resolved";
}

TEST_F(ConsoleApiTest, TheEventFeedGivesCommittedHistoryAfterItsCursor) {
  const std::map<std::string, std::string> as_json = {{"Accept", "application/json"}};
  auto r = Call("GET", "/v1/events", "", kOperatorToken, as_json);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string start = Body(r)["last_id"].get<std::string>();
  EXPECT_TRUE(Body(r)["items"].empty()) << "a feed without a cursor starts now";

  const int64_t t = Escalated("I want a refund, please", "+15555550404");
  // The feed holds a row back while an older transaction still runs (a worker's, the leader's),
  // so a client follows the cursor until the event arrives, as the console does.
  bool escalated = false;
  std::string last = start;
  std::string bodies;
  ASSERT_TRUE(pgtest::WaitFor([&] {
    r = Call("GET", "/v1/events?after=" + last, "", kOperatorToken, as_json);
    if (r.status != 200) return false;
    bodies += r.body;
    const json page = Body(r);
    for (const auto& e : page["items"]) {
      EXPECT_NE(e["cursor"].get<std::string>(), last) << e.dump();
      if (e["machine"] == "thread" && e["entity_id"] == t && e["to"] == "escalated") {
        escalated = true;
      }
      if (e["machine"] == "action") {
        EXPECT_FALSE(e["thread_id"].is_null()) << "an action's event names its thread";
      }
      last = e["cursor"].get<std::string>();
    }
    if (!page["items"].empty()) {
      EXPECT_EQ(page["last_id"], last) << "the answer's cursor is its last item's";
    }
    last = page["last_id"].get<std::string>();
    return escalated;
  })) << bodies;
  EXPECT_EQ(bodies.find("5555550404"), std::string::npos) << "no customer number in the feed";

  // Nothing new after the last cursor; a cursor the feed never gave is refused.
  r = Call("GET", "/v1/events?after=" + last, "", kOperatorToken, as_json);
  EXPECT_TRUE(Body(r)["items"].empty()) << r.body;
  r = Call("GET", "/v1/events?after=12;DROP", "", kOperatorToken, as_json);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Call("GET", "/v1/events", "", "", as_json).status, 401);
  EXPECT_EQ(Call("GET", "/v1/events", "", kServiceToken, as_json).status, 403);
}

TEST_F(ConsoleApiTest, AWaitingStreamIsWokenByTheCommitAndResumesFromLastEventId) {
  auto r = Call("GET", "/v1/events?wait=0", "", kOperatorToken, {{"Accept", "text/event-stream"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.rfind("retry: ", 0), 0u) << r.body;
  const auto id_at = r.body.find("id: ");
  ASSERT_NE(id_at, std::string::npos) << "the cursor, for a client that came without one";
  const std::string cursor = r.body.substr(id_at + 4, r.body.find('\n', id_at) - id_at - 4);

  // A stream waiting for news answers when a transition commits, not when its wait runs out.
  auto waiting = std::async(std::launch::async, [&] {
    const auto t0 = MonoNow();
    auto res = Call("GET", "/v1/events?wait=20000", "", kOperatorToken,
                    {{"Accept", "text/event-stream"}, {"Last-Event-ID", cursor}});
    return std::make_pair(res, MonoNow() - t0);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(PostMessage("hello there", "", "+15555550405").status, 202);
  const auto [res, took] = waiting.get();
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_NE(res.body.find("event: transition"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("\"message_received\""), std::string::npos) << res.body;
  EXPECT_LT(took, std::chrono::seconds(10)) << "woken by the commit, not by the wait's end";
  ASSERT_TRUE(res.headers.count("content-type"));
  EXPECT_NE(res.headers.at("content-type").find("text/event-stream"), std::string::npos);
}

// ---- logins: sessions, CSRF, expiry, revocation, the limits, and what reaches the logs --------

namespace {

constexpr const char* kPassword = "correct horse battery";

class SessionApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    api::Accounts accounts(SystemClock::Instance());
    accounts.Add(*db_, "dana", api::Role::kOperator, kPassword);
    accounts.Add(*db_, "erin", api::Role::kAdmin, kPassword);
  }
  integrations::HttpResponse Login(const std::string& name, const std::string& password,
                                   std::map<std::string, std::string> headers = {}) {
    return Call("POST", "/v1/session", json{{"name", name}, {"password", password}}.dump(), "",
                std::move(headers));
  }
  // The cookie pair ("clubos_session=...") and the CSRF token of a fresh login.
  std::pair<std::string, std::string> LoggedIn(const std::string& name) {
    const auto r = Login(name, kPassword);
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string set = r.headers.count("set-cookie") ? r.headers.at("set-cookie") : "";
    return {set.substr(0, set.find(';')), Body(r).value("csrf_token", "")};
  }
  integrations::HttpResponse As(const std::pair<std::string, std::string>& s,
                                const std::string& method, const std::string& path,
                                const std::string& body = "", bool with_csrf = true) {
    std::map<std::string, std::string> h = {{"Cookie", s.first}};
    if (with_csrf) h["X-CSRF-Token"] = s.second;
    return Call(method, path, body, "", h);
  }
};

}  // namespace

TEST_F(SessionApiTest, ALoginGivesAStrictHttpOnlyCookieAndTheActorIsThePerson) {
  auto r = Login("dana", kPassword);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string cookie = r.headers.at("set-cookie");
  EXPECT_EQ(cookie.rfind("clubos_session=", 0), 0u) << cookie;
  for (const char* flag : {"; HttpOnly", "; SameSite=Strict", "; Path=/", "; Max-Age="})
    EXPECT_NE(cookie.find(flag), std::string::npos) << flag << " in " << cookie;
  EXPECT_EQ(cookie.find("Secure"), std::string::npos)
      << "plain HTTP: a Secure cookie would be lost";
  EXPECT_EQ(Body(r)["user"]["name"], "dana");
  EXPECT_EQ(Body(r)["user"]["role"], "operator");
  // Behind a TLS proxy the cookie is Secure.
  r = Login("dana", kPassword, {{"X-Forwarded-Proto", "https"}});
  EXPECT_NE(r.headers.at("set-cookie").find("; Secure"), std::string::npos);

  const auto s = LoggedIn("dana");
  r = As(s, "GET", "/v1/session");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["csrf_token"], s.second) << "a reloaded page reads its CSRF token here";
  const int64_t t =
      Body(PostMessage("I want a refund for yesterday", "", "+15555550410"))["thread_id"]
          .get<int64_t>();
  StartWorkers();
  ASSERT_TRUE(ReachesState(t, "escalated"));
  r = As(s, "POST", "/v1/escalations/" + std::to_string(t) + "/claim");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Text("SELECT actor FROM transitions WHERE entity = 'thread' AND entity_id = $1 AND "
                 "event = 'claimed'",
                 {t}),
            "operator:dana");
}

TEST_F(SessionApiTest, AFailedLoginSaysNothingOfWhichPartWasWrong) {
  api::Accounts(SystemClock::Instance()).Disable(*db_, "erin");
  const auto wrong_password = Login("dana", "not the password");
  const auto unknown = Login("nobody", kPassword);
  const auto disabled = Login("erin", kPassword);
  for (const auto* r : {&wrong_password, &unknown, &disabled}) {
    EXPECT_EQ(r->status, 401) << r->body;
    EXPECT_EQ(ErrorCode(*r), "invalid_credentials");
    EXPECT_FALSE(r->headers.count("set-cookie"));
  }
  EXPECT_EQ(wrong_password.body, unknown.body);
  EXPECT_EQ(unknown.body, disabled.body);
  EXPECT_EQ(Login("dana", "").status, 401);
  EXPECT_EQ(Call("POST", "/v1/session", "{\"name\":\"dana\"}").status, 400);
  EXPECT_EQ(Call("POST", "/v1/session", "not json").status, 400);
}

TEST_F(SessionApiTest, ARequestThatChangesStateWithoutTheCsrfTokenOrFromAnotherSiteIsRefused) {
  const auto s = LoggedIn("dana");
  const std::string census = Census();
  const std::string stop = R"({"engaged":true,"scope":"global","reason":"test"})";
  auto r = As(s, "POST", "/v1/emergency-stop", stop, /*with_csrf=*/false);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(ErrorCode(r), "csrf");
  // Another token of the same length (its first character changed, never to itself).
  std::string wrong = s.second;
  wrong[0] = wrong[0] == 'x' ? 'y' : 'x';
  r = Call("POST", "/v1/emergency-stop", stop, "", {{"Cookie", s.first}, {"X-CSRF-Token", wrong}});
  EXPECT_EQ(ErrorCode(r), "csrf");
  r = Call("POST", "/v1/emergency-stop", stop, "",
           {{"Cookie", s.first}, {"X-CSRF-Token", s.second}, {"Origin", "http://evil.example"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "cross_origin");
  EXPECT_EQ(Census(), census) << "nothing changed";
  // Reading needs no CSRF token; the right token changes state.
  EXPECT_EQ(As(s, "GET", "/v1/escalations", "", false).status, 200);
  r = As(s, "POST", "/v1/emergency-stop", stop);
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(SessionApiTest, LogoutAndDisablingEndASessionAtOnce) {
  const auto s = LoggedIn("dana");
  ASSERT_EQ(As(s, "GET", "/v1/escalations").status, 200);
  auto r = As(s, "DELETE", "/v1/session");
  EXPECT_EQ(r.status, 204);
  EXPECT_NE(r.headers.at("set-cookie").find("Max-Age=0"), std::string::npos);
  r = As(s, "GET", "/v1/escalations");
  EXPECT_EQ(r.status, 401);

  const auto again = LoggedIn("dana");
  const auto admin = LoggedIn("erin");
  ASSERT_EQ(As(again, "GET", "/v1/events?wait=0", "", false).status, 200);
  r = As(again, "GET", "/v1/users");
  EXPECT_EQ(r.status, 403) << "accounts are admins' to manage";
  r = As(admin, "POST", "/v1/users/dana/disable");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(As(again, "GET", "/v1/escalations").status, 401) << "a disabled account's session ends";
  r = As(admin, "GET", "/v1/users");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["items"].size(), 2u);
  EXPECT_EQ(r.body.find("argon2"), std::string::npos) << "no hash leaves the server";
  // The events stream needs a session (or token) too: none, or a stale one, is 401.
  EXPECT_EQ(Call("GET", "/v1/events?wait=0").status, 401);
  EXPECT_EQ(Call("GET", "/v1/events?wait=0", "", "", {{"Cookie", again.first}}).status, 401);
}

TEST_F(SessionApiTest, ASessionExpires) {
  auto o = Options();
  o.session_ttl = Millis(1'200);
  StartServer(o);
  const auto s = LoggedIn("dana");
  ASSERT_EQ(As(s, "GET", "/v1/escalations").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1'500));
  const auto r = As(s, "GET", "/v1/escalations");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.headers.at("set-cookie").find("Max-Age=0"), std::string::npos) << "and is cleared";
}

TEST_F(SessionApiTest, FailedLoginsAreLimitedPerAccountAndPerAddressAndNothingSecretIsLogged) {
  auto o = Options();
  o.login_failures_max = 3;
  o.auth_failures_max = 1'000;
  StartServer(o);
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto logger = log::Get();
  logger->sinks().push_back(sink);
  const auto level = logger->level();
  logger->set_level(spdlog::level::debug);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(Login("dana", "wrong-password-" + std::to_string(i)).status, 401);
  auto r = Login("dana", kPassword);
  EXPECT_EQ(r.status, 429) << "the right password too, while the account is locked: " << r.body;
  EXPECT_EQ(ErrorCode(r), "too_many_failures");
  EXPECT_TRUE(r.headers.count("retry-after"));
  const auto other = LoggedIn("erin");  // another account is not locked
  EXPECT_FALSE(other.second.empty());
  const std::string cookie_value = other.first.substr(other.first.find('=') + 1);

  o.auth_failures_max = 2;  // and per address
  o.login_failures_max = 1'000;
  StartServer(o);
  EXPECT_EQ(Login("erin", "wrong-1-password").status, 401);
  EXPECT_EQ(Login("nobody", "wrong-2-password").status, 401);
  EXPECT_EQ(Login("erin", kPassword).status, 429);
  logger->flush();
  logger->sinks().pop_back();
  logger->set_level(level);
  const std::string logs = captured.str();
  EXPECT_NE(logs.find("login refused"), std::string::npos) << "refusals are logged";
  for (const std::string& secret :
       {std::string(kPassword), std::string("wrong-password-0"), other.second, cookie_value})
    EXPECT_EQ(logs.find(secret), std::string::npos) << "a secret in the logs: " << secret;
}

// ---- the console's other pages: status, the replay and rejection of a proposal ----------------

TEST_F(ConsoleApiTest, TheStatusShowsTheFacilityAndTodaysFigures) {
  const int64_t t =
      Body(PostMessage("the trackman in bay 3 is frozen", "", "+15555550420"))["thread_id"]
          .get<int64_t>();
  ASSERT_TRUE(ReachesState(t, "awaiting_confirmation"));
  ASSERT_EQ(PostMessage("YES", "", "+15555550420").status, 202);
  ASSERT_TRUE(ReachesState(t, "verified"));
  Escalated("I want a refund for last night", "+15555550421");
  auto r = Call("GET", "/v1/status", "", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  const json s = Body(r);
  ASSERT_FALSE(s["locations"].empty());
  EXPECT_EQ(s["locations"][0]["id"], "bedford");
  EXPECT_FALSE(s["locations"][0]["bays"].empty());
  EXPECT_FALSE(s["locations"][0]["doors"].empty());
  EXPECT_EQ(s["today"]["messages"], 3);
  EXPECT_EQ(s["today"]["threads"], 2);
  EXPECT_EQ(s["today"]["automated"], 1) << "the reset was verified without a human";
  EXPECT_DOUBLE_EQ(s["today"]["automated_share"].get<double>(), 0.5);
  EXPECT_EQ(s["today"]["escalations_by_reason"].size(), 1u) << s["today"].dump();
  EXPECT_GT(s["today"]["median_message_to_verified_s"].get<double>(), 0.0);
  bool bays_healthy = false;
  for (const auto& i : s["integrations"])
    if (i["name"].get<std::string>().rfind("bay PCs", 0) == 0)
      bays_healthy = i["healthy"].get<bool>();
  EXPECT_TRUE(bays_healthy) << s["integrations"].dump();
  EXPECT_EQ(Call("GET", "/v1/status", "", kServiceToken).status, 403);
}

TEST_F(ConsoleApiTest, AProposalIsReplayedOverTheLastDaysAndRejectedByAnAdmin) {
  const int64_t t =
      Body(PostMessage("the trackman in bay 3 is frozen", "", "+15555550430"))["thread_id"]
          .get<int64_t>();
  ASSERT_TRUE(ReachesState(t, "awaiting_confirmation"));
  json profile = Body(Call("GET", "/v1/config", "", kAdminToken))["profile"];
  profile["tech"]["autonomy"] = false;
  auto r = Call("POST", "/v1/config/proposals", json{{"profile", profile}}.dump(), kAdminToken);
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string v = std::to_string(Body(r)["version"].get<int>());
  EXPECT_EQ(Call("GET", "/v1/config/proposals/" + v + "/replay", "", kOperatorToken).status, 403);
  r = Call("GET", "/v1/config/proposals/" + v + "/replay?days=7", "", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_GE(Body(r)["replayed"].get<int>(), 1);
  ASSERT_FALSE(Body(r)["changed"].empty()) << "the reset would now go to a human: " << r.body;
  EXPECT_EQ(Body(r)["changed"][0]["thread_id"], t);
  EXPECT_EQ(Call("GET", "/v1/config/proposals/" + v + "/replay?days=99", "", kAdminToken).status,
            400);
  r = Call("POST", "/v1/config/proposals/" + v + "/reject", "", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "rejected");
  EXPECT_EQ(Call("POST", "/v1/config/proposals/" + v + "/approve", "", kAdminToken).status, 409)
      << "a rejected proposal cannot be approved";
}
