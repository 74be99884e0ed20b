// Operations over real HTTP: liveness, readiness (and its fall while draining, with in-flight
// requests finishing), the Prometheus metrics, the route table, unknown routes, a database that
// is not there (503 without internals), and development mode.
#include <regex>
#include <thread>

#include "api/metrics.h"
#include "tests/api/api_fixture.h"

using namespace clubos;
using namespace clubos::apitest;

TEST_F(ApiTest, LivenessAndReadiness) {
  auto r = Call("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["status"], "ok");
  r = Call("GET", "/readyz");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Body(r)["ready"].get<bool>());
  EXPECT_EQ(Body(r)["checks"]["schema"], "current");
  EXPECT_EQ(Body(r)["checks"]["database"], "reachable");
}

TEST_F(ApiTest, DrainingTurnsReadinessOffWhileInFlightRequestsFinish) {
  // Hold the conversation's thread row: an intake for it waits on the lock, in flight.
  ASSERT_EQ(PostMessage("hello").status, 202);
  auto blocker = pgtest::Connect();
  std::mutex mu;
  std::condition_variable cv;
  bool locked = false, release = false;
  std::thread holder([&] {
    blocker->Transact("hold", [&](store::Tx& tx) {
      tx.ExecRaw("SELECT id FROM threads WHERE customer_phone = '" + std::string(kCustomer) +
                 "' FOR UPDATE");
      std::unique_lock lk(mu);
      locked = true;
      cv.notify_all();
      cv.wait(lk, [&] { return release; });
    });
  });
  {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return locked; });
  }
  integrations::HttpResponse slow;
  std::thread client([&] { slow = PostMessage("are you there?"); });
  ASSERT_TRUE(pgtest::WaitFor([&] {
    return Scalar(
               "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
               "application_name LIKE 'clubos-api%'") == 1;
  })) << "the request is waiting on the row lock";

  server_->BeginDrain();
  auto r = Call("GET", "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(ErrorCode(r), "not_ready");
  EXPECT_TRUE(Body(r)["checks"]["draining"].get<bool>());
  EXPECT_EQ(Call("GET", "/healthz").status, 200) << "alive while draining";
  EXPECT_EQ(Call("GET", "/v1/threads", "", kOperatorToken).status, 200)
      << "requests that still arrive are served";
  EXPECT_FALSE(server_->WaitIdle(Millis(100))) << "one request is in flight";
  {
    std::lock_guard lk(mu);
    release = true;
  }
  cv.notify_all();
  holder.join();
  EXPECT_TRUE(server_->WaitIdle(Millis(10'000)));
  client.join();
  EXPECT_EQ(slow.status, 202) << "the in-flight request finished: " << slow.body;
  server_->Stop();
  EXPECT_EQ(Scalar("SELECT count(*) FROM messages"), 2);
}

TEST_F(ApiTest, MetricsInThePrometheusTextFormat) {
  StartWorkers();
  const int64_t thread =
      Body(PostMessage("can I talk to a real person"))["thread_id"].get<int64_t>();
  ASSERT_TRUE(ReachesState(thread, "escalated"));
  ASSERT_EQ(Call("GET", "/v1/threads/999", "", kOperatorToken).status, 404);
  ASSERT_EQ(Call("GET", "/nowhere").status, 404);
  const auto r = Call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = r.body;
  for (const char* want : {
           "clubos_http_requests_total{method=\"POST\",route=\"/v1/messages\",status=\"202\"} 1\n",
           "clubos_http_requests_total{method=\"GET\",route=\"/v1/threads/:id\",status=\"404\"} "
           "1\n",
           "clubos_http_requests_total{method=\"GET\",route=\"(none)\",status=\"404\"} 1\n",
           "clubos_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/messages\","
           "le=\"+Inf\"} 1\n",
           "clubos_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/messages\"} 1\n",
           "clubos_transitions_total{machine=\"thread\",event=\"message_received\"} 1\n",
           "clubos_transitions_total{machine=\"thread\",event=\"escalated\"} 1\n",
           "clubos_escalations_total{reason=\"operator_requested\"} 1\n",
           "clubos_metrics_database_up 1\n",
           "# TYPE clubos_jobs gauge\n",
           "# TYPE clubos_job_start_latency_seconds histogram\n",
           "# TYPE clubos_http_request_duration_seconds histogram\n",
           "clubos_api_draining 0\n",
       })
    EXPECT_NE(m.find(want), std::string::npos) << want << "\nin:\n" << m;
  EXPECT_NE(m.find("clubos_jobs{queue=\"default\",state="), std::string::npos) << m;
  // Every line is a comment or `name{labels} value`.
  const std::regex sample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$)");
  std::istringstream lines(m);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("# ", 0) != 0) {
      EXPECT_TRUE(std::regex_match(line, sample)) << line;
    }
}

// Counted incrementally: settled rows are folded in once, newer ones counted at each scrape.
TEST_F(ApiTest, TransitionCountsAccumulateAcrossScrapesWithoutCountingTwice) {
  auto o = Options();
  o.metrics_settle_window = Millis(0);  // every committed row is settled at once
  StartServer(o);
  auto count = [&] {
    const std::string m = Call("GET", "/metrics").body;
    const std::string sample =
        "\nclubos_transitions_total{machine=\"thread\",event=\"message_received\"} ";
    const auto at = m.find(sample);
    return at == std::string::npos ? -1 : std::stoi(m.substr(at + sample.size()));
  };
  EXPECT_EQ(count(), -1) << "nothing yet";
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(PostMessage("hi", "", "+1555555040" + std::to_string(i)).status, 202);
  EXPECT_EQ(count(), 3);
  EXPECT_EQ(count(), 3) << "a second scrape counts nothing twice";
  for (int i = 3; i < 5; ++i)
    ASSERT_EQ(PostMessage("hi", "", "+1555555040" + std::to_string(i)).status, 202);
  EXPECT_EQ(count(), 5);
}

TEST_F(ApiTest, TheServerRegistersExactlyTheRouteTable) {
  std::vector<std::pair<std::string, std::string>> want;
  for (const auto& r : api::RouteTable()) want.emplace_back(r.method, r.pattern);
  EXPECT_EQ(server_->RegisteredRoutes(), want);
}

TEST_F(ApiTest, UnknownRoutesAndMethodsAnswerInTheErrorShape) {
  auto r = Call("GET", "/v2/threads", "", kOperatorToken);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "not_found");
  r = Call("DELETE", "/v1/threads/1", "", kOperatorToken);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(ErrorCode(r), "method_not_allowed");
  EXPECT_EQ(r.headers["allow"], "GET");
}

TEST_F(ApiTest, WithoutItsDatabaseTheApiAnswers503AndLeaksNothing) {
  auto o = Options();
  const std::string url = pgtest::TestDatabaseUrl();
  o.database_url = url.substr(0, url.rfind('/') + 1) + "no_such_database_here";
  o.db_acquire_timeout = Millis(500);
  StartServer(o);
  auto r = PostMessage("hello");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(ErrorCode(r), "database_unavailable");
  EXPECT_EQ(r.body.find("no_such_database_here"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("FATAL"), std::string::npos) << r.body;
  r = Call("GET", "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Body(r)["checks"]["database"], "unreachable");
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  r = Call("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("clubos_metrics_database_up 0\n"), std::string::npos);
}

TEST_F(ApiTest, DevelopmentModeWithoutTokensLetsEveryCallerActAsDev) {
  auto o = Options();
  o.insecure_dev = true;
  StartServer(o, api::TokenSet::Parse(""));
  EXPECT_EQ(Call("POST", "/v1/messages", Message("hello")).status, 202);
  EXPECT_EQ(PostMessage("hello again").status, 202) << "a token is not looked at";
  EXPECT_EQ(Call("GET", "/v1/threads").status, 200);
  // With tokens configured, development mode changes nothing.
  StartServer(o);
  EXPECT_EQ(Call("GET", "/v1/threads").status, 401);
}

TEST_F(ApiTest, WithoutTokensAndWithoutDevelopmentModeNothingIsOpen) {
  StartServer(Options(), api::TokenSet::Parse(""));
  EXPECT_EQ(Call("GET", "/v1/threads").status, 401);
  EXPECT_EQ(Call("GET", "/v1/threads", "", kOperatorToken).status, 401);
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
}

// Failed authentication is throttled per client address (defect L10: 300 wrong device keys in
// 0.1 s and 150 wrong tokens all got 401): past the limit, 429 with Retry-After, for the right
// credential too (else guessing goes on), until the window ends.
TEST_F(ApiTest, FailedAuthenticationIsThrottledPerAddress) {
  api::ApiOptions o = Options();
  o.auth_failures_max = 5;
  o.auth_failure_window = Millis(1'500);
  StartServer(o);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(Call("GET", "/v1/threads", "", "wrong-token-" + std::to_string(100000 + i)).status,
              401);
  auto r = Call("GET", "/v1/threads", "", "wrong-token-999999");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(ErrorCode(r), "too_many_failures");
  ASSERT_TRUE(r.RetryAfter());
  EXPECT_LE(*r.RetryAfter(), Millis(2'000));
  r = Call("GET", "/v1/threads", "", kOperatorToken);
  EXPECT_EQ(r.status, 429) << "the right token waits too";
  r = Call("GET", "/v1/agent/poll", "", "", {{"X-Device-Key", "agent-key-201-0123456789"}});
  EXPECT_EQ(r.status, 429) << "so does a device key from the same address";
  EXPECT_EQ(Call("GET", "/healthz").status, 200) << "what needs no credential is open";
  EXPECT_EQ(Call("GET", "/v1/threads").status, 401) << "no credential is no guess";

  // The window ends: the right token works, and wrong device keys count the same way.
  ASSERT_TRUE(pgtest::WaitFor(
      [&] { return Call("GET", "/v1/threads", "", kOperatorToken).status == 200; }, Millis(5'000)));
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(
        Call("GET", "/v1/agent/poll", "", "", {{"X-Device-Key", "not-a-key-0123456789"}}).status,
        401);
  r = Call("GET", "/v1/agent/poll", "", "", {{"X-Device-Key", "agent-key-201-0123456789"}});
  EXPECT_EQ(r.status, 429) << r.body;
}

TEST(FailureThrottle, CountsFailuresPerAddressWithinAWindow) {
  api::FailureThrottle t(3, Millis(1'000));
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(t.Blocked("10.0.0.1", t0));
    t.Failed("10.0.0.1", t0 + Millis(i));
  }
  ASSERT_TRUE(t.Blocked("10.0.0.1", t0 + Millis(10)));
  EXPECT_EQ(*t.Blocked("10.0.0.1", t0 + Millis(10)), Millis(990));
  EXPECT_FALSE(t.Blocked("10.0.0.2", t0 + Millis(10))) << "per address";
  EXPECT_FALSE(t.Blocked("10.0.0.1", t0 + Millis(1'000))) << "the window ended";
  t.Failed("10.0.0.1", t0 + Millis(1'001));
  EXPECT_FALSE(t.Blocked("10.0.0.1", t0 + Millis(1'002))) << "a new window counts afresh";
  api::FailureThrottle off(0, Millis(1'000));
  for (int i = 0; i < 100; ++i) off.Failed("10.0.0.1", t0);
  EXPECT_FALSE(off.Blocked("10.0.0.1", t0));
}
