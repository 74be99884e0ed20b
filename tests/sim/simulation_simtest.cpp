// The `sim` tier: the seeded deterministic simulation of the whole flow (docs/simulation.md)
// against real Postgres. Each case searches a block of seeds; together at least 200. A failing
// seed is printed with its invariant and replays with `clubos simulate --seed N --trace`.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "simulation/history.h"
#include "simulation/simulator.h"
#include "tests/support/pg.h"

namespace clubos {
namespace {

simulation::Simulator& Sim() {
  static simulation::Simulator sim(
      pgtest::TestDatabaseUrl(),
      simulation::SimulationConfig(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json"),
      {.messages_path = std::string(CLUBOS_SOURCE_DIR) + "/tests/data/messages.json"});
  return sim;
}

struct Totals {
  int calls = 0, crashes = 0, jobs = 0;
};

Totals SearchSeeds(uint64_t first, uint64_t count) {
  Totals t;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    const auto r = Sim().Run(seed);
    t.calls += r.calls;
    t.crashes += r.crashes;
    t.jobs += r.jobs_run;
    EXPECT_TRUE(r.ok) << "seed " << seed << ": invariant " << r.invariant << ": " << r.detail
                      << "\nreplay: clubos simulate --seed " << seed << " --trace";
  }
  return t;
}

class SimulationSeeds : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { CLUBOS_REQUIRE_PG(); }
};

// 4 blocks of 60 seeds: ctest runs them side by side.
TEST_P(SimulationSeeds, EveryInvariantHoldsAfterEveryStep) {
  const uint64_t block = 60;
  const auto t = SearchSeeds(1 + static_cast<uint64_t>(GetParam()) * block, block);
  // The block did exercise the flow: jobs ran, the facility was called, processes crashed.
  EXPECT_GT(t.jobs, static_cast<int>(block) * 5);
  EXPECT_GT(t.calls, static_cast<int>(block));
  EXPECT_GT(t.crashes, 0);
}

INSTANTIATE_TEST_SUITE_P(Blocks, SimulationSeeds, ::testing::Values(0, 1, 2, 3));

TEST(Simulation, ASeedReplaysExactly) {
  CLUBOS_REQUIRE_PG();
  for (uint64_t seed : {7u, 4242u}) {
    const auto a = Sim().Run(seed);
    const auto b = Sim().Run(seed);
    EXPECT_GT(a.trace.size(), 3u);
    EXPECT_EQ(a.fingerprint, b.fingerprint) << "seed " << seed;
    EXPECT_EQ(a.trace, b.trace) << "seed " << seed;
  }
  // And another seed is another world.
  EXPECT_NE(Sim().Run(8).fingerprint, Sim().Run(9).fingerprint);
}

TEST(Simulation, TheHistoryWalkRefusesWhatTheTablesDoNot) {
  simulation::HistoryWalk walk;
  EXPECT_EQ(walk.Feed({1, "action", 1, std::nullopt, "policy_decided", "routed"}), "");
  EXPECT_EQ(walk.Feed({2, "action", 1, "routed", "execution_started", "executing"}), "");
  // Not where the history ended.
  EXPECT_NE(walk.Feed({3, "action", 1, "routed", "execution_started", "executing"}), "");
  // Not an event of the table from that state.
  simulation::HistoryWalk other;
  EXPECT_EQ(other.Feed({1, "thread", 1, std::nullopt, "message_received", "received"}), "");
  EXPECT_NE(other.Feed({2, "thread", 1, "received", "verification_passed", "verified"}), "");
  EXPECT_EQ(other.states().at({"thread", 1}), "verified");
}

}  // namespace
}  // namespace clubos
