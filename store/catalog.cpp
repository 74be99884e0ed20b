#include "store/catalog.h"

#include <sstream>
#include <stdexcept>

namespace clubos::store {
namespace {

std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

Catalog Catalog::Parse(const std::vector<EmbeddedFile>& files) {
  Catalog c;
  for (const auto& f : files) {
    std::istringstream in(f.content);
    std::string line, name, body;
    auto flush = [&] {
      if (name.empty()) return;
      const std::string sql = Trim(body);
      if (sql.empty())
        throw std::invalid_argument(std::string(f.path) + ": empty statement " + name);
      if (!c.statements_.emplace(name, sql).second)
        throw std::invalid_argument(std::string(f.path) + ": duplicate statement name " + name);
    };
    while (std::getline(in, line)) {
      const std::string t = Trim(line);
      if (t.rfind("-- name:", 0) == 0) {
        flush();
        name = Trim(t.substr(8));
        body.clear();
        if (name.empty()) throw std::invalid_argument(std::string(f.path) + ": empty name");
      } else if (!name.empty()) {
        body += line;
        body += '\n';
      }
    }
    flush();
  }
  return c;
}

const Catalog& Catalog::Builtin() {
  static const Catalog catalog = Parse(Embeddedqueries());
  return catalog;
}

}  // namespace clubos::store
