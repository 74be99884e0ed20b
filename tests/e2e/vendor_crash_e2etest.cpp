// A real `clubos worker` acting through the vendor adapters is killed (SIGKILL) while its door
// unlock is on the wire to `clubos sim`'s console; the worker that takes over looks at the door
// log before acting. The simulator's call log proves the door was unlocked exactly once.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "sim/fake_facility.h"
#include "store/db.h"
#include "tests/support/history.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"
#include "tests/support/sim_facility.h"
#include "workflows/flow.h"
#include "workflows/router.h"

using namespace clubos;
using namespace clubos::workflows;
using pgtest::WaitFor;
using sim::FakeFacility;

namespace {

constexpr const char* kFrontDoor = "0ed545f8-2fcd-4839-9021-b39e707f6aa9";

// A worker process, killed when the test ends whatever happened.
class Worker {
 public:
  Worker(const std::string& url, const std::string& config, const std::string& name) {
    std::vector<std::string> env = {"CLUBOS_DATABASE_URL=" + url, "CLUBOS_LOG_LEVEL=critical"};
    for (const char* secret :
         {"CLUBOS_OPENPHONE_API_KEY", "CLUBOS_NINJAONE_CLIENT_ID", "CLUBOS_NINJAONE_CLIENT_SECRET",
          "CLUBOS_UNIFI_TOKEN", "CLUBOS_SLACK_WEBHOOK_URL"})
      env.push_back(std::string(secret) + "=" + std::getenv(secret));
    pid_ =
        pgtest::SpawnClubos({"worker", "--config", config, "--facility", "vendors", "--concurrency",
                             "2", "--lease-ms", "1000", "--poll-ms", "100", "--name", name},
                            env);
  }
  ~Worker() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      pgtest::WaitExit(pid_);
    }
  }
  int Stop(int sig) {
    ::kill(pid_, sig);
    const int rc = pgtest::WaitExit(pid_);
    pid_ = 0;
    return rc;
  }

 private:
  pid_t pid_ = 0;
};

}  // namespace

TEST(VendorCrash, AWorkerKilledMidUnlockNeverUnlocksTheDoorTwice) {
  CLUBOS_REQUIRE_PG();
  pgtest::ResetDatabase();
  const std::string url = pgtest::TestDatabaseUrl();
  // The simulator runs in this process; the workers inherit the vendors' secrets it set.
  simtest::SimFacility sim(
      Config::Load(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json"),
      SystemClock::Instance());
  const std::string config_path = simtest::WriteSimConfig(
      sim.url(), 5000, "/tmp/clubos-vendor-crash-" + std::to_string(::getpid()) + ".json");
  const Config config = Config::Load(config_path);
  PatternRouter router(config.router);
  auto fake = FakeFacility::InMemory();  // intake only: this process never acts
  Flow flow(config, router, *fake, SystemClock::Instance());
  auto db = pgtest::Connect();
  pgtest::BookNow(*db, "bedford", "+15555550100");
  auto state = [&](int64_t id) {
    return db->ExecSql("SELECT state FROM threads WHERE id = $1", {id}).At(0, 0).Str();
  };

  auto doomed = std::make_unique<Worker>(url, config_path, "doomed");
  const auto in = flow.Intake(*db, {"+15555550100", "+15555550199", "door keypad is dead", ""});
  ASSERT_TRUE(WaitFor([&] { return state(in.thread_id) == "awaiting_confirmation"; }));
  // The console will take 1.5 s to answer the unlock: the worker dies while waiting for it.
  ASSERT_EQ(sim.Fault(std::string("unifi:") + kFrontDoor, "slow", 1, 1'500), 201);
  flow.Intake(*db, {"+15555550100", "+15555550199", "YES", ""});
  ASSERT_TRUE(WaitFor([&] {
    return db->ExecRawOne(
                 "SELECT count(*) FROM actions WHERE kind = 'unlock_door' AND state = "
                 "'executing'")
               .At(0, 0)
               .Int64() == 1;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the PUT is on the wire
  doomed->Stop(SIGKILL);

  Worker heir(url, config_path, "heir");
  ASSERT_TRUE(WaitFor([&] { return state(in.thread_id) == "verified"; }, Millis(20'000)))
      << "the heir found the opening in the door log";
  EXPECT_EQ(heir.Stop(SIGTERM), 0);

  EXPECT_EQ(sim.Count("unifi", "PUT", "/unlock", /*only_2xx=*/false), 1)
      << "the door was unlocked exactly once";
  EXPECT_EQ(db->ExecRawOne("SELECT count(*) FROM actions WHERE kind = 'unlock_door' AND state = "
                           "'verified' AND attempt = 1")
                .At(0, 0)
                .Int64(),
            1)
      << "entered `executing` once: the heir did not start it again";
  pgtest::ExpectValidHistories(*db);
}
