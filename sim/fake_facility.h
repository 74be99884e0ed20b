#pragma once
// A facility in the database: every call the flow makes is a row in fake_facility_calls,
// autocommitted on the fake's own connection, so it survives the worker that made it (crash tests
// count those rows) and the world's state is what those rows say. Faults per device come from
// fake_facility_faults, so a test can set them from another process. The tables are the
// migrations' (0010_fake_facility.sql), the statements schema/queries/fake_facility.sql.
//
// A stand-in for the vendors, as the simulator is, hence sim/: `serve --facility fake`, `worker
// --facility fake`, `bench flow --facility memory` (the in-memory one) and the tests act on it.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "workflows/integration.h"

namespace clubos::store {
class Connection;
}

namespace clubos::sim {

class FakeFacility final : public workflows::Integration {
 public:
  explicit FakeFacility(const std::string& database_url);
  // The same facility kept in this process's memory: zero latency, nothing to count across
  // processes (benchmarks of the engine itself).
  static std::unique_ptr<FakeFacility> InMemory();
  ~FakeFacility() override;

  bool Idempotent(const workflows::ActionView& action) const override;
  std::optional<std::string> Baseline(const workflows::ActionView& action) override;
  workflows::CallOutcome Execute(const workflows::ActionView& action) override;
  workflows::StateCheck Check(const workflows::ActionView& action) override;
  workflows::CallOutcome NotifyOperators(const std::string& summary,
                                         const std::string& link) override;

  // Fault modes for a device (bay PC id, door id, or "sms" / "slack"):
  //   stuck_offline  the call is accepted, the device never comes back (state unchanged)
  //   reject         the call is refused (4xx)
  //   transient      the next `count` calls fail with a temporary error, then it recovers
  //   unknown        state checks cannot tell
  void SetFault(const std::string& device, const std::string& mode, int count = 1);
  void ClearFaults();
  // How many calls of `kind` reached the facility for `idempotency_key` ("" for all keys).
  int Calls(const std::string& kind, const std::string& idempotency_key = "");

 private:
  FakeFacility() = default;
  std::string FaultOf(const std::string& device, bool consume);
  void Record(const std::string& kind, const std::string& device, const std::string& key,
              const std::string& detail);
  std::mutex mu_;
  std::unique_ptr<store::Connection> db_;  // null: in memory
  struct Call {
    std::string kind, device, key;
    bool effect;
  };
  std::vector<Call> calls_;
  std::map<std::string, bool> effect_by_key_;
  std::map<std::string, std::pair<std::string, int>> faults_;
};

}  // namespace clubos::sim
