#include "api/cursor.h"

#include <optional>
#include <vector>

#include "api/errors.h"
#include "core/text.h"
#include "core/time_format.h"
#include "integrations/signing.h"

namespace clubos::api::cursor {
namespace {

// Longer than any cursor this API writes ("e1:" and three numbers, in base64url: under 100).
constexpr std::size_t kMaxCursorChars = 256;
constexpr int64_t kSmallintMin = -32768;
constexpr int64_t kSmallintMax = 32767;

ApiError BadCursor() {
  return ApiError(400, "bad_cursor", "after is not a cursor this list returned");
}

std::string Base64UrlEncode(const std::string& plain) {
  std::string s = integrations::Base64Encode(plain);
  for (auto& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::optional<std::string> Base64UrlDecode(std::string s) {
  for (auto& c : s) {
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (c == '+' || c == '/' || c == '=')
      return std::nullopt;
  }
  while (s.size() % 4) s += '=';
  return integrations::Base64Decode(s);
}

// The cursor's fields after `prefix`, split on ':': exactly `n` of them, or 400.
std::vector<std::string> Fields(const std::string& cursor, const std::string& prefix,
                                std::size_t n) {
  const auto plain = cursor.size() <= kMaxCursorChars ? Base64UrlDecode(cursor) : std::nullopt;
  if (!plain || plain->rfind(prefix, 0) != 0) throw BadCursor();
  std::vector<std::string> out;
  std::size_t start = prefix.size();
  for (;;) {
    const std::size_t colon = plain->find(':', start);
    out.push_back(plain->substr(start, colon == std::string::npos ? colon : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (out.size() != n) throw BadCursor();
  return out;
}

int64_t Number(const std::string& s, int64_t min, int64_t max) {
  const auto v = ParseInt64(s);
  if (!v || *v < min || *v > max) throw BadCursor();
  return *v;
}

}  // namespace

std::string EncodeThreads(int64_t last_id) {
  return Base64UrlEncode("t1:" + std::to_string(last_id));
}

int64_t DecodeThreads(const std::string& cursor) {
  return Number(Fields(cursor, "t1:", 1)[0], 1, INT64_MAX);
}

std::string EncodeEscalations(const EscalationKey& k) {
  return Base64UrlEncode("e1:" + std::to_string(k.priority) + ":" +
                         std::to_string(k.escalated_at.time_since_epoch().count()) + ":" +
                         std::to_string(k.thread_id));
}

EscalationKey DecodeEscalations(const std::string& cursor) {
  const auto f = Fields(cursor, "e1:", 3);
  EscalationKey k;
  k.priority = static_cast<int>(Number(f[0], kSmallintMin, kSmallintMax));
  k.escalated_at = TimePoint(std::chrono::microseconds(Number(
      f[1], kMinTimestamp.time_since_epoch().count(), kMaxTimestamp.time_since_epoch().count())));
  k.thread_id = Number(f[2], 1, INT64_MAX);
  return k;
}

}  // namespace clubos::api::cursor
