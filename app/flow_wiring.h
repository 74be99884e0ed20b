#pragma once
// The customer flow assembled for a process: configuration, router, facility, and the job kinds
// registered. `clubos worker --config`, the demo and `clubos bench flow` all build it here.
#include <memory>
#include <string>

#include "core/config.h"
#include "workers/job.h"
#include "workflows/fake_facility.h"
#include "workflows/flow.h"
#include "workflows/router.h"

namespace clubos::app {

struct FlowWiring {
  FlowWiring(Config cfg, std::unique_ptr<workflows::FakeFacility> fac, workers::Registry& registry)
      : config(std::move(cfg)),
        router(config.router),
        facility(std::move(fac)),
        flow(config, router, *facility, SystemClock::Instance()) {
    flow.Register(registry);
  }
  Config config;
  workflows::PatternRouter router;
  std::unique_ptr<workflows::FakeFacility> facility;  // until the vendor adapters land
  workflows::Flow flow;
};

}  // namespace clubos::app
