#include <gtest/gtest.h>

#include "core/time_format.h"

using namespace clubos;

TEST(TimeFormat, RoundTripsMicroseconds) {
  const TimePoint t(std::chrono::microseconds(1'763'768'112'123'456LL));
  EXPECT_EQ(FormatTimestamp(t), "2025-11-21 23:35:12.123456+00");
  EXPECT_EQ(ParseTimestamp(FormatTimestamp(t)), t);
  EXPECT_EQ(FormatIso8601(t), "2025-11-21T23:35:12.123456Z");
  EXPECT_EQ(ParseTimestamp(FormatIso8601(t)), t);
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
  const auto t = ParseTimestamp("2024-02-29T23:59:58.5+01:30");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatIso8601(*t), "2024-02-29T22:29:58.500000Z");
  EXPECT_EQ(FormatIso8601(*ParseTimestamp("1970-01-01T00:00:00Z")), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(ParseTimestamp("2026-11-21T23:45:00.123456Z")->time_since_epoch().count() % 1'000'000,
            123456);
  // Nanoseconds are accepted and cut to the microsecond.
  EXPECT_EQ(ParseTimestamp("2026-11-21T23:45:00.123456789Z"),
            ParseTimestamp("2026-11-21T23:45:00.123456Z"));
  EXPECT_TRUE(ParseTimestamp("2026-11-21T23:45:00+14:00"));
  EXPECT_TRUE(ParseTimestamp("2026-11-21T23:45:00-12:00"));
}

// Each of these was accepted by the old sscanf parser the bookings used (defects D6, L3): a time
// without a zone taken as UTC, impossible dates rolled over, junk ignored, offsets of any size,
// and years Postgres refuses (a 500).
TEST(TimeFormat, RefusesEverythingThatIsNotOneExactInstant) {
  for (const char* bad : {"2026-12-05T18:00:00",              // no zone: ambiguous, not UTC
                          "2026-12-05 18:00:00",              // the same with a space
                          "2027-02-30T10:00:00Z",             // Feb 30
                          "2023-02-29T00:00:00Z",             // not a leap year
                          "2100-02-29T00:00:00Z",             // not a leap year either
                          "2026-13-01T00:00:00Z",             // month 13
                          "2026-00-10T00:00:00Z",             // month 0
                          "2026-04-31T00:00:00Z",             // April 31
                          "2026-11-00T00:00:00Z",             // day 0
                          "2026-11-21T24:00:00Z",             // 24:00
                          "2026-11-21T23:60:00Z",             // minute 60
                          "2026-11-21T00:00:60Z",             // a leap second
                          "2026-11-21T23:45:00Zjunk",         // trailing junk
                          "2026-11-21T23:45:00Z ",            // trailing space
                          " 2026-11-21T23:45:00Z",            // leading space
                          "2026-11-21T23:45:00+99:99",        // a 100 h 39 min offset
                          "2026-11-21T23:45:00+14:01",        // beyond any zone
                          "2026-11-21T23:45:00-15:00",        // beyond any zone
                          "2026-11-21T23:45:00+05:60",        // minutes > 59
                          "2026-11-21T23:45:00+0100",         // basic offset
                          "2026-11-21T23:45:00+1",            // one digit
                          "2026-11-21T23:45:00+01:",          // dangling colon
                          "2026-11-21T23:45:00.Z",            // empty fraction
                          "2026-11-21T23:45:00.1234567890Z",  // more than nanoseconds
                          "2026-1-5 1:2:3Z",                  // short fields
                          "2026-11-21",                       // a date
                          "0000-01-01T00:00:00Z",       // year 0: Postgres refuses it (was a 500)
                          "0001-01-01T00:00:00+01:00",  // year 0 once in UTC
                          "-001-01-01T00:00:00Z",       // a negative year
                          "9999-12-31T23:00:00-02:00",  // year 10000 once in UTC
                          "x026-11-21T23:45:00Z",
                          "2026-11-21T23:45:00\xff",
                          "2026-11-21\x00T23:45:00Z"})
    EXPECT_FALSE(ParseTimestamp(bad)) << bad;
}

TEST(TimeFormat, TheRangeIsFourDigitYearsInUtc) {
  EXPECT_EQ(ParseTimestamp("0001-01-01T00:00:00Z"), kMinTimestamp);
  EXPECT_EQ(ParseTimestamp("9999-12-31T23:59:59.999999Z"), kMaxTimestamp);
  EXPECT_EQ(FormatTimestamp(kMinTimestamp), "0001-01-01 00:00:00.000000+00");
  EXPECT_EQ(FormatIso8601(kMaxTimestamp), "9999-12-31T23:59:59.999999Z");
}
