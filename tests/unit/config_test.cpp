// The facility config: every field the example ships is read, and a field ClubOS does not know is
// refused at start-up with its path (a typo must not be ignored until the day it mattered).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "tests/support/source_file.h"

using clubos::Config;
using clubos::ConfigError;
using clubos::Millis;
using nlohmann::json;

namespace {

json Example() {
  return json::parse(clubos::testsupport::ReadSourceFile("config/clubos.example.json"));
}

std::string ErrorOf(const json& j) {
  try {
    Config::Parse(j.dump());
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Config, TheExampleIsReadWhole) {
  const Config c = Config::Parse(Example().dump());
  EXPECT_EQ(c.console_url, "http://localhost:8080/");
  EXPECT_EQ(c.flow.suggestion_ttl, Millis(900'000));
  EXPECT_EQ(c.flow.retry_base, Millis(500));
  EXPECT_EQ(c.locations.size(), 2u);
  EXPECT_EQ(c.VerifyTimeout("unlock_door"), Millis(30'000));
}

TEST(Config, AnUnknownFieldIsRefusedWithItsPath) {
  json j = Example();
  j["flow"]["debounce_msec"] = 10;
  EXPECT_NE(ErrorOf(j).find("flow.debounce_msec: unknown field"), std::string::npos) << ErrorOf(j);
  j = Example();
  j["integrations"]["slack"]["webhook_url"] = "https://hooks.slack.com/services/secret";
  EXPECT_NE(ErrorOf(j).find("integrations.slack.webhook_url: unknown field"), std::string::npos);
  j = Example();
  j["facility"]["locations"][0]["bays"][0]["contol"] = "agent";
  EXPECT_NE(ErrorOf(j).find("bays[].contol"), std::string::npos) << ErrorOf(j);
  j = Example();
  j["consoel_url"] = "http://x/";
  EXPECT_NE(ErrorOf(j).find("config.consoel_url"), std::string::npos);
  j = Example();
  j["integrations"]["verify_timeout_ms"]["unlock_doors"] = 1000;
  EXPECT_NE(ErrorOf(j).find("not an action kind"), std::string::npos);
}

TEST(Config, TheConsoleLinkIsOnByDefaultAndTakesTheOlderName) {
  json j = Example();
  j.erase("console_url");
  EXPECT_EQ(Config::Parse(j.dump()).console_url, "http://localhost:8080/");
  j["integrations"]["slack"]["thread_link_base"] = "https://clubos.example.com";
  EXPECT_EQ(Config::Parse(j.dump()).console_url, "https://clubos.example.com/");
  j["console_url"] = "ftp://nope";
  EXPECT_NE(ErrorOf(j).find("console_url: must be an http"), std::string::npos);
}
