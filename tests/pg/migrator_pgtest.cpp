#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "store/migrator.h"
#include "tests/support/pg.h"

using namespace clubos;
using namespace clubos::store;

TEST(Migrator, AppliesOnceAndIsIdempotent) {
  CLUBOS_REQUIRE_PG();
  auto conn = store::Connect(pgtest::CreateScratchDatabase("idem"));
  EXPECT_EQ(ReadSchemaStatus(*conn).db_version, 0);
  EXPECT_THROW(RequireCurrentSchema(*conn), SchemaError);
  EXPECT_EQ(Migrate(*conn), static_cast<int>(BuiltinMigrations().size()));
  EXPECT_EQ(Migrate(*conn), 0);
  EXPECT_TRUE(ReadSchemaStatus(*conn).Current());
  EXPECT_NO_THROW(RequireCurrentSchema(*conn));
}

TEST(Migrator, SeveralMachinesAtOnceApplyEachMigrationExactlyOnce) {
  CLUBOS_REQUIRE_PG();
  const auto url = pgtest::CreateScratchDatabase("race");
  std::array<int, 6> applied{};
  std::vector<std::thread> ts;
  for (std::size_t i = 0; i < applied.size(); ++i)
    ts.emplace_back([&, i] {
      auto c = store::Connect(url);
      applied[i] = Migrate(*c);
    });
  for (auto& t : ts) t.join();
  int total = 0;
  for (int a : applied) total += a;
  EXPECT_EQ(total, static_cast<int>(BuiltinMigrations().size()));
  auto c = store::Connect(url);
  EXPECT_EQ(c->ExecRawOne("SELECT count(*) FROM schema_migrations").At(0, 0).Int(),
            static_cast<int>(BuiltinMigrations().size()));
}

TEST(Migrator, RefusesADatabaseNewerThanTheCode) {
  CLUBOS_REQUIRE_PG();
  auto conn = store::Connect(pgtest::CreateScratchDatabase("newer"));
  Migrate(*conn);
  conn->ExecRawOne(
      "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')");
  EXPECT_THROW(Migrate(*conn), SchemaError);
  EXPECT_THROW(RequireCurrentSchema(*conn), SchemaError);
}

TEST(Migrator, RefusesAnAppliedMigrationThatWasEdited) {
  CLUBOS_REQUIRE_PG();
  auto conn = store::Connect(pgtest::CreateScratchDatabase("edited"));
  auto ms = ParseMigrations({{"0001_a.sql", "CREATE TABLE a (x int)"}});
  Migrate(*conn, ms);
  auto edited = ParseMigrations({{"0001_a.sql", "CREATE TABLE a (x bigint)"}});
  EXPECT_THROW(Migrate(*conn, edited), SchemaError);
}

TEST(Migrator, AFailingMigrationChangesNothing) {
  CLUBOS_REQUIRE_PG();
  auto conn = store::Connect(pgtest::CreateScratchDatabase("failing"));
  auto ms = ParseMigrations({{"0001_a.sql", "CREATE TABLE a (x int)"},
                             {"0002_b.sql", "CREATE TABLE b (x int); SELECT no_such_function()"}});
  EXPECT_THROW(Migrate(*conn, ms), DbError);
  EXPECT_EQ(ReadSchemaStatus(*conn, ms).db_version, 1);
  EXPECT_TRUE(conn->ExecRawOne("SELECT to_regclass('b') IS NULL").At(0, 0).Bool());
}

// schema/schema.sql is the dump of the migrated schema; regenerate it with scripts/dump-schema.
TEST(Migrator, SchemaDumpMatchesTheMigrations) {
  CLUBOS_REQUIRE_PG();
  const std::string cmd =
      std::string(CLUBOS_SOURCE_DIR) + "/scripts/dump-schema '" + pgtest::TestDatabaseUrl() + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string dumped;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) dumped.append(buf, n);
  ASSERT_EQ(::pclose(p), 0) << "scripts/dump-schema failed";
  std::ifstream f(std::string(CLUBOS_SOURCE_DIR) + "/schema/schema.sql");
  std::stringstream committed;
  committed << f.rdbuf();
  EXPECT_EQ(dumped, committed.str())
      << "schema/schema.sql drifted: run scripts/dump-schema > schema/schema.sql";
}
