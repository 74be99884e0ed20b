#include "app/cli.h"

#include <cerrno>
#include <cstdlib>

namespace clubos::app {

std::chrono::minutes ParseSince(const std::string& s, std::string_view units) {
  std::string shapes;
  for (const char u : units)
    shapes += std::string(shapes.empty() ? "" : ", ") + (u == 'd'   ? "7d"
                                                         : u == 'h' ? "12h"
                                                                    : "30m");
  const UsageError bad("--since must look like " + shapes);
  std::size_t used = 0;
  long long n = 0;
  // Digits only: stoll would also take " 7d", "+7d" and "0x7d".
  if (s.empty() || s[0] < '0' || s[0] > '9') throw bad;
  try {
    n = std::stoll(s, &used);
  } catch (const std::exception&) {
    throw bad;
  }
  if (used + 1 != s.size() || n <= 0 || n > 100'000 || units.find(s.back()) == std::string::npos)
    throw bad;
  switch (s.back()) {
    case 'd':
      return std::chrono::minutes(n * 24 * 60);
    case 'h':
      return std::chrono::minutes(n * 60);
    default:
      return std::chrono::minutes(n);
  }
}

Flags::Flags(const std::vector<std::string>& args, std::set<std::string> valued,
             std::set<std::string> booleans) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a, value;
    const auto eq = a.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    if (valued.count(name)) {
      if (!inline_value) {
        if (i + 1 >= args.size()) throw UsageError(name + " needs a value");
        value = args[++i];
      }
      values_[name] = value;
    } else if (booleans.count(name) && !inline_value) {
      values_[name] = "true";
    } else {
      throw UsageError("unknown flag " + name);
    }
  }
}

std::string Flags::Str(const std::string& name, const std::string& def) const {
  auto it = values_.find(name);
  return it == values_.end() ? def : it->second;
}

long long Flags::Int(const std::string& name, long long def, long long min, long long max) const {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (errno || end == it->second.c_str() || *end != '\0')
    throw UsageError(name + " takes a whole number, not '" + it->second + "'");
  if (v < min || v > max)
    throw UsageError(name + " must be within " + std::to_string(min) + ".." + std::to_string(max));
  return v;
}

std::vector<std::string> Flags::List(const std::string& name,
                                     const std::vector<std::string>& def) const {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  std::vector<std::string> out;
  std::string cur;
  for (char c : it->second + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (out.empty()) throw UsageError(name + " needs at least one item");
  return out;
}

}  // namespace clubos::app
