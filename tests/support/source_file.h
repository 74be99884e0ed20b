#pragma once
// A file of the repository, read whole (docs, schema, config): for the tests that hold code to
// the documents beside it. "" when it cannot be read, which those tests' comparisons then show.
#include <fstream>
#include <sstream>
#include <string>

namespace clubos::testsupport {

inline std::string ReadSourceFile(const std::string& relative_path) {
  std::ifstream in(std::string(CLUBOS_SOURCE_DIR) + "/" + relative_path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace clubos::testsupport
