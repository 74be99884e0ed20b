#include "core/text.h"

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

}  // namespace clubos
