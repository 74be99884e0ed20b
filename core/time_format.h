#pragma once
#include <optional>
#include <string>

#include "core/clock.h"

namespace clubos {

// "2026-11-21 23:45:00.123456+00": the text form Postgres reads and writes for timestamptz.
std::string FormatTimestamp(TimePoint t);
// Parses Postgres' timestamptz output (with any UTC offset); nullopt when malformed.
std::optional<TimePoint> ParseTimestamp(const std::string& text);

}  // namespace clubos
