#pragma once
// The simulated facility: bay PCs, doors, the customers' phones and the operators' channel, in
// memory, behind the flow's Integration seam. Every fault is drawn from the simulation's one
// random generator in call order (never from the flow's random idempotency keys), so a seed
// replays exactly. Every call is logged: the invariants read the log.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/clock.h"
#include "workflows/integration.h"

namespace clubos::simulation {

// A "process" dies here: the stepper abandons the job it was running (no ack, no retry) and its
// lease expires in simulated time. Thrown by the facility after a call took effect, or by the
// connection's before-commit hook.
class SimulatedCrash : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Where crashes may happen and how often, with a budget so every run ends.
struct CrashPlan {
  double rate = 0.0;  // per crash point
  int budget = 0;
  bool armed = false;  // only while a job (or a webhook delivery) runs
  int crashes = 0;
  std::string last;  // where the last one happened
  // Throws SimulatedCrash with probability `rate` while armed and within the budget.
  void Maybe(std::mt19937_64& rng, const std::string& where);
};

struct FaultRates {
  double timeout_done = 0;      // the call took effect, the answer was lost: kTransient
  double timeout_not_done = 0;  // it did not, and the answer was lost: kTransient
  double server_error = 0;      // 5xx: kTransient, took effect or not (a coin)
  double rate_limited = 0;      // 429 with Retry-After: kNotDone
  double unavailable = 0;       // 503 without Retry-After: kNotDone
  double rejected = 0;          // 4xx: kRejected
  double swallowed = 0;         // accepted, no effect
  double stuck = 0;             // a bay PC accepts the reset and never comes back
  double unreadable = 0;        // Baseline / Check cannot read the target
  double slow_effect = 0;       // a PC's reset becomes visible only after 5-90 s
  double notify_fails = 0;      // the operators' channel answers 5xx
};

struct CallRecord {
  int64_t seq = 0;
  TimePoint at;
  int64_t action_id = 0;
  std::string kind;
  std::string location;
  std::string device;  // device id, or the phone of a text
  std::optional<std::string> booking_id;
  std::string answer;   // ok | timeout_done | timeout_not_done | 500 | 429 | 503 | 400 | swallowed
                        // | stuck | crash_after_call
  bool effect = false;  // the world changed
  bool maybe_effect = false;  // from the caller's side: the call may have taken effect
};

class SimFacility final : public workflows::Integration {
 public:
  SimFacility(const Clock& clock, std::mt19937_64& rng, FaultRates faults, CrashPlan& crash)
      : clock_(clock), rng_(rng), faults_(faults), crash_(crash) {}

  void SetFaults(FaultRates faults) { faults_ = faults; }
  // A text reached a customer's phone (the simulation's customers answer prompts).
  std::function<void(const std::string& phone, const std::string& text)> on_text;

  bool Idempotent(const workflows::ActionView& action) const override;
  std::optional<std::string> Baseline(const workflows::ActionView& action) override;
  workflows::CallOutcome Execute(const workflows::ActionView& action) override;
  workflows::StateCheck Check(const workflows::ActionView& action) override;
  workflows::CallOutcome NotifyOperators(const std::string& summary,
                                         const std::string& link) override;

  const std::vector<CallRecord>& calls() const { return calls_; }
  int notifications() const { return notifications_; }

 private:
  struct Pc {
    int64_t boots = 0;               // resets that have become visible
    std::vector<TimePoint> pending;  // resets visible from these instants
    bool stuck = false;
  };
  bool Draw(double p);
  Pc& PcOf(const std::string& device);
  int64_t VisibleBoots(Pc& pc);

  const Clock& clock_;
  std::mt19937_64& rng_;
  FaultRates faults_;
  CrashPlan& crash_;
  std::map<std::string, Pc> pcs_;
  std::map<std::string, std::set<int64_t>> door_opened_by_;  // door -> actions that opened it
  std::set<int64_t> texts_delivered_;                        // actions
  std::vector<CallRecord> calls_;
  int notifications_ = 0;
};

}  // namespace clubos::simulation
