#include "core/text.h"

#include <charconv>

namespace clubos {

bool ConstantTimeEqual(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff = static_cast<unsigned char>(
        diff | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i])));
  return diff == 0;
}

bool IsE164(const std::string& p) {
  if (p.size() < 8 || p.size() > 16 || p[0] != '+' || p[1] == '0') return false;
  for (std::size_t i = 1; i < p.size(); ++i)
    if (p[i] < '0' || p[i] > '9') return false;
  return true;
}

std::optional<int64_t> ParseInt64(std::string_view s) {
  const std::size_t digits_at = !s.empty() && s[0] == '-' ? 1 : 0;
  if (s.size() == digits_at || s.size() - digits_at > 19) return std::nullopt;
  for (std::size_t i = digits_at; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;  // out of range
  return v;
}

}  // namespace clubos
