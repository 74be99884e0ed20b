#include <gtest/gtest.h>

#include <map>

#include "statemachines/job_machine.h"

using clubos::sm::JobMachine;

// Every (state, event) pair, legal or not: the expected destination, or "" for illegal.
TEST(JobMachine, EveryStateEventPair) {
  const std::map<std::pair<std::string, std::string>, std::string> legal = {
      {{"available", "enqueued"}, "available"},
      {{"scheduled", "enqueued_for_later"}, "scheduled"},
      {{"scheduled", "promoted"}, "available"},
      {{"available", "fetched"}, "running"},
      {{"running", "completed"}, "deleted"},
      {{"running", "retried"}, "available"},
      {{"running", "retried_later"}, "scheduled"},
      {{"running", "deferred"}, "scheduled"},
      {{"running", "released"}, "available"},
      {{"running", "lease_expired"}, "available"},
      {{"running", "failed"}, "dead"},
      {{"running", "lease_expired_final"}, "dead"},
      {{"dead", "pruned"}, "deleted"},
  };
  const auto& t = JobMachine();
  int checked = 0;
  for (auto state : t.states()) {
    for (auto event : t.events()) {
      const auto it = legal.find({std::string(state), std::string(event)});
      const auto next = t.Next(state, event);
      if (it == legal.end()) {
        EXPECT_FALSE(next.has_value()) << state << " + " << event << " must be illegal";
      } else {
        ASSERT_TRUE(next.has_value()) << state << " + " << event << " must be legal";
        EXPECT_EQ(*next, it->second) << state << " + " << event;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 5 * 13);
  EXPECT_FALSE(t.Next("nonsense", "fetched").has_value());
}

TEST(JobMachine, DiagramHasEveryRow) {
  const auto dot = JobMachine().Dot();
  EXPECT_NE(dot.find("digraph job"), std::string::npos);
  EXPECT_NE(dot.find("\"available\" -> \"running\" [label=\"fetched\"]"), std::string::npos);
  EXPECT_NE(dot.find("\"running\" -> \"dead\" [label=\"lease_expired_final\"]"), std::string::npos);
}

TEST(TransitionTable, RejectsRowsNamingUnknownStatesOrEvents) {
  using clubos::sm::Table;
  EXPECT_THROW(Table("t", {"a"}, {"e"}, {{"a", "e", "b", ""}}), std::logic_error);
  EXPECT_THROW(Table("t", {"a"}, {"e"}, {{"a", "x", "a", ""}}), std::logic_error);
}
