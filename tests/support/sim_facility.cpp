#include "tests/support/sim_facility.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace clubos::simtest {

using nlohmann::json;

namespace {

void SetSecrets() {
  ::setenv("CLUBOS_OPENPHONE_API_KEY", "op-test-key", 1);
  ::setenv("CLUBOS_NINJAONE_CLIENT_ID", "ninja-client", 1);
  ::setenv("CLUBOS_NINJAONE_CLIENT_SECRET", "ninja-secret", 1);
  ::setenv("CLUBOS_UNIFI_TOKEN", "unifi-token", 1);
  ::setenv("CLUBOS_LLM_API_KEY", "llm-test-key", 1);
  ::setenv("CLUBOS_OPENPHONE_SIGNING_SECRET", "c2lnbmluZy1zZWNyZXQtZm9yLXRlc3Rz", 1);
}

integrations::HttpResponse Call(const std::string& method, const std::string& url,
                                const std::string& body = "") {
  auto r = integrations::Send({.method = method,
                               .url = url,
                               .headers = {{"Content-Type", "application/json"}},
                               .body = body});
  if (r.transport != integrations::HttpResponse::Transport::kOk)
    throw std::runtime_error("the simulator did not answer " + method + " " + url);
  return r;
}

}  // namespace

SimFacility::SimFacility(Config base, const Clock& clock, sim::SimOptions options)
    : config_(std::move(base)) {
  SetSecrets();
  sim_ = std::make_unique<sim::InProcessSim>(config_, std::move(options), clock);
}

SimFacility::~SimFacility() = default;

std::string SimFacility::url() const {
  return sim_->url();
}

long SimFacility::Fault(const std::string& target, const std::string& mode, int count,
                        int delay_ms) {
  json body = {{"target", target}, {"mode", mode}, {"count", count}};
  if (delay_ms) body["delay_ms"] = delay_ms;
  return Call("POST", url() + "/_sim/faults", body.dump()).status;
}

void SimFacility::ClearFaults() {
  Call("DELETE", url() + "/_sim/faults");
}

json SimFacility::Calls() {
  return json::parse(Call("GET", url() + "/_sim/calls").body)["calls"];
}

json SimFacility::State() {
  return json::parse(Call("GET", url() + "/_sim/state").body);
}

int SimFacility::Count(const std::string& service, const std::string& method,
                       const std::string& path_contains, bool only_2xx) {
  int n = 0;
  for (const auto& c : Calls()) {
    const int status = c.value("status", 0);
    if (c.value("service", "") == service && c.value("method", "") == method &&
        c.value("path", "").find(path_contains) != std::string::npos &&
        (!only_2xx || (status >= 200 && status < 300)))
      ++n;
  }
  return n;
}

std::string WriteSimConfig(const std::string& sim_url, int verify_timeout_ms,
                           const std::string& path) {
  std::ifstream in(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = json::parse(ss.str());
  j["flow"] = {{"debounce_ms", 0},
               {"confirmation_ttl_ms", 60000},
               {"verify_timeout_ms", verify_timeout_ms},
               {"verify_poll_ms", 50},
               {"close_after_ms", 600000},
               {"retry_base_ms", 20},
               {"retry_cap_ms", 200}};
  for (const char* vendor : {"openphone", "ninjaone", "unifi"})
    j["integrations"][vendor]["base_url"] = sim_url;
  j["integrations"].erase("verify_timeout_ms");
  j["integrations"]["call_timeout_ms"] = 5000;
  std::ofstream(path) << j.dump(2);
  return path;
}

}  // namespace clubos::simtest
