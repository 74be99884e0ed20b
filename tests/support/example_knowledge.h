#pragma once
// The example facility's knowledge (knowledge/*.md), parsed as an import would, for tests that
// route or decide without a store.
#include <string>

#include "core/config.h"
#include "workflows/knowledge_cache.h"

namespace clubos::testsupport {

inline const Config& ExampleConfig() {
  static const Config c =
      Config::Load(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json");
  return c;
}

inline const workflows::KnowledgeSnapshot& ExampleKnowledge() {
  static const auto k = workflows::KnowledgeSnapshot::FromFolder(
      std::string(CLUBOS_SOURCE_DIR) + "/knowledge", ExampleConfig());
  return *k;
}

// The FAQ of the example's first location (every example entry applies to all of them).
inline const workflows::FaqTable& ExampleFaq() {
  return ExampleKnowledge().Faq(ExampleConfig().locations.front().id);
}

}  // namespace clubos::testsupport
