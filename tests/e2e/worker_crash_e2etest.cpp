// Real `clubos worker` processes, killed with SIGKILL at random while they drain jobs whose handler
// records the job in the transaction that completes it. Afterwards every job was done exactly
// once, none was lost, none is left running; and SIGTERM stops a worker cleanly with exit 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/db.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"
#include "workers/queue.h"

using namespace clubos;

namespace {

pid_t SpawnWorker(const std::string& url, int index) {
  return pgtest::SpawnClubos(
      {"worker", "--concurrency", "4", "--lease-ms", "1000", "--batch", "20", "--poll-ms", "200",
       "--grace-ms", "5000", "--name", "crash" + std::to_string(index)},
      {"CLUBOS_DATABASE_URL=" + url, "CLUBOS_SELFTEST=1", "CLUBOS_SELFTEST_SLEEP_MS=3",
       "CLUBOS_LOG_LEVEL=error"});
}

}  // namespace

TEST(WorkerCrash, KilledWorkersLoseNothingAndRepeatNothing) {
  CLUBOS_REQUIRE_PG();
  pgtest::ResetDatabase();
  auto db = pgtest::Connect();
  pgtest::ResetSelftestRecords(*db);
  constexpr int kJobs = 4'000;
  db->Transact("enqueue", [&](store::Tx& tx) {
    std::vector<workers::EnqueueRequest> reqs(
        kJobs, workers::EnqueueRequest{.kind = "selftest.record", .max_attempts = 50});
    workers::EnqueueMany(tx, reqs, SystemClock::Instance());
  });

  const std::string url = pgtest::TestDatabaseUrl();
  std::vector<pid_t> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(SpawnWorker(url, i));
  for (auto pid : workers) ASSERT_GT(pid, 0);

  std::mt19937 rng(20261121);  // a failing run is replayable with this seed
  int kills = 0;
  auto left = [&] { return db->ExecRawOne("SELECT count(*) FROM jobs").At(0, 0).Int64(); };
  while (kills < 15 && left() > kJobs / 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 150));
    const std::size_t victim = rng() % workers.size();
    ::kill(workers[victim], SIGKILL);
    EXPECT_EQ(pgtest::WaitExit(workers[victim]), 128 + SIGKILL);
    workers[victim] = SpawnWorker(url, static_cast<int>(victim) + 10 * (kills + 1));
    ASSERT_GT(workers[victim], 0);
    ++kills;
  }
  EXPECT_GE(kills, 3) << "the run ended before the workers were killed enough to mean anything";

  for (int i = 0; i < 600 && left() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  for (auto pid : workers) ::kill(pid, SIGTERM);
  for (auto pid : workers)
    EXPECT_EQ(pgtest::WaitExit(pid), 0) << "SIGTERM must stop a worker cleanly";

  auto r = db->ExecRawOne("SELECT count(*), count(DISTINCT job_id) FROM selftest_records");
  EXPECT_EQ(r.At(0, 1).Int(), kJobs) << "jobs were lost";
  EXPECT_EQ(r.At(0, 0).Int(), kJobs) << "jobs were completed more than once";
  EXPECT_EQ(left(), 0) << "jobs left in the table (running, available or dead)";
  const auto rescued =
      db->ExecRawOne("SELECT count(*) FROM selftest_records WHERE last_error LIKE 'lease expired%'")
          .At(0, 0)
          .Int();
  EXPECT_GT(rescued, 0) << "no kill hit a worker holding jobs: the test proved nothing";
  // An attempt whose handler never started is given back: the kills cost attempts only of the
  // few jobs that were running long enough to be marked, never of those a worker had queued.
  const auto given_back =
      db->ExecRawOne("SELECT count(*) FROM selftest_records WHERE given_back > 0").At(0, 0).Int();
  EXPECT_GT(given_back, 0) << "no rescued job had its unstarted attempt given back";
  const auto most_attempts =
      db->ExecRawOne("SELECT coalesce(max(attempt - given_back), 0) FROM selftest_records")
          .At(0, 0)
          .Int();
  EXPECT_LE(most_attempts, 4) << "attempts lost to kills of workers that never ran them";
  RecordProperty("kills", kills);
  RecordProperty("jobs_rescued_after_a_kill", rescued);
  std::printf(
      "killed %d workers; %d jobs ran again after a kill (%d with the attempt given back); "
      "most attempts of one job: %d\n",
      kills, rescued, given_back, most_attempts);
}
