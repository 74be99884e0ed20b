// The pure step of the thread and action machines: for every (state, event) pair, illegal ones
// included, the destination and the exact jobs it causes, with their times.
#include <gtest/gtest.h>

#include <map>

#include "statemachines/action_machine.h"
#include "statemachines/step.h"
#include "statemachines/thread_machine.h"

using namespace clubos;
using sm::Decide;

namespace {

const TimePoint kNow(std::chrono::seconds(1'900'000'000));
const sm::Timings kTimings{Millis(3'000), Millis(300'000), Millis(2'000), Millis(1'800'000)};

// "kind" (now) or "kind+Nms" / "kind~Nms" (debounced).
sm::JobEffect Job(const std::string& spec) {
  const auto plus = spec.find_first_of("+~");
  if (plus == std::string::npos) return {spec, kNow, false};
  const auto ms = std::stoll(spec.substr(plus + 1));
  return {spec.substr(0, plus), kNow + Millis(ms), spec[plus] == '~'};
}

struct Expected {
  std::string to;
  std::vector<std::string> jobs;
};

void WalkEveryPair(const sm::Table& t,
                   const std::map<std::pair<std::string, std::string>, Expected>& legal) {
  int seen = 0;
  for (auto state : t.states()) {
    for (auto event : t.events()) {
      const auto step = Decide(t, state, event, kNow, kTimings);
      const auto it = legal.find({std::string(state), std::string(event)});
      if (it == legal.end()) {
        EXPECT_FALSE(step.has_value())
            << t.name() << ": " << state << " + " << event << " must be illegal";
        continue;
      }
      ++seen;
      ASSERT_TRUE(step.has_value()) << t.name() << ": " << state << " + " << event;
      EXPECT_EQ(step->to, it->second.to) << state << " + " << event;
      std::vector<sm::JobEffect> want;
      for (const auto& j : it->second.jobs) want.push_back(Job(j));
      EXPECT_EQ(step->jobs, want) << state << " + " << event << ": exact effects";
    }
  }
  EXPECT_EQ(seen, static_cast<int>(legal.size()));
}

}  // namespace

TEST(ThreadStep, EveryPairWithItsEffects) {
  const std::string route = "route_message~3000";
  WalkEveryPair(
      sm::ThreadMachine(),
      {
          {{"received", "message_received"}, {"received", {route}}},
          {{"received", "routed"}, {"routed", {}}},
          {{"received", "escalated"}, {"escalated", {"notify_operator"}}},
          {{"routed", "confirmation_requested"}, {"awaiting_confirmation", {}}},
          {{"routed", "action_executed"}, {"executed", {}}},
          {{"routed", "escalated"}, {"escalated", {"notify_operator"}}},
          {{"routed", "message_received"}, {"received", {route}}},
          {{"awaiting_confirmation", "confirmed"}, {"awaiting_confirmation", {"execute_action"}}},
          {{"awaiting_confirmation", "rejected"}, {"closed", {}}},
          {{"awaiting_confirmation", "confirmation_expired"}, {"escalated", {"notify_operator"}}},
          {{"awaiting_confirmation", "action_executed"}, {"executed", {}}},
          {{"awaiting_confirmation", "escalated"}, {"escalated", {"notify_operator"}}},
          {{"awaiting_confirmation", "message_received"}, {"received", {route}}},
          {{"executed", "verified"}, {"verified", {"close_thread+1800000"}}},
          {{"executed", "escalated"}, {"escalated", {"notify_operator"}}},
          {{"executed", "message_received"}, {"executed", {}}},
          {{"verified", "closed"}, {"closed", {}}},
          {{"verified", "escalated"}, {"escalated", {"notify_operator"}}},
          {{"verified", "message_received"}, {"received", {route}}},
          {{"escalated", "claimed"}, {"escalated", {}}},
          {{"escalated", "resolved"}, {"closed", {}}},
          {{"escalated", "message_received"}, {"escalated", {}}},
      });
}

TEST(ActionStep, EveryPairWithItsEffects) {
  WalkEveryPair(sm::ActionMachine(),
                {
                    {{"received", "policy_decided"}, {"routed", {}}},
                    {{"received", "policy_escalated"}, {"escalated", {}}},
                    {{"routed", "confirmation_requested"},
                     {"awaiting_confirmation", {"expire_confirmation+300000"}}},
                    {{"routed", "execution_started"}, {"executing", {}}},
                    {{"routed", "cancelled"}, {"cancelled", {}}},
                    {{"awaiting_confirmation", "execution_started"}, {"executing", {}}},
                    {{"awaiting_confirmation", "rejected"}, {"rejected", {}}},
                    {{"awaiting_confirmation", "confirmation_expired"}, {"escalated", {}}},
                    {{"awaiting_confirmation", "cancelled"}, {"cancelled", {}}},
                    {{"executing", "execution_succeeded"}, {"executed", {"verify_action+2000"}}},
                    {{"executing", "execution_failed"}, {"escalated", {}}},
                    {{"executing", "execution_unknown"}, {"escalated", {}}},
                    {{"executing", "execution_deferred"}, {"routed", {}}},
                    {{"routed", "emergency_stopped"}, {"escalated", {}}},
                    {{"awaiting_confirmation", "emergency_stopped"}, {"escalated", {}}},
                    {{"routed", "start_refused"}, {"escalated", {}}},
                    {{"awaiting_confirmation", "start_refused"}, {"escalated", {}}},
                    {{"executed", "verification_passed"}, {"verified", {}}},
                    {{"executed", "verification_failed"}, {"escalated", {}}},
                    {{"executed", "verification_timeout"}, {"escalated", {}}},
                    {{"verified", "rollback_flagged"}, {"verified", {}}},
                    {{"escalated", "rollback_flagged"}, {"escalated", {}}},
                });
}

TEST(Step, BirthsAreRowsOfTheirOwn) {
  const auto thread = Decide(sm::ThreadMachine(), "-", "message_received", kNow, kTimings);
  ASSERT_TRUE(thread);
  EXPECT_EQ(thread->to, "received");
  EXPECT_EQ(thread->jobs, std::vector<sm::JobEffect>{Job("route_message~3000")});
  const auto action = Decide(sm::ActionMachine(), "-", "requested", kNow, kTimings);
  ASSERT_TRUE(action);
  EXPECT_EQ(action->to, "received");
  EXPECT_TRUE(action->jobs.empty());
  EXPECT_FALSE(Decide(sm::ThreadMachine(), "-", "routed", kNow, kTimings));
  EXPECT_FALSE(sm::ThreadMachine().Next("-", "message_received")) << "a birth is not a transition";
}
