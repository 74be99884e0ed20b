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

TEST(ThreadMachine, EveryStateEventPair) {
  WalkEveryPair(clubos::sm::ThreadMachine(),
                {
                    {{"received", "message_received"}, "received"},
                    {{"received", "routed"}, "routed"},
                    {{"received", "escalated"}, "escalated"},
                    {{"routed", "confirmation_requested"}, "awaiting_confirmation"},
                    {{"routed", "action_executed"}, "executed"},
                    {{"routed", "escalated"}, "escalated"},
                    {{"routed", "message_received"}, "received"},
                    {{"awaiting_confirmation", "confirmed"}, "awaiting_confirmation"},
                    {{"awaiting_confirmation", "rejected"}, "closed"},
                    {{"awaiting_confirmation", "confirmation_expired"}, "escalated"},
                    {{"awaiting_confirmation", "action_executed"}, "executed"},
                    {{"awaiting_confirmation", "escalated"}, "escalated"},
                    {{"awaiting_confirmation", "message_received"}, "received"},
                    {{"executed", "verified"}, "verified"},
                    {{"executed", "escalated"}, "escalated"},
                    {{"executed", "message_received"}, "executed"},
                    {{"verified", "closed"}, "closed"},
                    {{"verified", "message_received"}, "received"},
                    {{"escalated", "claimed"}, "escalated"},
                    {{"escalated", "resolved"}, "closed"},
                    {{"escalated", "message_received"}, "escalated"},
                });
}

TEST(ActionMachine, EveryStateEventPair) {
  WalkEveryPair(clubos::sm::ActionMachine(),
                {
                    {{"received", "policy_decided"}, "routed"},
                    {{"received", "policy_escalated"}, "escalated"},
                    {{"routed", "confirmation_requested"}, "awaiting_confirmation"},
                    {{"routed", "execution_started"}, "executing"},
                    {{"routed", "cancelled"}, "cancelled"},
                    {{"awaiting_confirmation", "execution_started"}, "executing"},
                    {{"awaiting_confirmation", "rejected"}, "rejected"},
                    {{"awaiting_confirmation", "confirmation_expired"}, "escalated"},
                    {{"awaiting_confirmation", "cancelled"}, "cancelled"},
                    {{"executing", "execution_succeeded"}, "executed"},
                    {{"executing", "execution_failed"}, "escalated"},
                    {{"executing", "execution_unknown"}, "escalated"},
                    {{"executed", "verification_passed"}, "verified"},
                    {{"executed", "verification_failed"}, "escalated"},
                    {{"executed", "verification_timeout"}, "escalated"},
                    {{"verified", "rollback_flagged"}, "verified"},
                    {{"escalated", "rollback_flagged"}, "escalated"},
                });
}

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
