#pragma once
// Every entity's history must be a contiguous walk through its transition table: each row starts
// where the previous one ended, and some row of the table moves from there on that event to where
// the history says. The rule lives in simulation/history.h (the simulation checks it after every
// step).
#include <gtest/gtest.h>

#include "simulation/history.h"
#include "store/db.h"

namespace clubos::pgtest {

inline void ExpectValidHistories(store::Connection& db) {
  ASSERT_FALSE(simulation::ReadTransitions(db).empty());
  for (const auto& violation : simulation::HistoryViolations(db)) ADD_FAILURE() << violation;
}

}  // namespace clubos::pgtest
