// The job kinds every `clubos worker` runs. The flow's kinds (route_message, execute_action, ...)
// join them as the workflows land.
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "app/commands.h"
#include "store/db.h"

namespace clubos::app {

void RegisterBuiltinKinds(workers::Registry& registry) {
  // Health probes and queue benchmarks against a real deployment.
  registry.Register({"noop",
                     [](workers::JobContext&) { return workers::Outcome::Complete(); },
                     {},
                     Millis(60'000),
                     {}});

  // Crash tests: records the job in the test's own table in the transaction that completes the
  // job, so "done exactly once" is checkable with SQL. Enabled only by CLUBOS_SELFTEST=1.
  if (const char* on = std::getenv("CLUBOS_SELFTEST"); on && std::string(on) == "1") {
    const char* sleep_env = std::getenv("CLUBOS_SELFTEST_SLEEP_MS");
    const int sleep_ms = sleep_env ? std::atoi(sleep_env) : 0;
    registry.Register({"selftest.record",
                       [sleep_ms](workers::JobContext& ctx) {
                         if (sleep_ms > 0)
                           std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
                         ctx.db().Transact("selftest_record", [&](store::Tx& tx) {
                           // With the job's last error and the attempts given back: what rescues
                           // did to it.
                           tx.ExecRaw(
                               "INSERT INTO selftest_records (job_id, attempt, last_error, "
                               "given_back) SELECT id, " +
                               std::to_string(ctx.job().attempt) +
                               ", last_error, unstarted_rescues FROM jobs WHERE id = " +
                               std::to_string(ctx.job().id));
                           ctx.CompleteInTx(tx);
                         });
                         return workers::Outcome::Complete();
                       },
                       {Millis(50), Millis(1'000), 0.25},
                       Millis(60'000),
                       {}});
  }
}

}  // namespace clubos::app
