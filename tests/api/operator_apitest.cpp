// Operator endpoints over real HTTP with real workers: threads (masked customers, cursor paging),
// actions and confirmations (the same transition as the customer's YES; 409 with the state when
// too late), the escalation queue, and who did what in the history.
#include <set>

#include "tests/api/api_fixture.h"
#include "tests/support/openapi_shape.h"

using namespace clubos;
using namespace clubos::apitest;

namespace {

class OperatorApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (!HasFatalFailure() && !IsSkipped()) StartWorkers();
  }
  // Waits until the workers have nothing to run now (only timers left) and no action is
  // mid-flight: a census taken afterwards sees only what the request under test changes.
  void Settle() {
    ASSERT_TRUE(pgtest::WaitFor([&] {
      return Scalar("SELECT count(*) FROM jobs WHERE state IN ('available', 'running')") == 0 &&
             Scalar(
                 "SELECT count(*) FROM actions WHERE state IN ('routed', 'executing', "
                 "'executed')") == 0;
    }));
  }
  // The thread's pending action, once the flow has asked the customer to confirm it (and the
  // prompt has gone out).
  int64_t PendingAction(int64_t thread) {
    EXPECT_TRUE(ReachesState(thread, "awaiting_confirmation"));
    Settle();
    return Scalar("SELECT id FROM actions WHERE thread_id = $1 AND state = 'awaiting_confirmation'",
                  {thread});
  }
  std::string LastActor(const std::string& entity, int64_t id) {
    return Text(
        "SELECT actor FROM transitions WHERE entity = $1 AND entity_id = $2 ORDER BY id DESC "
        "LIMIT 1",
        {entity, id});
  }
};

}  // namespace

TEST_F(OperatorApiTest, AThreadShowsItsStateIntentMessagesAndHistoryWithTheCustomerMasked) {
  const auto in = Body(PostMessage("the trackman in bay 3 is frozen", "ext-7"));
  const int64_t id = in["thread_id"].get<int64_t>();
  PendingAction(id);
  const auto r = Call("GET", "/v1/threads/" + std::to_string(id), "", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  const json t = Body(r);
  EXPECT_EQ(t["id"], id);
  EXPECT_EQ(t["state"], "awaiting_confirmation");
  EXPECT_EQ(t["location"], "bedford");
  EXPECT_EQ(t["customer"], "***0100");
  EXPECT_EQ(t["intent"]["category"], "tech");
  EXPECT_EQ(t["intent"]["action"], "reset_trackman");
  EXPECT_TRUE(t["intent"].contains("confidence"));
  EXPECT_TRUE(t["intent"].contains("router"));
  EXPECT_EQ(t["decision"]["outcome"], "confirm_first");
  EXPECT_FALSE(t["decision"]["reasons"].empty());
  EXPECT_TRUE(t["escalation"].is_null());
  ASSERT_EQ(t["messages"].size(), 2u) << "the customer's text, and the prompt the flow sent";
  EXPECT_EQ(t["messages"][0]["direction"], "in");
  EXPECT_EQ(t["messages"][0]["body"], "the trackman in bay 3 is frozen");
  EXPECT_EQ(t["messages"][0]["from"], "***0100");
  EXPECT_EQ(t["messages"][0]["to"], kBedford) << "the facility line is not personal";
  EXPECT_EQ(t["messages"][0]["external_id"], "ext-7");
  EXPECT_EQ(t["messages"][1]["direction"], "out");
  EXPECT_EQ(t["messages"][1]["from"], kBedford);
  EXPECT_EQ(t["messages"][1]["to"], "***0100");
  EXPECT_NE(t["messages"][1]["body"].get<std::string>().find("YES"), std::string::npos);
  ASSERT_EQ(t["actions"].size(), 2u) << "the reset, and the prompt sent to the customer";
  EXPECT_EQ(t["actions"][0]["kind"], "reset_trackman");
  EXPECT_EQ(t["actions"][1]["kind"], "send_message");
  EXPECT_EQ(t["actions"][1]["target"]["phone"], "***0100");
  EXPECT_EQ(t["transitions"][0]["event"], "message_received");
  EXPECT_EQ(t["transitions"][0]["to"], "received");
  EXPECT_NE(t["created_at"].get<std::string>().find('T'), std::string::npos);
  EXPECT_EQ(r.body.find("5555550100"), std::string::npos) << "no unmasked customer number";
}

TEST_F(OperatorApiTest, ReadingThreadsNeedsAnOperatorAndAnExistingId) {
  const int64_t id = Body(PostMessage("hello"))["thread_id"].get<int64_t>();
  const std::string path = "/v1/threads/" + std::to_string(id);
  EXPECT_EQ(Call("GET", path, "", kOperatorToken).status, 200);
  EXPECT_EQ(Call("GET", path, "", kAdminToken).status, 200);
  EXPECT_EQ(Call("GET", path, "", kServiceToken).status, 403);
  EXPECT_EQ(Call("GET", path).status, 401);
  auto r = Call("GET", "/v1/threads/999999", "", kOperatorToken);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "not_found");
  for (const char* bad :
       {"/v1/threads/abc", "/v1/threads/0", "/v1/threads/-1", "/v1/threads/99999999999999999999"}) {
    r = Call("GET", bad, "", kOperatorToken);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(ErrorCode(r), "bad_request");
  }
}

// Without workers: the threads stay `received`, whatever the router would make of them.
TEST_F(ApiTest, ThreadsPageNewestFirstWithAnOpaqueCursor) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(Body(PostMessage("hello", "", "+1555555020" + std::to_string(i)))["thread_id"]
                      .get<int64_t>());
  std::vector<int64_t> seen;
  std::string path = "/v1/threads?limit=2";
  for (int page = 0; page < 5; ++page) {
    const auto r = Call("GET", path, "", kOperatorToken);
    ASSERT_EQ(r.status, 200) << r.body;
    const json p = Body(r);
    for (const auto& item : p["items"]) {
      seen.push_back(item["id"].get<int64_t>());
      EXPECT_EQ(item["customer"].get<std::string>().substr(0, 3), "***");
    }
    if (p["next"].is_null()) break;
    EXPECT_EQ(p["items"].size(), 2u);
    path = "/v1/threads?limit=2&after=" + p["next"].get<std::string>();
  }
  const std::vector<int64_t> want(ids.rbegin(), ids.rend());
  EXPECT_EQ(seen, want) << "every thread once, newest first";

  auto r = Call("GET", "/v1/threads?location=dartmouth", "", kOperatorToken);
  EXPECT_TRUE(Body(r)["items"].empty());
  r = Call("GET", "/v1/threads?location=bedford&state=received&limit=200", "", kOperatorToken);
  EXPECT_EQ(Body(r)["items"].size(), 5u);
  EXPECT_TRUE(Body(r)["next"].is_null());
  for (const char* bad :
       {"/v1/threads?limit=0", "/v1/threads?limit=201", "/v1/threads?limit=x",
        "/v1/threads?state=sleeping", "/v1/threads?after=bm9wZQ", "/v1/threads?after=!!"}) {
    r = Call("GET", bad, "", kOperatorToken);
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
  }
}

TEST_F(OperatorApiTest, AConfirmationByApiIsTheCustomersYesAndIsRecordedWithItsCaller) {
  const int64_t thread =
      Body(PostMessage("the trackman in bay 3 is frozen"))["thread_id"].get<int64_t>();
  const int64_t action = PendingAction(thread);
  const std::string path = "/v1/actions/" + std::to_string(action);
  auto r = Call("POST", path + "/confirm", "", kServiceToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["decision"], "confirmed");
  EXPECT_EQ(Text("SELECT confirmed_by FROM actions WHERE id = $1", {action}), "service:svc");
  ASSERT_TRUE(ReachesState(thread, "verified"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM transitions WHERE entity = 'thread' AND entity_id = $1 "
                   "AND event = 'confirmed' AND actor = 'service:svc'",
                   {thread}),
            1);

  // Too late: 409 naming the state the action is in, and nothing changes. (First the flow
  // settles: the customer's "done" notice is sent after the thread is verified.)
  Settle();
  const std::string census = Census();
  for (const char* verb : {"/confirm", "/reject"}) {
    r = Call("POST", path + verb, "", kOperatorToken);
    EXPECT_EQ(r.status, 409) << verb;
    EXPECT_EQ(ErrorCode(r), "illegal_transition");
    EXPECT_EQ(Body(r)["error"]["state"], "verified") << r.body;
  }
  EXPECT_EQ(Census(), census);
}

TEST_F(OperatorApiTest, AnOperatorRejectionClosesTheThreadInTheirName) {
  const int64_t thread =
      Body(PostMessage("the trackman in bay 2 is frozen"))["thread_id"].get<int64_t>();
  const int64_t action = PendingAction(thread);
  auto r = Call("POST", "/v1/actions/" + std::to_string(action) + "/reject", "{}", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["by"], "operator:alice");
  EXPECT_EQ(ThreadState(thread), "closed");
  EXPECT_EQ(LastActor("action", action), "operator:alice");
  EXPECT_EQ(Scalar("SELECT count(*) FROM fake_facility_calls WHERE kind = 'reset_trackman'"), 0);
  r = Call("POST", "/v1/actions/" + std::to_string(action) + "/confirm", "", kOperatorToken);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r)["error"]["state"], "rejected");
}

TEST_F(OperatorApiTest, ConfirmationsRefuseUnknownIdsBadBodiesAndStrangers) {
  const int64_t thread =
      Body(PostMessage("the trackman in bay 4 is frozen"))["thread_id"].get<int64_t>();
  const int64_t action = PendingAction(thread);
  const std::string path = "/v1/actions/" + std::to_string(action) + "/confirm";
  const std::string census = Census();
  EXPECT_EQ(Call("POST", path).status, 401);
  EXPECT_EQ(Call("POST", path, "", "wrong-token-0123456789").status, 401);
  EXPECT_EQ(Call("POST", path, "{oops", kServiceToken).status, 400);
  EXPECT_EQ(Call("POST", path, "[]", kServiceToken).status, 400);
  auto r = Call("POST", "/v1/actions/424242/confirm", "", kServiceToken);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "not_found");
  EXPECT_EQ(Call("POST", "/v1/actions/x/confirm", "", kServiceToken).status, 400);
  EXPECT_EQ(Census(), census);
  EXPECT_EQ(ThreadState(thread), "awaiting_confirmation");
}

TEST_F(OperatorApiTest, AnActionShowsItsAttemptsOutcomeAndHistory) {
  const int64_t thread =
      Body(PostMessage("the trackman in bay 1 is frozen"))["thread_id"].get<int64_t>();
  const int64_t action = PendingAction(thread);
  ASSERT_EQ(
      Call("POST", "/v1/actions/" + std::to_string(action) + "/confirm", "", kServiceToken).status,
      200);
  ASSERT_TRUE(ReachesState(thread, "verified"));
  auto r = Call("GET", "/v1/actions/" + std::to_string(action), "", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  const json a = Body(r);
  EXPECT_EQ(a["kind"], "reset_trackman");
  EXPECT_EQ(a["state"], "verified");
  EXPECT_EQ(a["result"], "success");
  EXPECT_EQ(a["thread_id"], thread);
  EXPECT_EQ(a["target"]["bay"], 1);
  EXPECT_EQ(a["confirmed_by"], "service:svc");
  ASSERT_EQ(a["attempts"].size(), 1u);
  EXPECT_EQ(a["attempts"][0]["number"], 1);
  EXPECT_EQ(a["attempts"][0]["outcome"], "execution_succeeded");
  EXPECT_EQ(a["outcome"]["result"], "success");
  EXPECT_EQ(a["outcome"]["bay"], 1);
  EXPECT_EQ(a["outcome"]["location"], "bedford");
  EXPECT_EQ(a["outcome"]["linked_thread"], thread);
  EXPECT_EQ(a["outcome"]["trigger_source"], "router");
  EXPECT_EQ(a["outcome"]["schema_version"], 1);
  std::vector<std::string> events;
  for (const auto& t : a["transitions"]) events.push_back(t["event"].get<std::string>());
  EXPECT_EQ(events.front(), "requested");
  EXPECT_EQ(events.back(), "verification_passed");

  EXPECT_EQ(Call("GET", "/v1/actions/987654", "", kOperatorToken).status, 404);
  EXPECT_EQ(Call("GET", "/v1/actions/" + std::to_string(action), "", kServiceToken).status, 403);
}

TEST_F(OperatorApiTest, TheEscalationQueueIsClaimedAndResolvedInTheOperatorsName) {
  const int64_t first = Escalated("can I talk to a real person please", "+15555550301");
  const int64_t second = Escalated("I want a refund for last night", "+15555550302");
  auto r = Call("GET", "/v1/escalations", "", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  json q = Body(r);
  ASSERT_EQ(q["items"].size(), 2u);
  EXPECT_EQ(q["items"][0]["thread_id"], first) << "the longest waiting first";
  EXPECT_EQ(q["items"][1]["thread_id"], second);
  EXPECT_FALSE(q["items"][0]["reason"].get<std::string>().empty());
  EXPECT_EQ(q["items"][0]["customer"], "***0301");
  EXPECT_TRUE(q["items"][0]["claimed_by"].is_null());
  EXPECT_TRUE(q["next"].is_null());

  r = Call("POST", "/v1/escalations/" + std::to_string(first) + "/claim", "", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["claimed_by"], "alice");
  EXPECT_EQ(LastActor("thread", first), "operator:alice");
  q = Body(Call("GET", "/v1/escalations?status=claimed", "", kOperatorToken));
  ASSERT_EQ(q["items"].size(), 1u);
  EXPECT_EQ(q["items"][0]["claimed_by"], "alice");
  q = Body(Call("GET", "/v1/escalations?status=unclaimed", "", kOperatorToken));
  ASSERT_EQ(q["items"].size(), 1u);
  EXPECT_EQ(q["items"][0]["thread_id"], second);

  // Paging one at a time walks the same queue.
  q = Body(Call("GET", "/v1/escalations?limit=1", "", kOperatorToken));
  ASSERT_EQ(q["items"].size(), 1u);
  ASSERT_FALSE(q["next"].is_null());
  q = Body(Call("GET", "/v1/escalations?limit=1&after=" + q["next"].get<std::string>(), "",
                kOperatorToken));
  ASSERT_EQ(q["items"].size(), 1u);
  EXPECT_EQ(q["items"][0]["thread_id"], second);
  EXPECT_TRUE(q["next"].is_null());

  // Resolving needs a resolution; a bad body changes nothing.
  const std::string resolve = "/v1/escalations/" + std::to_string(first) + "/resolve";
  Settle();
  const std::string census = Census();
  EXPECT_EQ(Call("POST", resolve, R"({"note":"n"})", kOperatorToken).status, 400);
  EXPECT_EQ(Call("POST", resolve, R"({"resolution":5})", kOperatorToken).status, 400);
  EXPECT_EQ(Census(), census);
  // Alice claimed it: anyone else resolving it takes it over, explicitly and on the record.
  r = Call("POST", resolve, R"({"resolution":"called the customer","note":"all good"})",
           kAdminToken);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "claimed_by_other");
  EXPECT_EQ(ThreadState(first), "escalated");
  r = Call("POST", resolve,
           R"({"resolution":"called the customer","note":"all good","take_over":true})",
           kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Text("SELECT data ->> 'taken_from' FROM transitions WHERE entity = 'thread' AND "
                 "entity_id = $1 AND event = 'resolved'",
                 {first}),
            "alice");
  EXPECT_EQ(ThreadState(first), "closed");
  EXPECT_EQ(LastActor("thread", first), "operator:root");
  EXPECT_EQ(Text("SELECT reason FROM transitions WHERE entity = 'thread' AND entity_id = $1 AND "
                 "event = 'resolved'",
                 {first}),
            "called the customer");
  // Too late now.
  r = Call("POST", resolve, R"({"resolution":"again"})", kOperatorToken);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r)["error"]["state"], "closed");
  r = Call("POST", "/v1/escalations/" + std::to_string(first) + "/claim", "", kOperatorToken);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Call("POST", "/v1/escalations/777777/claim", "", kOperatorToken).status, 404);
  EXPECT_EQ(Call("POST", "/v1/escalations/" + std::to_string(second) + "/claim", "", kServiceToken)
                .status,
            403);
  EXPECT_EQ(Call("GET", "/v1/escalations?status=everything", "", kOperatorToken).status, 400);
}

TEST_F(OperatorApiTest, ANonEscalatedThreadCannotBeClaimed) {
  const int64_t thread =
      Body(PostMessage("the trackman in bay 5 is frozen"))["thread_id"].get<int64_t>();
  PendingAction(thread);
  const auto r =
      Call("POST", "/v1/escalations/" + std::to_string(thread) + "/claim", "", kOperatorToken);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r)["error"]["state"], "awaiting_confirmation");
}

// performAction's own behaviour is tested in actions_apitest.cpp; who may call it is tested here.
TEST_F(OperatorApiTest, DoorUnlocksByHandNeedAnAdminAndBadActionsChangeNothing) {
  const std::string unlock =
      R"({"kind":"unlock_door","target":{"location":"bedford","door":"bedford-front"},"reason":"customer locked out"})";
  const std::string census = Census();
  auto r = Call("POST", "/v1/actions", unlock, kOperatorToken);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("admin"), std::string::npos);
  EXPECT_EQ(Call("POST", "/v1/actions", unlock, kServiceToken).status, 403);
  EXPECT_EQ(Call("POST", "/v1/actions", unlock).status, 401);
  for (
      const char* bad :
      {"{", R"({"kind":"reset_trackman"})", R"({"kind":"reset_trackman","target":3,"reason":"r"})",
       R"({"kind":"reset_trackman","target":{"location":"bedford","bay":3},"reason":"r","thread_id":"x"})"})
    EXPECT_EQ(Call("POST", "/v1/actions", bad, kOperatorToken).status, 400) << bad;
  EXPECT_EQ(Census(), census);
}

// What docs/openapi.json promises for each answer, held to the real answers: required properties,
// types, enums, and no property the document does not list. At 850d4a5 GET /v1/threads/{id}
// lacked category, escalation_reason and claimed_by, which the document (and the list) have.
TEST_F(OperatorApiTest, EveryAnswerHasTheShapeTheOpenApiDocumentPromises) {
  auto expect_shape = [](const std::string& method, const std::string& path,
                         const integrations::HttpResponse& r) {
    const json body = json::parse(r.body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << method << " " << path << ": " << r.body;
    for (const auto& p : openapi::Problems(method, path, r.status, body)) ADD_FAILURE() << p;
  };
  auto in = PostMessage("the trackman in bay 3 is frozen", "ext-shape");
  expect_shape("post", "/v1/messages", in);
  const int64_t pending = Body(in)["thread_id"].get<int64_t>();
  const int64_t action = PendingAction(pending);
  const int64_t escalated = Escalated("I want a refund for last night", "+15555550303");
  auto r =
      Call("POST", "/v1/escalations/" + std::to_string(escalated) + "/claim", "", kOperatorToken);
  expect_shape("post", "/v1/escalations/{thread_id}/claim", r);

  const json list = Body(Call("GET", "/v1/threads", "", kOperatorToken));
  for (const int64_t id : {pending, escalated}) {
    r = Call("GET", "/v1/threads/" + std::to_string(id), "", kOperatorToken);
    ASSERT_EQ(r.status, 200) << r.body;
    expect_shape("get", "/v1/threads/{id}", r);
    // The top-level fields say what the list says.
    const json t = Body(r);
    for (const auto& item : list["items"]) {
      if (item["id"] != id) continue;
      for (const char* key : {"category", "escalation_reason", "claimed_by", "priority", "state"})
        EXPECT_EQ(t[key], item[key]) << key << " of thread " << id;
    }
  }
  const json t = Body(Call("GET", "/v1/threads/" + std::to_string(escalated), "", kOperatorToken));
  EXPECT_EQ(t["claimed_by"], "alice");
  EXPECT_FALSE(t["escalation_reason"].is_null());
  EXPECT_EQ(t["escalation_reason"], t["escalation"]["reason"]);
  EXPECT_EQ(
      Body(Call("GET", "/v1/threads/" + std::to_string(pending), "", kOperatorToken))["category"],
      "tech");

  expect_shape("get", "/v1/threads", Call("GET", "/v1/threads?limit=1", "", kOperatorToken));
  expect_shape("get", "/v1/escalations", Call("GET", "/v1/escalations", "", kOperatorToken));
  expect_shape("get", "/v1/actions/{id}",
               Call("GET", "/v1/actions/" + std::to_string(action), "", kOperatorToken));
  expect_shape(
      "post", "/v1/actions/{id}/confirm",
      Call("POST", "/v1/actions/" + std::to_string(action) + "/confirm", "", kServiceToken));
  expect_shape("get", "/v1/threads/{id}", Call("GET", "/v1/threads/999999", "", kOperatorToken));
  expect_shape("get", "/v1/threads", Call("GET", "/v1/threads?after=x", "", kOperatorToken));
  expect_shape("get", "/healthz", Call("GET", "/healthz"));
}

// Forged or damaged paging cursors are the caller's error: each was a 500 at 850d4a5
// (std::stoll threw, or Postgres refused a smallint or a timestamp out of range).
TEST_F(ApiTest, BogusCursorsAre400NotInternalErrors) {
  auto cursor = [](const std::string& plain) {
    std::string s = integrations::Base64Encode(plain);
    for (auto& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
    while (!s.empty() && s.back() == '=') s.pop_back();
    return s;
  };
  for (const char* plain : {"t1:-", "t1:--", "t1:9999999999999999999", "t1:0"}) {
    const auto r = Call("GET", "/v1/threads?after=" + cursor(plain), "", kOperatorToken);
    EXPECT_EQ(r.status, 400) << plain << " " << r.body;
    EXPECT_EQ(ErrorCode(r), "bad_cursor") << plain;
  }
  for (const char* plain : {"e1:-:1:1", "e1:1:1:-", "e1:99999999999:0:0",
                            "e1:1:-62135596800000001:1", "e1:1:999999999999999999:1"}) {
    const auto r = Call("GET", "/v1/escalations?after=" + cursor(plain), "", kOperatorToken);
    EXPECT_EQ(r.status, 400) << plain << " " << r.body;
    EXPECT_EQ(ErrorCode(r), "bad_cursor") << plain;
  }
  EXPECT_EQ(Call("GET", "/v1/threads?after=dDE6LQ", "", kOperatorToken).status, 400);
}
