// The decision function, table-driven: every rule of the autonomy profile and every reason code,
// boundary confidences, windows crossing midnight, bookings and their windows, limits, budgets,
// controls; and the profile's parsing, diff and the facts' round trip (what replay relies on).
#include <gtest/gtest.h>

#include <functional>

#include "core/time_format.h"
#include "tests/support/example_knowledge.h"
#include "workflows/policy.h"
#include "workflows/policy_store.h"

using namespace clubos;
using namespace clubos::workflows;

namespace {

const Config& TestConfig() {
  static const Config c =
      Config::Load(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json");
  return c;
}

const Profile& TestProfile() {
  static const Profile p = [] {
    Profile x = Profile::FromJson(TestConfig().policy_json);
    x.version = 7;
    return x;
  }();
  return p;
}

const TimePoint kNow = *ParseTimestamp("2026-11-21 18:00:00+00");

Facts Base() {
  Facts f;
  f.now = kNow;
  f.local_minute = 14 * 60;  // 14:00 at the location
  return f;
}

BookingFact BookingAround(TimePoint now, int bay = 3) {
  return {"b-1", bay, now - std::chrono::minutes(30), now + std::chrono::minutes(30), false};
}

Intent RouteText(const std::string& text) {
  static const PatternRouter router(TestConfig().router);
  return router.Route({text}, clubos::testsupport::ExampleFaq());
}

Decision DecideFor(const Intent& intent, const Facts& facts,
                   const Profile& profile = TestProfile()) {
  return Decide({intent, TestConfig().locations.front(), TestConfig(), profile, facts,
                 clubos::testsupport::ExampleKnowledge()});
}

Decision DecideFor(const std::string& text, const Facts& facts = Base()) {
  return DecideFor(RouteText(text), facts);
}

Intent Synthetic(const std::string& category, const std::string& action, double confidence,
                 std::optional<int> bay = std::nullopt) {
  Intent i;
  i.category = category;
  i.action = action;
  i.confidence = confidence;
  i.bay = bay;
  if (action == "answer") i.faq_topic = "price";
  return i;
}

}  // namespace

TEST(Policy, APhysicalActionAsksFirstAndNamesItsVersion) {
  const auto d = DecideFor("trackman frozen in bay 3");
  EXPECT_EQ(d.outcome, "confirm_first");
  ASSERT_TRUE(d.action);
  EXPECT_EQ(d.action->kind, "reset_trackman");
  EXPECT_EQ(d.action->bay, 3);
  EXPECT_EQ(d.action->device_id, "103");
  EXPECT_EQ(d.action->location, "bedford");
  EXPECT_EQ(d.policy_version, 7);
}

TEST(Policy, AFaqIsAnsweredAtOnce) {
  const auto d = DecideFor("how much for an hour?");
  EXPECT_EQ(d.outcome, "execute");
  ASSERT_TRUE(d.action);
  EXPECT_EQ(d.action->kind, "send_message");
  EXPECT_NE(d.action->text.find("$"), std::string::npos);
}

TEST(Policy, WhatTheRouterSaysEscalatesWithTheRightReason) {
  Facts rapid = Base();
  rapid.rapid_messages = true;
  const std::vector<std::tuple<std::string, Facts, std::string>> cases = {
      {"there's smoke coming from the projector!!", Base(), "emergency"},
      {"I want my money back", Base(), "policy_denied"},
      {"can I talk to a real person", Base(), "operator_requested"},
      {"trackman frozen bay 99", Base(), "policy_denied"},  // no bay 99: never an unknown target
      {"trackman frozen", Base(), "low_confidence"},        // no bay named
      {"can I move my 6pm to 7pm", Base(), "low_confidence"},
      {"YES", Base(), "low_confidence"},
      {"trackman frozen in bay 3", rapid, "rapid_messages"},
  };
  for (const auto& [text, facts, code] : cases) {
    const auto d = DecideFor(text, facts);
    EXPECT_EQ(d.outcome, "escalate") << text;
    EXPECT_EQ(d.escalation_reason, code) << text;
    EXPECT_FALSE(d.action.has_value()) << text;
    EXPECT_FALSE(d.reasons.empty()) << text << ": every decision says why";
  }
  EXPECT_EQ(DecideFor("there's smoke coming from the projector!!").priority, 0);
}

TEST(Policy, ConfidenceAtTheThresholdActsAndJustBelowEscalates) {
  // tech 0.85, access 0.90, faq 0.70
  Facts booked = Base();
  booked.booking = BookingAround(kNow);
  const std::vector<std::tuple<Intent, std::string>> cases = {
      {Synthetic("tech", "reset_trackman", 0.85, 3), "confirm_first"},
      {Synthetic("tech", "reset_trackman", 0.8499, 3), "escalate"},
      {Synthetic("access", "unlock_door", 0.90), "confirm_first"},
      {Synthetic("access", "unlock_door", 0.8999), "escalate"},
      {Synthetic("faq", "answer", 0.70), "execute"},
      {Synthetic("faq", "answer", 0.6999), "escalate"},
  };
  for (const auto& [intent, outcome] : cases) {
    const auto d = DecideFor(intent, booked);
    EXPECT_EQ(d.outcome, outcome) << intent.category << " " << intent.confidence;
    EXPECT_EQ(d.escalation_reason, outcome == "escalate" ? "low_confidence" : "");
  }
}

TEST(Policy, EveryRuleOfTheProfileHasItsReason) {
  struct Case {
    std::string name;
    Intent intent;
    std::function<void(Facts&, Profile&)> setup;
    std::string outcome;
    std::string code;
  };
  const Intent reset = Synthetic("tech", "reset_trackman", 0.95, 3);
  const Intent unlock = Synthetic("access", "unlock_door", 0.95);
  const Intent answer = Synthetic("faq", "answer", 0.95);
  auto booked = [](Facts& f, Profile&) { f.booking = BookingAround(f.now); };
  const std::vector<Case> cases = {
      {"autonomy off", Synthetic("booking", "", 0.99), [](Facts&, Profile&) {}, "escalate",
       "policy_denied"},
      {"unknown category", Synthetic("karaoke", "", 0.99), [](Facts&, Profile&) {}, "escalate",
       "policy_denied"},
      {"emergency stop", reset, [](Facts& f, Profile&) { f.emergency_stop = "global: drill"; },
       "escalate", "emergency_stop"},
      {"booking required and missing", reset,
       [](Facts&, Profile& p) { p.categories["tech"].require_booking = true; }, "escalate",
       "no_booking"},
      {"booking required and present", reset,
       [](Facts& f, Profile& p) {
         p.categories["tech"].require_booking = true;
         f.booking = BookingAround(f.now);
       },
       "confirm_first", ""},
      {"booking for another bay", reset,
       [](Facts& f, Profile&) { f.booking = BookingAround(f.now, 5); }, "escalate",
       "policy_denied"},
      {"inside the cooldown", reset,
       [](Facts& f, Profile&) { f.seconds_since_last_on_asset = 899; }, "escalate", "cooldown"},
      {"cooldown over", reset,
       [](Facts& f, Profile&) {
         f.seconds_since_last_on_asset = 900;
         f.actions_on_asset_last_hour = 1;
       },
       "confirm_first", ""},
      {"two resets this hour", reset,
       [](Facts& f, Profile&) {
         f.seconds_since_last_on_asset = 1800;
         f.actions_on_asset_last_hour = 2;
       },
       "escalate", "cooldown"},
      {"confirmation off", reset,
       [](Facts&, Profile& p) { p.categories["tech"].confirmation_required = false; }, "execute",
       ""},
      {"auto-execute off", reset, [](Facts& f, Profile&) { f.auto_execute = false; }, "suggest",
       ""},
      {"auto-send off", answer, [](Facts& f, Profile&) { f.auto_send = false; }, "suggest", ""},
      {"auto-send off does not stop a reset", reset,
       [](Facts& f, Profile&) { f.auto_send = false; }, "confirm_first", ""},
      {"integration down", reset, [](Facts& f, Profile&) { f.integration_reachable = false; },
       "escalate", "integration_unavailable"},
      {"unlock without a booking", unlock, [](Facts&, Profile&) {}, "escalate", "no_booking"},
      {"unlock in the booking", unlock, booked, "confirm_first", ""},
      {"unlock 10 min before the start", unlock,
       [](Facts& f, Profile&) {
         f.booking = {"b-2", 1, f.now + std::chrono::minutes(10), f.now + std::chrono::hours(1)};
       },
       "confirm_first", ""},
      {"unlock 11 min before the start", unlock,
       [](Facts& f, Profile&) {
         f.booking = {"b-2", 1, f.now + std::chrono::minutes(11), f.now + std::chrono::hours(1)};
       },
       "escalate", "no_booking"},
      {"unlock after the booking ended", unlock,
       [](Facts& f, Profile&) {
         f.booking = {"b-2", 1, f.now - std::chrono::hours(2), f.now};
       },
       "escalate", "no_booking"},
      {"flagged customer", unlock,
       [](Facts& f, Profile&) {
         f.booking = BookingAround(f.now);
         f.booking->customer_flagged = true;
       },
       "escalate", "policy_denied"},
      {"second unlock after a success", unlock,
       [](Facts& f, Profile&) {
         f.booking = BookingAround(f.now);
         f.unlocks_for_booking = 1;
       },
       "escalate", "policy_denied"},
      {"second unlock after a failure", unlock,
       [](Facts& f, Profile&) {
         f.booking = BookingAround(f.now);
         f.unlocks_for_booking = 1;
         f.previous_unlock_failed = true;
       },
       "confirm_first", ""},
      {"third attempt for a booking", unlock,
       [](Facts& f, Profile&) {
         f.booking = BookingAround(f.now);
         f.unlocks_for_booking = 2;
         f.previous_unlock_failed = true;
       },
       "escalate", "policy_denied"},
      {"reply cap", answer, [](Facts& f, Profile&) { f.automated_replies_on_thread = 6; },
       "escalate", "policy_denied"},
      {"under the reply cap", answer, [](Facts& f, Profile&) { f.automated_replies_on_thread = 5; },
       "execute", ""},
      // The budget is reserved before a model call (flow_consult.cpp); a sure pattern needs none.
      {"tokens spent, the patterns sure", answer,
       [](Facts& f, Profile&) { f.tokens_today = 1'000'000'000; }, "execute", ""},
  };
  for (const auto& c : cases) {
    Facts f = Base();
    Profile p = TestProfile();
    c.setup(f, p);
    const auto d = DecideFor(c.intent, f, p);
    EXPECT_EQ(d.outcome, c.outcome) << c.name;
    EXPECT_EQ(d.escalation_reason, c.code) << c.name;
    EXPECT_FALSE(d.reasons.empty()) << c.name;
    EXPECT_EQ(d.outcome == "escalate", !d.action.has_value()) << c.name;
  }
}

TEST(Policy, AnUnsureIntentTheModelCouldNotBeAskedAboutEscalatesWithWhy) {
  for (const std::string why : {"budget_exhausted", "llm_unavailable"}) {
    Intent unsure = Synthetic("faq", "answer", 0.2);
    unsure.unconsulted = why;
    auto d = DecideFor(unsure, Base(), TestProfile());
    EXPECT_EQ(d.escalation_reason, why);
    Intent unknown = Synthetic("", "", 0.0);
    unknown.unconsulted = why;
    EXPECT_EQ(DecideFor(unknown, Base(), TestProfile()).escalation_reason, why);
    Intent sure = Synthetic("faq", "answer", 0.95);
    sure.unconsulted = why;  // sure patterns never needed the model
    EXPECT_EQ(DecideFor(sure, Base(), TestProfile()).outcome, "execute");
  }
  EXPECT_EQ(DecideFor(Synthetic("faq", "answer", 0.2), Base(), TestProfile()).escalation_reason,
            "low_confidence");
}

TEST(Policy, TheModelsDraftIsTheTextAndTheModelsIntentMeetsTheSameRules) {
  Intent drafted = Synthetic("faq", "answer", 0.95);
  drafted.faq_topic.clear();
  drafted.reply = "We are open 24/7.";
  drafted.router = "llm";
  auto d = DecideFor(drafted, Base(), TestProfile());
  ASSERT_TRUE(d.action) << d.escalation_reason;
  EXPECT_EQ(d.action->text, "We are open 24/7.");
  Intent gullible = Synthetic("access", "unlock_door", 0.99);
  gullible.router = "llm";
  d = DecideFor(gullible, Base(), TestProfile());  // no booking in the base facts
  EXPECT_EQ(d.escalation_reason, "no_booking") << "the policy decides, not the model";
}

TEST(Policy, TimeWindowsAreLocalAndMayCrossMidnight) {
  Profile p = TestProfile();
  p.categories["faq"].hours = Window{8 * 60, 22 * 60};
  const Intent answer = Synthetic("faq", "answer", 0.95);
  for (auto [minute, outcome] : std::vector<std::pair<int, std::string>>{{7 * 60 + 59, "escalate"},
                                                                         {8 * 60, "execute"},
                                                                         {21 * 60 + 59, "execute"},
                                                                         {22 * 60, "escalate"}}) {
    Facts f = Base();
    f.local_minute = minute;
    const auto d = DecideFor(answer, f, p);
    EXPECT_EQ(d.outcome, outcome) << minute;
    EXPECT_EQ(d.escalation_reason, outcome == "escalate" ? "outside_hours" : "");
  }
  p.categories["faq"].hours = Window{22 * 60, 6 * 60};  // night service only
  for (auto [minute, outcome] : std::vector<std::pair<int, std::string>>{{23 * 60, "execute"},
                                                                         {0, "execute"},
                                                                         {5 * 60 + 59, "execute"},
                                                                         {6 * 60, "escalate"},
                                                                         {12 * 60, "escalate"},
                                                                         {22 * 60, "execute"}}) {
    Facts f = Base();
    f.local_minute = minute;
    EXPECT_EQ(DecideFor(answer, f, p).outcome, outcome) << minute;
  }
}

TEST(Policy, TheProfileParsesValidatesAndDiffs) {
  const Profile p = TestProfile();
  EXPECT_TRUE(p.categories.at("tech").confirmation_required);
  EXPECT_EQ(p.categories.at("tech").cooldown_seconds, 900);
  EXPECT_EQ(p.categories.at("access").booking_window_minutes, 10);
  ASSERT_TRUE(p.categories.at("booking").hours.has_value());
  EXPECT_EQ(p.categories.at("booking").hours->start_minute, 8 * 60);
  EXPECT_EQ(p.limits.max_resets_per_bay_per_hour, 2);
  // Round trip.
  const Profile again = Profile::FromJson(p.ToJson());
  EXPECT_EQ(Profile::Diff(p, again), "[]");
  // A diff names each changed field.
  Profile q = p;
  q.categories["tech"].cooldown_seconds = 600;
  q.limits.max_unlocks_per_booking = 2;
  const std::string diff = Profile::Diff(p, q);
  EXPECT_NE(diff.find(R"("path":"tech.cooldown_seconds")"), std::string::npos) << diff;
  EXPECT_NE(diff.find(R"("from":900)"), std::string::npos) << diff;
  EXPECT_NE(diff.find(R"("path":"limits.max_unlocks_per_booking")"), std::string::npos) << diff;
  // Bad profiles are refused with the field named.
  for (const char* bad :
       {R"([])", R"({"tech": {"confidence_threshold": 1.5}})", R"({"tech": {"autonomy": "yes"}})",
        R"({"tech": {"cooldown_seconds": -1}})", R"({"tech": {"confirmation": "maybe"}})",
        R"({"booking": {"time_restrictions": {"start": "25:00", "end": "22:00"}}})",
        R"({"booking": {"time_restrictions": {"start": "08:00", "end": "08:00"}}})",
        R"({"limits": {"max_unlocks_per_booking": 1.5}})", "not json"}) {
    EXPECT_THROW(Profile::FromJson(bad), InvalidProfile) << bad;
  }
}

// Every whole number is checked as the 64-bit JSON number it is, against its named bound, before
// it is narrowed: at 850d4a5 2147483648 s was stored as -2147483648 and 2^32+1 became 1.
TEST(Policy, ProfileNumbersAreRefusedOutsideTheirBoundsBeforeNarrowing) {
  struct Case {
    std::string json;
    const char* path;  // named in the error; nullptr: accepted
  };
  const std::vector<Case> cases = {
      {R"({"tech": {"cooldown_seconds": 2147483648}})", "tech.cooldown_seconds"},
      {R"({"tech": {"cooldown_seconds": 4294967297}})", "tech.cooldown_seconds"},
      {R"({"tech": {"cooldown_seconds": 9223372036854775807}})", "tech.cooldown_seconds"},
      {R"({"tech": {"cooldown_seconds": 9223372036854775808}})", "tech.cooldown_seconds"},
      {R"({"tech": {"cooldown_seconds": 18446744073709551615}})", "tech.cooldown_seconds"},
      {R"({"tech": {"cooldown_seconds": 1e30}})", "tech.cooldown_seconds"},
      {R"({"tech": {"cooldown_seconds": 600.0}})", "tech.cooldown_seconds"},
      {R"({"tech": {"cooldown_seconds": "600"}})", "tech.cooldown_seconds"},
      {R"({"tech": {"cooldown_seconds": -1}})", "tech.cooldown_seconds"},
      {R"({"tech": {"cooldown_seconds": 604801}})", "tech.cooldown_seconds"},
      {R"({"tech": {"cooldown_seconds": 604800}})", nullptr},
      {R"({"tech": {"cooldown_seconds": 0}})", nullptr},
      {R"({"tech": {"max_fallbacks": 11}})", "tech.max_fallbacks"},
      {R"({"access": {"booking_window_minutes": 1441}})", "access.booking_window_minutes"},
      {R"({"access": {"booking_window_minutes": 1440}})", nullptr},
      {R"({"access": {"max_attempts_per_booking": 4294967298}})",
       "access.max_attempts_per_booking"},
      {R"({"tech": {}, "limits": {"max_resets_per_bay_per_hour": 4294967297}})",
       "limits.max_resets_per_bay_per_hour"},
      {R"({"tech": {}, "limits": {"max_resets_per_bay_per_hour": 100000}})", nullptr},
      {R"({"tech": {}, "limits": {"max_resets_per_bay_per_hour": 100001}})",
       "limits.max_resets_per_bay_per_hour"},
      {R"({"tech": {}, "limits": {"max_unlocks_per_booking": 2147483648}})",
       "limits.max_unlocks_per_booking"},
      {R"({"tech": {}, "limits": {"llm_min_interval_seconds": 86401}})",
       "limits.llm_min_interval_seconds"},
      {R"({"tech": {}, "limits": {"max_auto_replies_per_thread": 1001}})",
       "limits.max_auto_replies_per_thread"},
      {R"({"tech": {}, "limits": {"tokens_per_location_day": 1000000000001}})",
       "limits.tokens_per_location_day"},
      {R"({"tech": {}, "limits": {"tokens_per_location_day": 1000000000000}})", nullptr},
      {R"({"tech": {}, "limits": {"tokens_per_location_month": 18446744073709551615}})",
       "limits.tokens_per_location_month"},
  };
  for (const auto& c : cases) {
    if (!c.path) {
      const Profile p = Profile::FromJson(c.json);
      // Accepted values are kept exactly: the stored form reads back to the same profile.
      EXPECT_EQ(Profile::Diff(p, Profile::FromJson(p.ToJson())), "[]") << c.json;
      continue;
    }
    try {
      Profile::FromJson(c.json);
      ADD_FAILURE() << "accepted " << c.json;
    } catch (const InvalidProfile& e) {
      EXPECT_NE(std::string(e.what()).find(c.path), std::string::npos)
          << c.json << ": " << e.what();
    }
  }
  EXPECT_EQ(Profile::FromJson(R"({"tech": {"cooldown_seconds": 604800}})")
                .categories.at("tech")
                .cooldown_seconds,
            604800);
  EXPECT_EQ(Profile::FromJson(R"({"limits": {"tokens_per_location_month": 31000000000000}})")
                .limits.tokens_per_location_month,
            31'000'000'000'000);
}

// A proposal names known categories and known settings only, and at least one category: at
// 850d4a5 `{}` and `{"bogus": {...}}` were accepted, and a typo of a category or a setting was
// kept silently while the rule it meant stayed at its default.
TEST(Policy, AProposalNamesOnlyKnownCategoriesAndSettings) {
  const auto known = ProfileCategories(TestConfig().router);
  EXPECT_EQ(known, (std::set<std::string>{"access", "booking", "emergency", "faq", "tech"}));
  struct Case {
    std::string json;
    const char* message;  // a part of the error; nullptr: accepted
  };
  const std::vector<Case> cases = {
      {R"({})", "names no category"},
      {R"({"limits": {"max_unlocks_per_booking": 1}})", "names no category"},
      {R"({"bogus": {"autonomy": true}})", "bogus: unknown category"},
      {R"({"tech": {"autonomy": true}, "acess": {"autonomy": true}})", "acess: unknown category"},
      {R"({"tech": {"cooldown": 600}})", "tech.cooldown: unknown setting"},
      {R"({"tech": {"autonomy": true}, "limits": {"max_resets": 1}})",
       "limits.max_resets: unknown setting"},
      {R"({"booking": {"time_restrictions": {"start": "08:00", "end": "22:00", "tz": "UTC"}}})",
       "booking.time_restrictions.tz: unknown setting"},
      {R"({"tech": {"autonomy": true}})", nullptr},
      {R"({"emergency": {"autonomy": false}})", nullptr},
      {TestConfig().policy_json, nullptr},
  };
  for (const auto& c : cases) {
    if (!c.message) {
      EXPECT_NO_THROW(Profile::FromProposal(c.json, known)) << c.json;
      continue;
    }
    try {
      Profile::FromProposal(c.json, known);
      ADD_FAILURE() << "accepted " << c.json;
    } catch (const InvalidProfile& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos)
          << c.json << ": " << e.what();
    }
  }
}

// The configuration's profile passes the same checks, when the process starts.
TEST(Policy, AConfigurationWithAnUnknownCategoryIsRefusedAtStartUp) {
  Config c = TestConfig();
  EXPECT_NO_THROW((PolicyStore{c, SystemClock::Instance()}));
  c.policy_json = R"({"tech": {"autonomy": true}, "acess": {"autonomy": true}})";
  EXPECT_THROW((PolicyStore{c, SystemClock::Instance()}), InvalidProfile);
  c.policy_json = R"({"tech": {"cooldown_seconds": 2147483648}})";
  EXPECT_THROW((PolicyStore{c, SystemClock::Instance()}), InvalidProfile);
}

TEST(Policy, FactsRoundTripSoReplayDecidesOnTheSameInputs) {
  Facts f = Base();
  f.booking = BookingAround(kNow);
  f.seconds_since_last_on_asset = 42;
  f.actions_on_asset_last_hour = 1;
  f.emergency_stop = "location:bedford: storm";
  f.auto_execute = false;
  f.tokens_today = 5;
  const Facts g = Facts::FromJson(f.ToJson());
  EXPECT_EQ(g.ToJson(), f.ToJson());
  const Intent reset = Synthetic("tech", "reset_trackman", 0.95, 3);
  EXPECT_EQ(DecideFor(reset, g).escalation_reason, DecideFor(reset, f).escalation_reason);
}
