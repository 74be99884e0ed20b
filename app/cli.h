#pragma once
// A small, strict flag parser: `--name value`, `--name=value` and boolean `--flag`. Unknown flags
// and malformed numbers are usage errors (exit 2), reported in one line.
#include <chrono>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace clubos::app {

class UsageError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "7d", "12h" (and "30m" where `units` has m) -> a duration: a positive whole number and one
// unit of `units` (d, h, m), at most 100,000 of them; anything else is a UsageError.
std::chrono::minutes ParseSince(const std::string& s, std::string_view units = "dhm");

class Flags {
 public:
  // `valued`: flags that take a value; `booleans`: flags that do not.
  Flags(const std::vector<std::string>& args, std::set<std::string> valued,
        std::set<std::string> booleans);
  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  std::string Str(const std::string& name, const std::string& def) const;
  long long Int(const std::string& name, long long def, long long min, long long max) const;
  std::vector<std::string> List(const std::string& name, const std::vector<std::string>& def) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace clubos::app
