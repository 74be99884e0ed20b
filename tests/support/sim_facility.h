#pragma once
// The facility simulator in this process on an ephemeral loopback port, with a config whose vendor
// URLs point at it and the secrets both sides read set in the environment. Tests drive its
// control API over real HTTP, as anyone evaluating ClubOS would.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/config.h"
#include "http/http_server.h"
#include "integrations/http.h"
#include "sim/facility_sim.h"

namespace clubos::simtest {

// Writes to `path` the example config pointed at the simulator at `sim_url`, with the quick flow
// timings the process tests use (verification gives up after `verify_timeout_ms`); returns `path`.
std::string WriteSimConfig(const std::string& sim_url, int verify_timeout_ms,
                           const std::string& path);

class SimFacility {
 public:
  // `base`: the facility config (its integrations' URLs are replaced); `clock`: shared with the
  // code under test so the simulator's delays and ClubOS's timestamps agree.
  SimFacility(Config base, const Clock& clock, sim::SimOptions options = {});
  ~SimFacility();

  const Config& config() const { return config_; }
  std::string url() const;

  // POST /_sim/faults; returns the HTTP status.
  long Fault(const std::string& target, const std::string& mode, int count = 1, int delay_ms = 0);
  void ClearFaults();
  // Every vendor call so far (GET /_sim/calls).
  nlohmann::json Calls();
  // Calls of `service` whose method and path match, answered with a 2xx status.
  int Count(const std::string& service, const std::string& method, const std::string& path_contains,
            bool only_2xx = true);
  nlohmann::json State();

 private:
  Config config_;
  std::unique_ptr<sim::InProcessSim> sim_;
};

}  // namespace clubos::simtest
