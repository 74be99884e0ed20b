#include "api/dto.h"

#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>

#include "api/errors.h"
#include "core/text.h"

namespace clubos::api::dto {
namespace {

using nlohmann::json;

// Bounds on what a body may carry; the domain checks finer rules (E.164, a text's length in
// characters, which only the domain measures so that one limit answers with one status).
constexpr std::size_t kMaxShortField = 200;
constexpr std::size_t kMaxTextField = 4000;
// A message's text is bounded by the request's size (413) and then by the domain in characters
// (422): no byte limit here, which would answer the same over-long text with a third status.
constexpr std::size_t kMaxMessageBytes = std::numeric_limits<std::size_t>::max();

// Deeper than any body of the API needs. nlohmann parses iteratively but serialises recursively:
// a target nested 13,000 levels deep overflowed the stack in dump() (found by the fuzzer; kept
// as tests/fuzz/corpus/crash-deep-target-stack-overflow).
constexpr int kMaxDepth = 32;

bool NestedDeeperThan(const std::string& text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

}  // namespace

json Object(const std::string& body) {
  if (NestedDeeperThan(body, kMaxDepth))
    throw BadRequest("the body is nested deeper than " + std::to_string(kMaxDepth) + " levels");
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) throw BadRequest("the body is not valid JSON");
  if (!j.is_object()) throw BadRequest("the body must be a JSON object");
  return j;
}

namespace {

const json* Field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string RequiredString(const json& j, const char* key, std::size_t max_bytes,
                           bool allow_empty = false) {
  const json* f = Field(j, key);
  if (!f) throw BadRequest(std::string(key) + " is required");
  if (!f->is_string()) throw BadRequest(std::string(key) + " must be a string");
  std::string s = f->get<std::string>();
  if (!allow_empty && s.empty()) throw BadRequest(std::string(key) + " must not be empty");
  if (s.size() > max_bytes)
    throw BadRequest(std::string(key) + " is longer than " + std::to_string(max_bytes) + " bytes");
  return s;
}

std::optional<std::string> OptionalString(const json& j, const char* key, std::size_t max_bytes) {
  if (!Field(j, key)) return std::nullopt;
  return RequiredString(j, key, max_bytes, true);
}

bool RequiredBool(const json& j, const char* key) {
  const json* f = Field(j, key);
  if (!f) throw BadRequest(std::string(key) + " is required");
  if (!f->is_boolean()) throw BadRequest(std::string(key) + " must be true or false");
  return f->get<bool>();
}

std::optional<int64_t> OptionalId(const json& j, const char* key) {
  const json* f = Field(j, key);
  if (!f) return std::nullopt;
  if (!f->is_number_integer()) throw BadRequest(std::string(key) + " must be an integer");
  // A number above int64's range parses as unsigned; both must be positive ids.
  if (f->is_number_unsigned() && f->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    throw BadRequest(std::string(key) + " is out of range");
  const int64_t v = f->get<int64_t>();
  if (v <= 0) throw BadRequest(std::string(key) + " must be a positive integer");
  return v;
}

std::optional<TimePoint> OptionalTime(const json& j, const char* key) {
  const auto s = OptionalString(j, key, 64);
  if (!s) return std::nullopt;
  auto t = ParseIso8601(*s);
  if (!t)
    throw BadRequest(std::string(key) + " must be an ISO 8601 time, e.g. 2026-01-31T08:00:00Z");
  return t;
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(const std::string& s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<TimePoint> ParseIso8601(const std::string& s) {
  int y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, mo) || s[7] != '-' ||
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
  if (pos < s.size() && s[pos] == '.') {
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
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int sign = s[pos] == '-' ? -1 : 1;
    int oh, om;
    if (!Digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_s = sign * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;  // a time without a zone is ambiguous
  }
  if (pos != s.size()) return std::nullopt;
  const int64_t secs =
      DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
      mi * 60 + sec - offset_s;
  return TimePoint(std::chrono::microseconds(secs * 1'000'000 + micros));
}

std::string FormatIso8601(TimePoint t) {
  const int64_t us = t.time_since_epoch().count();
  int64_t secs = us / 1'000'000;
  int64_t frac = us % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    secs -= 1;
  }
  const auto tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(frac));
  return buf;
}

workflows::InboundMessage ParseMessage(const std::string& body) {
  const json j = Object(body);
  workflows::InboundMessage m;
  m.from = RequiredString(j, "from", 32);
  m.to = RequiredString(j, "to", 32);
  m.body = RequiredString(j, "body", kMaxMessageBytes);
  m.external_id = OptionalString(j, "external_id", kMaxShortField).value_or("");
  return m;
}

workflows::ActionRequest ParseAction(const std::string& body) {
  const json j = Object(body);
  workflows::ActionRequest a;
  a.kind = RequiredString(j, "kind", 64);
  const json* target = Field(j, "target");
  if (!target) throw BadRequest("target is required");
  if (!target->is_object()) throw BadRequest("target must be an object");
  a.target = target->dump();
  if (a.target.size() > 4096) throw BadRequest("target is longer than 4096 bytes");
  a.reason = RequiredString(j, "reason", kMaxShortField);
  a.booking_id = OptionalString(j, "booking_id", kMaxShortField);
  a.thread_id = OptionalId(j, "thread_id");
  a.text = OptionalString(j, "text", kMaxTextField).value_or("");
  if (const json* o = Field(j, "human_override")) {
    if (!o->is_boolean()) throw BadRequest("human_override must be true or false");
    a.human_override = o->get<bool>();
  }
  a.stop_override = OptionalString(j, "override_stop", kMaxShortField).value_or("");
  if (Field(j, "override_stop") && a.stop_override.empty())
    throw BadRequest("override_stop must say why");
  return a;
}

Resolution ParseResolve(const std::string& body) {
  const json j = Object(body);
  Resolution r{RequiredString(j, "resolution", kMaxShortField),
               OptionalString(j, "note", kMaxTextField).value_or("")};
  if (Field(j, "take_over")) r.take_over = RequiredBool(j, "take_over");
  return r;
}

bool ParseClaim(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return false;
  const json j = Object(body);
  return Field(j, "take_over") ? RequiredBool(j, "take_over") : false;
}

std::string ParseFlagRollback(const std::string& body) {
  return RequiredString(Object(body), "reason", kMaxTextField);
}

void ParseEmptyOrObject(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return;
  Object(body);
}

workflows::AgentHeartbeat ParseHeartbeat(const std::string& body) {
  const json j = Object(body);
  workflows::AgentHeartbeat hb;
  hb.tps_version = RequiredString(j, "tps_version", 64, true);
  hb.tps_running = RequiredBool(j, "tps_running");
  hb.radar_reachable = RequiredBool(j, "radar_reachable");
  hb.tps_started_at = OptionalTime(j, "tps_started_at");
  hb.booted_at = OptionalTime(j, "booted_at");
  return hb;
}

Report ParseReport(const std::string& body) {
  const json j = Object(body);
  Report r;
  const auto id = OptionalId(j, "command_id");
  if (!id) throw BadRequest("command_id is required");
  r.command_id = *id;
  r.success = RequiredBool(j, "success");
  r.message = OptionalString(j, "message", kMaxTextField).value_or("");
  return r;
}

}  // namespace clubos::api::dto
