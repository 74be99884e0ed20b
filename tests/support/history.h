#pragma once
// Every entity's history must be a contiguous walk through its transition table: each row starts
// where the previous one ended, and each (from, event) pair is legal and lands where the table
// says.
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
    const auto next = workflows::TableOf(machine).Next(*from, r.At(i, "event").Str());
    ASSERT_TRUE(next.has_value()) << *from << " + " << r.At(i, "event").Str();
    EXPECT_EQ(std::string(*next), r.At(i, "to_state").Str());
  }
}

}  // namespace clubos::pgtest
