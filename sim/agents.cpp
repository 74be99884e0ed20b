#include "sim/agents.h"

#include "core/log.h"
#include "integrations/http.h"
#include "sim/core.h"

namespace clubos::sim {

using detail::Call;
using detail::Core;
using detail::FaultMode;
using detail::Service;

struct SimulatedAgents::State {
  std::string device_id;
  bool tps_running = true;
  TimePoint tps_started_at{};
  TimePoint booted_at{};
  bool quiet = false;  // stuck_offline: the PC never answers again
  // The command being carried out.
  int64_t command_id = 0;
  std::string action;
  TimePoint done_at{};
  bool noop = false;
};

SimulatedAgents::SimulatedAgents(Core& core, std::string clubos_url,
                                 std::map<std::string, std::string> keys, Millis poll_interval)
    : core_(core),
      clubos_url_(std::move(clubos_url)),
      keys_(std::move(keys)),
      poll_interval_(poll_interval) {
  const TimePoint now = core_.clock.Now();
  for (const auto& bay : core_.agent_bays) {
    auto s = std::make_unique<State>();
    s->device_id = bay.device_id;
    s->tps_started_at = now - std::chrono::hours(1);
    s->booted_at = now - std::chrono::hours(2);
    states_[bay.device_id] = std::move(s);
  }
}

SimulatedAgents::~SimulatedAgents() {
  Stop();
}

void SimulatedAgents::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lk(stop_mu_);
    while (!stop_) {
      lk.unlock();
      Tick();
      lk.lock();
      // Asleep until the next poll; Stop() wakes it (not 20 ms naps checking a flag).
      stop_cv_.wait_for(lk, poll_interval_, [&] { return stop_; });
    }
  });
}

void SimulatedAgents::Stop() {
  {
    std::lock_guard lk(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SimulatedAgents::Tick() {
  for (auto& [device, s] : states_) {
    const auto key = keys_.find(device);
    if (key == keys_.end() || s->quiet) continue;
    auto call = [&](const std::string& method, const std::string& path, const std::string& body) {
      auto r = integrations::Send(
          {.method = method,
           .url = clubos_url_ + path,
           .headers = {{"X-Device-Key", key->second}, {"Content-Type", "application/json"}},
           .body = body,
           .timeout = Millis(5'000)});
      Call c;
      c.at = core_.clock.Now();
      c.service = Service::kAgent;
      c.method = method;
      c.path = path;
      c.target = device;
      c.body = body;
      c.status = r.transport == integrations::HttpResponse::Transport::kOk
                     ? static_cast<int>(r.status)
                     : 0;
      std::lock_guard lock(core_.mu);
      core_.Record(std::move(c));
      return r;
    };
    const TimePoint now = core_.clock.Now();
    // A command whose time has come is done: report it.
    if (s->command_id && now >= s->done_at) {
      if (!s->noop) {
        s->tps_started_at = s->done_at;
        s->tps_running = true;
        if (s->action == "reboot") s->booted_at = s->done_at;
      }
      call("POST", "/v1/agent/report",
           detail::Dump({{"command_id", s->command_id},
                         {"success", true},
                         {"message", s->action + " done"}}));
      s->command_id = 0;
    }
    detail::json hb = {{"tps_version", "1.8.2-sim"},
                       {"exe_path", "C:\\\\ClubOS\\\\agent.exe"},
                       {"tps_running", s->tps_running},
                       {"radar_ip", "172.30.20.1"},
                       {"radar_reachable", true},
                       {"tps_started_at", detail::Iso(s->tps_started_at)},
                       {"booted_at", detail::Iso(s->booted_at)}};
    call("POST", "/v1/agent/heartbeat", detail::Dump(hb));
    if (s->command_id) continue;
    const auto polled = call("GET", "/v1/agent/poll", "");
    if (polled.status != 200) continue;
    const auto j = detail::ParseObject(polled.body);
    if (j.is_discarded() || !j.contains("command") || !j["command"].is_object()) continue;
    const auto& cmd = j["command"];
    s->command_id = cmd.value("id", int64_t{0});
    s->action = cmd.value("action", std::string("restart"));
    s->done_at = now + core_.options.reset_delay;
    std::optional<FaultMode> fault;
    {
      std::lock_guard lock(core_.mu);
      fault = core_.TakeReset(Service::kAgent, device);
    }
    s->noop = fault == FaultMode::kResetNoop;
    s->tps_running = s->noop;  // TrackMan stops while it restarts
    if (fault == FaultMode::kStuckOffline) {
      s->quiet = true;  // took the command, then the PC hung: no report, no heartbeat
      log::Get()->info("sim agent {}: stuck offline after command {}", device, s->command_id);
    }
  }
}

}  // namespace clubos::sim
