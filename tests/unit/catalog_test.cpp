#include <gtest/gtest.h>

#include "store/catalog.h"

using clubos::store::Catalog;
using clubos::store::EmbeddedFile;

TEST(Catalog, SplitsNamedStatements) {
  const std::vector<EmbeddedFile> files = {
      {"a.sql",
       "-- leading comment\n-- name: one\nSELECT 1\n\n-- name: two\n-- a comment\nSELECT\n  2\n"}};
  const auto c = Catalog::Parse(files);
  ASSERT_EQ(c.Statements().size(), 2u);
  EXPECT_EQ(c.Statements().at("one"), "SELECT 1");
  EXPECT_EQ(c.Statements().at("two"), "-- a comment\nSELECT\n  2");
}

TEST(Catalog, RejectsDuplicateNamesAcrossFiles) {
  const std::vector<EmbeddedFile> files = {{"a.sql", "-- name: x\nSELECT 1\n"},
                                           {"b.sql", "-- name: x\nSELECT 2\n"}};
  EXPECT_THROW(Catalog::Parse(files), std::invalid_argument);
}

TEST(Catalog, RejectsEmptyStatementsAndNames) {
  EXPECT_THROW(Catalog::Parse({{"a.sql", "-- name: x\n\n-- name: y\nSELECT 1\n"}}),
               std::invalid_argument);
  EXPECT_THROW(Catalog::Parse({{"a.sql", "-- name:\nSELECT 1\n"}}), std::invalid_argument);
}

TEST(Catalog, BuiltinHasEveryStatementTheQueueCalls) {
  const auto& c = Catalog::Builtin();
  for (const char* name :
       {"job_enqueue", "job_enqueue_many", "job_complete_and_fetch", "job_complete", "job_retry",
        "job_kill", "job_heartbeat", "job_release", "job_promote_due", "job_next_due",
        "job_rescue_retryable", "job_rescue_final", "job_prune_dead", "job_get", "periodic_claim",
        "leader_try_acquire", "leader_release"})
    EXPECT_TRUE(c.Has(name)) << name;
}
