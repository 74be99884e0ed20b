#pragma once
// Every entity's history must be a contiguous walk through its transition table: each row starts
// where the previous one ended, and some row of the table (whatever its guard) moves from there
// on that event to where the history says.
#include <gtest/gtest.h>

#include "store/db.h"
#include "workflows/engine.h"

namespace clubos::pgtest {

inline void ExpectValidHistories(store::Connection& db) {
  auto r = db.ExecRawOne(
      "SELECT entity, entity_id, from_state, event, to_state, "
      "lag(to_state) OVER (PARTITION BY entity, entity_id ORDER BY id) AS prev FROM transitions "
      "ORDER BY id");
  ASSERT_GT(r.Size(), 0u);
  for (std::size_t i = 0; i < r.Size(); ++i) {
    const auto machine = r.At(i, "entity").Str() == "thread" ? workflows::Machine::kThread
                                                             : workflows::Machine::kAction;
    const auto from = r.At(i, "from_state").OptStr();
    EXPECT_EQ(from, r.At(i, "prev").OptStr()) << "row " << i << ": history must be contiguous";
    if (!from) continue;
    EXPECT_TRUE(workflows::TableOf(machine).Allows(*from, r.At(i, "event").Str(),
                                                   r.At(i, "to_state").Str()))
        << *from << " + " << r.At(i, "event").Str() << " -> " << r.At(i, "to_state").Str();
  }
}

}  // namespace clubos::pgtest
