// The phrase language of the router's lists, and what it buys: an emergency is recognised by its
// word forms and combinations, not by one spelling; praise never becomes a fault report. The texts
// here are not in the development set on purpose: they test the forms, not the set's strings.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/support/example_knowledge.h"
#include "workflows/feedback.h"
#include "workflows/router.h"

using namespace clubos;
using workflows::Intent;
using workflows::PatternRouter;
using workflows::PhraseMatches;
using workflows::PhraseProblem;

namespace {

const Config& TestConfig() {
  static const Config c =
      Config::Load(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json");
  return c;
}

Intent Route(const std::string& text) {
  static const PatternRouter router(TestConfig().router);
  return router.Route({text}, clubos::testsupport::ExampleFaq());
}

}  // namespace

TEST(RouterPhrases, WordsMatchWholeWordsAndTheirPlurals) {
  EXPECT_TRUE(PhraseMatches("sim", "love the new sims"));
  EXPECT_TRUE(PhraseMatches("injury", "no injuries here"));
  EXPECT_TRUE(PhraseMatches("box", "two boxes"));
  EXPECT_FALSE(PhraseMatches("sim", "a simple question"));
  EXPECT_FALSE(PhraseMatches("tm", "tms"));  // two letters: no plural, too many other words
  EXPECT_TRUE(PhraseMatches("gift card", "Do you sell GIFT CARDS?"));
  EXPECT_FALSE(PhraseMatches("gift card", "a gift for my card"));
}

TEST(RouterPhrases, PrefixesAlternativesAndAnyWord) {
  for (const char* text : {"he's injured", "an injury", "injuries", "INJURED!!"})
    EXPECT_TRUE(PhraseMatches("injur*", text)) << text;
  EXPECT_TRUE(PhraseMatches("cant|cannot breath*", "she cannot breathe"));
  EXPECT_TRUE(PhraseMatches("cant|cannot breath*", "i can't breathe"));
  EXPECT_FALSE(PhraseMatches("cant|cannot breath*", "can breathe"));
  EXPECT_TRUE(PhraseMatches("not _ emergency", "this is not an emergency"));
  EXPECT_FALSE(PhraseMatches("not _ emergency", "not sure this is an emergency"));
}

TEST(RouterPhrases, NearMeansAFewWordsApartInEitherOrder) {
  EXPECT_TRUE(PhraseMatches("chest & pain*", "chest pains"));
  EXPECT_TRUE(PhraseMatches("chest & pain*", "a sharp pain in my chest"));
  EXPECT_TRUE(PhraseMatches("hit & head", "got hit in the head by a club"));
  EXPECT_FALSE(PhraseMatches("hit & head", "I hit a great drive and then went to the head pro"));
  EXPECT_FALSE(PhraseMatches("chest & pain*", "chest"));
}

TEST(RouterPhrases, TyposOnlyWhereMarked) {
  EXPECT_TRUE(PhraseMatches("unconscious~", "someones unconcious"));
  EXPECT_TRUE(PhraseMatches("seizure~", "having a siezure"));
  EXPECT_TRUE(PhraseMatches("ambulanc*~", "the ambulence is here"));
  EXPECT_FALSE(PhraseMatches("unconscious", "someones unconcious"));
  EXPECT_FALSE(PhraseMatches("seizure~", "siezures"));  // two edits: a swap and a plural
  EXPECT_NE(PhraseProblem("fire~"), "");  // a short word one typo away is another word: hire
}

TEST(RouterPhrases, TextIsReadLikePhrases) {
  EXPECT_TRUE(PhraseMatches("bahia", "la bahía 2"));
  EXPECT_TRUE(PhraseMatches("reservation", "ma RÉSERVATION"));
  EXPECT_TRUE(PhraseMatches("cuanto cuesta", "¿Cuánto cuesta?"));
  EXPECT_TRUE(PhraseMatches("cant get in", "I can’t get in"));
  EXPECT_TRUE(PhraseMatches("bay 3", "bay3 is frozen"));
  EXPECT_TRUE(PhraseMatches("great", "great👍"));
  EXPECT_TRUE(PhraseMatches("frozen", "frozen…again"));
}

TEST(RouterPhrases, MalformedPhrasesAreNamed) {
  EXPECT_EQ(PhraseProblem("chest & pain*"), "");
  EXPECT_NE(PhraseProblem("24/7"), "");
  EXPECT_NE(PhraseProblem("chest &"), "");
  EXPECT_NE(PhraseProblem("_"), "");
  EXPECT_NE(PhraseProblem("a||b"), "");
}

TEST(RouterPhrases, EveryPhraseOfTheExampleConfigIsWellFormed) {
  const RouterConfig& r = TestConfig().router;
  std::vector<std::string> all;
  for (const auto* list :
       {&r.emergency, &r.plea, &r.read_past, &r.human, &r.positive, &r.problem, &r.not_helped})
    all.insert(all.end(), list->begin(), list->end());
  for (const auto& [topic, phrases] : r.sensitive)
    all.insert(all.end(), phrases.begin(), phrases.end());
  for (const auto& [category, phrases] : r.categories)
    for (const auto& [phrase, weight] : phrases) all.push_back(phrase);
  for (const auto& [action, pattern] : r.actions)
    all.insert(all.end(), pattern.any.begin(), pattern.any.end());
  for (const auto& [topic, entry] : clubos::testsupport::ExampleFaq())
    all.insert(all.end(), entry.match.begin(), entry.match.end());
  EXPECT_GT(all.size(), 200u);
  for (const auto& p : all) EXPECT_EQ(PhraseProblem(p), "") << p;
}

// A customer saying the automation's answer or action did not help (workflows/feedback.h), and
// texts that say nothing of the kind.
TEST(RouterNotHelped, TheIssuesFollowUpsAndNotTheirLookalikes) {
  const RouterConfig& r = TestConfig().router;
  ASSERT_FALSE(r.not_helped.empty());
  for (const char* text :
       {"that didn't help", "still frozen", "Still not working!!", "nope, same problem",
        "didn't work", "it did not help at all", "trackman is still stuck", "still the same",
        "that wasn't helpful", "nothing changed", "not fixed"})
    EXPECT_TRUE(workflows::NotHelpedPhrase(r, text)) << text;
  for (const char* text : {"thanks, working now", "perfect, that helped", "how much for an hour?",
                           "the trackman in bay 3 is frozen", "is it still open tonight?",
                           "yes please", "it works, thank you"})
    EXPECT_FALSE(workflows::NotHelpedPhrase(r, text)) << text;
}

// The forms of the brief's emergencies, phrased as customers phrase them.
TEST(RouterEmergency, WordFormsAndCombinations) {
  for (const char* text : {
           "my friend is injured",
           "we have an injury",
           "two injuries in bay 3",
           "he's bleeding",
           "she bled all over the mat",
           "there's blood on the floor",
           "my wife feels faint",
           "he fainted",
           "someone is fainting",
           "something is burning",
           "i burned my hand",
           "burnt smell from the pc",
           "an emergency",
           "EMERGENCY",
           "medical emergency in bay 2",
           "he's unconscious",
           "my dad passed out",
           "a guy collapsed",
           "she's having a seizure",
           "chest pain",
           "pain in his chest",
           "he can't breathe",
           "she cannot breathe",
           "trouble breathing",
           "allergic reaction to something",
           "i think it's a concussion",
           "my son got hit in the head by a ball",
           "club hit him in the face",
           "call an ambulance",
           "call 911",
           "there's a fire",
           "smoke in the lobby",
           "it's smoking",
           "i smell gas",
           "smells like gas in here",
           "the washroom flooded",
           "water leaking from the ceiling",
           "the outlet is sparking",
           "sparks from the projector",
           "two people are fighting",
           "someone broke in",
           "they're breaking into the office",
           "there's an intruder",
           "someone has a knife",
       }) {
    const Intent in = Route(text);
    EXPECT_EQ(in.category, "emergency") << text;
    EXPECT_EQ(in.must_escalate, "emergency") << text;
    EXPECT_TRUE(in.action.empty()) << text;
  }
}

TEST(RouterEmergency, SayingItIsNoneIsBelievedUnlessSomethingElseSaysOtherwise) {
  const Intent calm = Route("not an emergency but the trackman in bay 2 is frozen");
  EXPECT_EQ(calm.category, "tech");
  EXPECT_EQ(calm.action, "reset_trackman");
  EXPECT_EQ(Route("this isn't an emergency, do you sell gift cards?").category, "faq");
  EXPECT_EQ(Route("nobody got hurt but the net ripped").category == "emergency", false);
  // The denial covers the word, not the smoke, the blood or the fall next to it.
  for (const char* text : {"not an emergency but there's a little smoke from the projector",
                           "not an emergency, he's only bleeding a bit",
                           "no emergency really, my friend fell and hit his head"})
    EXPECT_EQ(Route(text).category, "emergency") << text;
}

TEST(RouterEmergency, ACallForHelpAboutNothingElseIsAnUnsureEmergency) {
  for (const char* text : {"HELP", "need help", "please help us", "someone help!!!"}) {
    const Intent in = Route(text);
    EXPECT_EQ(in.category, "emergency") << text;
    EXPECT_EQ(in.must_escalate, "emergency") << text;
    // Unsure, and said so: the confidence of a named emergency is not claimed for a bare plea.
    EXPECT_LT(in.confidence, 0.85) << text;
  }
  EXPECT_GE(Route("help, someone collapsed").confidence, 0.9);
  // About something the router knows, "help" is a figure of speech.
  EXPECT_EQ(Route("I need help with my booking").category, "booking");
  EXPECT_EQ(Route("need help booking a bay for friday").category, "booking");
  EXPECT_EQ(Route("help! trackman frozen in bay 2").category, "tech");
  EXPECT_EQ(Route("thanks for the help!").category == "emergency", false);
}

TEST(RouterEmergency, FlagsNameTheWordsThatSaidIt) {
  const Intent in = Route("my dad has a sharp pain in his chest");
  ASSERT_EQ(in.category, "emergency");
  EXPECT_NE(std::find(in.flags.begin(), in.flags.end(), "emergency:pain chest"), in.flags.end())
      << testing::PrintToString(in.flags);
  EXPECT_EQ(Route("HELP").flags, std::vector<std::string>{"plea:help"});
}

TEST(RouterPraise, IsNeverAFaultReport) {
  for (const char* text : {
           "the trackman has been great today",
           "bay 3 is working perfectly now, thanks",
           "love the new sims",
           "Trackman is working great",
           "the simulator is perfect today",
           "sim in bay 4 runs smooth",
           "tm is so accurate, love it",
           "the trackman in box 2 is incredible",
           "screens look amazing since the update",
           "no more freezing since the update!",
           "the sim came back, all good",
       }) {
    const Intent in = Route(text);
    EXPECT_NE(in.action, "reset_trackman") << text;
    EXPECT_NE(in.category, "emergency") << text;
  }
}

TEST(RouterPraise, AFaultInAFriendlyTextIsStillAFault) {
  for (const char* text : {"thanks, but it froze again", "great place but bay 2 trackman froze",
                           "love it here, only thing is the sim in bay 3 keeps crashing",
                           "thank you! although the trackman stopped tracking again"}) {
    const Intent in = Route(text);
    EXPECT_EQ(in.category, "tech") << text;
    EXPECT_EQ(in.action, "reset_trackman") << text;
  }
}

// The trackman's name alone is not a fault: a reset needs a fault or a request in the text.
TEST(RouterPraise, ADeviceNamedIsNotADeviceBroken) {
  EXPECT_EQ(Route("the trackman in bay 2").action, "");
  EXPECT_EQ(Route("can you restart the trackman in bay 2").action, "reset_trackman");
  EXPECT_EQ(Route("trackman in bay 2 stopped picking up shots").action, "reset_trackman");
}

// Thanks are read, not acted on (the flow marks texts sent while an action ran as read when they
// carry a positive flag), but a request said politely is still a request.
TEST(RouterPraise, ThanksAreReadAndPoliteRequestsStillAct) {
  for (const char* text : {"thanks!", "thank you so much", "k thx", "ty"}) {
    const Intent in = Route(text);
    EXPECT_TRUE(std::any_of(in.flags.begin(), in.flags.end(), [](const std::string& f) {
      return f.rfind("positive:", 0) == 0;
    })) << text;
    EXPECT_EQ(in.action, "") << text;
  }
  EXPECT_EQ(Route("restart trackman 5 please, thanks").action, "reset_trackman");
  EXPECT_EQ(Route("thx, can you let us in? code isnt working").action, "unlock_door");
  EXPECT_EQ(Route("thanks for the quick reset, all good now").action, "");
  EXPECT_EQ(Route("the reset worked, thank you").action, "");
}

// "that didn't help" is a customer's verdict on an answer (a case, workflows/feedback.h), not a
// call for help: the plea list reads past it. A real emergency in the same text still is one.
TEST(RouterEmergency, SayingAnAnswerDidNotHelpIsNoPlea) {
  for (const char* text : {"that didn't help", "hmm, that didnt help at all", "this does not help",
                           "no help whatsoever"})
    EXPECT_NE(Route(text).category, "emergency") << text;
  EXPECT_EQ(Route("that didn't help and now there's smoke in bay 2").category, "emergency");
  EXPECT_EQ(Route("help!").category, "emergency");
}
