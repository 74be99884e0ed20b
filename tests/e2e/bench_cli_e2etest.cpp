// `clubos bench sites` as a real process against the test database: the traffic of many
// locations goes through the whole flow, each site's texts on its own line and devices, and every
// step says whether the flow kept up.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/pg.h"
#include "tests/support/process.h"

using namespace clubos;
using nlohmann::json;

namespace {

pgtest::RunResult Bench(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {
      "bench",       "sites",
      "--config",    std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json",
      "--knowledge", std::string(CLUBOS_SOURCE_DIR) + "/knowledge"};
  args.insert(args.end(), extra.begin(), extra.end());
  return pgtest::RunClubos(
      args, {"CLUBOS_DATABASE_URL=" + pgtest::TestDatabaseUrl(), "CLUBOS_LOG_LEVEL=warn"}, "");
}

json LastLine(const std::string& out) {
  std::istringstream in(out);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return json::parse(last);
}

}  // namespace

TEST(BenchSitesCli, TextsOfEverySiteRestAndEachStepIsJudged) {
  CLUBOS_REQUIRE_PG();
  pgtest::ResetDatabase();
  const auto r = Bench({"--locations", "3", "--rates", "3,6", "--step-seconds", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = LastLine(r.out);
  EXPECT_EQ(out["bench"], "sites");
  EXPECT_EQ(out["locations"], 3);
  ASSERT_EQ(out["steps"].size(), 2u) << out.dump();
  for (const auto& step : out["steps"]) {
    EXPECT_EQ(step["rested"], step["texts"]) << step.dump();
    EXPECT_TRUE(step["keeps_up"].get<bool>()) << step.dump();
  }
  EXPECT_EQ(out["highest_rate_kept_up"], 6);
  EXPECT_TRUE(out["first_rate_saturated"].is_null());
  EXPECT_DOUBLE_EQ(out["texts_per_site_per_hour_kept_up"].get<double>(), 6.0 * 3600 / 3);
  auto db = pgtest::Connect();
  EXPECT_EQ(db->ExecRawOne("SELECT count(DISTINCT location) FROM threads").At(0, 0).Int64(), 3)
      << "every site's line got texts";
  EXPECT_EQ(
      db->ExecRawOne("SELECT count(*) FROM threads WHERE state <> 'verified'").At(0, 0).Int64(), 0);
  EXPECT_EQ(db->ExecRawOne("SELECT count(DISTINCT target->>'device_id') FROM actions "
                           "WHERE kind = 'reset_trackman'")
                .At(0, 0)
                .Int64(),
            9)
      << "9 texts over 3 sites: each site's own devices, its first 3 bays";
}

TEST(BenchSitesCli, RatesThatDoNotRiseAreRefusedBeforeAnythingRuns) {
  CLUBOS_REQUIRE_PG();
  pgtest::ResetDatabase();
  const auto r = Bench({"--rates", "10,5"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--rates must be rising"), std::string::npos) << r.err;
  auto db = pgtest::Connect();
  EXPECT_EQ(db->ExecRawOne("SELECT count(*) FROM threads").At(0, 0).Int64(), 0);
}
