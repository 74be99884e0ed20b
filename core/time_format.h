#pragma once
#include <optional>
#include <string>

#include "core/clock.h"

namespace clubos {

// "2026-11-21 23:45:00.123456+00": the text form Postgres reads and writes for timestamptz.
std::string FormatTimestamp(TimePoint t);
// "2026-11-21T23:45:00.123456Z": ISO 8601 / RFC 3339, what the API answers.
std::string FormatIso8601(TimePoint t);

// The one parser of times, for every input (API bodies and queries, agents, Postgres' output):
// `YYYY-MM-DD` `T` (or a space) `hh:mm:ss`, an optional fraction of 1..9 digits (kept to the
// microsecond), and a zone, which is required: `Z`, `±hh` or `±hh:mm` (at most ±14:00). Every
// field is range-checked (no Feb 30, 24:00 or :60), nothing may follow, and the instant must lie
// within kMinTimestamp..kMaxTimestamp. nullopt otherwise: a time without a zone is ambiguous,
// and a time out of range is one Postgres (or the formatters above) would refuse.
std::optional<TimePoint> ParseTimestamp(const std::string& text);

// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: the instants whose UTC text has a
// four-digit year (Postgres takes more, but not year 0, and our formatters write four digits).
inline constexpr TimePoint kMinTimestamp{std::chrono::microseconds(-62'135'596'800'000'000)};
inline constexpr TimePoint kMaxTimestamp{std::chrono::microseconds(253'402'300'799'999'999)};

}  // namespace clubos
