// Real `clubos worker --config` processes run the customer flow while random workers are killed
// with SIGKILL, many of them between committing `executing` and the facility's answer. Afterwards:
// no door was unlocked twice (the facility's own call log says so), every thread rests (verified,
// closed or escalated), and every history is a valid walk through the transition tables.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "sim/fake_facility.h"
#include "store/db.h"
#include "tests/support/history.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"
#include "workflows/engine.h"
#include "workflows/flow.h"

using namespace clubos;
using namespace clubos::workflows;
using sim::FakeFacility;

namespace {

std::string WriteFastConfig() {
  std::ifstream in(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str());
  j["flow"] = {{"debounce_ms", 0},     {"confirmation_ttl_ms", 120000}, {"verify_timeout_ms", 3000},
               {"verify_poll_ms", 50}, {"close_after_ms", 600000},      {"retry_base_ms", 20},
               {"retry_cap_ms", 200}};
  j["integrations"].erase("verify_timeout_ms");  // one deadline for every kind here
  // Crash safety, not the policy's brakes: 20 customers reset 6 bays here.
  j["policy"]["tech"]["cooldown_seconds"] = 0;
  j["policy"]["limits"]["max_resets_per_bay_per_hour"] = 1000;
  j["integrations"]["call_timeout_ms"] = 300;  // how long a lost call may still land
  const std::string path = "/tmp/clubos-crash-config-" + std::to_string(::getpid()) + ".json";
  std::ofstream(path) << j.dump(2);
  return path;
}

pid_t SpawnWorker(const std::string& url, const std::string& config, int index) {
  return pgtest::SpawnClubos(
      {"worker", "--config", config, "--facility", "fake", "--concurrency", "4", "--lease-ms",
       "1000", "--batch", "10", "--poll-ms", "200", "--name", "flowcrash" + std::to_string(index)},
      {"CLUBOS_DATABASE_URL=" + url, "CLUBOS_FAKE_FACILITY_LATENCY_MS=40",
       "CLUBOS_LOG_LEVEL=critical"});
}

}  // namespace

TEST(FlowCrash, KilledWorkersNeverUnlockADoorTwiceAndLeaveNoThreadHanging) {
  CLUBOS_REQUIRE_PG();
  pgtest::ResetDatabase();
  const std::string url = pgtest::TestDatabaseUrl();
  const std::string config_path = WriteFastConfig();
  const Config config = Config::Load(config_path);
  PatternRouter router(config.router);
  FakeFacility facility(url);
  Flow flow(config, router, facility, SystemClock::Instance());
  auto db = pgtest::Connect();
  db->ExecRawOne("TRUNCATE fake_facility_calls, fake_facility_faults");
  auto scalar = [&](const std::string& sql) { return db->ExecRawOne(sql).At(0, 0).Int64(); };

  std::vector<pid_t> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(SpawnWorker(url, config_path, i));
  constexpr int kCustomers = 40;
  auto phone = [](int i) { return "+1555123" + std::to_string(1000 + i); };
  for (int i = 0; i < kCustomers; ++i) pgtest::BookNow(*db, "bedford", phone(i));
  for (int i = 0; i < kCustomers; ++i)
    flow.Intake(*db, {phone(i), "+15555550199",
                      i % 2 ? "my code isn't opening the front door"
                            : "trackman frozen in bay " + std::to_string(1 + i % 6),
                      ""});

  std::mt19937 rng(112211);  // replayable
  int kills = 0;
  bool confirmed = false;
  for (int round = 0; round < 200 && kills < 12; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 100));
    if (!confirmed &&
        scalar("SELECT count(*) FROM threads WHERE state = 'awaiting_confirmation'") ==
            kCustomers) {
      for (int i = 0; i < kCustomers; ++i) flow.Intake(*db, {phone(i), "+15555550199", "YES", ""});
      confirmed = true;
    }
    if (!confirmed) continue;
    const std::size_t victim = rng() % workers.size();
    ::kill(workers[victim], SIGKILL);
    pgtest::WaitExit(workers[victim]);
    workers[victim] = SpawnWorker(url, config_path, 100 + kills);
    ++kills;
  }
  ASSERT_TRUE(confirmed) << "the threads never all reached awaiting_confirmation";

  for (int i = 0; i < 600; ++i) {
    if (scalar("SELECT count(*) FROM threads WHERE state NOT IN ('verified', 'closed', "
               "'escalated')") == 0 &&
        scalar("SELECT count(*) FROM jobs WHERE kind IN ('execute_action', 'verify_action', "
               "'send_message')") == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto pid : workers) ::kill(pid, SIGTERM);
  for (auto pid : workers) pgtest::WaitExit(pid);

  EXPECT_EQ(
      scalar("SELECT count(*) FROM threads WHERE state NOT IN ('verified', 'closed', 'escalated')"),
      0)
      << "every thread rests";
  EXPECT_EQ(
      scalar("SELECT count(*) FROM (SELECT idempotency_key FROM fake_facility_calls WHERE kind = "
             "'unlock_door' GROUP BY 1 HAVING count(*) > 1) d"),
      0)
      << "a door was unlocked twice";
  EXPECT_EQ(
      scalar("SELECT count(*) FROM (SELECT idempotency_key FROM fake_facility_calls WHERE kind = "
             "'send_message' GROUP BY 1 HAVING count(*) > 1) d"),
      0)
      << "an SMS was sent twice";
  EXPECT_EQ(scalar("SELECT count(*) FROM actions a WHERE a.kind = 'unlock_door' AND a.state = "
                   "'verified' AND NOT "
                   "EXISTS (SELECT 1 FROM fake_facility_calls c WHERE c.idempotency_key = "
                   "a.idempotency_key)"),
            0)
      << "an action claims success that the facility never saw";
  pgtest::ExpectValidHistories(*db);
  std::printf(
      "killed %d workers; threads verified %lld, escalated %lld (inconclusive %lld); unlock calls "
      "%lld\n",
      kills,
      static_cast<long long>(scalar("SELECT count(*) FROM threads WHERE state = 'verified'")),
      static_cast<long long>(scalar("SELECT count(*) FROM threads WHERE state = 'escalated'")),
      static_cast<long long>(
          scalar("SELECT count(*) FROM threads WHERE escalation_reason = 'inconclusive'")),
      static_cast<long long>(
          scalar("SELECT count(*) FROM fake_facility_calls WHERE kind = 'unlock_door'")));
  EXPECT_GE(kills, 5);
  std::remove(config_path.c_str());
}
