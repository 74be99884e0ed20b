#pragma once
// Real Postgres for tests. scripts/test starts a throwaway cluster and exports
// CLUBOS_TEST_DATABASE_URL (an admin URL); each test binary creates its own database from it,
// migrates it, and drops it at exit. Without the variable a test skips, except under CI=true,
// where it fails: CI must never pass by running nothing.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "store/db.h"

namespace clubos::pgtest {

// The migrated database of this test binary, or "" when none is configured.
const std::string& TestDatabaseUrl();
// Empties every table the queue and flows write (between tests).
void ResetDatabase();
// Empties the knowledge store (documents, versions, proposals, their events, conflicts, and the
// cases and feedback that point at them); then imports the example facility's folder again when
// `import_example`.
void ResetKnowledge(bool import_example);
std::unique_ptr<store::Connection> Connect();
// Creates (or empties) selftest_records, where the selftest.record job kind of a `clubos worker`
// run with CLUBOS_SELFTEST=1 records each job it completes (app/kinds.cpp).
void ResetSelftestRecords(store::Connection& db);
// A second, unmigrated database (for migrator tests); dropped at exit.
std::string CreateScratchDatabase(const std::string& suffix);
bool InCi();
// What the flow's tests read back, shared by their fixtures: `db` is the fixture's connection.
struct FlowReads {
  store::Connection* db = nullptr;
  std::string ThreadState(int64_t thread) const;
  std::string Escalation(int64_t thread) const;  // "" when none
  int64_t Scalar(const std::string& sql, const std::vector<store::Param>& params = {}) const;
  // The first value as text; "" when there is no row or it is null.
  std::string Text(const std::string& sql, const std::vector<store::Param>& params = {}) const;
  bool ReachesState(int64_t thread, const std::string& state,
                    Millis timeout = Millis(15'000)) const;
};

// A booking for `phone` at `location` from 30 minutes ago to 90 minutes from now (the policy lets
// a door open only for a booking within its window). No bay: any bay's reset is the customer's.
void BookNow(store::Connection& db, const std::string& location, const std::string& phone,
             std::optional<int> bay = std::nullopt);

}  // namespace clubos::pgtest

#define CLUBOS_REQUIRE_PG()                                                                    \
  do {                                                                                         \
    if (::clubos::pgtest::TestDatabaseUrl().empty()) {                                         \
      if (::clubos::pgtest::InCi()) FAIL() << "CI=true but CLUBOS_TEST_DATABASE_URL is unset"; \
      GTEST_SKIP() << "CLUBOS_TEST_DATABASE_URL is unset (scripts/test sets it)";              \
    }                                                                                          \
  } while (0)
