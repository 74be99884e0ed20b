#pragma once
// The metrics read from the database at scrape time (api/metrics.h is the registry, the text
// format and the in-process counters): queue depth per queue and state, and the state machines'
// transitions, actions by result and escalations by reason, counted from `transitions`.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "core/clock.h"
#include "store/db.h"

namespace clubos::store {
class Pool;
}

namespace clubos::api {

namespace metrics {
class TextWriter;
}

class DatabaseMetrics {
 public:
  // `settle_window`: rows of `transitions` begun longer ago than this are final and counted
  // once; newer ones (whose transactions might still be open) are counted afresh at every scrape.
  // Reads the primary: counters must never go back, which a standby a little behind would make
  // them do whenever scrapes switched between the two.
  DatabaseMetrics(store::Pool& pool, Millis settle_window);

  // A registry collector: writes clubos_metrics_database_up, and when the database answered,
  // clubos_jobs, clubos_transitions_total, clubos_actions_total and clubos_escalations_total.
  void Collect(metrics::TextWriter& w);

 private:
  static void Llm(metrics::TextWriter& w, const store::Result& calls, const store::Result& budget);
  using Counts = std::map<std::pair<std::string, std::string>, double>;
  // Transitions counted incrementally: rows settled since the last scrape are folded into these;
  // counters start when the process starts, as Prometheus expects.
  struct Tally {
    bool started = false;
    int64_t settled_upto = 0;
    Counts transitions;                         // (machine, event)
    Counts actions;                             // (kind, result)
    std::map<std::string, double> escalations;  // reason
  };

  store::Pool& pool_;
  const int64_t settle_ms_;
  std::mutex mu_;
  Tally tally_;
};

}  // namespace clubos::api
