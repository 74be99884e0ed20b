#include "statemachines/step.h"

#include <stdexcept>

namespace clubos::sm {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

JobEffect Parse(std::string_view spec, TimePoint now, const Timings& t) {
  const auto at = spec.find('@');
  const std::string_view kind = Trim(spec.substr(0, at));
  const std::string_view timing = at == std::string_view::npos ? "now" : Trim(spec.substr(at + 1));
  JobEffect e{std::string(kind), now, false};
  if (timing == "now") return e;
  if (timing == "debounce") {
    e.run_at = now + t.debounce;
    e.debounced = true;
  } else if (timing == "confirmation_ttl") {
    e.run_at = now + t.confirmation_ttl;
  } else if (timing == "verify_poll") {
    e.run_at = now + t.verify_poll;
  } else if (timing == "close_after") {
    e.run_at = now + t.close_after;
  } else if (timing == "takeover") {
    e.run_at = now + t.takeover;
    e.debounced = true;
  } else {
    throw std::logic_error("unknown effect timing: " + std::string(spec));
  }
  return e;
}

}  // namespace

std::vector<JobEffect> EffectJobs(std::string_view effects, TimePoint now, const Timings& timings) {
  std::vector<JobEffect> jobs;
  std::string_view rest = effects;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto spec = Trim(rest.substr(0, comma));
    if (!spec.empty()) jobs.push_back(Parse(spec, now, timings));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return jobs;
}

std::optional<Step> Decide(const Table& table, std::string_view from, std::string_view event,
                           const Facts& facts, TimePoint now, const Timings& timings) {
  const Row* row = table.Find(from, event, facts);
  if (!row) return std::nullopt;
  return Step{std::string(row->to == "=" ? from : row->to), EffectJobs(row->effects, now, timings),
              row};
}

}  // namespace clubos::sm
