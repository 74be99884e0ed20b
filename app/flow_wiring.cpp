#include "app/flow_wiring.h"

#include "app/cli.h"
#include "integrations/facility.h"
#include "integrations/llm.h"
#include "sim/fake_facility.h"
#include "store/pool.h"
#include "workflows/agent.h"

namespace clubos::app {

FacilityKind ParseFacilityKind(const std::string& name) {
  if (name == "vendors") return FacilityKind::kVendors;
  if (name == "fake") return FacilityKind::kFakeDb;
  if (name == "memory") return FacilityKind::kFakeInMemory;
  throw UsageError("--facility must be vendors, fake or memory");
}

namespace {

workflows::Integration& Assemble(FlowWiring& w, FacilityKind kind, const std::string& url) {
  switch (kind) {
    case FacilityKind::kFakeInMemory:
      w.facility = sim::FakeFacility::InMemory();
      break;
    case FacilityKind::kFakeDb:
      w.facility = std::make_unique<sim::FakeFacility>(url);
      break;
    case FacilityKind::kVendors:
      w.pool = std::make_unique<store::Pool>(url, 4);
      w.vendors = std::make_unique<integrations::VendorFacility>(w.config, SystemClock::Instance());
      w.facility = std::make_unique<workflows::WithBayAgents>(
          *w.vendors, *w.pool, w.config.integrations.agent_command_ttl, SystemClock::Instance());
      break;
  }
  return *w.facility;
}

}  // namespace

FlowWiring::FlowWiring(Config cfg, FacilityKind kind, const std::string& database_url,
                       workers::Registry& registry)
    : config(std::move(cfg)),
      router(config.router),
      flow(config, router, Assemble(*this, kind, database_url), SystemClock::Instance()) {
  if (config.integrations.llm.Enabled()) {
    model = std::make_unique<integrations::LlmClient>(config.integrations.llm);
    flow.UseModel(*model);
  }
  if (config.integrations.reviewer.Enabled()) {
    reviewer = std::make_unique<integrations::LlmClient>(config.integrations.reviewer.endpoint);
    flow.UseReviewer(*reviewer);
  }
  flow.Register(registry);
}

std::unique_ptr<workers::Runtime> StartModelRuntime(const FlowWiring& wiring,
                                                    workers::RuntimeOptions base,
                                                    const workers::Registry& registry,
                                                    int concurrency) {
  if (!wiring.model && !wiring.reviewer) return nullptr;
  base.name += "-llm";
  base.queues = {workflows::kLlmQueue};
  base.concurrency = concurrency;
  base.maintenance = false;
  base.on_job_ran = nullptr;
  auto runtime = std::make_unique<workers::Runtime>(base, registry, SystemClock::Instance());
  runtime->Start();
  return runtime;
}

FlowWiring::~FlowWiring() = default;

}  // namespace clubos::app
