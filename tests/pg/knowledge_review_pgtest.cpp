// Knowledge review against real Postgres, real workers, the database-backed fake facility and the
// simulated reviewer model over loopback HTTP (sim/README.md, "The reviewer"): an operator's
// correction becomes a case, the reviewer proposes a new version of the SOP the answer followed,
// the proposal is dry-run on past threads and approved by a person who is not its author, and the
// next customer gets the new answer; a restore brings the old one back. Two approvers at once,
// proposals racing for the cap, a reviewer that is down, over its caps or answering garbage: each
// changes nothing it must not.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "integrations/llm.h"
#include "store/db.h"
#include "tests/support/flow_fixture.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"
#include "tests/support/sim_facility.h"
#include "workflows/errors.h"
#include "workflows/feedback.h"
#include "workflows/flow.h"
#include "workflows/knowledge.h"
#include "workflows/knowledge_review.h"
#include "workflows/knowledge_store.h"

using namespace clubos;
using namespace clubos::workflows;
using nlohmann::json;
using pgtest::WaitFor;

namespace {

constexpr const char* kBedford = "+15555550199";
constexpr const char* kPrice = "faq.price";
constexpr const char* kNewPrice = "Bays are $50/hour all day, up to 4 players per bay.\n";

std::string Phone(int n) {
  return "+1555555" + std::to_string(2000 + n);
}

class KnowledgeReviewTest : public pgtest::FlowFixture {
 protected:
  KnowledgeReviewTest() : sim_(config_, SystemClock::Instance()) {}
  void SetUp() override {
    ::setenv("CLUBOS_REVIEWER_API_KEY", "llm-test-key", 1);  // the key the simulator accepts
    config_.integrations.reviewer.endpoint.base_url = sim_.url();
    config_.integrations.reviewer.endpoint.call_timeout = Millis(1'000);
    config_.integrations.reviewer.endpoint.deadline = Millis(2'000);
    model_ = std::make_unique<integrations::LlmClient>(config_.integrations.reviewer.endpoint);
    FlowFixture::SetUp();
    if (IsSkipped()) return;
    pgtest::ResetKnowledge(true);  // each test starts from the example's version 1
    reviewer_ = std::make_unique<KnowledgeReviewer>(flow_->knowledge_review(), *flow_, *model_,
                                                    SystemClock::Instance());
  }
  const KnowledgeReview& Review() { return flow_->knowledge_review(); }
  // The thread's automated answer to `question`, sent and verified; its text.
  std::pair<int64_t, std::string> Answer(const std::string& question, const std::string& from) {
    const auto in = Intake(from, kBedford, question);
    EXPECT_TRUE(ReachesState(in.thread_id, "verified")) << question;
    const auto r = db_->ExecSql(
        "SELECT id, params ->> 'text' FROM actions WHERE thread_id = $1 AND kind = "
        "'send_message' AND params ->> 'role' = 'primary'",
        {in.thread_id});
    if (r.Empty()) return {0, ""};
    return {r.At(0, 0).Int64(), r.At(0, 1).Str()};
  }
  // An operator marks the price answer unhelpful with the right one: a case about faq.price.
  int64_t PriceCase(int n, const std::string& correction) {
    const auto [action, text] = Answer("how much for an hour?", Phone(n));
    EXPECT_NE(text.find("$45"), std::string::npos) << text;
    const auto f = flow_->GiveFeedback(*db_, {action, false, correction, "operator:sam"});
    EXPECT_TRUE(f.case_id.has_value());
    return f.case_id.value_or(0);
  }
  // The active document with its body replaced.
  std::string Edited(const std::string& id, const std::string& body) {
    for (const auto& s : ActiveKnowledge(*db_))
      if (s.entry.id == id) {
        const std::string content = SerializeKnowledge(s.entry);
        return content.substr(0, content.find("\n---\n") + 5) + body;
      }
    ADD_FAILURE() << "no document " << id;
    return "";
  }
  int64_t HumanProposal(const std::string& body, const std::string& author = "operator:sam") {
    return Review().Propose(*db_, {.document_id = kPrice,
                                   .content = Edited(kPrice, body),
                                   .reasoning = "the prices changed on Monday",
                                   .author = author});
  }
  int ActiveVersion(const std::string& id) {
    return static_cast<int>(
        Scalar("SELECT active_version FROM knowledge_documents WHERE id = $1", {id}));
  }
  // Until the workers' cache holds version `v` of the document (the store's NOTIFY reached them).
  bool CacheHolds(const std::string& id, int v) {
    const std::string want = id + " v" + std::to_string(v);
    return WaitFor([&] {
      std::string fingerprint;
      db_->Transact("cache", [&](store::Tx& tx) {
        fingerprint = flow_->knowledge().Current(tx)->Fingerprint();
      });
      return fingerprint.find(want) != std::string::npos;
    });
  }
  int ReviewerCalls() { return sim_.Count("llm", "POST", "/v1/chat/completions", false); }

  simtest::SimFacility sim_;
  std::unique_ptr<integrations::LlmClient> model_;
  std::unique_ptr<KnowledgeReviewer> reviewer_;
};

}  // namespace

TEST_F(KnowledgeReviewTest,
       ACorrectionBecomesAProposalAnotherPersonApprovesAndTheNextCustomerGets) {
  const int64_t c = PriceCase(1, kNewPrice);
  ASSERT_GT(c, 0);
  EXPECT_EQ(Text("SELECT sop_id || ' v' || sop_version FROM cases WHERE id = $1", {c}),
            "faq.price v1");

  const ReviewerRun run = reviewer_->Run(*db_);
  EXPECT_EQ(run.outcome, "ok") << run.detail;
  EXPECT_EQ(run.cases, 1);
  ASSERT_EQ(run.proposals, 1);
  EXPECT_EQ(ReviewerCalls(), 1);
  const int64_t p = Scalar("SELECT id FROM knowledge_proposals");
  EXPECT_EQ(Text("SELECT author_kind || ' ' || author || ' ' || state FROM knowledge_proposals"),
            "model reviewer:" + config_.integrations.reviewer.endpoint.strong_model + " open");
  EXPECT_EQ(Text("SELECT case_ids::text FROM knowledge_proposals"), "{" + std::to_string(c) + "}");
  EXPECT_EQ(Text("SELECT state FROM cases WHERE id = $1", {c}), "proposed");
  EXPECT_NE(Text("SELECT diff FROM knowledge_proposals").find("+ Bays are $50/hour"),
            std::string::npos);
  // The dry run: the thread that was answered $45 would now be answered $50.
  const json replay = json::parse(Text("SELECT replay::text FROM knowledge_proposals"));
  EXPECT_GE(replay["replayed"].get<int>(), 1) << replay.dump();
  EXPECT_GE(replay["touched"].get<int>(), 1) << replay.dump();
  ASSERT_GE(replay["changed"].size(), 1u) << replay.dump();
  EXPECT_NE(replay["changed"][0]["before"].get<std::string>().find("$45"), std::string::npos);
  EXPECT_NE(replay["changed"][0]["after"].get<std::string>().find("$50"), std::string::npos);
  // Nothing live changed: routing still answers with version 1.
  EXPECT_EQ(ActiveVersion(kPrice), 1);
  EXPECT_NE(Answer("how much for an hour?", Phone(2)).second.find("$45"), std::string::npos);

  // The model never decides, whatever it calls itself.
  const std::string model = "reviewer:" + config_.integrations.reviewer.endpoint.strong_model;
  EXPECT_THROW(Review().Approve(*db_, p, model), Forbidden);
  EXPECT_THROW(Review().Approve(*db_, p, "gpt"), Forbidden);
  // Sam wrote the correction the model turned into the proposal: theirs too, not for them alone.
  EXPECT_THROW(Review().Approve(*db_, p, "operator:sam"), Forbidden);
  EXPECT_EQ(ActiveVersion(kPrice), 1);
  // A case about the price is no reason to change the hours.
  EXPECT_THROW(Review().Propose(*db_, {.document_id = "faq.hours",
                                       .content = Edited("faq.hours", "Open 24/7.\n"),
                                       .reasoning = "x",
                                       .case_ids = {c},
                                       .author = "operator:bob"}),
               InvalidInput);

  EXPECT_EQ(Review().Approve(*db_, p, "operator:ana"), 2);
  EXPECT_EQ(ActiveVersion(kPrice), 2);
  EXPECT_EQ(Text("SELECT source || ' ' || approved_by || ' ' || proposal_id FROM "
                 "knowledge_versions WHERE document_id = $1 AND version = 2",
                 {std::string(kPrice)}),
            "approval operator:ana " + std::to_string(p));
  EXPECT_EQ(Text("SELECT state || ' ' || decided_by FROM knowledge_proposals"),
            "approved operator:ana");
  EXPECT_EQ(Text("SELECT state FROM cases WHERE id = $1", {c}), "closed");
  EXPECT_THROW(Review().Approve(*db_, p, "operator:bob"), IllegalTransition) << "decided already";

  ASSERT_TRUE(CacheHolds(kPrice, 2));
  const auto [after, text] = Answer("how much for an hour?", Phone(3));
  EXPECT_NE(text.find("$50"), std::string::npos) << text;
  EXPECT_EQ(Text("SELECT reason FROM actions WHERE id = $1", {after}).find("SOP faq.price v2") !=
                std::string::npos,
            true);

  // Restore: version 1's content comes back as version 3; version 2 stays on file.
  EXPECT_EQ(Review().Restore(*db_, kPrice, 1, "operator:sam", "the $50 was a mistake"), 3);
  EXPECT_EQ(Scalar("SELECT count(*) FROM knowledge_versions WHERE document_id = $1",
                   {std::string(kPrice)}),
            3);
  EXPECT_EQ(Text("SELECT string_agg(event, ',' ORDER BY id) FROM knowledge_events WHERE "
                 "document_id = $1",
                 {std::string(kPrice)}),
            "proposed,replayed,approved,restored");
  ASSERT_TRUE(CacheHolds(kPrice, 3));
  EXPECT_NE(Answer("how much for an hour?", Phone(4)).second.find("$45"), std::string::npos);
  EXPECT_THROW(Review().Restore(*db_, kPrice, 3, "operator:sam", ""), InvalidInput)
      << "already active";
  EXPECT_THROW(Review().Restore(*db_, kPrice, 9, "operator:sam", ""), NotFound);
}

TEST_F(KnowledgeReviewTest, TheAuthorCannotApproveTheirOwnAndAStaleProposalIsRefused) {
  const int64_t mine = HumanProposal("Bays are $55/hour.\n");
  const int64_t other = HumanProposal("Bays are $65/hour.\n", "operator:bob");
  EXPECT_THROW(Review().Approve(*db_, mine, "operator:sam"), Forbidden);
  EXPECT_EQ(Text("SELECT state FROM knowledge_proposals WHERE id = $1", {mine}), "open");
  EXPECT_EQ(Review().Approve(*db_, mine, "operator:ana"), 2);
  // Bob's was written against version 1: approving it now would silently undo Sam's change.
  try {
    Review().Approve(*db_, other, "operator:ana");
    ADD_FAILURE() << "a stale proposal was approved";
  } catch (const Conflict& e) {
    EXPECT_EQ(e.code(), "stale_base");
  }
  EXPECT_EQ(ActiveVersion(kPrice), 2);
  Review().Reject(*db_, other, "operator:ana", "superseded");
  EXPECT_EQ(
      Text("SELECT state || ' ' || decision_note FROM knowledge_proposals WHERE id = $1", {other}),
      "rejected superseded");
  EXPECT_THROW(Review().Reject(*db_, other, "operator:ana", ""), IllegalTransition);

  // Bad proposals are refused and store nothing.
  const int64_t before = Scalar("SELECT count(*) FROM knowledge_proposals");
  EXPECT_THROW(Review().Propose(*db_, {.document_id = kPrice,
                                       .content = Edited("faq.hours", "We never close.\n"),
                                       .reasoning = "x",
                                       .author = "operator:sam"}),
               InvalidInput)
      << "content naming another document";
  EXPECT_THROW(Review().Propose(*db_, {.document_id = kPrice,
                                       .content = Edited(kPrice, "Bays are $55/hour.\n"),
                                       .reasoning = "x",
                                       .author = "operator:sam"}),
               InvalidInput)
      << "the active version again";
  EXPECT_THROW(Review().Propose(*db_, {.document_id = kPrice,
                                       .content = Edited(kPrice, "Free.\n"),
                                       .reasoning = "x",
                                       .case_ids = {987654},
                                       .author = "operator:sam"}),
               InvalidInput)
      << "a case that does not exist";
  EXPECT_THROW(Review().Propose(*db_, {.document_id = kPrice,
                                       .content = "not a knowledge file",
                                       .reasoning = "x",
                                       .author = "operator:sam"}),
               InvalidInput);
  EXPECT_THROW(Review().Propose(*db_, {.document_id = "faq.nope",
                                       .content = Edited(kPrice, "Free.\n"),
                                       .reasoning = "x",
                                       .author = "operator:sam"}),
               NotFound);
  EXPECT_EQ(Scalar("SELECT count(*) FROM knowledge_proposals"), before);

  // Reasoning in any script: its excerpt in the history is cut between characters, not inside one.
  std::string long_reasoning;
  for (int i = 0; i < 300; ++i) long_reasoning += "é€";
  const int64_t accented = Review().Propose(*db_, {.document_id = kPrice,
                                                   .content = Edited(kPrice, "Bays are €50.\n"),
                                                   .reasoning = long_reasoning,
                                                   .author = "operator:sam"});
  EXPECT_GT(accented, 0);
  EXPECT_EQ(Text("SELECT reasoning FROM knowledge_proposals WHERE id = $1", {accented}),
            long_reasoning);
}

TEST_F(KnowledgeReviewTest, TwoApproversAtOnceMakeOneVersion) {
  for (int round = 0; round < 5; ++round) {
    const int64_t p = HumanProposal("Bays are $" + std::to_string(51 + round) + "/hour.\n");
    std::atomic<int> approved{0}, refused{0};
    std::barrier go(2);
    std::vector<std::thread> approvers;
    for (const char* who : {"operator:ana", "operator:bob"})
      approvers.emplace_back([&, who] {
        auto conn = pgtest::Connect();
        go.arrive_and_wait();
        try {
          Review().Approve(*conn, p, who);
          ++approved;
        } catch (const IllegalTransition&) {
          ++refused;
        }
      });
    for (auto& t : approvers) t.join();
    EXPECT_EQ(approved.load(), 1) << "round " << round;
    EXPECT_EQ(refused.load(), 1) << "round " << round;
    EXPECT_EQ(ActiveVersion(kPrice), 2 + round);
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM knowledge_versions WHERE document_id = $1",
                   {std::string(kPrice)}),
            6);
  EXPECT_EQ(Scalar("SELECT count(*) FROM knowledge_events WHERE event = 'approved'"), 5);
}

TEST_F(KnowledgeReviewTest, ProposalsRacingForTheCapStopAtIt) {
  const int cap = config_.knowledge.max_open_proposals;
  ASSERT_GE(cap, 1);
  constexpr int kRacers = 8;
  std::atomic<int> stored{0}, capped{0};
  std::barrier go(kRacers);
  std::vector<std::string> contents;
  for (int i = 0; i < kRacers; ++i)
    contents.push_back(Edited(kPrice, "Bays are $" + std::to_string(70 + i) + ".\n"));
  std::vector<std::thread> racers;
  for (int i = 0; i < kRacers; ++i)
    racers.emplace_back([&, i] {
      auto conn = pgtest::Connect();
      const std::string& content = contents[i];
      go.arrive_and_wait();
      try {
        Review().Propose(*conn, {.document_id = kPrice,
                                 .content = content,
                                 .reasoning = "racer " + std::to_string(i),
                                 .author = "operator:r" + std::to_string(i)});
        ++stored;
      } catch (const Conflict& e) {
        if (e.code() == "too_many_proposals") ++capped;
      }
    });
  for (auto& t : racers) t.join();
  EXPECT_EQ(stored.load(), std::min(cap, kRacers));
  EXPECT_EQ(capped.load(), kRacers - std::min(cap, kRacers));
  EXPECT_EQ(Scalar("SELECT count(*) FROM knowledge_proposals WHERE state = 'open'"),
            std::min(cap, kRacers));
}

TEST_F(KnowledgeReviewTest, AReviewerThatIsDownDefersTellsOperatorsOnceAndRoutingCarriesOn) {
  const int64_t c = PriceCase(1, kNewPrice);
  ASSERT_EQ(sim_.Fault("llm", "http_500", 100), 201);
  for (int i = 0; i < 3; ++i) {
    const ReviewerRun run = reviewer_->Run(*db_);
    EXPECT_EQ(run.outcome, "unavailable") << run.detail;
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM knowledge_proposals"), 0);
  EXPECT_EQ(Text("SELECT state FROM cases WHERE id = $1", {c}), "new") << "the case waits";
  EXPECT_EQ(Scalar("SELECT count(*) FROM reviewer_outages WHERE ended_at IS NULL"), 1);
  EXPECT_EQ(Scalar("SELECT deferrals FROM reviewer_outages"), 3);
  ASSERT_TRUE(WaitFor([&] { return facility_->Calls("notify_operator") >= 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(facility_->Calls("notify_operator"), 1) << "operators are told once";
  // Customers are answered from the cached SOPs all along.
  EXPECT_NE(Answer("how much for an hour?", Phone(2)).second.find("$45"), std::string::npos);

  sim_.ClearFaults();
  const ReviewerRun back = reviewer_->Run(*db_);
  EXPECT_EQ(back.outcome, "ok") << back.detail;
  EXPECT_EQ(back.proposals, 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM reviewer_outages WHERE ended_at IS NULL"), 0);
  ASSERT_TRUE(WaitFor([&] { return facility_->Calls("notify_operator") == 2; }))
      << "and told once that it is back";
}

TEST_F(KnowledgeReviewTest, AGarbageAnswerChangesNothing) {
  const int64_t c = PriceCase(1, kNewPrice);
  const auto versions = Scalar("SELECT count(*) FROM knowledge_versions");
  ASSERT_EQ(sim_.Fault("llm", "off_schema", 1), 201);
  const ReviewerRun run = reviewer_->Run(*db_);
  EXPECT_EQ(run.outcome, "garbage");
  EXPECT_NE(run.detail.find("unexpected field"), std::string::npos) << run.detail;
  EXPECT_EQ(Scalar("SELECT count(*) FROM knowledge_proposals"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM knowledge_conflicts"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM knowledge_versions"), versions);
  EXPECT_EQ(Text("SELECT state FROM cases WHERE id = $1", {c}), "new");
  EXPECT_EQ(Text("SELECT outcome FROM reviewer_runs ORDER BY id DESC LIMIT 1"), "garbage");
  // A refusal and a cut-off answer are no better.
  ASSERT_EQ(sim_.Fault("llm", "refusal", 1), 201);
  EXPECT_EQ(reviewer_->Run(*db_).outcome, "unavailable");
  EXPECT_EQ(Scalar("SELECT count(*) FROM knowledge_proposals"), 0);
}

TEST_F(KnowledgeReviewTest, OverItsDailyCapsTheReviewerCallsNoModel) {
  StopWorkers();
  config_.integrations.reviewer.daily_calls = 1;
  StartWorkers();
  reviewer_ = std::make_unique<KnowledgeReviewer>(flow_->knowledge_review(), *flow_, *model_,
                                                  SystemClock::Instance());
  PriceCase(1, kNewPrice);
  EXPECT_EQ(reviewer_->Run(*db_).outcome, "ok");
  const int calls = ReviewerCalls();
  const auto [action, text] = Answer("do you sell gift cards?", Phone(2));
  flow_->GiveFeedback(
      *db_, {action, false, "Gift cards are sold at the front desk only.\n", "operator:sam"});
  const ReviewerRun run = reviewer_->Run(*db_);
  EXPECT_EQ(run.outcome, "over_budget") << run.detail;
  EXPECT_EQ(ReviewerCalls(), calls) << "no call over the cap";
  EXPECT_EQ(Scalar("SELECT count(*) FROM knowledge_proposals WHERE document_id = 'faq.gift_card'"),
            0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM reviewer_runs WHERE outcome = 'over_budget'"), 1);
}

TEST_F(KnowledgeReviewTest, TheReviewerFlagsTwoEntriesThatQuoteDifferentPrices) {
  // A second price entry that answers the same trigger with another figure.
  const std::string price = Edited(kPrice, "Bays are $45/hour.\n");
  std::string other = price;
  other.replace(other.find("id: faq.price"), 13, "id: faq.price-weekend");
  other.replace(other.find("Bays are $45"), 12, "Bays are $70");
  ImportKnowledge(*db_, {{"faq.price-weekend.md", other}});
  PriceCase(1, kNewPrice);
  const ReviewerRun run = reviewer_->Run(*db_);
  EXPECT_EQ(run.outcome, "ok") << run.detail;
  EXPECT_EQ(run.conflicts, 1);
  EXPECT_EQ(Text("SELECT array_to_string(documents, ' ') || ' ' || state FROM knowledge_conflicts"),
            "faq.price faq.price-weekend open");
  // A second run flags the pair no second time.
  PriceCase(2, "Bays are $52/hour.\n");
  reviewer_->Run(*db_);
  EXPECT_EQ(Scalar("SELECT count(*) FROM knowledge_conflicts"), 1);
  // A person deals with it; both documents' histories say so.
  const int64_t conflict = Scalar("SELECT id FROM knowledge_conflicts");
  EXPECT_THROW(Review().ResolveConflict(*db_, conflict, "reviewer:x"), Forbidden);
  Review().ResolveConflict(*db_, conflict, "operator:ana");
  EXPECT_THROW(Review().ResolveConflict(*db_, conflict, "operator:ana"), IllegalTransition);
  EXPECT_EQ(Text("SELECT string_agg(document_id, ' ' ORDER BY document_id) FROM knowledge_events "
                 "WHERE event = 'conflict_resolved'"),
            "faq.price faq.price-weekend");
}
