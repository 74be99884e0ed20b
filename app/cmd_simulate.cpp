// clubos simulate: the seeded deterministic simulation of the whole flow (docs/simulation.md).
// One seed replays exactly (--seed N); a range searches for a failing one (--seeds N).
#include <chrono>
#include <cstdio>
#include <memory>

#include "app/cli.h"
#include "app/commands.h"
#include "app/private_pg.h"
#include "core/log.h"
#include "simulation/simulator.h"
#include "store/db.h"
#include "store/migrator.h"

namespace clubos::app {

namespace {

void PrintFailure(const simulation::SimResult& r, bool whole_trace) {
  std::printf("seed %llu FAILED: invariant %s: %s\n", static_cast<unsigned long long>(r.seed),
              r.invariant.c_str(), r.detail.c_str());
  const std::size_t from = whole_trace || r.trace.size() < 60 ? 0 : r.trace.size() - 60;
  if (from) std::printf("  ... (%zu earlier steps; --trace shows them)\n", from);
  for (std::size_t i = from; i < r.trace.size(); ++i) std::printf("  %s\n", r.trace[i].c_str());
  std::printf("replay: clubos simulate --seed %llu --trace\n",
              static_cast<unsigned long long>(r.seed));
}

}  // namespace

int CmdSimulate(const Args& args) {
  Flags f(args,
          {"--seed", "--seeds", "--first", "--database-url", "--config", "--messages",
           "--customers-min", "--customers-max"},
          {"--help", "--trace", "--keep-going"});
  if (f.Has("--help")) {
    std::puts(
        "usage: clubos simulate --seed N [--trace]\n"
        "       clubos simulate --seeds COUNT [--first 1] [--keep-going]\n"
        "         [--database-url URL] [--config clubos.example.json] [--messages messages.json]\n"
        "         [--customers-min 3] [--customers-max 8]\n"
        "  runs the whole customer flow against a simulated facility on a fake clock, one job at\n"
        "  a time, with the faults, crashes, duplicate webhooks and operator controls the seed\n"
        "  chooses, checking the invariants after every step (docs/simulation.md). --seed replays\n"
        "  one seed exactly (--trace prints every step); --seeds searches COUNT seeds from\n"
        "  --first and reports seeds per minute, stopping at the first failure unless\n"
        "  --keep-going. The database is EMPTIED before every seed: without --database-url a\n"
        "  private PostgreSQL is started for the run. Exit 1 when a seed fails.");
    return 0;
  }
  if (!f.positional().empty()) throw UsageError("unexpected argument '" + f.positional()[0] + "'");
  if (f.Has("--seed") == f.Has("--seeds")) throw UsageError("give --seed N or --seeds COUNT");
  const auto max = static_cast<long long>(INT64_MAX);
  const uint64_t first = static_cast<uint64_t>(f.Has("--seed") ? f.Int("--seed", 1, 0, max)
                                                               : f.Int("--first", 1, 0, max));
  const uint64_t count =
      f.Has("--seed") ? 1 : static_cast<uint64_t>(f.Int("--seeds", 1, 1, 1'000'000'000));
  simulation::SimOptions options;
  options.messages_path = f.Str("--messages", CLUBOS_SIMULATION_MESSAGES);
  options.min_customers = static_cast<int>(f.Int("--customers-min", 3, 1, 100));
  options.max_customers = static_cast<int>(f.Int("--customers-max", 8, options.min_customers, 100));
  const bool trace = f.Has("--trace");
  const bool keep_going = f.Has("--keep-going");

  // The flow logs every retry and escalation; thousands of seeds of that say nothing.
  if (!std::getenv("CLUBOS_LOG_LEVEL")) log::Get()->set_level(spdlog::level::off);
  std::unique_ptr<PrivatePostgres> owned;
  std::string url = f.Str("--database-url", "");
  if (url.empty()) {
    owned = std::make_unique<PrivatePostgres>(/*durable=*/false);
    url = owned->url();
  }
  {
    auto conn = store::Connect(url);
    store::Migrate(*conn);
  }
  simulation::Simulator sim(
      url, simulation::SimulationConfig(f.Str("--config", CLUBOS_SIMULATION_CONFIG)), options);

  const auto t0 = std::chrono::steady_clock::now();
  uint64_t ran = 0, failed = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    const auto r = sim.Run(seed);
    ++ran;
    if (count == 1) {
      if (trace)
        for (const auto& line : r.trace) std::printf("%s\n", line.c_str());
      std::printf(
          "seed %llu: %s (%d customers, %d steps, %d jobs, %d calls, %d crashes, "
          "fingerprint %016llx)\n",
          static_cast<unsigned long long>(seed), r.ok ? "ok" : "FAILED", r.customers, r.steps,
          r.jobs_run, r.calls, r.crashes, static_cast<unsigned long long>(r.fingerprint));
    }
    if (!r.ok) {
      ++failed;
      PrintFailure(r, trace && count > 1);
      if (!keep_going) break;
    }
    if (count > 1 && ran % 500 == 0) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "%llu seeds, %.0f seeds/minute\n", static_cast<unsigned long long>(ran),
                   60.0 * static_cast<double>(ran) / s);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (count > 1)
    std::printf("%llu seeds (%llu..%llu) in %.1f s: %.0f seeds/minute, %llu failed\n",
                static_cast<unsigned long long>(ran), static_cast<unsigned long long>(first),
                static_cast<unsigned long long>(first + ran - 1), secs,
                60.0 * static_cast<double>(ran) / secs, static_cast<unsigned long long>(failed));
  return failed ? 1 : 0;
}

}  // namespace clubos::app
