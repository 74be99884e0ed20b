#include "core/time_format.h"

#include <cstdint>
#include <cstdio>
#include <ctime>

namespace clubos {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Exactly `n` ASCII digits at `pos`.
bool Digits(const std::string& s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

constexpr int64_t kMicrosPerSecond = 1'000'000;
// The largest UTC offset in use anywhere (Kiribati, +14:00); nothing beyond it is a real zone.
constexpr int kMaxOffsetMinutes = 14 * 60;

void SplitMicros(TimePoint t, std::time_t& secs, int64_t& frac) {
  const int64_t us = t.time_since_epoch().count();
  secs = static_cast<std::time_t>(us / kMicrosPerSecond);
  frac = us % kMicrosPerSecond;
  if (frac < 0) {
    frac += kMicrosPerSecond;
    secs -= 1;
  }
}

}  // namespace

namespace {

// `format` takes year, month, day, hour, minute, second and microseconds, in that order.
std::string FormatUtc(TimePoint t, const char* format) {
  std::time_t secs;
  int64_t frac;
  SplitMicros(t, secs, frac);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, format, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
  return buf;
}

}  // namespace

std::string FormatTimestamp(TimePoint t) {
  return FormatUtc(t, "%04d-%02d-%02d %02d:%02d:%02d.%06lld+00");
}

std::string FormatIso8601(TimePoint t) {
  return FormatUtc(t, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ");
}

std::optional<TimePoint> ParseTimestamp(const std::string& s) {
  int y, mo, d, h, mi, sec;
  if (s.size() < 20 || !Digits(s, 0, 4, y) || s[4] != '-' || !Digits(s, 5, 2, mo) || s[7] != '-' ||
      !Digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, h) || s[13] != ':' || !Digits(s, 14, 2, mi) || s[16] != ':' ||
      !Digits(s, 17, 2, sec))
    return std::nullopt;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 ||
      mi > 59 || sec > 59)
    return std::nullopt;
  std::size_t pos = 19;
  int64_t micros = 0;
  if (s[pos] == '.') {
    ++pos;
    int64_t scale = 100000;
    const std::size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (pos - start < 6) micros += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9) return std::nullopt;
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int sign = s[pos] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    if (!Digits(s, pos + 1, 2, oh)) return std::nullopt;
    pos += 3;
    if (pos < s.size() && s[pos] == ':') {  // ±hh:mm; Postgres writes ±hh when mm is 0
      if (!Digits(s, pos + 1, 2, om)) return std::nullopt;
      pos += 3;
    }
    if (om > 59 || oh * 60 + om > kMaxOffsetMinutes) return std::nullopt;
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;  // a time without a zone is ambiguous
  }
  if (pos != s.size()) return std::nullopt;
  const int64_t secs =
      DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
      mi * 60 + sec - offset_minutes * 60;
  const TimePoint t(std::chrono::microseconds(secs * kMicrosPerSecond + micros));
  if (t < kMinTimestamp || t > kMaxTimestamp) return std::nullopt;
  return t;
}

}  // namespace clubos
