// Local time from the tz database: a location's opening hours follow its daylight-saving rules.
#include <gtest/gtest.h>

#include "core/time_format.h"
#include "core/time_zone.h"

using namespace clubos;

namespace {

TimePoint At(const std::string& utc) {
  return *ParseTimestamp(utc);
}

TEST(TimeZone, HalifaxFollowsDaylightSaving) {
  const auto z = TimeZone::Load("America/Halifax");
  // Winter: AST, UTC-4. 2026-01-15 02:30 UTC is 22:30 the evening before.
  EXPECT_EQ(z->OffsetAt(At("2026-01-15 02:30:00+00")), -4 * 3600);
  EXPECT_EQ(z->LocalMinuteOfDay(At("2026-01-15 02:30:00+00")), 22 * 60 + 30);
  // Summer: ADT, UTC-3.
  EXPECT_EQ(z->OffsetAt(At("2026-07-01 12:00:00+00")), -3 * 3600);
  EXPECT_EQ(z->Describe(At("2026-07-01 12:00:00+00")), "09:00 ADT");
  // The spring change, 2026-03-08 02:00 local (06:00 UTC): a minute before and after.
  EXPECT_EQ(z->OffsetAt(At("2026-03-08 05:59:00+00")), -4 * 3600);
  EXPECT_EQ(z->OffsetAt(At("2026-03-08 06:00:00+00")), -3 * 3600);
}

TEST(TimeZone, UtcAndUnknownZones) {
  EXPECT_EQ(TimeZone::Load("UTC")->OffsetAt(At("2026-07-01 12:00:00+00")), 0);
  EXPECT_THROW(TimeZone::Load("Mars/Olympus_Mons"), std::runtime_error);
  EXPECT_THROW(TimeZone::Load("../../etc/passwd"), std::runtime_error);
  EXPECT_EQ(TimeZone::Load("Asia/Kolkata")->OffsetAt(At("2026-07-01 12:00:00+00")), 19'800);
}

}  // namespace
