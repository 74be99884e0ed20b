#pragma once
// What the benchmarks share (app/cmd_bench*.cpp): the database they measure, percentiles, and
// how figures are printed.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/cli.h"
#include "app/commands.h"
#include "app/private_pg.h"
#include "core/config.h"
#include "store/db.h"
#include "store/migrator.h"
#include "workflows/knowledge_store.h"

namespace clubos::app {

inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto idx =
      std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  return v[idx];
}

inline std::string Fixed(double v, int digits = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// The database to measure: the configured one, or a private one for the duration of the run.
struct BenchDb {
  std::unique_ptr<PrivatePostgres> owned;
  std::string url;
  BenchDb() {
    const char* env = std::getenv("CLUBOS_DATABASE_URL");
    if (env && *env) {
      url = DatabaseUrl();  // declared transaction-pooled when CLUBOS_DATABASE_POOLING says so
    } else {
      owned = std::make_unique<PrivatePostgres>();
      url = owned->url();
    }
    auto conn = store::Connect(url);
    store::Migrate(*conn);
  }
};

// The facility's knowledge (a folder of knowledge files) into the bench's database, so that its
// FAQ questions are answered and its actions cite their procedures, as in production. Idempotent.
inline void ImportBenchKnowledge(const std::string& url, const std::string& dir) {
  auto conn = store::Connect(url);
  workflows::ImportKnowledge(*conn, workflows::ReadKnowledgeFolder(dir));
}

// Polls `count_sql` (one count) every 10 ms until it is 0, for at most `limit`: false if never.
inline bool WaitForZero(store::Connection& db, const std::string& count_sql,
                        std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (db.ExecRawOne(count_sql).At(0, 0).Int64() != 0) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}
inline constexpr const char* kJobsInFlight =
    "SELECT count(*) FROM jobs WHERE state IN ('available', 'running')";

// The flow benchmarks measure the engine: no debounce (the wait for a customer to finish typing),
// a quick verification poll, and a policy that is autonomous and unlimited, so every thread
// reaches verified instead of meeting the policy's brakes on one bay reset by thousands of
// customers (app/cmd_bench.cpp).
void UnbrakeForBench(Config& config);

// clubos bench router (app/cmd_bench_router.cpp).
int RunRouterBench(const Flags& f);
// clubos bench sites (app/cmd_bench_sites.cpp).
int RunSitesBench(const Flags& f);

}  // namespace clubos::app
