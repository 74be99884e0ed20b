// The knowledge file format (workflows/knowledge.h): strict parsing with problems that name the
// file, line and field; canonical files round-trip byte for byte; the repo's knowledge/ folder is
// well formed and canonical.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/config.h"
#include "tests/support/example_knowledge.h"
#include "workflows/knowledge.h"
#include "workflows/knowledge_review.h"

using namespace clubos::workflows;

namespace {

const std::string kCanonical = R"(---
id: faq.price
title: Prices
category: faq
locations: [bedford, dartmouth]
triggers: ["how much", "price*|pricing", "what's the rate"]
action: answer
fallback: escalate
requires: [active_booking]
timeout_ms: 120000
---
Bays are $45/hour before 5pm and $60/hour after, up to 4 players per bay.

A second paragraph.
)";

// The problems of a file that must not parse (none when it parses, which fails the caller).
std::vector<KnowledgeProblem> ProblemsOf(const std::string& file, const std::string& content) {
  try {
    ParseKnowledge(file, content);
  } catch (const KnowledgeFormatError& e) {
    return e.problems();
  }
  return {};
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST(Knowledge, ParsesEveryFieldOfTheHeader) {
  const KnowledgeEntry e = ParseKnowledge("faq.price.md", kCanonical);
  EXPECT_EQ(e.id, "faq.price");
  EXPECT_EQ(e.title, "Prices");
  EXPECT_EQ(e.category, "faq");
  EXPECT_EQ(e.locations, (std::vector<std::string>{"bedford", "dartmouth"}));
  EXPECT_EQ(e.triggers,
            (std::vector<std::string>{"how much", "price*|pricing", "what's the rate"}));
  EXPECT_EQ(e.action, "answer");
  EXPECT_EQ(e.fallback, "escalate");
  EXPECT_EQ(e.requires_, std::vector<std::string>{"active_booking"});
  EXPECT_EQ(e.timeout_ms, 120000);
  EXPECT_EQ(e.body,
            "Bays are $45/hour before 5pm and $60/hour after, up to 4 players per bay.\n\n"
            "A second paragraph.\n");
  EXPECT_TRUE(e.AppliesTo("bedford"));
  EXPECT_FALSE(e.AppliesTo("halifax"));
}

TEST(Knowledge, CanonicalFilesRoundTripByteForByte) {
  EXPECT_EQ(SerializeKnowledge(ParseKnowledge("faq.price.md", kCanonical)), kCanonical);
  // `all`, empty lists, no timeout, a title that needs quotes.
  const std::string minimal = R"(---
id: booking.change
title: "[draft] Changing a booking"
category: booking
locations: all
triggers: []
action: none
fallback: escalate
requires: []
---
A person changes bookings.
)";
  const KnowledgeEntry e = ParseKnowledge("booking.change.md", minimal);
  EXPECT_EQ(e.title, "[draft] Changing a booking");
  EXPECT_EQ(e.locations, std::vector<std::string>{"all"});
  EXPECT_FALSE(e.timeout_ms.has_value());
  EXPECT_EQ(SerializeKnowledge(e), minimal);
  // A title that starts with a quote is written quoted, its quotes and backslashes escaped.
  KnowledgeEntry quoted = e;
  quoted.title = "\"Best\" prices \\ fees";
  const std::string file = SerializeKnowledge(quoted);
  EXPECT_NE(file.find("title: \"\\\"Best\\\" prices \\\\ fees\"\n"), std::string::npos) << file;
  EXPECT_EQ(ParseKnowledge("booking.change.md", file), quoted);
}

TEST(Knowledge, OtherSpellingsReadTheSameAndExportCanonically) {
  // Keys in another order, optional lists left out, bare list items, quoted scalars, blank lines
  // around the body and no final newline.
  const std::string loose = R"(---
title: Prices
id: "faq.price"
action: answer
fallback: escalate
category: faq
locations: [ bedford ,dartmouth]
---

Bays are $45/hour.

)";
  const KnowledgeEntry e = ParseKnowledge("faq.price.md", loose);
  EXPECT_EQ(e.locations, (std::vector<std::string>{"bedford", "dartmouth"}));
  EXPECT_TRUE(e.triggers.empty());
  EXPECT_EQ(e.body, "Bays are $45/hour.\n");
  const std::string canonical = SerializeKnowledge(e);
  EXPECT_EQ(canonical, R"(---
id: faq.price
title: Prices
category: faq
locations: [bedford, dartmouth]
triggers: []
action: answer
fallback: escalate
requires: []
---
Bays are $45/hour.
)");
  EXPECT_EQ(ParseKnowledge("faq.price.md", canonical), e);
}

TEST(Knowledge, EachProblemNamesTheFileTheLineAndTheField) {
  struct Case {
    std::string from, to;
    int line;
    std::string field, says;
  };
  const std::vector<Case> cases = {
      {"category: faq", "category: faqs", 4, "category", "not one of"},
      {"action: answer", "action: reset_trackman", 7, "action", "tech action"},
      {"fallback: escalate", "fallback: retry", 8, "fallback", "not one of"},
      {"requires: [active_booking]", "requires: [active_booking, booked]", 9, "requires",
       "'booked'"},
      {"timeout_ms: 120000", "timeout_ms: 2m", 10, "timeout_ms", "whole number"},
      {"timeout_ms: 120000", "timeout_ms: 0120000", 10, "timeout_ms", "whole number"},
      {"\"how much\", ", "\"24/7\", ", 6, "triggers", "24/7"},
      {"locations: [bedford, dartmouth]", "locations: [bedford, all]", 5, "locations", "all"},
      {"locations: [bedford, dartmouth]", "locations: bedford", 5, "locations", "a list"},
      {"locations: [bedford, dartmouth]", "locations: [Bedford]", 5, "locations", "not a location"},
      {"triggers: [", "triggers: [\"how much\", ", 6, "triggers", "twice"},
      {"\"what's the rate\"]", "\"what's the rate]", 6, "triggers", "closing quote"},
      {"requires: [active_booking]", "requires: [active_booking", 9, "requires", "end with ]"},
      {"title: Prices", "title: Prices\ntitle: Again", 4, "title", "twice"},
      {"title: Prices", "title: Prices\nowner: ana", 4, "owner", "unknown field"},
      {"title: Prices", "title: Prices\n# a note", 4, "", "comments"},
      {"title: Prices", "title: Prices\n", 4, "", "blank line"},
      {"id: faq.price", "id: faq.prices", 2, "id", "faq.prices.md"},
      {"category: faq\n", "", 10, "category", "missing"},
  };
  for (const auto& c : cases) {
    const auto problems = ProblemsOf("faq.price.md", Replace(kCanonical, c.from, c.to));
    ASSERT_EQ(problems.size(), 1u) << c.to;
    EXPECT_EQ(problems[0].file, "faq.price.md");
    EXPECT_EQ(problems[0].line, c.line) << c.to << ": " << problems[0].Describe();
    EXPECT_EQ(problems[0].field, c.field) << c.to << ": " << problems[0].Describe();
    EXPECT_NE(problems[0].message.find(c.says), std::string::npos) << problems[0].Describe();
  }
  EXPECT_EQ(
      ProblemsOf("faq.price.md", Replace(kCanonical, "category: faq", "category: x"))[0].Describe(),
      "faq.price.md:4: category: 'x' is not one of tech, access, booking, faq, emergency");
}

TEST(Knowledge, EveryProblemOfAFileIsReportedAtOnce) {
  std::string bad = Replace(kCanonical, "category: faq", "category: faqs");
  bad = Replace(bad, "fallback: escalate", "fallback: shrug");
  const auto problems = ProblemsOf("faq.price.md", bad);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].field, "category");
  EXPECT_EQ(problems[1].field, "fallback");
  // A value that cannot be read and one that reads but means nothing: both, in line order.
  bad = Replace(kCanonical, "timeout_ms: 120000", "timeout_ms: soon");
  bad = Replace(bad, "fallback: escalate", "fallback: shrug");
  const auto mixed = ProblemsOf("faq.price.md", bad);
  ASSERT_EQ(mixed.size(), 2u);
  EXPECT_EQ(mixed[0].Describe(), "faq.price.md:8: fallback: 'shrug' is not one of escalate, none");
  EXPECT_EQ(mixed[1].Describe(), "faq.price.md:10: timeout_ms: a whole number of milliseconds");
}

TEST(Knowledge, WholeFileProblems) {
  EXPECT_EQ(ProblemsOf("a.md", "id: a\n")[0].message, "a knowledge file starts with a --- line");
  EXPECT_NE(ProblemsOf("a.md", "---\nid: a\n")[0].message.find("closing ---"), std::string::npos);
  const auto crlf = ProblemsOf("faq.price.md", Replace(kCanonical, "Prices\n", "Prices\r\n"));
  ASSERT_EQ(crlf.size(), 1u);
  EXPECT_NE(crlf[0].message.find("CRLF"), std::string::npos);
  const std::string empty_body = kCanonical.substr(0, kCanonical.find("---\nBays") + 4) + "\n\n";
  const auto body = ProblemsOf("faq.price.md", empty_body);
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0].field, "body");
  EXPECT_EQ(body[0].line, 11);
  // An answer is one text message: it must fit.
  const auto long_answer = ProblemsOf(
      "faq.price.md", Replace(kCanonical, "A second paragraph.", std::string(1700, 'x')));
  ASSERT_EQ(long_answer.size(), 1u);
  EXPECT_EQ(long_answer[0].field, "body");
  EXPECT_EQ(long_answer[0].line, 12);
  EXPECT_FALSE(ProblemsOf("a.md", std::string(kMaxKnowledgeFileBytes + 1, 'x')).empty());
}

TEST(Knowledge, SerializeRefusesAnEntryThatWouldNotParseBack) {
  KnowledgeEntry e = ParseKnowledge("faq.price.md", kCanonical);
  e.title = "two\nlines";
  EXPECT_THROW(SerializeKnowledge(e), KnowledgeFormatError);
  e = ParseKnowledge("faq.price.md", kCanonical);
  e.body = "no final newline";
  EXPECT_THROW(SerializeKnowledge(e), KnowledgeFormatError);
}

// The facility's own knowledge: every file parses and is in canonical form.
TEST(Knowledge, TheRepositorysFolderIsWellFormedAndCanonical) {
  namespace fs = std::filesystem;
  int files = 0;
  for (const auto& item : fs::directory_iterator(fs::path(CLUBOS_SOURCE_DIR) / "knowledge")) {
    std::ifstream in(item.path());
    std::stringstream content;
    content << in.rdbuf();
    const std::string name = item.path().filename().string();
    KnowledgeEntry e;
    try {
      e = ParseKnowledge(name, content.str());
    } catch (const KnowledgeFormatError& err) {
      ADD_FAILURE() << err.what();
      continue;
    }
    EXPECT_EQ(SerializeKnowledge(e), content.str()) << name << " is not in canonical form";
    ++files;
  }
  EXPECT_GE(files, 9);
}

// The router answers FAQ questions from the knowledge files: every faq.<topic> entry of the
// example is its location's topic, with the entry's triggers as phrases and its body, without the
// file's last newline, as the text sent. The configuration no longer holds any.
TEST(Knowledge, TheFaqEntriesAreTheRoutersTopics) {
  const auto& config = clubos::testsupport::ExampleConfig();
  const auto& knowledge = clubos::testsupport::ExampleKnowledge();
  int faq_entries = 0;
  for (const auto& s : knowledge.entries()) {
    if (s.entry.category != "faq") continue;
    ++faq_entries;
    const std::string topic = s.entry.id.substr(std::string("faq.").size());
    for (const auto& location : config.locations) {
      const auto& table = knowledge.Faq(location.id);
      const auto it = table.find(topic);
      ASSERT_NE(it, table.end()) << topic << " at " << location.id;
      EXPECT_EQ(it->second.sop_id, s.entry.id);
      EXPECT_EQ(it->second.match, s.entry.triggers);
      EXPECT_EQ(it->second.answer + "\n", s.entry.body) << "sent without the file's newline";
    }
  }
  EXPECT_GE(faq_entries, 6);
  EXPECT_TRUE(knowledge.Faq("nowhere").empty());
  const auto* reset = knowledge.Procedure("bedford", "tech", "reset_trackman");
  ASSERT_NE(reset, nullptr);
  EXPECT_EQ(reset->entry.id, "tech.trackman-frozen");
  EXPECT_EQ(knowledge.Procedure("bedford", "tech", "unlock_door"), nullptr);
}

TEST(Knowledge, AConfigWithFaqAnswersIsRefusedWithWhereTheyLiveNow) {
  auto j = nlohmann::json::parse(
      std::ifstream(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json"));
  j["router"]["faq"] = {{"price", {{"match", {"how much"}}, {"answer", "$45"}}}};
  try {
    clubos::Config::Parse(j.dump());
    FAIL() << "router.faq was accepted";
  } catch (const clubos::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("knowledge"), std::string::npos) << e.what();
  }
}

// A proposal's diff: unchanged lines kept, what goes before what replaces it.
TEST(KnowledgeDiff, ShowsWhatGoesBeforeWhatComesAndKeepsTheRest) {
  EXPECT_EQ(LineDiff("a\nb\nc\n", "a\nB\nc\n"), "  a\n- b\n+ B\n  c\n");
  EXPECT_EQ(LineDiff("a\n", "a\nb\n"), "  a\n+ b\n");
  EXPECT_EQ(LineDiff("a\nb\n", "b\n"), "- a\n  b\n");
  EXPECT_EQ(LineDiff("same\n", "same\n"), "  same\n");
  // Too large for the table: every old line out, every new one in.
  std::string big_a, big_b;
  for (int i = 0; i < 3000; ++i) {
    big_a += "a" + std::to_string(i) + "\n";
    big_b += "b" + std::to_string(i) + "\n";
  }
  const std::string d = LineDiff(big_a, big_b);
  EXPECT_EQ(d.rfind("- a0\n", 0), 0u);
  EXPECT_NE(d.find("- a2999\n+ b0\n"), std::string::npos);
}
