#pragma once
// clubos bench router's retrieval part: RetrieveKnowledge's latency over the development set's
// texts, with the shipped knowledge alone and with N synthetic documents on top, in one run.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "workflows/knowledge_store.h"

namespace clubos::app {

// N knowledge files as a facility chain's knowledge base might hold them: FAQ answers, procedures
// and notes over a few dozen subjects, each in variants (a location's own, a season's, a
// membership tier's), with trigger phrases and bodies of a few sentences to over a thousand
// characters, at 20 locations or all of them. The same seed gives the same files.
std::vector<workflows::KnowledgeFile> SyntheticKnowledge(int count, uint64_t seed);

struct RetrievalBenchOptions {
  std::string location;  // where the texts come from (the config's first location)
  int synthetic = 5000;  // documents added on top of what the database holds
  int rounds = 5;        // passes over the texts measured, after one unmeasured warm-up pass
  uint64_t seed = 1;
  // When set, each text's retrieved ids (the warm-up pass's), both ways, are written here as
  // JSON: two runs of different queries compare by their dumps.
  std::string dump_path;
};

// Times RetrieveKnowledge for every text, `rounds` times, first over the knowledge the database
// holds (the baseline) and then with `synthetic` documents added, in one transaction that is
// rolled back: the database is left as it was (versions are append-only, so documents written
// for a measurement could never be removed). Returns the figures as JSON, milliseconds.
nlohmann::json RunRetrievalBench(const std::string& url, const std::vector<std::string>& texts,
                                 const RetrievalBenchOptions& options);

}  // namespace clubos::app
