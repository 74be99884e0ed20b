// The policy endpoints over real HTTP: bookings from the booking system, the emergency stop and
// toggles, suggestions, and the autonomy profile's proposals (four eyes) and rollback.
#include <algorithm>
#include <array>
#include <thread>

#include "tests/api/api_fixture.h"

using namespace clubos;
using namespace clubos::apitest;

namespace {

constexpr const char* kSecondAdminToken = "adm2-token-0123456789";

class PolicyApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    StartServer(Options(), api::TokenSet::Parse(std::string("service:svc:") + kServiceToken +
                                                ",operator:alice:" + kOperatorToken +
                                                ",admin:root:" + kAdminToken +
                                                ",admin:eve:" + kSecondAdminToken));
  }
};

}  // namespace

TEST_F(PolicyApiTest, BookingsAreStoredValidatedAndListed) {
  const std::string booking =
      R"({"id":"sk-1","location":"bedford","bay":3,"customer_phone":"+15555550100",)"
      R"("start":"2026-11-22T14:00:00Z","end":"2026-11-22T15:00:00Z"})";
  auto r = Call("POST", "/v1/bookings", booking, kServiceToken);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Call("POST", "/v1/bookings", booking, kServiceToken).status, 200) << "an update";
  EXPECT_EQ(Call("POST", "/v1/bookings", booking, kOperatorToken).status, 403);
  EXPECT_EQ(Call("POST", "/v1/bookings", booking).status, 401);
  EXPECT_EQ(Call("POST", "/v1/bookings", "{not json", kServiceToken).status, 400);
  r = Call("POST", "/v1/bookings",
           R"({"id":"sk-2","location":"bedford","bay":9,"customer_phone":"+15555550100",)"
           R"("start":"2026-11-22T14:00:00Z","end":"2026-11-22T15:00:00Z"})",
           kServiceToken);
  EXPECT_EQ(r.status, 422) << "no bay 9";
  EXPECT_EQ(Body(r)["error"]["code"], "invalid_input") << r.body;
  r = Call("POST", "/v1/bookings",
           R"({"id":"sk-3","location":"bedford","customer_phone":"+15555550100",)"
           R"("start":"2026-11-22T15:00:00Z","end":"2026-11-22T14:00:00Z"})",
           kServiceToken);
  EXPECT_EQ(r.status, 422) << "ends before it starts";
  r = Call("GET", "/v1/bookings?location=bedford&from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z",
           "", kServiceToken);
  ASSERT_EQ(r.status, 200) << r.body;
  const json items = Body(r)["items"];
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["id"], "sk-1");
  EXPECT_EQ(items[0]["customer_phone"].get<std::string>().find("5555550100"), std::string::npos)
      << "masked";
  EXPECT_EQ(Text("SELECT count(*)::text FROM bookings"), "1");
}

TEST_F(PolicyApiTest, TheEmergencyStopAndTheTogglesAreOperatorControls) {
  auto r = Call("POST", "/v1/emergency-stop",
                R"({"engaged":true,"reason":"flood in bay 2","scope":"location:bedford"})",
                kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Call("POST", "/v1/emergency-stop", R"({"engaged":true})", kOperatorToken).status, 400)
      << "a reason is required";
  EXPECT_EQ(Call("POST", "/v1/emergency-stop",
                 R"({"engaged":true,"reason":"x","scope":"location:narnia"})", kOperatorToken)
                .status,
            422);
  EXPECT_EQ(Call("POST", "/v1/emergency-stop", R"({"engaged":"yes","reason":"x"})", kOperatorToken)
                .status,
            400);
  EXPECT_EQ(
      Call("POST", "/v1/emergency-stop", R"({"engaged":true,"reason":"x"})", kServiceToken).status,
      403);
  r = Call("POST", "/v1/emergency-stop", R"({"toggles":{"auto_send":false}})", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  r = Call("GET", "/v1/emergency-stop", "", kOperatorToken);
  ASSERT_EQ(r.status, 200);
  const json j = Body(r);
  EXPECT_TRUE(j["engaged"].get<bool>());
  EXPECT_EQ(j["stops"][0]["scope"], "location:bedford");
  EXPECT_EQ(j["stops"][0]["by"], "operator:alice");
  EXPECT_FALSE(j["toggles"]["auto_send"].get<bool>());
  EXPECT_TRUE(j["toggles"]["auto_execute"].get<bool>());
}

TEST_F(PolicyApiTest, SuggestionsAreListedAndApprovedOnce) {
  StartWorkers();
  flow_->SetToggle(*db_, "auto_execute", false, "operator:alice");
  auto r = Call("POST", "/v1/messages",
                R"({"from":"+15555550100","to":"+15555550199","body":"trackman frozen in bay 3"})",
                kServiceToken);
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_TRUE(
      pgtest::WaitFor([&] { return Text("SELECT count(*)::text FROM suggestions") == "1"; }));
  r = Call("GET", "/v1/suggestions", "", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  const int64_t id = Body(r)["items"][0]["id"].get<int64_t>();
  EXPECT_EQ(Body(r)["items"][0]["kind"], "reset_trackman");
  r = Call("POST", "/v1/suggestions/" + std::to_string(id) + "/approve", "", kOperatorToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_GT(Body(r)["action_id"].get<int64_t>(), 0);
  EXPECT_EQ(
      Call("POST", "/v1/suggestions/" + std::to_string(id) + "/approve", "", kOperatorToken).status,
      409);
  EXPECT_EQ(Call("POST", "/v1/suggestions/999/reject", "", kOperatorToken).status, 404);
  EXPECT_EQ(Text("SELECT human_override::text FROM actions WHERE kind = 'reset_trackman'"), "true");
}

TEST_F(PolicyApiTest, TheProfileChangesByProposalAnotherAdminsApprovalAndRollback) {
  EXPECT_EQ(Call("GET", "/v1/config", "", kOperatorToken).status, 403) << "admins only";
  auto r = Call("GET", "/v1/config", "", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  json profile = Body(r)["profile"];
  EXPECT_EQ(Body(r)["active_version"], 1);
  profile["tech"]["cooldown_seconds"] = 600;
  r = Call("POST", "/v1/config/proposals",
           json{{"profile", profile}, {"note", "shorter cooldown"}}.dump(), kAdminToken);
  ASSERT_EQ(r.status, 201) << r.body;
  const int v = Body(r)["version"].get<int>();
  EXPECT_EQ(Body(r)["diff"][0]["path"], "tech.cooldown_seconds");
  EXPECT_EQ(Call("POST", "/v1/config/proposals/" + std::to_string(v) + "/approve", "", kAdminToken)
                .status,
            403)
      << "not by its proposer";
  r = Call("POST", "/v1/config/proposals/" + std::to_string(v) + "/approve", "", kSecondAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "active");
  // An InvalidProfile is an InvalidInput with a code of its own: the one mapping keeps it.
  r = Call("POST", "/v1/config/proposals", R"({"profile":{"tech":{"autonomy":"yes"}}})",
           kAdminToken);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Body(r)["error"]["code"], "invalid_profile") << r.body;
  r = Call("POST", "/v1/config/rollback", R"({"version":1})", kSecondAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "active");
  r = Call("GET", "/v1/config", "", kAdminToken);
  EXPECT_EQ(Body(r)["profile"]["tech"]["cooldown_seconds"], 900);
  EXPECT_EQ(Call("POST", "/v1/config/rollback", R"({"version":99})", kAdminToken).status, 404);
}

// Approving a proposal made before another one was approved: 409 version_conflict in the error
// shape, carrying what approving it would change against the active version, and nothing changes
// (at 850d4a5: 200, and the change approved in between was silently reverted).
TEST_F(PolicyApiTest, ApprovingAStaleProposalIs409WithTheDiffAgainstTheActiveVersion) {
  const json profile = Body(Call("GET", "/v1/config", "", kAdminToken))["profile"];
  json a = profile, b = profile;
  a["tech"]["autonomy"] = false;
  b["faq"]["confidence_threshold"] = 0.8;
  auto propose = [&](const json& p) {
    auto r = Call("POST", "/v1/config/proposals", json{{"profile", p}}.dump(), kAdminToken);
    EXPECT_EQ(r.status, 201) << r.body;
    return Body(r)["version"].get<int64_t>();
  };
  const int64_t va = propose(a), vb = propose(b);
  auto approve = [&](int64_t v) {
    return Call("POST", "/v1/config/proposals/" + std::to_string(v) + "/approve", "",
                kSecondAdminToken);
  };
  ASSERT_EQ(approve(va).status, 200);
  const auto r = approve(vb);
  ASSERT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(ErrorCode(r), "version_conflict");
  const json error = Body(r)["error"];
  EXPECT_EQ(error["active_version"], va);
  const json diff = error["diff"];
  ASSERT_TRUE(diff.is_array()) << r.body;
  ASSERT_EQ(diff.size(), 2u) << r.body;
  for (const auto& d : diff) {
    if (d["path"] == "tech.autonomy") {
      EXPECT_EQ(d["from"], false);
      EXPECT_EQ(d["to"], true) << "what approving would revert";
    } else {
      EXPECT_EQ(d["path"], "faq.confidence_threshold");
      EXPECT_EQ(d["to"], 0.8);
    }
  }
  const json config = Body(Call("GET", "/v1/config", "", kAdminToken));
  EXPECT_EQ(config["active_version"], va);
  EXPECT_EQ(config["profile"]["tech"]["autonomy"], false) << "the change approved in between holds";
  EXPECT_EQ(Text("SELECT state FROM policy_versions WHERE id = $1", {vb}), "proposed");
}

// Two approvals at once over HTTP: one 200 and one 409 version_conflict, never a 500.
TEST_F(PolicyApiTest, ConcurrentApprovalsAnswerOne200AndOne409NeverA500) {
  for (int trial = 0; trial < 5; ++trial) {
    json profile = Body(Call("GET", "/v1/config", "", kAdminToken))["profile"];
    std::array<int64_t, 2> versions{};
    for (int i = 0; i < 2; ++i) {
      profile["tech"]["cooldown_seconds"] = 100 * trial + i;
      auto r = Call("POST", "/v1/config/proposals", json{{"profile", profile}}.dump(), kAdminToken);
      ASSERT_EQ(r.status, 201) << r.body;
      versions[static_cast<std::size_t>(i)] = Body(r)["version"].get<int64_t>();
    }
    std::array<integrations::HttpResponse, 2> answers;
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < 2; ++i)
      threads.emplace_back([&, i] {
        answers[i] =
            Call("POST", "/v1/config/proposals/" + std::to_string(versions[i]) + "/approve", "",
                 kSecondAdminToken);
      });
    for (auto& t : threads) t.join();
    std::vector<int> statuses = {static_cast<int>(answers[0].status),
                                 static_cast<int>(answers[1].status)};
    std::sort(statuses.begin(), statuses.end());
    EXPECT_EQ(statuses, (std::vector<int>{200, 409}))
        << "trial " << trial << ": " << answers[0].body << " / " << answers[1].body;
    for (const auto& a : answers) {
      if (a.status == 409) {
        EXPECT_EQ(ErrorCode(a), "version_conflict");
      }
    }
    EXPECT_EQ(Scalar("SELECT count(*) FROM policy_versions WHERE state = 'active'"), 1);
  }
}

// Booking times through the one strict parser (defect D6): a time without a zone was taken as UTC
// (four hours off in Halifax, moving the door's booking window), Feb 30 became Mar 2, junk after a
// time was ignored, and year 0000 was a 500.
TEST_F(PolicyApiTest, BookingTimesMustBeExactInstantsWithAZone) {
  auto booking = [](const std::string& start, const std::string& end) {
    return json{{"id", "tz-" + std::to_string(std::hash<std::string>{}(start + end))},
                {"location", "bedford"},
                {"customer_phone", "+19025550001"},
                {"start", start},
                {"end", end}}
        .dump();
  };
  const std::string census = Census();
  for (const auto& [start, end] : std::vector<std::pair<std::string, std::string>>{
           {"2026-12-05T18:00:00", "2026-12-05T19:00:00"},
           {"2027-02-30T10:00:00Z", "2027-03-02T11:00:00Z"},
           {"2026-13-01T10:00:00Z", "2026-12-01T11:00:00Z"},
           {"2026-12-05T24:00:00Z", "2026-12-06T01:00:00Z"},
           {"2026-12-05T18:00:00Zjunk", "2026-12-05T19:00:00Z"},
           {"2026-12-05T18:00:00+99:99", "2026-12-05T19:00:00Z"},
           {"2026-1-5 1:2:3Z", "2026-12-05T19:00:00Z"},
           {"2026-12-05T00:00:60Z", "2026-12-05T19:00:00Z"},
           {"0000-12-05T18:00:00Z", "2026-12-05T19:00:00Z"},
           {"-001-12-05T18:00:00Z", "2026-12-05T19:00:00Z"},
       }) {
    const auto r = Call("POST", "/v1/bookings", booking(start, end), kServiceToken);
    EXPECT_EQ(r.status, 400) << start << " " << r.body;
    EXPECT_EQ(ErrorCode(r), "bad_request") << start;
  }
  EXPECT_EQ(Census(), census);
  EXPECT_EQ(Text("SELECT count(*)::text FROM bookings"), "0");
  // With its zone, a Halifax evening is stored as the instant it is.
  auto r = Call("POST", "/v1/bookings",
                booking("2026-12-05T18:00:00-04:00", "2026-12-05T19:00:00-04:00"), kServiceToken);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Text("SELECT to_char(start_at AT TIME ZONE 'UTC', 'HH24:MI') FROM bookings"), "22:00");
  // The list's window, the same way.
  for (const char* q :
       {"from=2026-12-05T00:00:00&to=2026-12-06T00:00:00Z",
        "from=2026-12-05T00:00:00Z&to=2026-02-30T00:00:00Z",
        "from=0000-01-01T00:00:00Z&to=2026-12-06T00:00:00Z", "to=2026-12-06T00:00:00Z"}) {
    r = Call("GET", std::string("/v1/bookings?location=bedford&") + q, "", kServiceToken);
    EXPECT_EQ(r.status, 400) << q << " " << r.body;
  }
  r = Call("GET",
           "/v1/bookings?location=bedford&from=2026-12-05T00:00:00%2B00:00&to=2026-12-06T00:00:00Z",
           "", kServiceToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["items"].size(), 1u);
}

// 64-bit numbers are range-checked, never cast to int (defect L2): proposal 2^32+3 approved
// proposal 3, rollback to 2^32+1 restored version 1, bay 2^32+2 was stored as bay 2.
TEST_F(PolicyApiTest, NumbersBeyondIntAreRefusedNotWrapped) {
  const json config = Body(Call("GET", "/v1/config", "", kAdminToken));
  ASSERT_TRUE(config.contains("profile")) << config.dump();
  auto r = Call("POST", "/v1/config/proposals",
                json{{"profile", config["profile"]}, {"note", "same"}}.dump(), kAdminToken);
  ASSERT_EQ(r.status, 201) << r.body;
  const int64_t proposal = Body(r)["version"].get<int64_t>();
  const std::string census = Census();
  const std::string wrapped = std::to_string((int64_t{1} << 32) + proposal);
  r = Call("POST", "/v1/config/proposals/" + wrapped + "/approve", "", kSecondAdminToken);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Body(Call("GET", "/v1/config", "", kAdminToken))["active_version"],
            config["active_version"])
      << "nothing approved";
  r = Call("POST", "/v1/config/rollback", R"({"version":4294967297})", kAdminToken);
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call("POST", "/v1/config/rollback", R"({"version":1.0})", kAdminToken);
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call("POST", "/v1/config/proposals/9223372036854775808/approve", "", kSecondAdminToken);
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call(
      "POST", "/v1/bookings",
      R"({"id":"b-wrap","location":"bedford","bay":4294967298,"customer_phone":"+15555550100",)"
      R"("start":"2026-11-22T14:00:00Z","end":"2026-11-22T15:00:00Z"})",
      kServiceToken);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Census(), census);
  EXPECT_EQ(Text("SELECT count(*)::text FROM bookings"), "0");
  EXPECT_EQ(Body(Call("GET", "/v1/config", "", kAdminToken))["active_version"],
            config["active_version"]);
}

// A NUL character cannot be stored in text, and libpq would cut a parameter short at it (a
// booking "nul\u0000id" was stored as "nul"): the store refuses it as the data exception it is,
// which the API answers 400, in bodies, queries and paths alike.
TEST_F(PolicyApiTest, ANulCharacterIsRefusedNotTruncated) {
  auto r = Call("POST", "/v1/bookings",
                R"({"id":"nul\u0000id","location":"bedford","customer_phone":"+15555550100",)"
                R"("start":"2026-11-22T14:00:00Z","end":"2026-11-22T15:00:00Z"})",
                kServiceToken);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Text("SELECT count(*)::text FROM bookings"), "0");
  r = Call("GET",
           "/v1/bookings?location=bed%00ford&from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z", "",
           kServiceToken);
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call("POST", "/v1/suggestions/1%00/approve", "", kOperatorToken);
  EXPECT_EQ(r.status, 400) << r.body;
}
