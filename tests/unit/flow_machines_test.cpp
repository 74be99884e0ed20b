// The tables as data: the job machine's every pair, the named constants the code uses instead of
// strings (held to the tables), the checks a table makes when it is built (a typo fails at
// start-up), and a lint: no state or event name spelled as a string outside the tables.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "statemachines/action_machine.h"
#include "statemachines/job_machine.h"
#include "statemachines/thread_machine.h"

using clubos::sm::Table;
namespace sm = clubos::sm;

namespace {

using Expected = std::map<std::pair<std::string, std::string>, std::string>;

// Walks every (state, event) pair: legal ones land where `legal` says, all others are refused.
void WalkEveryPair(const Table& t, const Expected& legal) {
  int legal_seen = 0;
  for (auto state : t.states()) {
    for (auto event : t.events()) {
      const auto it = legal.find({std::string(state), std::string(event)});
      const sm::Row* row = t.Find(state, event, {});
      if (it == legal.end()) {
        EXPECT_EQ(row, nullptr) << t.name() << ": " << state << " + " << event
                                << " must be illegal";
      } else {
        ++legal_seen;
        ASSERT_NE(row, nullptr) << t.name() << ": " << state << " + " << event << " must be legal";
        EXPECT_EQ(row->to == "=" ? state : row->to, it->second)
            << t.name() << ": " << state << " + " << event;
      }
    }
  }
  EXPECT_EQ(legal_seen, static_cast<int>(legal.size())) << "every expected row exists";
}

std::set<std::string> Names(const std::vector<std::string_view>& names) {
  return {names.begin(), names.end()};
}

}  // namespace

TEST(JobMachine, EveryStateEventPair) {
  WalkEveryPair(sm::JobMachine(), {
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
  EXPECT_EQ(sm::JobMachine().Find("nonsense", "fetched", {}), nullptr);
}

TEST(FlowMachines, TheNamedConstantsAreExactlyTheTablesNames) {
  namespace ts = sm::thread_state;
  namespace te = sm::thread_event;
  namespace as = sm::action_state;
  namespace ae = sm::action_event;
  namespace ag = sm::action_guard;
  auto set = [](std::initializer_list<std::string_view> l) {
    return std::set<std::string>(l.begin(), l.end());
  };
  EXPECT_EQ(Names(sm::ThreadMachine().states()),
            set({ts::kReceived, ts::kRouted, ts::kAwaitingConfirmation, ts::kExecuted,
                 ts::kVerified, ts::kEscalated, ts::kClosed}));
  EXPECT_EQ(Names(sm::ThreadMachine().events()),
            set({te::kMessageReceived, te::kRouted, te::kConfirmationRequested, te::kActionExecuted,
                 te::kEscalated, te::kConfirmed, te::kRejected, te::kConfirmationExpired,
                 te::kVerified, te::kClosed, te::kClaimed, te::kResolved, te::kTakenOver,
                 te::kHandedBack, te::kTakeoverExpired}));
  EXPECT_EQ(Names(sm::ThreadMachine().guards()),
            set({sm::thread_guard::kInFlight, sm::thread_guard::kPaused}));
  EXPECT_EQ(
      Names(sm::ActionMachine().states()),
      set({as::kReceived, as::kRouted, as::kAwaitingConfirmation, as::kConfirmed, as::kExecuting,
           as::kExecuted, as::kVerified, as::kEscalated, as::kRejected, as::kCancelled}));
  EXPECT_EQ(Names(sm::ActionMachine().events()),
            set({ae::kRequested, ae::kPolicyDecided, ae::kPolicyEscalated,
                 ae::kConfirmationRequested, ae::kConfirmed, ae::kExecutionStarted, ae::kRejected,
                 ae::kConfirmationExpired, ae::kCancelled, ae::kExecutionSucceeded,
                 ae::kExecutionFailed, ae::kExecutionUnknown, ae::kExecutionDeferred,
                 ae::kEmergencyStopped, ae::kStartRefused, ae::kVerificationPassed,
                 ae::kVerificationFailed, ae::kVerificationTimeout, ae::kRollbackFlagged}));
  EXPECT_EQ(Names(sm::ActionMachine().guards()),
            set({ag::kConfirmFirst, ag::kStopped, ag::kPrimary, ag::kHoldsThread,
                 ag::kThreadVerified, ag::kConfirmed}));
}

// A table checks every name when it is built: a typo in a guard, a timing or a cascade fails at
// start-up (the tables are built when the flow is constructed), not when the row first fires.
TEST(FlowMachines, ATableRefusesRowsItCannotKeep) {
  auto build = [](std::vector<sm::Row> rows, std::vector<std::string_view> guards = {"g"},
                  const Table* parent = nullptr) {
    return Table("t", {"a", "b"}, {"e", "f"}, std::move(rows), std::move(guards), parent);
  };
  EXPECT_THROW(build({{"a", "e", "c", ""}}), std::logic_error) << "unknown state";
  EXPECT_THROW(build({{"a", "x", "a", ""}}), std::logic_error) << "unknown event";
  EXPECT_THROW(build({{"a", "e", "b", "", "job@soon"}}), std::logic_error) << "unknown timing";
  EXPECT_THROW(build({{"a", "e", "b", "", "Job Kind"}}), std::logic_error) << "bad job kind";
  EXPECT_THROW(build({{"a", "e", "b", "", "", "h"}}), std::logic_error) << "unknown guard";
  EXPECT_THROW(build({{"a", "e", "b", ""}, {"a", "e", "a", "", "", "g"}}), std::logic_error)
      << "several rows for a pair, one without a guard";
  EXPECT_THROW(build({{"a", "e", "b", "", "", "g"}, {"a", "e", "a", "", "", "g"}}),
               std::logic_error)
      << "two rows with the same guard";
  EXPECT_THROW(build({{"a", "e", "b", "", "", "", "f"}}), std::logic_error)
      << "a cascade without a parent table";
  const Table parent("p", {"x"}, {"moved"}, {{"x", "moved", "=", ""}});
  EXPECT_THROW(build({{"a", "e", "b", "", "", "", "nope"}}, {"g"}, &parent), std::logic_error)
      << "a cascade to an event the parent does not have";
  EXPECT_THROW(build({{"a", "e", "b", "", "", "", "moved [h]"}}, {"g"}, &parent), std::logic_error)
      << "a cascade guard the table does not declare";
  EXPECT_NO_THROW(build({{"a", "e", "b", "", "job@debounce", "g"},
                         {"a", "e", "a", "", "", "!g", "moved [g] | alert"}},
                        {"g"}, &parent));
}

TEST(FlowMachines, AGuardTheCallerDidNotDecideIsAnError) {
  const sm::Row* row =
      sm::ThreadMachine().Find("routed", "message_received", {{sm::thread_guard::kInFlight, true}});
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->to, "=") << "a text while the action runs is kept";
  EXPECT_THROW(sm::ThreadMachine().Find("routed", "message_received", {}), std::logic_error)
      << "forgetting the fact must not pick the other row silently";
  EXPECT_NE(sm::ThreadMachine().Find("escalated", "message_received", {}), nullptr)
      << "an unguarded row needs no facts";
}

// No state or event name of the flow's machines is spelled as a string outside the tables: code
// names them by the constants above, so a renamed state cannot leave a stale copy behind. SQL
// (schema/) and the API's documented filters are data, not code, and are not scanned.
TEST(FlowMachines, NoStateOrEventLiteralOutsideTheTables) {
  std::set<std::string> names;
  for (const Table* t : {&sm::ThreadMachine(), &sm::ActionMachine()}) {
    for (auto s : t->states()) names.emplace(s);
    for (auto e : t->events()) names.emplace(e);
  }
  const std::regex literal("\"([a-z_]+)\"");
  std::vector<std::string> found;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(CLUBOS_SOURCE_DIR) + "/workflows")) {
    const std::string path = entry.path().string();
    if (path.size() < 4 || (path.substr(path.size() - 4) != ".cpp" && path.back() != 'h')) continue;
    std::ifstream in(path);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      // A named constant of another machine (a suggestion's, a policy version's) is the one place
      // its name is spelled.
      if (line.find("inline constexpr std::string_view") != std::string::npos) continue;
      for (std::sregex_iterator it(line.begin(), line.end(), literal), end; it != end; ++it)
        if (names.count((*it)[1].str()))
          found.push_back(entry.path().filename().string() + ":" + std::to_string(n) + " " +
                          (*it)[0].str());
    }
  }
  std::ostringstream all;
  for (const auto& f : found) all << "\n  " << f;
  EXPECT_TRUE(found.empty()) << "state or event names spelled as strings:" << all.str();
}
