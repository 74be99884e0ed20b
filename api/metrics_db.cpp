#include "api/metrics_db.h"

#include "api/internal.h"
#include "core/log.h"
#include "store/pool.h"

namespace clubos::api {

DatabaseMetrics::DatabaseMetrics(store::Pool& pool, Millis settle_window)
    : pool_(pool), settle_ms_(settle_window.count()) {}

void DatabaseMetrics::Collect(metrics::TextWriter& w) {
  bool up = true;
  store::Result jobs, llm, budget;
  Counts transitions, actions;
  std::map<std::string, double> escalations;
  try {
    auto db = pool_.Acquire(Millis(1'000));
    jobs = db->ExecOne("api_metrics_jobs");
    llm = db->ExecOne("api_metrics_llm");
    budget = db->ExecOne("api_metrics_llm_budget");
    std::lock_guard lk(mu_);
    auto add = [](const store::Result& r, auto& t, auto& a, auto& e) {
      for (std::size_t i = 0; i < r.Size(); ++i) {
        const double n = static_cast<double>(r.At(i, "n").Int64());
        const std::string entity = r.At(i, "entity").Str(), event = r.At(i, "event").Str();
        t[{entity, event}] += n;
        if (!r.At(i, "escalation_reason").IsNull()) e[r.At(i, "escalation_reason").Str()] += n;
        if (!r.At(i, "action_result").IsNull())
          a[{r.At(i, "kind").Str(), r.At(i, "action_result").Str()}] += n;
      }
    };
    if (!tally_.started) {
      // Counting starts with this process (a restarted counter is what Prometheus expects),
      // from the newest settled row: one backward scan over the last settle window.
      tally_.settled_upto =
          db->ExecOne("api_metrics_settled_start", {settle_ms_}).At(0, "upto").Int64();
      tally_.started = true;
    }
    const int64_t settled =
        db->ExecOne("api_metrics_settled", {tally_.settled_upto, settle_ms_}).At(0, "upto").Int64();
    if (settled > tally_.settled_upto) {
      add(db->ExecOne("api_metrics_tally", {tally_.settled_upto, settled}), tally_.transitions,
          tally_.actions, tally_.escalations);
      tally_.settled_upto = settled;
    }
    transitions = tally_.transitions;
    actions = tally_.actions;
    escalations = tally_.escalations;
    add(db->ExecOne("api_metrics_tally", {tally_.settled_upto, nullptr}), transitions, actions,
        escalations);
  } catch (const std::exception& e) {
    up = false;
    log::Get()->warn("metrics: the database could not be read: {}", RedactPhones(e.what()));
  }
  w.Family("clubos_metrics_database_up", "1 when the database-derived metrics could be read",
           "gauge");
  w.Sample("clubos_metrics_database_up", {}, {}, up ? 1 : 0);
  if (!up) return;
  // Every state of every queue seen (and the default queue) has a sample, zeros included: a
  // series that vanishes when its queue drains would read as "no data", not as 0.
  std::map<std::pair<std::string, std::string>, double> depth;
  for (const char* state : {"scheduled", "available", "running", "dead"})
    depth[{"default", state}] = 0;
  for (std::size_t i = 0; i < jobs.Size(); ++i)
    for (const char* state : {"scheduled", "available", "running", "dead"})
      depth.try_emplace({jobs.At(i, "queue").Str(), state}, 0);
  for (std::size_t i = 0; i < jobs.Size(); ++i)
    depth[{jobs.At(i, "queue").Str(), jobs.At(i, "state").Str()}] =
        static_cast<double>(jobs.At(i, "n").Int64());
  w.Family("clubos_jobs", "Jobs in the queue table, by queue and state", "gauge");
  for (const auto& [k, n] : depth)
    w.Sample("clubos_jobs", {"queue", "state"}, {k.first, k.second}, n);
  w.Family("clubos_transitions_total",
           "State machine transitions recorded since this process started, by machine and event",
           "counter");
  for (const auto& [k, n] : transitions)
    w.Sample("clubos_transitions_total", {"machine", "event"}, {k.first, k.second}, n);
  w.Family("clubos_actions_total",
           "Actions that reached a result since this process started, by kind and result",
           "counter");
  for (const auto& [k, n] : actions)
    w.Sample("clubos_actions_total", {"kind", "result"}, {k.first, k.second}, n);
  w.Family("clubos_escalations_total",
           "Threads escalated to an operator since this process started, by reason", "counter");
  for (const auto& [reason, n] : escalations)
    w.Sample("clubos_escalations_total", {"reason"}, {reason}, n);
  Llm(w, llm, budget);
}

// OperatorGPT, from its audit rows (llm_calls) and budgets (token_usage): what every process's
// calls did, not only this one's.
void DatabaseMetrics::Llm(metrics::TextWriter& w, const store::Result& calls,
                          const store::Result& budget) {
  double hits = 0, misses = 0, in = 0, out = 0, cost = 0;
  w.Family("clubos_llm_calls_total",
           "Model calls recorded this month (UTC), by outcome and tier (cache_hit: no call)",
           "counter");
  for (std::size_t i = 0; i < calls.Size(); ++i) {
    const double n = static_cast<double>(calls.At(i, "n").Int64());
    const std::string outcome = calls.At(i, "outcome").Str();
    w.Sample("clubos_llm_calls_total", {"outcome", "tier"}, {outcome, calls.At(i, "tier").Str()},
             n);
    (outcome == "cache_hit" ? hits : misses) += n;
    in += static_cast<double>(calls.At(i, "tokens_in").Int64());
    out += static_cast<double>(calls.At(i, "tokens_out").Int64());
    cost += calls.At(i, "cost").Double();
  }
  w.Family("clubos_llm_cache_lookups_total",
           "Consultations this month answered from the cache (hit) or by a call (miss)", "counter");
  w.Sample("clubos_llm_cache_lookups_total", {"result"}, {"hit"}, hits);
  w.Sample("clubos_llm_cache_lookups_total", {"result"}, {"miss"}, misses);
  w.Family("clubos_llm_tokens_total", "Model tokens used this month, by direction", "counter");
  w.Sample("clubos_llm_tokens_total", {"direction"}, {"in"}, in);
  w.Sample("clubos_llm_tokens_total", {"direction"}, {"out"}, out);
  w.Family("clubos_llm_cost_usd_total", "Estimated model cost this month (config prices)",
           "counter");
  w.Sample("clubos_llm_cost_usd_total", {}, {}, cost);
  w.Family("clubos_llm_budget_tokens",
           "Tokens of each location's budget since yesterday (UTC), used and reserved now",
           "gauge");
  bool degraded = false;
  for (std::size_t i = 0; i < budget.Size(); ++i) {
    degraded |= budget.At(i, "degraded").Bool();
    if (budget.At(i, "location").IsNull()) continue;
    const std::string loc = budget.At(i, "location").Str();
    w.Sample("clubos_llm_budget_tokens", {"location", "kind"}, {loc, "used"},
             static_cast<double>(budget.At(i, "used").Int64()));
    w.Sample("clubos_llm_budget_tokens", {"location", "kind"}, {loc, "reserved"},
             static_cast<double>(budget.At(i, "reserved").Int64()));
  }
  w.Family("clubos_llm_degraded",
           "1 while the model endpoint is in an outage (unsure texts go to a human)", "gauge");
  w.Sample("clubos_llm_degraded", {}, {}, degraded ? 1 : 0);
}

}  // namespace clubos::api
