// The real `clubos sim` process: it reads the example facility, says which port it took, serves
// a vendor call that shows in its call log, and stops with exit 0 on SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "integrations/http.h"
#include "tests/support/process.h"

using namespace clubos;
using nlohmann::json;

namespace {

const std::string kConfig = std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json";
const std::string kPrefix = "clubos sim listening on 127.0.0.1:";

}  // namespace

TEST(SimProcess, ServesOnTheAnnouncedPortAndStopsCleanlyOnSigterm) {
  int out = -1;
  const pid_t pid = pgtest::SpawnClubosWithStdout(
      {"sim", "--port", "0", "--config", kConfig},
      {"CLUBOS_UNIFI_TOKEN=e2e-token", "CLUBOS_LOG_LEVEL=error"}, &out);
  ASSERT_GT(pid, 0);
  const auto line = pgtest::ReadLine(out, Millis(10'000));
  ::close(out);
  if (!line || line->rfind(kPrefix, 0) != 0) {
    ::kill(pid, SIGKILL);
    pgtest::WaitExit(pid);
    FAIL() << "no listening line, got: " << line.value_or("(nothing)");
  }
  const std::string base = "http://127.0.0.1:" + line->substr(kPrefix.size());

  auto r = integrations::Send({.url = base + "/api/v1/developer/doors",
                               .headers = {{"Authorization", "Bearer e2e-token"}}});
  EXPECT_EQ(r.status, 200) << r.error << r.body;
  const json doors = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(doors.is_object()) << r.body;
  EXPECT_EQ(doors["code"], "SUCCESS");
  EXPECT_EQ(doors["data"].size(), 2u) << "the example config's doors";
  r = integrations::Send({.url = base + "/v1/messages/AC1", .headers = {{"Authorization", "k"}}});
  EXPECT_EQ(r.status, 401) << "CLUBOS_OPENPHONE_API_KEY is unset: OpenPhone refuses";

  r = integrations::Send({.url = base + "/_sim/calls?since=0"});
  const json calls = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(calls.is_object()) << r.body;
  ASSERT_EQ(calls["calls"].size(), 2u);
  EXPECT_EQ(calls["calls"][0]["service"], "unifi");
  EXPECT_EQ(calls["calls"][1]["status"], 401);

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  EXPECT_EQ(pgtest::WaitExit(pid), 0) << "SIGTERM must stop the simulator cleanly";
}

TEST(SimProcess, BadUsageAndBadConfigExitWithTheirCodes) {
  const pid_t usage = pgtest::SpawnClubos({"sim", "--port", "http"}, {"CLUBOS_LOG_LEVEL=error"});
  ASSERT_GT(usage, 0);
  EXPECT_EQ(pgtest::WaitExit(usage), 2);
  const pid_t missing = pgtest::SpawnClubos({"sim", "--port", "0", "--config", "/nonexistent.json"},
                                            {"CLUBOS_LOG_LEVEL=error"});
  ASSERT_GT(missing, 0);
  EXPECT_EQ(pgtest::WaitExit(missing), 1);
}
