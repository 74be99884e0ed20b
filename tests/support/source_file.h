#pragma once
// A file of the repository, read whole (docs, schema, config): for the tests that hold code to
// the documents beside it. "" when it cannot be read, which those tests' comparisons then show.
// And the repository's C++ sources, for the tests that hold the rooms to what they may include.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace clubos::testsupport {

inline std::string ReadSourceFile(const std::string& relative_path) {
  std::ifstream in(std::string(CLUBOS_SOURCE_DIR) + "/" + relative_path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every .h and .cpp file of the repository, as paths relative to its root, sorted; build trees
// (build*/) and hidden folders are not the repository's sources and are skipped.
inline std::vector<std::string> SourceFiles() {
  namespace fs = std::filesystem;
  const fs::path root(CLUBOS_SOURCE_DIR);
  std::vector<std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && (name.rfind('.', 0) == 0 || name.rfind("build", 0) == 0)) {
      it.disable_recursion_pending();
      continue;
    }
    const std::string ext = it->path().extension().string();
    if (it->is_regular_file() && (ext == ".h" || ext == ".cpp"))
      out.push_back(fs::relative(it->path(), root).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace clubos::testsupport
