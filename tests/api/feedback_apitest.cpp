// POST /v1/actions/{id}/feedback over real HTTP: an operator's verdict on an automated answer,
// replaced by their next one, refused whole when the request is bad, and the thread's page showing
// what was said.
#include "tests/api/api_fixture.h"
#include "tests/support/openapi_shape.h"

using namespace clubos;
using namespace clubos::apitest;

namespace {

class FeedbackApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (!HasFatalFailure() && !IsSkipped()) StartWorkers();
  }
  // The FAQ's answer to the customer's question, sent: {thread, action}.
  std::pair<int64_t, int64_t> Answered() {
    auto r = PostMessage("how much for an hour?");
    EXPECT_EQ(r.status, 202) << r.body;
    const int64_t thread = Body(r)["thread_id"].get<int64_t>();
    EXPECT_TRUE(pgtest::WaitFor(
        [&] { return Text("SELECT state FROM threads WHERE id = $1", {thread}) == "verified"; }));
    return {thread, std::stoll(Text("SELECT id FROM actions WHERE thread_id = $1 AND kind = "
                                    "'send_message' AND params ->> 'role' = 'primary'",
                                    {thread}))};
  }
  integrations::HttpResponse Feedback(int64_t action, const std::string& body,
                                      const std::string& token = kOperatorToken) {
    return Call("POST", "/v1/actions/" + std::to_string(action) + "/feedback", body, token);
  }
  // The rows a verdict writes, and what they say.
  // What docs/openapi.json promises for the answer.
  static void ExpectShape(const std::string& method, const std::string& path,
                          const integrations::HttpResponse& r) {
    for (const auto& p : openapi::Problems(method, path, r.status, Body(r))) ADD_FAILURE() << p;
  }
  std::string FeedbackRows() {
    return Text(
        "SELECT (SELECT count(*) FROM feedback) || '/' || (SELECT count(*) FROM "
        "feedback_history) || '/' || (SELECT count(*) FROM cases) || '/' || (SELECT "
        "coalesce(string_agg(helpful::text || coalesce(correction, ''), ','), '') FROM "
        "feedback)");
  }
};

}  // namespace

TEST_F(FeedbackApiTest, AnOperatorMarksAnAnswerUnhelpfulThenChangesTheirMind) {
  const auto [thread, answer] = Answered();
  auto r =
      Feedback(answer, R"({"helpful": false, "correction": "Mention the $40 off-peak rate."})");
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectShape("post", "/v1/actions/{id}/feedback", r);
  json b = Body(r);
  EXPECT_EQ(b["action_id"], answer);
  EXPECT_EQ(b["thread_id"], thread);
  EXPECT_EQ(b["helpful"], false);
  EXPECT_EQ(b["correction"], "Mention the $40 off-peak rate.");
  EXPECT_EQ(b["by"], "operator:alice");
  EXPECT_EQ(b["version"], 1);
  EXPECT_EQ(b["replaced"], false);
  ASSERT_TRUE(b["case"].is_object());
  EXPECT_EQ(b["case"]["state"], "new");
  const int64_t case_id = b["case"]["id"].get<int64_t>();
  EXPECT_EQ(Text("SELECT origin || '/' || action_id FROM cases WHERE id = $1", {case_id}),
            "feedback/" + std::to_string(answer));

  // The second verdict of the same operator replaces the first; the history keeps both.
  r = Feedback(answer, R"({"helpful": true})");
  ASSERT_EQ(r.status, 200) << r.body;
  b = Body(r);
  EXPECT_EQ(b["version"], 2);
  EXPECT_EQ(b["replaced"], true);
  EXPECT_TRUE(b["correction"].is_null());
  EXPECT_EQ(b["case"]["id"], case_id);
  EXPECT_EQ(b["case"]["state"], "closed");
  EXPECT_EQ(Text("SELECT count(*) FROM feedback"), "1");
  EXPECT_EQ(Text("SELECT count(*) FROM feedback_history WHERE action_id = $1", {answer}), "2");

  // Another operator's verdict is theirs.
  r = Feedback(answer, R"({"helpful": false})", kOtherOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["by"], "operator:bob");
  EXPECT_EQ(Body(r)["version"], 1);

  // The thread's page: the answer is marked automated and carries both verdicts.
  r = Call("GET", "/v1/threads/" + std::to_string(thread), "", kOperatorToken);
  ASSERT_EQ(r.status, 200);
  ExpectShape("get", "/v1/threads/{id}", r);
  b = Body(r);
  bool found = false;
  for (const auto& m : b["messages"])
    if (m["direction"] == "out" && m["action_id"] == answer) {
      found = true;
      EXPECT_EQ(m["automated"], true);
    }
  EXPECT_TRUE(found) << r.body;
  ASSERT_EQ(b["feedback"].size(), 2u) << r.body;
  EXPECT_EQ(b["feedback"][0]["by"], "operator:alice");
  EXPECT_EQ(b["feedback"][0]["helpful"], true);
  EXPECT_EQ(b["feedback"][0]["version"], 2);
  EXPECT_EQ(b["feedback"][1]["by"], "operator:bob");
  EXPECT_EQ(b["feedback"][1]["source"], "operator");
}

TEST_F(FeedbackApiTest, ABadRequestIs400AndChangesNothing) {
  const auto [thread, answer] = Answered();
  ASSERT_EQ(Feedback(answer, R"({"helpful": false, "correction": "first"})").status, 200);
  const std::string before = Census() + "/" + FeedbackRows();
  const std::string long_text(2001, 'x');
  for (const std::string& bad :
       {std::string("not json"), std::string("[]"), std::string("{}"),
        std::string(R"({"helpful": "no"})"), std::string(R"({"helpful": 0})"),
        std::string(R"({"helpful": null})"),
        std::string(R"({"helpful": true, "correction": "then why correct it"})"),
        std::string(R"({"helpful": false, "correction": ""})"),
        std::string(R"({"helpful": false, "correction": "   "})"),
        std::string(R"({"helpful": false, "correction": 42})"),
        std::string(R"({"helpful": false, "correction": "a\u0000b"})"),
        std::string(R"({"helpful": false, "correction": ")") + long_text + "\"}",
        std::string(R"({"helpful": false, "rating": 1})")}) {
    const auto r = Feedback(answer, bad);
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_EQ(ErrorCode(r), "bad_request") << bad;
  }
  auto r = Call("POST", "/v1/actions/abc/feedback", R"({"helpful": true})", kOperatorToken);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Census() + "/" + FeedbackRows(), before);
  EXPECT_EQ(Text("SELECT correction FROM feedback"), "first");
}

TEST_F(FeedbackApiTest, OnlyOperatorsJudgeAndOnlyAutomatedAnswersThatWentOut) {
  const auto [thread, answer] = Answered();
  const std::string before = FeedbackRows();
  auto r = Feedback(answer, R"({"helpful": true})", kServiceToken);
  EXPECT_EQ(r.status, 403) << r.body;
  r = Feedback(answer, R"({"helpful": true})", "");
  EXPECT_EQ(r.status, 401) << r.body;
  r = Feedback(987654, R"({"helpful": true})");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(FeedbackRows(), before);

  // An operator's own reply is no automated answer.
  r = Call("POST", "/v1/threads/" + std::to_string(thread) + "/reply",
           R"({"text": "Anything else?"})", kOperatorToken);
  ASSERT_EQ(r.status, 202) << r.body;
  const int64_t reply = Body(r)["action_id"].get<int64_t>();
  const std::string after_reply = FeedbackRows();
  r = Feedback(reply, R"({"helpful": false})");
  EXPECT_EQ(FeedbackRows(), after_reply);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(ErrorCode(r), "invalid_input");
  EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("operator:alice"),
            std::string::npos);
  // Nor is a reset.
  r = Call("POST", "/v1/actions",
           R"({"kind":"reset_trackman","target":{"location":"bedford","bay":2},"reason":"r"})",
           kOperatorToken);
  ASSERT_EQ(r.status, 202) << r.body;
  const int64_t reset = Body(r)["action_id"].get<int64_t>();
  const std::string after_reset = FeedbackRows();
  r = Feedback(reset, R"({"helpful": false})");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(FeedbackRows(), after_reset);
  EXPECT_EQ(Text("SELECT (SELECT count(*) FROM feedback) + (SELECT count(*) FROM cases)"), "0")
      << "no verdict and no case was stored";
}
