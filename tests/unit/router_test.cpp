// The router against the development set in tests/data/messages.json (a copy of
// shared/scenarios/messages.json, which tests may extend). Every stated expectation must hold.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "workflows/router.h"

using namespace clubos;
using workflows::Intent;
using workflows::PatternRouter;

namespace {

const Config& TestConfig() {
  static const Config c =
      Config::Load(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json");
  return c;
}

nlohmann::json Cases() {
  std::ifstream in(std::string(CLUBOS_SOURCE_DIR) + "/tests/data/messages.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str()).at("cases");
}

}  // namespace

TEST(Router, MeetsEveryExpectationOfTheDevelopmentSet) {
  PatternRouter router(TestConfig().router);
  int checked = 0;
  for (const auto& c : Cases()) {
    const std::string text = c.at("text").get<std::string>();
    const Intent in = router.Route({text});
    SCOPED_TRACE(text + " -> category=" + in.category + " action=" + in.action + " bay=" +
                 (in.bay ? std::to_string(*in.bay) : "-") + " escalate=" + in.must_escalate);
    if (c.contains("category")) {
      EXPECT_EQ(in.category, c.at("category").get<std::string>());
      ++checked;
    }
    if (c.contains("category_in")) {
      bool ok = false;
      for (const auto& alt : c.at("category_in"))
        ok |= alt.is_null() ? in.category.empty() || in.confidence < 0.5
                            : in.category == alt.get<std::string>();
      EXPECT_TRUE(ok);
      ++checked;
    }
    if (c.contains("action")) {
      EXPECT_EQ(in.action,
                c.at("action").is_null() ? std::string() : c.at("action").get<std::string>());
      ++checked;
    }
    if (c.contains("bay")) {
      EXPECT_EQ(in.bay, c.at("bay").get<int>());
      ++checked;
    }
    if (c.value("escalate", false)) {
      EXPECT_FALSE(in.must_escalate.empty());
      EXPECT_TRUE(in.action.empty()) << "nothing automatic for what a human must take";
      ++checked;
    }
    for (const auto& not_action : c.value("not_action", nlohmann::json::array())) {
      EXPECT_NE(in.action, not_action.get<std::string>());
      ++checked;
    }
    if (c.contains("note") && !c.contains("action") && !c.contains("category")) {
      EXPECT_TRUE(in.action.empty() || in.action == "answer") << "a bare reply must not act";
      ++checked;
    }
  }
  EXPECT_GT(checked, 60);
}

TEST(Router, SplitTextsAreReadTogether) {
  PatternRouter router(TestConfig().router);
  const Intent in = router.Route({"hey", "trackman frozen", "bay 3"});
  EXPECT_EQ(in.category, "tech");
  EXPECT_EQ(in.action, "reset_trackman");
  EXPECT_EQ(in.bay, 3);
  EXPECT_GE(in.confidence, 0.85);
}

TEST(Router, MixedRequestsAreNotConfident) {
  PatternRouter router(TestConfig().router);
  EXPECT_LT(
      router.Route({"Bay 3 trackman frozen again AND the door won't lock behind us"}).confidence,
      0.85);
}

TEST(Router, BaysInWordsAndOtherMarkers) {
  using workflows::ExtractBay;
  using workflows::NormalizeForMatching;
  EXPECT_EQ(ExtractBay(NormalizeForMatching("ball data gone, bay three")), 3);
  EXPECT_EQ(ExtractBay(NormalizeForMatching("Box #2 is dead")), 2);
  EXPECT_EQ(ExtractBay(NormalizeForMatching("restart trackman 5 please")), 5);
  EXPECT_EQ(ExtractBay(NormalizeForMatching("la bahía 2")), 2);
  EXPECT_EQ(ExtractBay(NormalizeForMatching("at 7pm in bay")), std::nullopt);
}

TEST(Router, ConfirmationRepliesAreTolerantButShort) {
  using workflows::ParseConfirmation;
  for (const char* yes : {"YES", "y", "Yes please", "ok do it", "yep!", "Sure"})
    EXPECT_EQ(ParseConfirmation(yes), true) << yes;
  for (const char* no : {"no", "Nope", "don't", "No thanks", "stop"})
    EXPECT_EQ(ParseConfirmation(no), false) << no;
  for (const char* other :
       {"trackman frozen in bay 3", "🙃", "what?", "not sure", "not ok", "ok no worries",
        "yes, no problem", "yes but now the door is also broken and the projector too"})
    EXPECT_EQ(ParseConfirmation(other), std::nullopt) << other;
}
