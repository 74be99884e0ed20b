// /v1/knowledge over real HTTP: the documents and their search, a person's proposal with its dry
// run, approval refused to its author and given by another operator, the document's versions with
// diffs and history, restore; bad requests refused whole; only operators; the reviewer not
// configured.
#include <set>

#include "tests/api/api_fixture.h"
#include "tests/support/openapi_shape.h"
#include "workflows/knowledge.h"
#include "workflows/knowledge_store.h"

using namespace clubos;
using namespace clubos::apitest;

namespace {

class KnowledgeApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    pgtest::ResetKnowledge(true);
    StartWorkers();
  }
  static void ExpectShape(const std::string& method, const std::string& path,
                          const integrations::HttpResponse& r) {
    for (const auto& p : openapi::Problems(method, path, r.status, Body(r))) ADD_FAILURE() << p;
  }
  // faq.price as a knowledge file with its body replaced.
  std::string PriceWith(const std::string& body) {
    for (const auto& s : workflows::ActiveKnowledge(*db_))
      if (s.entry.id == "faq.price") {
        const std::string c = workflows::SerializeKnowledge(s.entry);
        return c.substr(0, c.find("\n---\n") + 5) + body;
      }
    ADD_FAILURE() << "no faq.price";
    return "";
  }
  integrations::HttpResponse Propose(const json& body, const std::string& token = kOperatorToken,
                                     const std::string& doc = "faq.price") {
    return Call("POST", "/v1/knowledge/documents/" + doc + "/proposals", body.dump(), token);
  }
  std::string KnowledgeRows() {
    return Text(
        "SELECT (SELECT count(*) FROM knowledge_proposals) || '/' || (SELECT count(*) FROM "
        "knowledge_versions) || '/' || (SELECT count(*) FROM knowledge_events) || '/' || (SELECT "
        "string_agg(id || ':' || active_version, ',' ORDER BY id) FROM knowledge_documents)");
  }
};

}  // namespace

TEST_F(KnowledgeApiTest, AProposalIsDryRunThenApprovedByAnotherOperatorAndRestored) {
  // A customer was answered with version 1: the dry run has a decision to replay.
  auto r = PostMessage("how much for an hour?");
  ASSERT_EQ(r.status, 202) << r.body;
  const int64_t thread = Body(r)["thread_id"].get<int64_t>();
  ASSERT_TRUE(pgtest::WaitFor([&] { return ThreadState(thread) == "verified"; }));

  r = Call("GET", "/v1/knowledge?q=price", "", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectShape("get", "/v1/knowledge", r);
  json b = Body(r);
  std::set<std::string> found;
  for (const auto& d : b["documents"]) found.insert(d["id"].get<std::string>());
  EXPECT_TRUE(found.count("faq.price")) << r.body;
  EXPECT_FALSE(found.count("faq.hours")) << r.body;
  EXPECT_EQ(b["reviewer"]["configured"], false);

  r = Propose({{"content", PriceWith("Bays are $50/hour all day.\n")},
               {"reasoning", "new prices from Monday"},
               {"base_version", 1}});
  ASSERT_EQ(r.status, 201) << r.body;
  ExpectShape("post", "/v1/knowledge/documents/{id}/proposals", r);
  b = Body(r);
  const int64_t p = b["id"].get<int64_t>();
  EXPECT_EQ(b["author"], "operator:alice");
  EXPECT_EQ(b["author_kind"], "human");
  EXPECT_EQ(b["state"], "open");
  EXPECT_NE(b["diff"].get<std::string>().find("+ Bays are $50/hour all day."), std::string::npos);
  ASSERT_TRUE(b["replay"].is_object()) << r.body;
  ASSERT_GE(b["replay"]["changed"].size(), 1u) << r.body;
  EXPECT_EQ(b["replay"]["changed"][0]["thread_id"], thread);

  // Its author may not approve it; nothing changes.
  const std::string before = KnowledgeRows();
  r = Call("POST", "/v1/knowledge/proposals/" + std::to_string(p) + "/approve", "", kOperatorToken);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(KnowledgeRows(), before);

  r = Call("POST", "/v1/knowledge/proposals/" + std::to_string(p) + "/approve", "",
           kOtherOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectShape("post", "/v1/knowledge/proposals/{id}/approve", r);
  EXPECT_EQ(Body(r)["state"], "approved");
  EXPECT_EQ(Body(r)["decided_by"], "operator:bob");
  EXPECT_EQ(Body(r)["approved_version"], 2);
  r = Call("POST", "/v1/knowledge/proposals/" + std::to_string(p) + "/reject",
           R"({"note": "too late"})", kOtherOperatorToken);
  EXPECT_EQ(r.status, 409) << r.body << " (decided already)";

  r = Call("GET", "/v1/knowledge/documents/faq.price", "", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectShape("get", "/v1/knowledge/documents/{id}", r);
  b = Body(r);
  EXPECT_EQ(b["active_version"], 2);
  ASSERT_EQ(b["versions"].size(), 2u);
  EXPECT_EQ(b["versions"][0]["version"], 2);
  EXPECT_EQ(b["versions"][0]["source"], "approval");
  EXPECT_EQ(b["versions"][0]["approved_by"], "operator:bob");
  EXPECT_NE(b["versions"][0]["diff"].get<std::string>().find("- Bays are $45"), std::string::npos);
  ASSERT_GE(b["history"].size(), 3u);

  r = Call("POST", "/v1/knowledge/documents/faq.price/restore",
           R"({"version": 1, "note": "back to the old prices"})", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectShape("post", "/v1/knowledge/documents/{id}/restore", r);
  EXPECT_EQ(Body(r)["version"], 3);
  EXPECT_EQ(Text("SELECT active_version FROM knowledge_documents WHERE id = 'faq.price'"), "3");
  r = Call("GET", "/v1/knowledge/proposals?state=approved", "", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectShape("get", "/v1/knowledge/proposals", r);
  EXPECT_EQ(Body(r)["proposals"].size(), 1u);
}

TEST_F(KnowledgeApiTest, BadRequestsAreRefusedAndChangeNothing) {
  const std::string before = KnowledgeRows();
  const std::string good = PriceWith("Bays are $50/hour.\n");
  for (const json& bad :
       {json("not an object"), json::object(), json{{"content", good}},
        json{{"content", good}, {"reasoning", ""}}, json{{"content", good}, {"reasoning", 42}},
        json{{"content", good}, {"reasoning", "r"}, {"base_version", "1"}},
        json{{"content", good}, {"reasoning", "r"}, {"case_ids", {"x"}}},
        json{{"content", good}, {"reasoning", "r"}, {"author", "operator:root"}}}) {
    const auto r = Propose(bad);
    EXPECT_EQ(r.status, 400) << bad.dump() << " " << r.body;
  }
  auto r = Call("POST", "/v1/knowledge/documents/faq.price/proposals", "{not json", kOperatorToken);
  EXPECT_EQ(r.status, 400) << r.body;
  // Well-formed but wrong: another document's content, the active version again, no such case.
  r = Propose({{"content", good}, {"reasoning", "r"}}, kOperatorToken, "faq.hours");
  EXPECT_EQ(r.status, 422) << r.body;
  r = Propose({{"content", PriceWith("Bays are $45/hour before 5pm and $60/hour after, up to 4 "
                                     "players per bay.\n")},
               {"reasoning", "r"}});
  EXPECT_EQ(r.status, 422) << r.body;
  r = Propose({{"content", good}, {"reasoning", "r"}, {"case_ids", {987654}}});
  EXPECT_EQ(r.status, 422) << r.body;
  r = Propose({{"content", good}, {"reasoning", "r"}, {"base_version", 7}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(ErrorCode(r), "stale_base");
  r = Propose({{"content", good}, {"reasoning", "r"}}, kOperatorToken, "faq.nope");
  EXPECT_EQ(r.status, 404) << r.body;
  r = Call("POST", "/v1/knowledge/documents/faq.price/restore", R"({"version": 0})",
           kOperatorToken);
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call("POST", "/v1/knowledge/documents/faq.price/restore", R"({"version": 1})",
           kOperatorToken);
  EXPECT_EQ(r.status, 422) << r.body << " (the active version)";
  r = Call("GET", "/v1/knowledge/proposals?state=maybe", "", kOperatorToken);
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call("POST", "/v1/knowledge/proposals/987654/approve", "", kOtherOperatorToken);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(KnowledgeRows(), before);
}

TEST_F(KnowledgeApiTest, OnlyOperatorsAndTheReviewerMustBeConfigured) {
  const std::string before = KnowledgeRows();
  auto r = Propose({{"content", PriceWith("Free.\n")}, {"reasoning", "r"}}, kServiceToken);
  EXPECT_EQ(r.status, 403) << r.body;
  r = Call("GET", "/v1/knowledge", "", "");
  EXPECT_EQ(r.status, 401) << r.body;
  r = Call("POST", "/v1/knowledge/review", "", kOperatorToken);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(ErrorCode(r), "not_configured");
  EXPECT_EQ(KnowledgeRows(), before);
}
