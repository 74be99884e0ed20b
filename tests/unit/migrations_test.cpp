#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>

#include "store/embedded.h"
#include "store/migrator.h"

using namespace clubos::store;

TEST(Migrations, OrderedByVersionWhateverTheInputOrder) {
  const auto ms = ParseMigrations({{"0002_b.sql", "SELECT 2"}, {"0001_a.sql", "SELECT 1"}});
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms[0].version, 1);
  EXPECT_EQ(ms[0].name, "a");
  EXPECT_EQ(ms[1].version, 2);
  EXPECT_NE(ms[0].checksum, ms[1].checksum);
}

TEST(Migrations, RejectsBadNamesAndDuplicateVersions) {
  EXPECT_THROW(ParseMigrations({{"1_a.sql", "x"}}), SchemaError);
  EXPECT_THROW(ParseMigrations({{"0001-a.sql", "x"}}), SchemaError);
  EXPECT_THROW(ParseMigrations({{"0001_a.sql", "x"}, {"0001_b.sql", "y"}}), SchemaError);
}

TEST(Migrations, BuiltinStartAtOneWithoutGaps) {
  const auto& ms = BuiltinMigrations();
  ASSERT_FALSE(ms.empty());
  int expected = 1;
  for (const auto& m : ms) {
    EXPECT_EQ(m.version, expected);
    expected = m.version + 1;
  }
}
