#pragma once
#include <vector>

namespace clubos::store {

struct EmbeddedFile {
  const char* path;     // relative to schema/migrations or schema/queries
  const char* content;  // the file, byte for byte
};

// Generated at build time from schema/ (cmake/Embed.cmake), sorted by path.
const std::vector<EmbeddedFile>& Embeddedmigrations();
const std::vector<EmbeddedFile>& Embeddedqueries();

}  // namespace clubos::store
