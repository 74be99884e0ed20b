#pragma once
// Named SQL statements. Every statement lives in schema/queries/*.sql under a `-- name: x` line,
// is prepared once per connection, and is called by that name (which shows up in logs and errors).
#include <map>
#include <string>
#include <vector>

#include "store/embedded.h"

namespace clubos::store {

class Catalog {
 public:
  // Parses `-- name: <id>` sections. Throws std::invalid_argument on a duplicate or empty name.
  static Catalog Parse(const std::vector<EmbeddedFile>& files);
  static const Catalog& Builtin();  // schema/queries compiled into the binary

  const std::map<std::string, std::string>& Statements() const { return statements_; }
  bool Has(const std::string& name) const { return statements_.count(name) != 0; }

 private:
  std::map<std::string, std::string> statements_;
};

}  // namespace clubos::store
