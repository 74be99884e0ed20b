// The pure step of the thread and action machines: for every (state, event) pair, illegal ones
// included, the destination and the exact jobs it causes, with their times.
#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "statemachines/action_machine.h"
#include "statemachines/step.h"
#include "statemachines/thread_machine.h"

using namespace clubos;
using sm::Decide;

namespace {

const TimePoint kNow(std::chrono::seconds(1'900'000'000));
const sm::Timings kTimings{Millis(3'000), Millis(300'000), Millis(2'000), Millis(1'800'000),
                           Millis(14'400'000)};

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

// Facts under which exactly `guard` holds: its names as it wants them, every other name false.
sm::Facts FactsFor(const sm::Table& t, const sm::Guard& guard) {
  sm::Facts facts;
  for (auto name : t.guards()) facts.Set(name, false);
  for (auto name : guard.all) facts.Set(name, true);
  return facts;
}

// Every (state, event) pair, and for a pair with guarded rows every guard: the destination and
// the exact jobs. `legal` is keyed by (state, event, guard text); all other pairs are refused.
void WalkEveryPair(
    const sm::Table& t,
    const std::map<std::tuple<std::string, std::string, std::string>, Expected>& legal) {
  std::size_t seen = 0;
  for (auto state : t.states()) {
    for (auto event : t.events()) {
      const auto rows = t.Candidates(state, event);
      if (rows.empty()) {
        for (const auto& [key, want] : legal)
          EXPECT_FALSE(std::get<0>(key) == state && std::get<1>(key) == event)
              << t.name() << ": " << state << " + " << event << " must be legal";
        EXPECT_FALSE(Decide(t, state, event, FactsFor(t, {}), kNow, kTimings).has_value())
            << t.name() << ": " << state << " + " << event << " must be illegal";
        continue;
      }
      for (const sm::Row* row : rows) {
        const auto it =
            legal.find({std::string(state), std::string(event), std::string(row->guard)});
        ASSERT_NE(it, legal.end()) << t.name() << ": unexpected row " << state << " + " << event
                                   << " [" << row->guard << "]";
        ++seen;
        const auto step = Decide(t, state, event, FactsFor(t, t.GuardOf(*row)), kNow, kTimings);
        ASSERT_TRUE(step.has_value()) << state << " + " << event << " [" << row->guard << "]";
        EXPECT_EQ(step->row, row) << "the row whose guard holds applies";
        EXPECT_EQ(step->to, it->second.to) << state << " + " << event << " [" << row->guard << "]";
        std::vector<sm::JobEffect> want;
        for (const auto& j : it->second.jobs) want.push_back(Job(j));
        EXPECT_EQ(step->jobs, want) << state << " + " << event << ": exact effects";
      }
    }
  }
  EXPECT_EQ(seen, legal.size()) << "every expected row exists";
}

}  // namespace

TEST(ThreadStep, EveryPairWithItsEffects) {
  const std::string route = "route_message~3000";
  const std::string takeover = "end_takeover~14400000";
  WalkEveryPair(
      sm::ThreadMachine(),
      {
          {{"received", "message_received", "!paused"}, {"received", {route}}},
          {{"received", "message_received", "paused"}, {"received", {}}},
          {{"received", "routed", ""}, {"routed", {}}},
          {{"received", "escalated", ""}, {"escalated", {"notify_operator"}}},
          {{"routed", "confirmation_requested", ""}, {"awaiting_confirmation", {}}},
          {{"routed", "action_executed", ""}, {"executed", {}}},
          {{"routed", "escalated", ""}, {"escalated", {"notify_operator"}}},
          {{"routed", "message_received", "!in_flight"}, {"received", {route}}},
          {{"routed", "message_received", "in_flight"}, {"routed", {}}},
          {{"awaiting_confirmation", "confirmed", ""}, {"awaiting_confirmation", {}}},
          {{"awaiting_confirmation", "rejected", ""}, {"closed", {}}},
          {{"awaiting_confirmation", "confirmation_expired", ""},
           {"escalated", {"notify_operator"}}},
          {{"awaiting_confirmation", "action_executed", ""}, {"executed", {}}},
          {{"awaiting_confirmation", "escalated", ""}, {"escalated", {"notify_operator"}}},
          {{"awaiting_confirmation", "message_received", "!in_flight"}, {"received", {route}}},
          {{"awaiting_confirmation", "message_received", "in_flight"},
           {"awaiting_confirmation", {}}},
          {{"executed", "verified", ""}, {"verified", {"close_thread+1800000"}}},
          {{"executed", "escalated", ""}, {"escalated", {"notify_operator"}}},
          {{"executed", "message_received", ""}, {"executed", {}}},
          {{"verified", "closed", ""}, {"closed", {}}},
          {{"verified", "escalated", ""}, {"escalated", {"notify_operator"}}},
          {{"verified", "message_received", "!paused"}, {"received", {route}}},
          {{"verified", "message_received", "paused"}, {"received", {}}},
          {{"escalated", "claimed", ""}, {"escalated", {}}},
          {{"escalated", "resolved", ""}, {"closed", {}}},
          {{"escalated", "message_received", ""}, {"escalated", {}}},
          // A takeover pauses the automation (its end moves later with every reply) and its end
          // resumes what the pause held back.
          {{"received", "taken_over", ""}, {"received", {takeover}}},
          {{"received", "handed_back", ""}, {"received", {"route_message"}}},
          {{"received", "takeover_expired", ""}, {"received", {"route_message"}}},
          {{"verified", "taken_over", ""}, {"verified", {takeover}}},
          {{"verified", "handed_back", ""}, {"verified", {"close_thread+1800000"}}},
          {{"verified", "takeover_expired", ""}, {"verified", {"close_thread+1800000"}}},
          {{"escalated", "taken_over", ""}, {"escalated", {takeover}}},
          {{"escalated", "handed_back", ""}, {"escalated", {}}},
          {{"escalated", "takeover_expired", ""}, {"escalated", {}}},
      });
}

TEST(ActionStep, EveryPairWithItsEffects) {
  WalkEveryPair(
      sm::ActionMachine(),
      {
          {{"received", "policy_decided", "!confirm_first"}, {"routed", {"execute"}}},
          {{"received", "policy_decided", "confirm_first"}, {"routed", {}}},
          {{"received", "policy_escalated", ""}, {"escalated", {}}},
          {{"routed", "confirmation_requested", ""},
           {"awaiting_confirmation", {"expire_confirmation+300000"}}},
          {{"routed", "execution_started", "!stopped"}, {"executing", {}}},
          {{"routed", "cancelled", ""}, {"cancelled", {}}},
          {{"routed", "emergency_stopped", ""}, {"escalated", {}}},
          {{"routed", "start_refused", ""}, {"escalated", {}}},
          {{"awaiting_confirmation", "confirmed", ""}, {"confirmed", {"execute"}}},
          {{"awaiting_confirmation", "rejected", ""}, {"rejected", {}}},
          {{"awaiting_confirmation", "confirmation_expired", ""}, {"escalated", {}}},
          {{"awaiting_confirmation", "cancelled", ""}, {"cancelled", {}}},
          {{"awaiting_confirmation", "emergency_stopped", ""}, {"escalated", {}}},
          {{"confirmed", "execution_started", "!stopped"}, {"executing", {}}},
          {{"confirmed", "emergency_stopped", ""}, {"escalated", {}}},
          {{"confirmed", "start_refused", ""}, {"escalated", {}}},
          {{"executing", "execution_succeeded", ""}, {"executed", {"verify_action+2000"}}},
          {{"executing", "execution_failed", ""}, {"escalated", {}}},
          {{"executing", "execution_unknown", ""}, {"escalated", {}}},
          {{"executing", "execution_deferred", "!confirmed"}, {"routed", {}}},
          {{"executing", "execution_deferred", "confirmed"}, {"confirmed", {}}},
          {{"executed", "verification_passed", ""}, {"verified", {}}},
          {{"executed", "verification_failed", ""}, {"escalated", {}}},
          {{"executed", "verification_timeout", ""}, {"escalated", {}}},
          {{"verified", "rollback_flagged", ""}, {"verified", {}}},
          {{"escalated", "rollback_flagged", ""}, {"escalated", {}}},
      });
}

// What each action row causes on its thread, exactly: the cascade, its guard, and the job for the
// operators when the thread is not the one to move.
TEST(ActionStep, EveryCascadeToTheThread) {
  const std::string escalate = "escalated [holds_thread] | notify_operator";
  const std::map<std::pair<std::string, std::string>, std::string> want = {
      {{"routed", "emergency_stopped"}, escalate},
      {{"routed", "start_refused"}, escalate},
      {{"awaiting_confirmation", "confirmed"}, "confirmed"},
      {{"awaiting_confirmation", "rejected"}, "rejected"},
      {{"awaiting_confirmation", "confirmation_expired"}, "confirmation_expired"},
      {{"awaiting_confirmation", "emergency_stopped"}, escalate},
      {{"confirmed", "emergency_stopped"}, escalate},
      {{"confirmed", "start_refused"}, escalate},
      {{"executing", "execution_succeeded"}, "action_executed [primary]"},
      {{"executing", "execution_failed"}, escalate},
      {{"executing", "execution_unknown"}, escalate},
      {{"executed", "verification_passed"}, "verified [primary]"},
      {{"executed", "verification_failed"}, escalate},
      {{"executed", "verification_timeout"}, escalate},
      {{"verified", "rollback_flagged"}, "escalated [thread_verified] | notify_operator"},
      {{"escalated", "rollback_flagged"}, "escalated [thread_verified] | notify_operator"},
  };
  std::size_t seen = 0;
  for (const auto& row : sm::ActionMachine().rows()) {
    const auto it = want.find({std::string(row.from), std::string(row.event)});
    if (it == want.end()) {
      EXPECT_TRUE(row.cascade.empty()) << row.from << " + " << row.event << " cascades";
      continue;
    }
    ++seen;
    EXPECT_EQ(row.cascade, it->second) << row.from << " + " << row.event;
    const auto& c = sm::ActionMachine().CascadeOf(row);
    EXPECT_TRUE(sm::ThreadMachine().IsEvent(c.event)) << c.event;
  }
  EXPECT_EQ(seen, want.size());
  EXPECT_EQ(sm::ActionMachine().parent(), &sm::ThreadMachine());
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
  EXPECT_FALSE(sm::ThreadMachine().Accepts("-", "message_received"))
      << "a birth is not a transition";
}
