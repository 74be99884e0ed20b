#pragma once
// The customer flow assembled for a process: configuration, router, the facility it acts on, and
// the job kinds registered. `clubos worker --config`, `clubos serve`, the demo and `clubos bench
// flow` all build it here.
#include <memory>
#include <string>

#include "core/config.h"
#include "workers/job.h"
#include "workers/runtime.h"
#include "workflows/flow.h"
#include "workflows/integration.h"
#include "workflows/router.h"

namespace clubos::store {
class Pool;
}

namespace clubos::app {

enum class FacilityKind {
  kVendors,       // the real vendors (or `clubos sim`) at the configured URLs; bay agents
  kFakeDb,        // the fake facility recorded in the database (crash tests)
  kFakeInMemory,  // the fake in memory, zero latency (engine benchmarks)
};
// "vendors" | "fake" | "memory"; throws UsageError otherwise.
FacilityKind ParseFacilityKind(const std::string& name);

struct FlowWiring {
  FlowWiring(Config cfg, FacilityKind kind, const std::string& database_url,
             workers::Registry& registry);
  ~FlowWiring();

  Config config;
  workflows::PatternRouter router;
  std::unique_ptr<store::Pool> pool;                 // for bay agents' commands and state
  std::unique_ptr<workflows::Integration> vendors;   // the vendors, or a fake
  std::unique_ptr<workflows::Integration> facility;  // what the flow calls
  std::unique_ptr<workflows::Model> model;           // OperatorGPT, when configured
  std::unique_ptr<workflows::Model> reviewer;        // the knowledge reviewer, when configured
  workflows::Flow flow;
};

// The model calls' executors (OperatorGPT's consultations, the reviewer's runs): a runtime of its
// own on the llm queue, so that they wait for a model without holding the flow's executors
// (`base` gives the database and the names; it runs no maintenance, the main runtime does). Null
// when the flow has neither model.
std::unique_ptr<workers::Runtime> StartModelRuntime(const FlowWiring& wiring,
                                                    workers::RuntimeOptions base,
                                                    const workers::Registry& registry,
                                                    int concurrency);

}  // namespace clubos::app
