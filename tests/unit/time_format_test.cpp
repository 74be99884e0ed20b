#include <gtest/gtest.h>

#include "core/time_format.h"

using namespace clubos;

TEST(TimeFormat, RoundTripsMicroseconds) {
  const TimePoint t(std::chrono::microseconds(1'763'768'112'123'456LL));
  EXPECT_EQ(FormatTimestamp(t), "2025-11-21 23:35:12.123456+00");
  EXPECT_EQ(ParseTimestamp(FormatTimestamp(t)), t);
}

TEST(TimeFormat, ParsesPostgresOutputWithOffsetsAndShortFractions) {
  const auto utc = ParseTimestamp("2026-11-21 23:45:00+00");
  const auto plus = ParseTimestamp("2026-11-22 01:45:00.5+02");
  const auto minus = ParseTimestamp("2026-11-21 18:15:00-05:30");
  ASSERT_TRUE(utc && plus && minus);
  EXPECT_EQ(*plus - *utc, std::chrono::microseconds(500'000));
  EXPECT_EQ(*minus, *utc);
}

TEST(TimeFormat, RejectsGarbage) {
  EXPECT_FALSE(ParseTimestamp("yesterday"));
  EXPECT_FALSE(ParseTimestamp(""));
}

TEST(TimeFormat, ParsesIso8601AsAgentsAndVendorsSendIt) {
  const auto pg = ParseTimestamp("2026-11-21 23:45:00.5+00");
  ASSERT_TRUE(pg.has_value());
  EXPECT_EQ(ParseTimestamp("2026-11-21T23:45:00.5Z"), pg);
  EXPECT_EQ(ParseTimestamp("2026-11-22T00:45:00.5+01:00"), pg);
  EXPECT_FALSE(ParseTimestamp("2026-11-21X23:45:00Z").has_value());
}
