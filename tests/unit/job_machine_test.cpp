#include <gtest/gtest.h>

#include "statemachines/job_machine.h"

using clubos::sm::JobMachine;

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
