#pragma once
// Every entity's history (the transitions table) must be a contiguous walk through its state
// table: each row starts where the previous row of that entity ended, and some row of the table
// (whatever its guard) moves from there on that event to where the history says. One copy of the
// rule, for the simulation (which walks the table as it grows, step by step) and the pg tests
// (tests/support/history.h).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace clubos::store {
class Connection;
}

namespace clubos::simulation {

struct TransitionRow {
  int64_t id = 0;
  std::string entity;  // thread | action
  int64_t entity_id = 0;
  std::optional<std::string> from;
  std::string event;
  std::string to;
};

// Rows with id > `after_id`, in id order.
std::vector<TransitionRow> ReadTransitions(store::Connection& db, int64_t after_id = 0);

class HistoryWalk {
 public:
  // "" when `row` continues its entity's walk legally; otherwise what is wrong.
  std::string Feed(const TransitionRow& row);
  // The state each entity's walk has reached.
  const std::map<std::pair<std::string, int64_t>, std::string>& states() const { return last_; }
  int64_t last_id() const { return last_id_; }

 private:
  std::map<std::pair<std::string, int64_t>, std::string> last_;
  int64_t last_id_ = 0;
};

// Every violation in the whole table (empty: every history is a walk).
std::vector<std::string> HistoryViolations(store::Connection& db);

}  // namespace clubos::simulation
