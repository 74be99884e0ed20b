#pragma once
// The customer flow against real Postgres, the database-backed fake facility and real workers:
// the set-up the flow's pg suites share. A suite adjusts `config_` in its constructor; a test that
// changes it later restarts the workers (StopWorkers, then StartWorkers builds the flow anew).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/config.h"
#include "sim/fake_facility.h"
#include "store/db.h"
#include "tests/support/pg.h"
#include "workers/runtime.h"
#include "workflows/flow.h"
#include "workflows/router.h"

namespace clubos::pgtest {

// The example facility with timings that make a flow test take a second, not minutes.
Config FastFlowConfig();

class FlowFixture : public ::testing::Test, protected FlowReads {
 protected:
  void SetUp() override;
  void TearDown() override;
  // (Re)builds the router and the flow from config_ and starts four workers.
  void StartWorkers();
  void StopWorkers();
  workflows::IntakeResult Intake(const std::string& from, const std::string& line,
                                 const std::string& body, const std::string& external_id = "");

  Config config_ = FastFlowConfig();
  std::unique_ptr<store::Connection> db_;
  std::unique_ptr<sim::FakeFacility> facility_;
  std::unique_ptr<workflows::PatternRouter> router_;
  std::unique_ptr<workflows::Flow> flow_;
  std::unique_ptr<workers::Registry> registry_;
  std::unique_ptr<workers::Runtime> runtime_;
};

}  // namespace clubos::pgtest
