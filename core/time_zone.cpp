#include "core/time_zone.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <stdexcept>

#include "core/time_format.h"

namespace clubos {

namespace {

int64_t Be(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  if (n == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

bool SafeName(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '/') return false;
  if (name.find("..") != std::string::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' ||
           c == '+';
  });
}

}  // namespace

std::shared_ptr<const TimeZone> TimeZone::Utc() {
  static const auto utc = [] {
    auto z = std::make_shared<TimeZone>();
    z->name_ = "UTC";
    return z;
  }();
  return utc;
}

// TZif (RFC 8536): a v1 block with 32-bit times, then (v2+) the same header and a block with
// 64-bit times, which is the one read here.
std::shared_ptr<const TimeZone> TimeZone::Load(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const TimeZone>> cache;
  std::lock_guard lock(mu);
  if (auto it = cache.find(name); it != cache.end()) return it->second;
  if (name == "UTC" || name == "Etc/UTC") return cache[name] = Utc();
  if (!SafeName(name)) throw std::runtime_error("time zone '" + name + "' is not a zone name");
  std::ifstream in("/usr/share/zoneinfo/" + name, std::ios::binary);
  if (!in) throw std::runtime_error("unknown time zone '" + name + "' (is tzdata installed?)");
  const std::vector<unsigned char> d((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
  auto bad = [&] { return std::runtime_error("time zone file for '" + name + "' is malformed"); };
  auto header = [&](std::size_t at, int64_t out[6]) {
    if (d.size() < at + 44 || d[at] != 'T' || d[at + 1] != 'Z' || d[at + 2] != 'i' ||
        d[at + 3] != 'f')
      throw bad();
    for (int i = 0; i < 6; ++i) out[i] = Be(&d[at + 20 + 4 * static_cast<std::size_t>(i)], 4);
  };
  // counts: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  int64_t c[6];
  header(0, c);
  const char version = static_cast<char>(d[4]);
  std::size_t at = 44;
  int time_size = 4;
  if (version >= '2') {
    at += static_cast<std::size_t>(c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0]);
    header(at, c);
    at += 44;
    time_size = 8;
  }
  const auto timecnt = static_cast<std::size_t>(c[3]), typecnt = static_cast<std::size_t>(c[4]),
             charcnt = static_cast<std::size_t>(c[5]);
  const std::size_t need =
      at + timecnt * static_cast<std::size_t>(time_size) + timecnt + typecnt * 6 + charcnt;
  if (typecnt == 0 || d.size() < need) throw bad();
  auto z = std::make_shared<TimeZone>();
  z->name_ = name;
  for (std::size_t i = 0; i < timecnt; ++i)
    z->transitions_.push_back(Be(&d[at + i * static_cast<std::size_t>(time_size)], time_size));
  at += timecnt * static_cast<std::size_t>(time_size);
  for (std::size_t i = 0; i < timecnt; ++i) {
    if (d[at + i] >= typecnt) throw bad();
    z->transition_type_.push_back(d[at + i]);
  }
  at += timecnt;
  const std::size_t chars = at + typecnt * 6;
  for (std::size_t i = 0; i < typecnt; ++i) {
    const unsigned char* p = &d[at + i * 6];
    const std::size_t abbr = chars + p[5];
    std::string a;
    for (std::size_t k = abbr; k < chars + charcnt && d[k]; ++k)
      a.push_back(static_cast<char>(d[k]));
    z->types_.push_back({Be(p, 4), a});
  }
  z->before_first_ = z->types_.front();
  return cache[name] = z;
}

const TimeZone::Type& TimeZone::TypeAt(TimePoint t) const {
  if (types_.empty()) return before_first_;
  const int64_t s = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), s);
  if (it == transitions_.begin()) return before_first_;
  // Past the last transition the zone's footer rule would apply; tzdata's 64-bit block lists
  // transitions through 2037, which is further than ClubOS looks.
  return types_[transition_type_[static_cast<std::size_t>(it - transitions_.begin() - 1)]];
}

int64_t TimeZone::OffsetAt(TimePoint t) const {
  return TypeAt(t).offset;
}

std::string TimeZone::LocalDate(TimePoint t) const {
  return FormatTimestamp(t + std::chrono::seconds(OffsetAt(t))).substr(0, 10);
}

int TimeZone::LocalMinuteOfDay(TimePoint t) const {
  const int64_t s =
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count() + OffsetAt(t);
  const int64_t day = 86'400;
  return static_cast<int>(((s % day) + day) % day / 60);
}

std::string TimeZone::Describe(TimePoint t) const {
  const int m = LocalMinuteOfDay(t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02d:%02d %s", m / 60, m % 60, TypeAt(t).abbreviation.c_str());
  return buf;
}

}  // namespace clubos
