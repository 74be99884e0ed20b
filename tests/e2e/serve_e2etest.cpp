// The real `clubos serve --port 0 --workers 2` on a test database: it says where it listens, takes
// a customer's text through the flow with its in-process workers, answers an operator, and exits
// 0 on SIGTERM. It refuses to start without tokens or with a stale schema.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "api/accounts.h"
#include "core/clock.h"
#include "integrations/http.h"
#include "store/db.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"

using namespace clubos;
using nlohmann::json;
using pgtest::WaitFor;

namespace {

constexpr const char* kService = "svc-token-0123456789";
constexpr const char* kOperator = "op-token-0123456789";

std::vector<std::string> Env(const std::string& url, bool tokens = true) {
  std::vector<std::string> env = {"CLUBOS_DATABASE_URL=" + url, "CLUBOS_LOG_LEVEL=warn"};
  if (tokens)
    env.push_back(std::string("CLUBOS_API_TOKENS=service:svc:") + kService +
                  ",operator:ann:" + kOperator);
  return env;
}

std::vector<std::string> ServeArgs() {
  return {"serve",     "--port",   "0",
          "--workers", "2",        "--facility",
          "fake",      "--config", std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json"};
}

integrations::HttpResponse Call(uint16_t port, const std::string& method, const std::string& path,
                                const std::string& token, const std::string& body = "") {
  std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + token}};
  if (!body.empty()) headers["Content-Type"] = "application/json";
  return integrations::Send({.method = method,
                             .url = "http://127.0.0.1:" + std::to_string(port) + path,
                             .headers = headers,
                             .body = body});
}

}  // namespace

TEST(ServeE2e, TakesATextThroughTheFlowAndExitsZeroOnSigterm) {
  CLUBOS_REQUIRE_PG();
  pgtest::ResetDatabase();
  auto db = pgtest::Connect();
  int out = -1;
  const pid_t pid =
      pgtest::SpawnClubosWithStdout(ServeArgs(), Env(pgtest::TestDatabaseUrl()), &out);
  ASSERT_GT(pid, 0);
  const uint16_t port = pgtest::ReadServePort(out);
  ASSERT_NE(port, 0) << "serve did not say where it listens";

  auto r = Call(
      port, "POST", "/v1/messages", kService,
      R"({"from":"+15555550100","to":"+15555550199","body":"the trackman in bay 3 is frozen"})");
  ASSERT_EQ(r.status, 202) << r.body;
  const int64_t thread = json::parse(r.body)["thread_id"].get<int64_t>();
  auto state = [&] {
    return db->ExecSql("SELECT state FROM threads WHERE id = $1", {thread}).At(0, 0).Str();
  };
  // The example configuration waits 3 s for the customer to finish typing, then routes.
  ASSERT_TRUE(WaitFor([&] { return state() == "awaiting_confirmation"; }, Millis(20'000)))
      << state();
  const int64_t action =
      db->ExecSql("SELECT id FROM actions WHERE thread_id = $1 AND kind = 'reset_trackman'",
                  {thread})
          .At(0, 0)
          .Int64();
  r = Call(port, "POST", "/v1/actions/" + std::to_string(action) + "/confirm", kOperator);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(WaitFor([&] { return state() == "verified"; }, Millis(20'000))) << state();
  r = Call(port, "GET", "/v1/threads/" + std::to_string(thread), kOperator);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["state"], "verified");
  EXPECT_EQ(Call(port, "GET", "/readyz", "").status, 200);

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  EXPECT_EQ(pgtest::WaitExit(pid), 0);
  EXPECT_FALSE(pgtest::ReadLine(out, Millis(1'000)).has_value()) << "stdout closed";
  ::close(out);
  EXPECT_NE(Call(port, "GET", "/healthz", "").transport, integrations::HttpResponse::Transport::kOk)
      << "nothing listens any more";
}

TEST(ServeE2e, RefusesToStartWithoutTokensOrAccountsUnlessInsecureDev) {
  CLUBOS_REQUIRE_PG();
  pgtest::ResetDatabase();  // no operator account either
  const pid_t pid = pgtest::SpawnClubos(ServeArgs(), Env(pgtest::TestDatabaseUrl(), false));
  ASSERT_GT(pid, 0);
  EXPECT_EQ(pgtest::WaitExit(pid), 2);

  auto args = ServeArgs();
  args.push_back("--insecure-dev");
  int out = -1;
  const pid_t dev =
      pgtest::SpawnClubosWithStdout(args, Env(pgtest::TestDatabaseUrl(), false), &out);
  ASSERT_GT(dev, 0);
  EXPECT_NE(pgtest::ReadLine(out, Millis(30'000)).value_or("").find("listening on"),
            std::string::npos);
  ::kill(dev, SIGTERM);
  EXPECT_EQ(pgtest::WaitExit(dev), 0);
  ::close(out);
}

TEST(ServeE2e, StartsWithOperatorAccountsAndNoTokens) {
  CLUBOS_REQUIRE_PG();
  pgtest::ResetDatabase();
  auto db = pgtest::Connect();
  api::Accounts(SystemClock::Instance()).Add(*db, "ops", api::Role::kOperator, "a long password");
  int out = -1;
  const pid_t pid =
      pgtest::SpawnClubosWithStdout(ServeArgs(), Env(pgtest::TestDatabaseUrl(), false), &out);
  ASSERT_GT(pid, 0);
  EXPECT_NE(pgtest::ReadLine(out, Millis(30'000)).value_or("").find("listening on"),
            std::string::npos)
      << "operators log in with their accounts";
  ::kill(pid, SIGTERM);
  EXPECT_EQ(pgtest::WaitExit(pid), 0);
  ::close(out);
}

TEST(ServeE2e, RefusesADatabaseWhoseSchemaIsNotCurrent) {
  CLUBOS_REQUIRE_PG();
  const std::string empty = pgtest::CreateScratchDatabase("stale");
  const pid_t pid = pgtest::SpawnClubos(ServeArgs(), Env(empty));
  ASSERT_GT(pid, 0);
  EXPECT_EQ(pgtest::WaitExit(pid), 1);
}
