#pragma once
// Simulated bay agents: for every bay whose PC runs the ClubOS agent ("control": "agent"), a
// stand-in for the program on the PC that pulls its commands from ClubOS exactly as a real one
// would (integrations.md §1.5; workflows/agent.h): heartbeats, polls, and reports over HTTP with
// its device key. A restart brings TrackMan back after the simulator's reset delay; a reboot also
// moves the boot time. Faults on "agent:<device>" apply: stuck_offline (the PC goes quiet after
// the command and never reports), reset_noop (it reports success and nothing changes).
// Every call it makes is in /_sim/calls with service "agent".
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"

namespace clubos::sim {

namespace detail {
struct Core;
}

class SimulatedAgents {
 public:
  // `keys`: device id -> its key (CLUBOS_AGENT_KEYS); bays without a key are left idle.
  SimulatedAgents(detail::Core& core, std::string clubos_url,
                  std::map<std::string, std::string> keys, Millis poll_interval);
  ~SimulatedAgents();
  void Start();
  void Stop();
  // One round for every agent: settle, heartbeat, poll (tests drive it without the thread).
  void Tick();

 private:
  struct State;
  detail::Core& core_;
  std::string clubos_url_;
  std::map<std::string, std::string> keys_;
  Millis poll_interval_;
  std::map<std::string, std::unique_ptr<State>> states_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace clubos::sim
