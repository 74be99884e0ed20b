#pragma once
// The customer flow assembled for a process: configuration, router, facility, and the job kinds.
#include <memory>
#include <string>

#include "core/config.h"
#include "workers/job.h"
#include "workflows/fake_facility.h"
#include "workflows/flow.h"
#include "workflows/router.h"

namespace clubos::app {

struct FlowWiring {
  FlowWiring(const std::string& config_path, const std::string& database_url,
             workers::Registry& registry)
      : config(Config::Load(config_path)),
        router(config.router),
        facility(database_url),
        flow(config, router, facility, SystemClock::Instance()) {
    flow.Register(registry);
  }
  Config config;
  workflows::PatternRouter router;
  workflows::FakeFacility facility;
  workflows::Flow flow;
};

}  // namespace clubos::app
