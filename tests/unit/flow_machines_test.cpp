#include <gtest/gtest.h>

#include <map>

#include "statemachines/action_machine.h"
#include "statemachines/job_machine.h"
#include "statemachines/thread_machine.h"

using clubos::sm::Table;

namespace {

using Expected = std::map<std::pair<std::string, std::string>, std::string>;

// Walks every (state, event) pair: legal ones land where `legal` says, all others are refused.
void WalkEveryPair(const Table& t, const Expected& legal) {
  int legal_seen = 0;
  for (auto state : t.states()) {
    for (auto event : t.events()) {
      const auto it = legal.find({std::string(state), std::string(event)});
      const auto next = t.Next(state, event);
      if (it == legal.end()) {
        EXPECT_FALSE(next.has_value())
            << t.name() << ": " << state << " + " << event << " must be illegal";
      } else {
        ++legal_seen;
        ASSERT_TRUE(next.has_value())
            << t.name() << ": " << state << " + " << event << " must be legal";
        EXPECT_EQ(*next, it->second) << t.name() << ": " << state << " + " << event;
      }
    }
  }
  EXPECT_EQ(legal_seen, static_cast<int>(legal.size())) << "every expected row exists";
}

}  // namespace

TEST(JobMachine, EveryStateEventPair) {
  WalkEveryPair(clubos::sm::JobMachine(), {
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
                                          });
  EXPECT_FALSE(clubos::sm::JobMachine().Next("nonsense", "fetched").has_value());
}

TEST(FlowMachines, ClosedAndTerminalStatesAcceptNothing) {
  for (auto e : clubos::sm::ThreadMachine().events())
    EXPECT_FALSE(clubos::sm::ThreadMachine().Next("closed", e).has_value()) << e;
  for (auto s : {"rejected", "cancelled"})
    for (auto e : clubos::sm::ActionMachine().events())
      EXPECT_FALSE(clubos::sm::ActionMachine().Next(s, e).has_value()) << s << " + " << e;
}
