// The router against the development set in tests/data/messages.json (a copy of
// shared/scenarios/messages.json, grown here). What safety rests on must hold for every case: every
// emergency is recognised, what a human must take is never automated, no case gets an action it
// forbids. The rest (category, action, bay) is a share with a floor: the set is grown with texts
// the router has not been written for, and a miss there is a question for a human, not harm.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/example_knowledge.h"
#include "workflows/router.h"

using namespace clubos;
using workflows::Intent;
using workflows::PatternRouter;

namespace {

// Measured (ctest -R Router.ShareOfCasesPlacedRight -V): the phrases before word forms placed the
// first 35 cases right and 174 of the 303 (57.4%), recognising 26 of the 100 emergencies; the
// word forms and combinations place 296 (97.7%) and all 100. The 73 last cases were written after
// the vocabulary and placed 60 right (82%, 24 of 26 emergencies) before anything was changed for
// them: that is the honest figure for texts nobody tuned to.
constexpr double kMinShareRight = 0.95;
// Non-emergency cases routed as emergencies: a false alarm costs an operator a look, a miss costs
// far more, but an operator paged for everything stops reading the pages.
constexpr double kMaxShareFalseAlarms = 0.03;

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

std::string Describe(const Intent& in) {
  return "category=" + in.category + " action=" + in.action +
         " bay=" + (in.bay ? std::to_string(*in.bay) : "-") + " escalate=" + in.must_escalate +
         " confidence=" + std::to_string(in.confidence);
}

// The stated expectations of one case that the intent misses, each named.
std::vector<std::string> Misses(const nlohmann::json& c, const Intent& in) {
  std::vector<std::string> misses;
  if (c.contains("category") && in.category != c.at("category").get<std::string>())
    misses.push_back("category");
  if (c.contains("category_in")) {
    bool ok = false;
    for (const auto& alt : c.at("category_in"))
      ok |= alt.is_null() ? in.category.empty() || in.confidence < 0.5
                          : in.category == alt.get<std::string>();
    if (!ok) misses.push_back("category_in");
  }
  if (c.contains("action") &&
      in.action != (c.at("action").is_null() ? "" : c.at("action").get<std::string>()))
    misses.push_back("action");
  if (c.contains("bay") && in.bay != c.at("bay").get<int>()) misses.push_back("bay");
  if (c.value("escalate", false) && (in.must_escalate.empty() || !in.action.empty()))
    misses.push_back("escalate");
  for (const auto& not_action : c.value("not_action", nlohmann::json::array()))
    if (in.action == not_action.get<std::string>()) misses.push_back("not_action");
  if (c.contains("note") && !c.contains("action") && !c.contains("category") &&
      !(in.action.empty() || in.action == "answer"))
    misses.push_back("a bare reply must not act");
  return misses;
}

bool StatesEmergency(const nlohmann::json& c) {
  return c.value("category", "") == "emergency";
}

// A case that says it is something else, so an emergency would be a false alarm.
bool StatesNotEmergency(const nlohmann::json& c) {
  if (c.contains("category")) return c.at("category") != "emergency";
  if (!c.contains("category_in")) return false;
  for (const auto& alt : c.at("category_in"))
    if (alt == "emergency") return false;
  return true;
}

}  // namespace

TEST(Router, ShareOfCasesPlacedRight) {
  PatternRouter router(TestConfig().router);
  int right = 0, total = 0;
  for (const auto& c : Cases()) {
    const std::string text = c.at("text").get<std::string>();
    const Intent in = router.Route({text}, clubos::testsupport::ExampleFaq());
    const auto misses = Misses(c, in);
    ++total;
    if (misses.empty()) {
      ++right;
      continue;
    }
    std::string what;
    for (const auto& m : misses) what += (what.empty() ? "" : ", ") + m;
    std::cout << "  missed (" << what << "): " << text << " -> " << Describe(in) << "\n";
  }
  const double share = static_cast<double>(right) / total;
  std::cout << "placed right: " << right << "/" << total << " (" << 100 * share << "%)\n";
  EXPECT_GE(share, kMinShareRight);
  EXPECT_GE(total, 200);
}

TEST(Router, EveryEmergencyOfTheSetIsRecognised) {
  PatternRouter router(TestConfig().router);
  int emergencies = 0, recognised = 0;
  for (const auto& c : Cases()) {
    if (!StatesEmergency(c)) continue;
    ++emergencies;
    const std::string text = c.at("text").get<std::string>();
    const Intent in = router.Route({text}, clubos::testsupport::ExampleFaq());
    EXPECT_EQ(in.category, "emergency") << text << " -> " << Describe(in);
    EXPECT_EQ(in.must_escalate, "emergency") << text;
    EXPECT_TRUE(in.action.empty()) << text;
    recognised += in.must_escalate == "emergency";
  }
  std::cout << "emergency recall: " << recognised << "/" << emergencies << "\n";
  EXPECT_GE(emergencies, 60);
}

TEST(Router, FalseAlarmsAreRare) {
  PatternRouter router(TestConfig().router);
  int alarms = 0, others = 0;
  for (const auto& c : Cases()) {
    if (!StatesNotEmergency(c)) continue;
    ++others;
    const std::string text = c.at("text").get<std::string>();
    const Intent in = router.Route({text}, clubos::testsupport::ExampleFaq());
    if (in.category == "emergency") {
      ++alarms;
      std::cout << "  false alarm: " << text << " -> " << Describe(in) << "\n";
    }
  }
  const double share = static_cast<double>(alarms) / others;
  std::cout << "false alarms: " << alarms << "/" << others << " (" << 100 * share << "%)\n";
  EXPECT_LE(share, kMaxShareFalseAlarms);
}

// A refund, an angry customer, a request for a person: a human takes it, and nothing the set
// forbids for a case (a reset for praise, an unlock for a door that will not lock) ever happens.
TEST(Router, WhatAHumanMustTakeIsNeverAutomated) {
  PatternRouter router(TestConfig().router);
  for (const auto& c : Cases()) {
    const std::string text = c.at("text").get<std::string>();
    const Intent in = router.Route({text}, clubos::testsupport::ExampleFaq());
    if (c.value("escalate", false)) {
      EXPECT_FALSE(in.must_escalate.empty()) << text << " -> " << Describe(in);
      EXPECT_TRUE(in.action.empty()) << "nothing automatic for what a human must take: " << text;
    }
    for (const auto& not_action : c.value("not_action", nlohmann::json::array()))
      EXPECT_NE(in.action, not_action.get<std::string>()) << text;
  }
}

TEST(Router, SplitTextsAreReadTogether) {
  PatternRouter router(TestConfig().router);
  const Intent in =
      router.Route({"hey", "trackman frozen", "bay 3"}, clubos::testsupport::ExampleFaq());
  EXPECT_EQ(in.category, "tech");
  EXPECT_EQ(in.action, "reset_trackman");
  EXPECT_EQ(in.bay, 3);
  EXPECT_GE(in.confidence, 0.85);
}

TEST(Router, MixedRequestsAreNotConfident) {
  PatternRouter router(TestConfig().router);
  EXPECT_LT(router
                .Route({"Bay 3 trackman frozen again AND the door won't lock behind us"},
                       clubos::testsupport::ExampleFaq())
                .confidence,
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
