#pragma once
#include <optional>
#include <string>

#include "core/clock.h"

namespace clubos {

// "2026-11-21 23:45:00.123456+00": the text form Postgres reads and writes for timestamptz.
std::string FormatTimestamp(TimePoint t);
// Parses Postgres' timestamptz output (with any UTC offset) and ISO 8601 ("2026-11-21T23:45:00Z",
// "...T23:45:00.5+01:00"); nullopt when malformed.
std::optional<TimePoint> ParseTimestamp(const std::string& text);

}  // namespace clubos
