// The knowledge store against real Postgres: importing the repo's knowledge/ folder, retrieval on
// the development set's FAQ questions, export then import changing nothing, a bad file changing
// nothing, nothing deactivated, versions append-only, pg_trgm without a superuser.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "store/db.h"
#include "store/migrator.h"
#include "tests/support/pg.h"
#include "workflows/knowledge_store.h"

using namespace clubos;
using namespace clubos::workflows;
namespace fs = std::filesystem;

namespace {

// The share of the set's FAQ questions whose entry must come first (measured: docs/knowledge.md).
constexpr double kMinHitRate = 0.90;
// Postgres's ranking alone, without the entries' trigger phrases.
constexpr double kMinHitRateWithoutTriggers = 0.80;

const std::string kFolder = std::string(CLUBOS_SOURCE_DIR) + "/knowledge";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const fs::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
}

// A folder of its own under the system's temporary folder, removed with the object.
struct TempFolder {
  fs::path path;
  explicit TempFolder(const std::string& name)
      : path(fs::temp_directory_path() /
             ("clubos-knowledge-" + std::to_string(::getpid()) + "-" + name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempFolder() { fs::remove_all(path); }
  // A copy of the repo's knowledge/ folder.
  void CopyRepoFolder() const {
    for (const auto& f : fs::directory_iterator(kFolder))
      fs::copy_file(f.path(), path / f.path().filename());
  }
};

class KnowledgeStore : public ::testing::Test {
 protected:
  void SetUp() override {
    if (pgtest::TestDatabaseUrl().empty()) return;
    db_ = pgtest::Connect();
    pgtest::ResetKnowledge(false);
  }
  int64_t Scalar(const std::string& sql, const std::vector<store::Param>& params = {}) {
    return db_->ExecSql(sql, params).At(0, 0).Int64();
  }
  int64_t Versions() { return Scalar("SELECT count(*) FROM knowledge_versions"); }
  std::unique_ptr<store::Connection> db_;
};

struct Question {
  std::string text;
  std::string topic;
};

std::vector<Question> FaqQuestions() {
  const auto doc =
      nlohmann::json::parse(ReadFile(std::string(CLUBOS_SOURCE_DIR) + "/tests/data/messages.json"));
  std::vector<Question> out;
  for (const auto& c : doc.at("cases"))
    if (c.value("category", "") == "faq" && c.contains("faq_topic"))
      out.push_back({c.at("text").get<std::string>(), c.at("faq_topic").get<std::string>()});
  return out;
}

}  // namespace

TEST_F(KnowledgeStore, ImportingTheFolderAddsEachDocumentAsItsFirstVersion) {
  CLUBOS_REQUIRE_PG();
  const auto files = ReadKnowledgeFolder(kFolder);
  const auto report = ImportKnowledge(*db_, files);
  EXPECT_EQ(report.Count("added"), static_cast<int>(files.size()));
  EXPECT_TRUE(report.left_alone.empty());
  EXPECT_EQ(Versions(), static_cast<int64_t>(files.size()));
  const auto row = db_->ExecSql(
      "SELECT v.version, v.author, v.source, v.source_file, v.body, d.active_version "
      "FROM knowledge_versions v JOIN knowledge_documents d ON d.id = v.document_id "
      "WHERE v.document_id = 'faq.price'",
      {});
  ASSERT_EQ(row.Size(), 1u);
  EXPECT_EQ(row.At(0, "version").Int(), 1);
  EXPECT_EQ(row.At(0, "active_version").Int(), 1);
  EXPECT_EQ(row.At(0, "author").Str(), "import");
  EXPECT_EQ(row.At(0, "source").Str(), "import");
  EXPECT_EQ(row.At(0, "source_file").Str(), "faq.price.md");
  EXPECT_EQ(row.At(0, "body").Str(),
            "Bays are $45/hour before 5pm and $60/hour after, up to 4 players per bay.\n");
}

TEST_F(KnowledgeStore, RetrievalPutsTheRightEntryFirstForTheSetsFaqQuestions) {
  CLUBOS_REQUIRE_PG();
  ImportKnowledge(*db_, ReadKnowledgeFolder(kFolder));
  const auto questions = FaqQuestions();
  ASSERT_GE(questions.size(), 30u);
  for (const bool triggers : {false, true}) {
    RetrieveOptions options;
    options.trigger_phrases = triggers;
    int hits = 0;
    std::string misses;
    for (const auto& q : questions) {
      const auto found = RetrieveKnowledge(*db_, "bedford", q.text, options);
      ASSERT_LE(found.size(), 3u);
      for (std::size_t i = 1; i < found.size(); ++i)
        EXPECT_GE(found[i - 1].score, found[i].score) << q.text;
      if (!found.empty() && found[0].id == "faq." + q.topic) {
        ++hits;
        continue;
      }
      misses += "\n  " + q.text + " (faq." + q.topic + ") ->";
      for (const auto& f : found) misses += " " + f.id + ":" + std::to_string(f.score);
    }
    const double rate = static_cast<double>(hits) / static_cast<double>(questions.size());
    std::cout << (triggers ? "with trigger phrases: " : "Postgres ranking alone: ") << hits << "/"
              << questions.size() << " (" << 100 * rate << "%)" << misses << "\n";
    EXPECT_GE(rate, triggers ? kMinHitRate : kMinHitRateWithoutTriggers) << "misses:" << misses;
  }
}

// The procedures, on the set's texts that ask for an action: the entry of that action first.
TEST_F(KnowledgeStore, RetrievalPutsTheProcedureFirstForTheSetsActionRequests) {
  CLUBOS_REQUIRE_PG();
  ImportKnowledge(*db_, ReadKnowledgeFolder(kFolder));
  const std::map<std::string, std::string> procedure = {{"reset_trackman", "tech.trackman-frozen"},
                                                        {"unlock_door", "access.code-failed"}};
  const auto doc =
      nlohmann::json::parse(ReadFile(std::string(CLUBOS_SOURCE_DIR) + "/tests/data/messages.json"));
  int asked = 0, hits = 0;
  std::string misses;
  for (const auto& c : doc.at("cases")) {
    if (!c.contains("action") || !c.at("action").is_string()) continue;
    const auto it = procedure.find(c.at("action").get<std::string>());
    if (it == procedure.end()) continue;
    ++asked;
    const std::string text = c.at("text").get<std::string>();
    const auto found = RetrieveKnowledge(*db_, "bedford", text);
    if (!found.empty() && found[0].id == it->second) {
      ++hits;
      continue;
    }
    misses += "\n  " + text + " (" + it->second + ") ->";
    for (const auto& f : found) misses += " " + f.id + ":" + std::to_string(f.score);
  }
  ASSERT_GE(asked, 40);
  const double rate = static_cast<double>(hits) / asked;
  std::cout << "procedures first: " << hits << "/" << asked << " (" << 100 * rate << "%)" << misses
            << "\n";
  EXPECT_GE(rate, kMinHitRate) << "misses:" << misses;
}

TEST_F(KnowledgeStore, RetrievalGivesScoresAndKeepsToTheLocationAndK) {
  CLUBOS_REQUIRE_PG();
  TempFolder dir("location");
  dir.CopyRepoFolder();
  WriteFile(dir.path / "faq.parking.md", R"(---
id: faq.parking
title: Parking
category: faq
locations: [dartmouth]
triggers: ["parking|park"]
action: answer
fallback: escalate
requires: []
---
Free parking behind the building.
)");
  ImportKnowledge(*db_, ReadKnowledgeFolder(dir.path.string()));
  const auto dartmouth = RetrieveKnowledge(*db_, "dartmouth", "is there parking?");
  ASSERT_FALSE(dartmouth.empty());
  EXPECT_EQ(dartmouth[0].id, "faq.parking");
  EXPECT_EQ(dartmouth[0].version, 1);
  EXPECT_EQ(dartmouth[0].body, "Free parking behind the building.\n");
  EXPECT_TRUE(dartmouth[0].trigger_matched);
  EXPECT_GT(dartmouth[0].text_rank, 0);
  EXPECT_GT(dartmouth[0].score, kTriggerBonus);
  for (const auto& f : RetrieveKnowledge(*db_, "bedford", "is there parking?"))
    EXPECT_NE(f.id, "faq.parking") << "a Dartmouth entry retrieved at Bedford";
  RetrieveOptions one;
  one.k = 1;
  EXPECT_EQ(RetrieveKnowledge(*db_, "bedford", "how much is a bay for an hour", one).size(), 1u);
  EXPECT_TRUE(RetrieveKnowledge(*db_, "bedford", "zzz qqq").empty());
  EXPECT_TRUE(RetrieveKnowledge(*db_, "bedford", "").empty());
  RetrieveOptions zero;
  zero.k = 0;
  EXPECT_THROW(RetrieveKnowledge(*db_, "bedford", "price", zero), std::invalid_argument);
}

// knowledge_retrieve nominates by the title and trigger words in two reads: the entries that
// share two stems or more with the text, and only when they are fewer than 20, those that share
// one. That gives what one read of both gave only because two stems outrank one found any number
// of times (every head word weighs A), and because the second read fills in behind the first.
TEST_F(KnowledgeStore, RetrievalNominatesEntriesSharingTwoStemsBeforeThoseSharingOne) {
  CLUBOS_REQUIRE_PG();
  EXPECT_EQ(Scalar("SELECT (ts_rank('{0.02, 0.05, 0.1, 1.0}', setweight(to_tsvector('english', "
                   "repeat('bay ', 200)), 'A'), 'bay | frozen | left'::tsquery) < "
                   "ts_rank('{0.02, 0.05, 0.1, 1.0}', setweight(to_tsvector('english', "
                   "'bay frozen'), 'A'), 'bay | frozen | left'::tsquery))::int"),
            1);
  TempFolder dir("two-stems");
  auto entry = [&](const std::string& id, const std::string& title) {
    WriteFile(dir.path / (id + ".md"), "---\nid: " + id + "\ntitle: " + title +
                                           "\ncategory: faq\nlocations: all\ntriggers: []\n"
                                           "action: answer\nfallback: escalate\nrequires: []\n"
                                           "---\nAsk at the desk.\n");
  };
  // More entries that share one stem ("bay") than are nominated, ahead of the others by id.
  for (int i = 10; i < 40; ++i) entry("faq.a" + std::to_string(i), "Bay " + std::to_string(i));
  entry("faq.z-frozen", "Frozen bay");
  entry("faq.z-frozen-screen", "Frozen screen in a bay");
  ImportKnowledge(*db_, ReadKnowledgeFolder(dir.path.string()));
  RetrieveOptions all;
  all.k = kMaxRetrieved;
  const auto found = RetrieveKnowledge(*db_, "bedford", "my bay is frozen", all);
  ASSERT_EQ(found.size(), static_cast<std::size_t>(kMaxRetrieved));
  EXPECT_EQ(found[0].id, "faq.z-frozen");
  EXPECT_EQ(found[1].id, "faq.z-frozen-screen");
  // The rest are one-stem entries, the first by id among equals.
  for (std::size_t i = 2; i < found.size(); ++i)
    EXPECT_EQ(found[i].id, "faq.a" + std::to_string(8 + i)) << i;
}

TEST_F(KnowledgeStore, ExportThenImportChangesNothing) {
  CLUBOS_REQUIRE_PG();
  ImportKnowledge(*db_, ReadKnowledgeFolder(kFolder));
  const int64_t versions = Versions();
  TempFolder out("export");
  const auto exported = ExportKnowledge(*db_, out.path.string());
  const auto originals = ReadKnowledgeFolder(kFolder);
  ASSERT_EQ(exported.written.size(), originals.size());
  EXPECT_TRUE(exported.left_alone.empty());
  // The repo's files are canonical, so export gives them back byte for byte.
  for (const auto& f : originals) EXPECT_EQ(ReadFile(out.path / f.name), f.content) << f.name;
  const auto again = ImportKnowledge(*db_, ReadKnowledgeFolder(out.path.string()));
  EXPECT_EQ(again.Count("unchanged"), static_cast<int>(originals.size()));
  EXPECT_EQ(again.Count("added") + again.Count("changed"), 0);
  EXPECT_EQ(Versions(), versions);
  EXPECT_EQ(Scalar("SELECT count(*) FROM knowledge_documents WHERE active_version <> 1"), 0);
}

TEST_F(KnowledgeStore, AChangedFileIsANewActiveVersionAndAMissingOneIsLeftAlone) {
  CLUBOS_REQUIRE_PG();
  ImportKnowledge(*db_, ReadKnowledgeFolder(kFolder));
  TempFolder dir("changed");
  dir.CopyRepoFolder();
  const std::string price = ReadFile(dir.path / "faq.price.md");
  const std::string old_answer = "Bays are $45/hour before 5pm";
  WriteFile(dir.path / "faq.price.md",
            price.substr(0, price.find(old_answer)) + "Bays are $50/hour before 5pm" +
                price.substr(price.find(old_answer) + old_answer.size()));
  fs::remove(dir.path / "faq.food.md");
  const auto report = ImportKnowledge(*db_, ReadKnowledgeFolder(dir.path.string()));
  EXPECT_EQ(report.Count("changed"), 1);
  EXPECT_EQ(report.Count("unchanged"), static_cast<int>(ReadKnowledgeFolder(kFolder).size()) - 2);
  EXPECT_EQ(report.left_alone, std::vector<std::string>{"faq.food"});
  for (const auto& d : report.documents)
    if (d.id == "faq.price") {
      EXPECT_EQ(d.outcome, "changed");
      EXPECT_EQ(d.was_version, 1);
      EXPECT_EQ(d.version, 2);
    }
  // The old version is kept; the new one is active and says where it came from.
  const auto v = db_->ExecSql(
      "SELECT version, author, source_file, reason, body FROM knowledge_versions "
      "WHERE document_id = 'faq.price' ORDER BY version",
      {});
  ASSERT_EQ(v.Size(), 2u);
  EXPECT_NE(v.At(0, "body").Str().find("$45/hour"), std::string::npos);
  EXPECT_NE(v.At(1, "body").Str().find("$50/hour"), std::string::npos);
  EXPECT_EQ(v.At(1, "author").Str(), "import");
  EXPECT_EQ(v.At(1, "source_file").Str(), "faq.price.md");
  EXPECT_EQ(v.At(1, "reason").Str(), "imported from faq.price.md (was version 1)");
  EXPECT_EQ(Scalar("SELECT active_version FROM knowledge_documents WHERE id = 'faq.price'"), 2);
  const auto found = RetrieveKnowledge(*db_, "bedford", "how much for an hour?");
  ASSERT_FALSE(found.empty());
  EXPECT_EQ(found[0].id, "faq.price");
  EXPECT_EQ(found[0].version, 2);
  EXPECT_NE(found[0].body.find("$50/hour"), std::string::npos);
  // Nothing is deactivated automatically: the entry missing from the folder still answers.
  const auto food = RetrieveKnowledge(*db_, "bedford", "can we bring beer?");
  ASSERT_FALSE(food.empty());
  EXPECT_EQ(food[0].id, "faq.food");
}

TEST_F(KnowledgeStore, AnImportWithABadFileChangesNothing) {
  CLUBOS_REQUIRE_PG();
  ImportKnowledge(*db_, ReadKnowledgeFolder(kFolder));
  const int64_t versions = Versions();
  TempFolder dir("bad");
  dir.CopyRepoFolder();
  // A good change and a new document beside a bad file: none of them may land.
  const std::string hours = ReadFile(dir.path / "faq.hours.md");
  WriteFile(dir.path / "faq.hours.md", hours.substr(0, hours.size() - 1) + " Call us anytime.\n");
  WriteFile(dir.path / "faq.wifi.md",
            "---\nid: faq.wifi\ntitle: Wifi\ncategory: faq\nlocations: all\naction: answer\n"
            "fallback: escalate\n---\nThe network is Clubhouse.\n");
  const std::string clubs = ReadFile(dir.path / "faq.clubs.md");
  WriteFile(dir.path / "faq.clubs.md", clubs.substr(0, clubs.find("category: faq")) +
                                           "category: faqs" +
                                           clubs.substr(clubs.find("category: faq") + 13));
  try {
    ImportKnowledge(*db_, ReadKnowledgeFolder(dir.path.string()));
    FAIL() << "a bad file was imported";
  } catch (const KnowledgeFormatError& e) {
    ASSERT_EQ(e.problems().size(), 1u) << e.what();
    EXPECT_EQ(e.problems()[0].Describe(),
              "faq.clubs.md:4: category: 'faqs' is not one of tech, access, booking, faq, "
              "emergency");
  }
  EXPECT_EQ(Versions(), versions);
  EXPECT_EQ(Scalar("SELECT count(*) FROM knowledge_documents WHERE id = 'faq.wifi'"), 0);
  EXPECT_EQ(Scalar("SELECT active_version FROM knowledge_documents WHERE id = 'faq.hours'"), 1);
  // A location the config does not have is a problem too, when the config is given.
  fs::remove(dir.path / "faq.clubs.md");
  ImportOptions options;
  options.known_locations = {"bedford"};
  WriteFile(dir.path / "faq.wifi.md",
            "---\nid: faq.wifi\ntitle: Wifi\ncategory: faq\nlocations: [halifax]\n"
            "action: answer\nfallback: escalate\n---\nThe network is Clubhouse.\n");
  EXPECT_THROW(ImportKnowledge(*db_, ReadKnowledgeFolder(dir.path.string()), options),
               KnowledgeFormatError);
  EXPECT_EQ(Versions(), versions);
}

TEST_F(KnowledgeStore, TwoImportsAtOnceAddEachDocumentOnce) {
  CLUBOS_REQUIRE_PG();
  const auto files = ReadKnowledgeFolder(kFolder);
  ImportReport a, b;
  std::thread t1([&] { a = ImportKnowledge(*pgtest::Connect(), files); });
  std::thread t2([&] { b = ImportKnowledge(*pgtest::Connect(), files); });
  t1.join();
  t2.join();
  EXPECT_EQ(a.Count("added") + b.Count("added"), static_cast<int>(files.size()));
  EXPECT_EQ(a.Count("unchanged") + b.Count("unchanged"), static_cast<int>(files.size()));
  EXPECT_EQ(Versions(), static_cast<int64_t>(files.size()));
}

TEST_F(KnowledgeStore, VersionsAreAppendOnlyAndAlwaysActiveOne) {
  CLUBOS_REQUIRE_PG();
  ImportKnowledge(*db_, ReadKnowledgeFolder(kFolder));
  EXPECT_THROW(db_->ExecRawOne("UPDATE knowledge_versions SET body = 'x' WHERE version = 1"),
               store::DbError);
  EXPECT_THROW(db_->ExecRawOne("DELETE FROM knowledge_versions"), store::DbError);
  // The active version must exist (checked at commit).
  EXPECT_THROW(
      db_->ExecRawOne("UPDATE knowledge_documents SET active_version = 7 WHERE id = 'faq.price'"),
      store::DbError);
  EXPECT_THROW(db_->ExecRawOne("INSERT INTO knowledge_documents (id, active_version) "
                               "VALUES ('faq.nothing', 1)"),
               store::DbError);
}

// pg_trgm is a trusted extension: a database's owner that is no superuser migrates it (how
// docs/operations.md sets ClubOS up).
TEST(KnowledgeMigration, RunsAsTheDatabasesOwnerWithoutSuperuser) {
  CLUBOS_REQUIRE_PG();
  const std::string admin_url = std::getenv("CLUBOS_TEST_DATABASE_URL");
  const auto scheme = admin_url.find("://");
  const auto at = admin_url.find('@');
  ASSERT_TRUE(scheme != std::string::npos && at != std::string::npos && at > scheme)
      << "the test needs a URL of the form postgresql://user@host:port/db";
  const std::string role = "clubos_owner_" + std::to_string(::getpid());
  const std::string database = "t_knowledge_owner_" + std::to_string(::getpid());
  auto admin = store::Connect(admin_url);
  admin->ExecRawOne("CREATE ROLE " + role + " LOGIN NOSUPERUSER");
  admin->ExecRawOne("CREATE DATABASE " + database + " OWNER " + role);
  std::string url = admin_url.substr(0, scheme + 3) + role + admin_url.substr(at);
  url = url.substr(0, url.rfind('/') + 1) + database;
  int applied = 0;
  std::string error;
  try {
    auto owner = store::Connect(url);
    EXPECT_FALSE(owner->ExecRawOne("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                     .At(0, 0)
                     .Bool());
    applied = store::Migrate(*owner);
    EXPECT_EQ(owner->ExecRawOne("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")
                  .At(0, 0)
                  .Int(),
              1);
  } catch (const std::exception& e) {
    error = e.what();
  }
  admin->ExecRawOne("DROP DATABASE " + database + " WITH (FORCE)");
  admin->ExecRawOne("DROP ROLE " + role);
  EXPECT_EQ(error, "");
  EXPECT_EQ(applied, static_cast<int>(store::BuiltinMigrations().size()));
}
