#pragma once
// A seeded, deterministic simulation of the whole customer flow (TigerBeetle's VOPR is the
// model): customers text a simulated facility, the real flow runs over the real schema and
// statements, one job at a time on a fake clock, while the seed injects what goes wrong —
// duplicate and reordered webhook deliveries, late and odd replies, vendor faults, crashes
// between the phases of a job, clock jumps, the emergency stop and the toggles flipped mid-flow.
// After every step the invariants are checked (docs/simulation.md lists them). A failing seed
// replays exactly: `clubos simulate --seed N`.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"

namespace clubos::workflows {
class KnowledgeSnapshot;
}

namespace clubos::store {
class Connection;
}

namespace clubos::simulation {

struct SimOptions {
  int min_customers = 3;
  int max_customers = 8;
  int max_steps = 20'000;  // job runs and events; more means the flow does not come to rest
  // The development set of customer texts (tests/data/messages.json: {"cases": [{"text"}]}).
  std::string messages_path;
  // The facility's knowledge (a folder of knowledge files, docs/knowledge.md): every run routes
  // with it, pinned, so a seed's run does not depend on what a store holds.
  std::string knowledge_dir = CLUBOS_SIMULATION_KNOWLEDGE;
};

struct SimResult {
  uint64_t seed = 0;
  bool ok = true;
  std::string invariant;  // the first one that failed ("" when ok)
  std::string detail;
  int customers = 0;
  int steps = 0;
  int jobs_run = 0;
  int crashes = 0;
  int calls = 0;
  uint64_t fingerprint = 0;  // of the whole trace: two runs of one seed must agree
  std::vector<std::string> trace;
};

class Simulator {
 public:
  // `database_url`: a migrated database the simulation owns (it is emptied before every seed).
  Simulator(const std::string& database_url, Config config, SimOptions options = {});
  ~Simulator();
  SimResult Run(uint64_t seed);

 private:
  struct Run_;
  void Reset();
  std::unique_ptr<store::Connection> db_;
  Config config_;
  SimOptions options_;
  std::shared_ptr<const workflows::KnowledgeSnapshot> knowledge_;
  std::vector<std::string> texts_;
  std::string truncate_sql_;
  Run_* current_ = nullptr;  // the run the connection's before-commit hook belongs to
};

// The example facility with the flow's timings shortened where waiting teaches nothing (the
// verification window) so a seed takes a fraction of a second.
Config SimulationConfig(const std::string& path);

}  // namespace clubos::simulation
