#include "core/time_format.h"

#include <cstdio>
#include <ctime>

namespace clubos {

std::string FormatTimestamp(TimePoint t) {
  const auto us = t.time_since_epoch().count();
  std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  long frac = static_cast<long>(us % 1'000'000);
  if (frac < 0) {
    frac += 1'000'000;
    secs -= 1;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06ld+00", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

std::optional<TimePoint> ParseTimestamp(const std::string& input) {
  // ISO 8601's "T" separator and "Z" zone are accepted too (what agents and vendors send).
  std::string text = input;
  if (text.size() > 10 && text[10] == 'T') text[10] = ' ';
  int y, mo, d, h, mi, s;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) !=
      6)
    return std::nullopt;
  std::size_t pos = static_cast<std::size_t>(consumed);
  long frac_us = 0;
  if (pos < text.size() && text[pos] == '.') {
    long scale = 100000;
    ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      frac_us += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
  }
  long offset_s = 0;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    int oh = 0, om = 0, osec = 0;
    const int n = std::sscanf(text.c_str() + pos + 1, "%2d:%2d:%2d", &oh, &om, &osec);
    if (n < 1) return std::nullopt;
    offset_s = sign * (oh * 3600L + om * 60L + osec);
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const std::time_t secs = timegm(&tm) - offset_s;
  return TimePoint(std::chrono::microseconds(static_cast<int64_t>(secs) * 1'000'000 + frac_us));
}

}  // namespace clubos
