#pragma once
// Local time in a location's IANA zone, read from the system's compiled tz database
// (/usr/share/zoneinfo, Debian's tzdata). libstdc++ 12 has no std::chrono::zoned_time, and
// setenv("TZ") + localtime_r would change the zone for every thread of the process.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"

namespace clubos {

class TimeZone {
 public:
  // Loads "America/Halifax"; throws ConfigError-like std::runtime_error when unknown.
  static std::shared_ptr<const TimeZone> Load(const std::string& name);
  static std::shared_ptr<const TimeZone> Utc();

  // Seconds east of UTC at the instant `t`.
  int64_t OffsetAt(TimePoint t) const;
  // Minutes since local midnight, 0..1439.
  int LocalMinuteOfDay(TimePoint t) const;
  // The local calendar date at `t`, "YYYY-MM-DD" (a budget day ends at local midnight).
  std::string LocalDate(TimePoint t) const;
  // "2026-11-21 19:45 AST"-like text for people.
  std::string Describe(TimePoint t) const;
  const std::string& name() const { return name_; }

 private:
  struct Type {
    int64_t offset;
    std::string abbreviation;
  };
  std::string name_;
  std::vector<int64_t> transitions_;      // UTC seconds, ascending
  std::vector<uint8_t> transition_type_;  // index into types_ for each transition
  std::vector<Type> types_;
  Type before_first_{0, "UTC"};
  const Type& TypeAt(TimePoint t) const;
};

}  // namespace clubos
