// Intake over real HTTP: POST /v1/messages and OpenPhone's webhook — happy paths, roles,
// malformed and oversized bodies, signatures and their replay window, duplicates, idempotency keys
// and the rate limit. A refused request changes nothing (the census of every table is unchanged).
#include <set>
#include <thread>

#include "tests/api/api_fixture.h"

using namespace clubos;
using namespace clubos::apitest;

TEST_F(ApiTest, AMessageIsStoredOnceAndAnsweredTheSameWhenRepeated) {
  auto r = PostMessage("how much for an hour?", "ext-1");
  ASSERT_EQ(r.status, 202) << r.body;
  const json a = Body(r);
  EXPECT_GT(a["thread_id"].get<int64_t>(), 0);
  EXPECT_GT(a["message_id"].get<int64_t>(), 0);
  EXPECT_FALSE(a["duplicate"].get<bool>());
  EXPECT_EQ(Text("SELECT state FROM threads WHERE id = $1", {a["thread_id"].get<int64_t>()}),
            "received");
  EXPECT_EQ(Text("SELECT body FROM messages WHERE external_id = 'ext-1'"), "how much for an hour?");
  const std::string census = Census();

  r = PostMessage("how much for an hour?", "ext-1");
  ASSERT_EQ(r.status, 202) << r.body;
  const json b = Body(r);
  EXPECT_EQ(b["thread_id"], a["thread_id"]);
  EXPECT_EQ(b["message_id"], a["message_id"]);
  EXPECT_TRUE(b["duplicate"].get<bool>());
  EXPECT_EQ(Census(), census) << "a duplicate creates nothing";
}

TEST_F(ApiTest, OnlyTheServiceRolePostsMessages) {
  const std::string body = Message("hello");
  auto r = Call("POST", "/v1/messages", body);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorCode(r), "unauthorized");
  EXPECT_EQ(r.headers["www-authenticate"], "Bearer");
  EXPECT_EQ(Call("POST", "/v1/messages", body, "not-a-token-0123456789").status, 401);
  EXPECT_EQ(Call("POST", "/v1/messages", body, "", {{"Authorization", "Basic abc"}}).status, 401);
  r = Call("POST", "/v1/messages", body, kOperatorToken);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "forbidden");
  EXPECT_EQ(Call("POST", "/v1/messages", body, kAdminToken).status, 403)
      << "admin includes operator, not service";
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 0);
  EXPECT_EQ(Call("POST", "/v1/messages", body, kServiceToken).status, 202);
}

TEST_F(ApiTest, BadMessagesAreRefusedAndChangeNothing) {
  const std::string census = Census();
  struct Case {
    std::string body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"{not json", 400, "bad_request"},
      {"[1,2]", 400, "bad_request"},
      {"", 400, "bad_request"},
      {R"({"from":"+15555550100","to":"+15555550199"})", 400, "bad_request"},
      {R"({"from":15555550100,"to":"+15555550199","body":"hi"})", 400, "bad_request"},
      {R"({"from":"+15555550100","to":"+15555550199","body":["hi"]})", 400, "bad_request"},
      {R"({"from":"+15555550100","to":"+15555550199","body":"hi","external_id":7})", 400,
       "bad_request"},
      {Message("hi", "", "555-0100"), 422, "invalid_input"},
      {Message("hi", "", kCustomer, "+15550000000"), 422, "invalid_input"},
      {Message(std::string("nul\0byte", 8)), 422, "invalid_input"},
  };
  for (const auto& c : cases) {
    const auto r = Call("POST", "/v1/messages", c.body, kServiceToken);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    EXPECT_EQ(ErrorCode(r), c.code) << c.body;
  }
  EXPECT_EQ(Census(), census);
}

TEST_F(ApiTest, AnOversizedBodyIs413AndChangesNothing) {
  const std::string census = Census();
  auto r = Call("POST", "/v1/messages", Message(std::string(20 * 1024, 'a')), kServiceToken);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(ErrorCode(r), "body_too_large");
  // Past Pistache's own limit (headers included) the answer is still 413.
  r = Call("POST", "/v1/messages", Message(std::string(100 * 1024, 'a')), kServiceToken);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Census(), census);
  EXPECT_EQ(PostMessage("still serving").status, 202);
}

TEST_F(ApiTest, AnIdempotencyKeyReplaysTheAnswerAndRefusesAnotherBody) {
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "order-42"}};
  auto first = Call("POST", "/v1/messages", Message("hello"), kServiceToken, key);
  ASSERT_EQ(first.status, 202) << first.body;
  const std::string census = Census();
  auto again = Call("POST", "/v1/messages", Message("hello"), kServiceToken, key);
  ASSERT_EQ(again.status, 202);
  EXPECT_EQ(again.body, first.body) << "the stored answer, byte for byte";
  EXPECT_EQ(again.headers["idempotent-replayed"], "true");
  EXPECT_EQ(Census(), census) << "nothing created again";
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 1) << "no external id: only the key dedups";

  auto other = Call("POST", "/v1/messages", Message("something else"), kServiceToken, key);
  EXPECT_EQ(other.status, 422);
  EXPECT_EQ(ErrorCode(other), "idempotency_key_reused");
  EXPECT_EQ(Census(), census);

  // Without a key the same body is a new message.
  EXPECT_EQ(Call("POST", "/v1/messages", Message("hello"), kServiceToken).status, 202);
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 2);
  EXPECT_EQ(Call("POST", "/v1/messages", Message("hello"), kServiceToken,
                 {{"Idempotency-Key", std::string(300, 'k')}})
                .status,
            400);
}

TEST_F(ApiTest, AFailedRequestDoesNotUseUpItsIdempotencyKey) {
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "k-1"}};
  auto r = Call("POST", "/v1/messages", Message("hi", "", kCustomer, "+15550000000"), kServiceToken,
                key);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Scalar("SELECT count(*) FROM api_idempotency_keys"), 0);
  r = Call("POST", "/v1/messages", Message("hi"), kServiceToken, key);
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(Scalar("SELECT count(*) FROM api_idempotency_keys"), 1);
}

TEST_F(ApiTest, ConcurrentRequestsWithOneKeyCreateOneMessage) {
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "race"}};
  std::vector<integrations::HttpResponse> answers(4);
  std::vector<std::thread> clients;
  for (auto& a : answers)
    clients.emplace_back(
        [&] { a = Call("POST", "/v1/messages", Message("hi"), kServiceToken, key); });
  for (auto& c : clients) c.join();
  for (const auto& a : answers) {
    EXPECT_EQ(a.status, 202) << a.body;
    EXPECT_EQ(a.body, answers[0].body);
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 1);
}

TEST_F(ApiTest, AnOpenPhoneWebhookIsStoredOnceAndADuplicateDeliveryCreatesNothing) {
  const std::string body = OpenPhoneEvent("AC100", "the trackman in bay 3 is frozen");
  auto r = PostWebhook(body);
  ASSERT_EQ(r.status, 202) << r.body;
  const json a = Body(r);
  EXPECT_FALSE(a["duplicate"].get<bool>());
  EXPECT_EQ(Text("SELECT body FROM messages WHERE external_id = 'AC100'"),
            "the trackman in bay 3 is frozen");
  EXPECT_EQ(
      Text("SELECT customer_phone FROM threads WHERE id = $1", {a["thread_id"].get<int64_t>()}),
      kCustomer);
  const std::string census = Census();
  r = PostWebhook(body);  // OpenPhone redelivers, with a new signature
  ASSERT_EQ(r.status, 202);
  const json b = Body(r);
  EXPECT_TRUE(b["duplicate"].get<bool>());
  EXPECT_EQ(b["thread_id"], a["thread_id"]);
  EXPECT_EQ(b["message_id"], a["message_id"]);
  EXPECT_EQ(Census(), census);
}

TEST_F(ApiTest, AWebhookWithoutAValidFreshSignatureIsRefusedAndChangesNothing) {
  const std::string body = OpenPhoneEvent("AC200", "let me in");
  const std::string census = Census();
  auto r = Call("POST", "/v1/webhooks/openphone", body);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorCode(r), "missing_signature");
  // Signed with another secret.
  r = PostWebhook(body, LegacySignature(body, NowMs(), "b3RoZXItc2VjcmV0"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorCode(r), "bad_signature");
  // The right signature over another body.
  r = PostWebhook(body, LegacySignature(OpenPhoneEvent("AC200", "let me in!"), NowMs()));
  EXPECT_EQ(r.status, 401);
  r = PostWebhook(body, "hmac;1;garbage");
  EXPECT_EQ(r.status, 401);
  // A captured delivery replayed after the 5-minute window, or stamped in the future.
  r = PostWebhook(body, LegacySignature(body, NowMs() - 6 * 60 * 1000));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorCode(r), "stale_signature");
  r = PostWebhook(body, LegacySignature(body, NowMs() + 6 * 60 * 1000));
  EXPECT_EQ(ErrorCode(r), "stale_signature");
  EXPECT_EQ(Census(), census);
  // Within the window it is accepted.
  EXPECT_EQ(PostWebhook(body, LegacySignature(body, NowMs() - 4 * 60 * 1000)).status, 202);
}

TEST_F(ApiTest, TheStandardWebhooksSchemeIsAcceptedToo) {
  const std::string body = OpenPhoneEvent("AC300", "hello there");
  const std::string id = "msg_2Yq", ts = std::to_string(NowMs() / 1000);
  const std::string key = *integrations::Base64Decode(std::string(kWebhookKey).substr(6));
  const std::string sig =
      "v1," + integrations::Base64Encode(integrations::HmacSha256(key, id + "." + ts + "." + body));
  auto r = Call("POST", "/v1/webhooks/openphone", body, "",
                {{"webhook-id", id}, {"webhook-timestamp", ts}, {"webhook-signature", sig}});
  EXPECT_EQ(r.status, 202) << r.body;
  r = Call("POST", "/v1/webhooks/openphone", body, "",
           {{"webhook-id", id}, {"webhook-timestamp", ts}, {"webhook-signature", "v1,AAAA"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 1);
}

TEST_F(ApiTest, OtherWebhookEventsAreAcknowledgedAndIgnored) {
  const std::string census = Census();
  auto r = PostWebhook(OpenPhoneEvent("AC400", "x", "message.delivered", "outgoing"));
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(Body(r)["ignored"], "message.delivered");
  r = PostWebhook(OpenPhoneEvent("AC401", "our own text", "message.received", "outgoing"));
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(Body(r)["ignored"], "message.received");
  EXPECT_EQ(Census(), census);
}

TEST_F(ApiTest, ASignedButMalformedWebhookIs400) {
  for (const std::string& body :
       {std::string("{not json"), std::string(R"({"id":"x"})"),
        std::string(R"({"id":"E","type":"message.received","data":{}})")}) {
    const auto r = PostWebhook(body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(ErrorCode(r), "bad_request");
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 0);
}

TEST_F(ApiTest, WebhooksWithoutAConfiguredSecretAreRefusedAs503) {
  auto o = Options();
  o.openphone_signing_secret.clear();
  StartServer(o);
  const std::string body = OpenPhoneEvent("AC500", "hi");
  const auto r = PostWebhook(body);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(ErrorCode(r), "not_configured");
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 0);
}

TEST_F(ApiTest, EachTokenHasItsOwnRateLimitWithRetryAfter) {
  auto o = Options();
  o.rate_limit_per_s = 0.5;
  o.rate_limit_burst = 3;
  StartServer(o);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Call("GET", "/v1/threads", "", kOperatorToken).status, 200);
  const auto r = Call("GET", "/v1/threads", "", kOperatorToken);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(ErrorCode(r), "rate_limited");
  ASSERT_TRUE(r.RetryAfter());
  EXPECT_GE(*r.RetryAfter(), Millis(1'000));
  EXPECT_LE(*r.RetryAfter(), Millis(2'000));
  EXPECT_EQ(Call("GET", "/v1/threads", "", kOtherOperatorToken).status, 200)
      << "another token is not slowed down";
  EXPECT_EQ(Call("POST", "/v1/messages", Message("hi"), kServiceToken).status, 202);
}

// Intake is group-committed (api/intake.h): requests arriving together share a transaction, and
// each still gets its own answer.
TEST_F(ApiTest, ConcurrentMessagesAreCommittedTogetherAndEachAnsweredAlone) {
  constexpr int kClients = 40;
  std::vector<integrations::HttpResponse> answers(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back([&, i] {
      answers[i] = PostMessage("hello " + std::to_string(i), "c-" + std::to_string(i),
                               "+155555510" + std::to_string(10 + i));
    });
  for (auto& c : clients) c.join();
  std::set<int64_t> message_ids;
  for (int i = 0; i < kClients; ++i) {
    ASSERT_EQ(answers[i].status, 202) << answers[i].body;
    const json a = Body(answers[i]);
    message_ids.insert(a["message_id"].get<int64_t>());
    EXPECT_EQ(Text("SELECT body FROM messages WHERE id = $1", {a["message_id"].get<int64_t>()}),
              "hello " + std::to_string(i))
        << "each answer names its own message";
  }
  EXPECT_EQ(message_ids.size(), static_cast<std::size_t>(kClients));
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), kClients);
  const std::string m = Call("GET", "/metrics").body;
  EXPECT_NE(m.find("clubos_intake_messages_total 40\n"), std::string::npos) << m;
  const std::string sample = "\nclubos_intake_transactions_total ";
  const auto at = m.find(sample);
  ASSERT_NE(at, std::string::npos);
  const int transactions = std::stoi(m.substr(at + sample.size()));
  EXPECT_GE(transactions, 1);
  EXPECT_LE(transactions, kClients);
}
