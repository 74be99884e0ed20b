#pragma once
// The operator console's files (console/), compiled into the binary at build time
// (cmake/EmbedConsole.cmake): served by `clubos serve` at `/`, so the console needs nothing beside
// the binary and no request of the page leaves the facility's network.
#include <string_view>
#include <vector>

namespace clubos::api {

struct ConsoleAsset {
  const char* path;          // "/index.html", "/app.js", ...
  const char* content_type;  // with its charset for text
  const char* etag;          // a strong validator: a prefix of the file's SHA-256, quoted
  std::string_view raw;      // the file, byte for byte
  std::string_view gzip;     // the same, gzip -9 (served to clients that accept it)
};

// Sorted by path.
const std::vector<ConsoleAsset>& ConsoleAssets();

}  // namespace clubos::api
