#include "tests/support/flow_fixture.h"

namespace clubos::pgtest {

Config FastFlowConfig() {
  Config c = Config::Load(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json");
  c.flow.debounce = Millis(0);
  c.flow.confirmation_ttl = Millis(60'000);
  c.flow.verify_timeout = Millis(1'000);
  c.integrations.verify_timeout.clear();  // one deadline for every kind
  c.flow.verify_poll = Millis(50);
  c.flow.close_after = Millis(60'000);
  c.flow.retry_base = Millis(10);
  c.flow.retry_cap = Millis(40);
  return c;
}

void FlowFixture::SetUp() {
  CLUBOS_REQUIRE_PG();
  ResetDatabase();
  db_ = Connect();
  db = db_.get();
  facility_ = std::make_unique<sim::FakeFacility>(TestDatabaseUrl());
  db_->ExecRawOne("TRUNCATE fake_facility_calls, fake_facility_faults");
  StartWorkers();
}

void FlowFixture::TearDown() {
  if (runtime_) runtime_->Stop();
}

void FlowFixture::StartWorkers() {
  router_ = std::make_unique<workflows::PatternRouter>(config_.router);
  flow_ = std::make_unique<workflows::Flow>(config_, *router_, *facility_, SystemClock::Instance());
  registry_ = std::make_unique<workers::Registry>();
  flow_->Register(*registry_);
  workers::RuntimeOptions opt;
  opt.database_url = TestDatabaseUrl();
  opt.concurrency = 4;
  opt.rescue_interval = Millis(100);
  flow_->HearKnowledge(opt);
  runtime_ = std::make_unique<workers::Runtime>(opt, *registry_, SystemClock::Instance());
  runtime_->Start();
}

void FlowFixture::StopWorkers() {
  runtime_->Stop();
  runtime_.reset();
}

workflows::IntakeResult FlowFixture::Intake(const std::string& from, const std::string& line,
                                            const std::string& body,
                                            const std::string& external_id) {
  return flow_->Intake(*db_, {from, line, body, external_id});
}

}  // namespace clubos::pgtest
