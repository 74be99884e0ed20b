#pragma once
// The pure handler of a transition: (state, event, now) -> (new state, jobs to enqueue). No I/O,
// no clock of its own: the engine persists what this returns, in the event's transaction.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "statemachines/table.h"

namespace clubos::sm {

struct Timings {
  Millis debounce{0};          // routing waits for the customer to finish typing
  Millis confirmation_ttl{0};  // a pending confirmation expires
  Millis verify_poll{0};       // the next look at the target's state
  Millis close_after{0};       // a verified thread closes after this quiet period
  Millis takeover{0};          // an operator's takeover ends by itself (a new one moves it later)
};

struct JobEffect {
  std::string kind;
  TimePoint run_at;
  bool debounced = false;  // a newer one moves the pending one later instead of adding another
  bool operator==(const JobEffect&) const = default;
};

struct Step {
  std::string to;
  std::vector<JobEffect> jobs;
  const Row* row = nullptr;  // the row that applied (its guard held)
};

// nullopt: the table has no such row, or no row's guard holds under `facts` (an illegal event).
// `from` "-" is the birth of a row.
std::optional<Step> Decide(const Table& table, std::string_view from, std::string_view event,
                           const Facts& facts, TimePoint now, const Timings& timings);
inline std::optional<Step> Decide(const Table& table, std::string_view from, std::string_view event,
                                  TimePoint now, const Timings& timings) {
  return Decide(table, from, event, Facts{}, now, timings);
}

// The jobs of an effect list ("kind@timing,..."), timed from `now`.
std::vector<JobEffect> EffectJobs(std::string_view effects, TimePoint now, const Timings& timings);

}  // namespace clubos::sm
