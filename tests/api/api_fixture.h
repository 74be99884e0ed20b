#pragma once
// The API over real loopback HTTP against real Postgres: an ApiServer on an ephemeral port, the
// customer flow with the database-backed fake facility, and (when a test wants them) real workers.
// Requests go through the libcurl client the integrations use.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/api.h"
#include "core/config.h"
#include "integrations/http.h"
#include "integrations/signing.h"
#include "sim/fake_facility.h"
#include "store/db.h"
#include "store/pool.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"
#include "workers/runtime.h"
#include "workflows/agent.h"
#include "workflows/flow.h"
#include "workflows/router.h"

namespace clubos::apitest {

using nlohmann::json;

inline constexpr const char* kServiceToken = "svc-token-0123456789";
inline constexpr const char* kOperatorToken = "op-token-0123456789";
inline constexpr const char* kAdminToken = "adm-token-0123456789";
inline constexpr const char* kOtherOperatorToken = "op2-token-0123456789";
inline constexpr const char* kCustomer = "+15555550100";
inline constexpr const char* kBedford = "+15555550199";
// The OpenPhone signing secret as the app shows it (base64) and a Standard Webhooks key.
inline constexpr const char* kSigningSecretB64 = "c2lnbmluZy1zZWNyZXQtZm9yLXRlc3Rz";
inline constexpr const char* kWebhookKey = "whsec_d2ViaG9vay1rZXktZm9yLXRlc3Rz";

inline Config TestConfig() {
  Config c = Config::Load(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json");
  c.flow.debounce = Millis(0);
  c.flow.verify_timeout = Millis(2'000);
  c.flow.verify_poll = Millis(50);
  c.flow.close_after = Millis(600'000);
  c.flow.retry_base = Millis(10);
  c.flow.retry_cap = Millis(40);
  return c;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CLUBOS_REQUIRE_PG();
    pgtest::ResetDatabase();
    db_ = pgtest::Connect();
    facility_ = std::make_unique<sim::FakeFacility>(pgtest::TestDatabaseUrl());
    db_->ExecRawOne("TRUNCATE fake_facility_calls, fake_facility_faults");
    pool_ = std::make_unique<store::Pool>(pgtest::TestDatabaseUrl(), 2);
    // Agent-controlled bays (Dartmouth's) queue commands for their agent; the rest go to the fake.
    with_agents_ = std::make_unique<workflows::WithBayAgents>(*facility_, *pool_, Millis(60'000),
                                                              SystemClock::Instance());
    router_ = std::make_unique<workflows::PatternRouter>(config_.router);
    flow_ = std::make_unique<workflows::Flow>(config_, *router_, *with_agents_,
                                              SystemClock::Instance());
    flow_->Register(registry_);
    agent_ = std::make_unique<workflows::AgentProtocol>(
        std::map<std::string, std::string>{{"201", "agent-key-201-0123456789"}},
        SystemClock::Instance());
    StartServer(Options());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    if (runtime_) runtime_->Stop();
  }

  api::ApiOptions Options() {
    api::ApiOptions o;
    o.http.threads = 4;
    o.http.max_body_bytes = 16 * 1024;
    o.http.max_request_bytes = 64 * 1024;
    o.database_url = pgtest::TestDatabaseUrl();
    o.rate_limit_per_s = 10'000;
    o.rate_limit_burst = 10'000;
    o.openphone_signing_secret = kSigningSecretB64;
    o.openphone_webhook_key = kWebhookKey;
    return o;
  }
  static api::TokenSet Tokens() {
    return api::TokenSet::Parse(std::string("service:svc:") + kServiceToken +
                                ",operator:alice:" + kOperatorToken + ",admin:root:" + kAdminToken +
                                ",operator:bob:" + kOtherOperatorToken);
  }
  void StartServer(api::ApiOptions o, std::optional<api::TokenSet> tokens = std::nullopt) {
    if (server_) server_->Stop();
    server_.reset();
    server_ = std::make_unique<api::ApiServer>(std::move(o), tokens ? std::move(*tokens) : Tokens(),
                                               *flow_, agent_.get(), SystemClock::Instance());
    server_->Start();
  }
  void StartWorkers() {
    workers::RuntimeOptions opt;
    opt.database_url = pgtest::TestDatabaseUrl();
    opt.concurrency = 4;
    opt.rescue_interval = Millis(100);
    runtime_ = std::make_unique<workers::Runtime>(opt, registry_, SystemClock::Instance());
    runtime_->Start();
  }

  integrations::HttpResponse Call(const std::string& method, const std::string& path,
                                  const std::string& body = "", const std::string& token = "",
                                  std::map<std::string, std::string> headers = {}) {
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    if (!body.empty() && !headers.count("Content-Type"))
      headers["Content-Type"] = "application/json";
    return integrations::Send({.method = method,
                               .url = "http://127.0.0.1:" + std::to_string(server_->Port()) + path,
                               .headers = std::move(headers),
                               .body = body});
  }
  static json Body(const integrations::HttpResponse& r) {
    json j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.body;
    return j;
  }
  static std::string ErrorCode(const integrations::HttpResponse& r) {
    const json j = Body(r);
    if (!j.is_object() || !j.contains("error")) return "(no error object: " + r.body + ")";
    EXPECT_TRUE(j["error"].contains("message")) << r.body;
    return j["error"].value("code", "(no code)");
  }

  static std::string Message(const std::string& body, const std::string& external_id = "",
                             const std::string& from = kCustomer,
                             const std::string& to = kBedford) {
    json j = {{"from", from}, {"to", to}, {"body", body}};
    if (!external_id.empty()) j["external_id"] = external_id;
    return j.dump();
  }
  integrations::HttpResponse PostMessage(const std::string& body,
                                         const std::string& external_id = "",
                                         const std::string& from = kCustomer) {
    return Call("POST", "/v1/messages", Message(body, external_id, from), kServiceToken);
  }

  // OpenPhone's legacy webhook envelope (v3) and its signature.
  static std::string OpenPhoneEvent(const std::string& message_id, const std::string& text,
                                    const std::string& type = "message.received",
                                    const std::string& direction = "incoming",
                                    const std::string& from = kCustomer) {
    return json{{"id", "EV" + message_id},
                {"object", "event"},
                {"apiVersion", "v3"},
                {"createdAt", "2026-11-21T12:00:00.000Z"},
                {"type", type},
                {"data",
                 {{"object",
                   {{"id", message_id},
                    {"object", "message"},
                    {"from", from},
                    {"to", kBedford},
                    {"direction", direction},
                    {"body", text},
                    {"status", "received"},
                    {"createdAt", "2026-11-21T12:00:00.000Z"}}}}}}
        .dump();
  }
  static std::string LegacySignature(const std::string& body, int64_t ts_ms,
                                     const std::string& secret_b64 = kSigningSecretB64) {
    const std::string key = *integrations::Base64Decode(secret_b64);
    const std::string ts = std::to_string(ts_ms);
    return "hmac;1;" + ts + ";" +
           integrations::Base64Encode(integrations::HmacSha256(key, ts + "." + body));
  }
  static int64_t NowMs() {
    return std::chrono::duration_cast<Millis>(SystemClock::Instance().Now().time_since_epoch())
        .count();
  }
  integrations::HttpResponse PostWebhook(const std::string& body,
                                         std::optional<std::string> signature = std::nullopt) {
    return Call("POST", "/v1/webhooks/openphone", body, "",
                {{"openphone-signature", signature ? *signature : LegacySignature(body, NowMs())}});
  }

  int64_t Scalar(const std::string& sql, const std::vector<store::Param>& params = {}) {
    return db_->ExecSql(sql, params).At(0, 0).Int64();
  }
  std::string Text(const std::string& sql, const std::vector<store::Param>& params = {}) {
    return db_->ExecSql(sql, params).At(0, 0).Str();
  }
  std::string ThreadState(int64_t id) {
    return Text("SELECT state FROM threads WHERE id = $1", {id});
  }
  // A customer's text that the flow escalates (with workers running): its thread, once escalated.
  int64_t Escalated(const std::string& text, const std::string& from) {
    const auto r = PostMessage(text, "", from);
    EXPECT_EQ(r.status, 202) << r.body;
    const int64_t id = Body(r)["thread_id"].get<int64_t>();
    EXPECT_TRUE(ReachesState(id, "escalated"));
    return id;
  }
  bool ReachesState(int64_t thread, const std::string& state, Millis timeout = Millis(15'000)) {
    return pgtest::WaitFor([&] { return ThreadState(thread) == state; }, timeout);
  }
  // What a bad request must leave alone: counts of every table the API writes.
  std::string Census() {
    return Text(
        "SELECT (SELECT count(*) FROM threads) || '/' || (SELECT count(*) FROM messages) || '/' || "
        "(SELECT count(*) FROM actions) || '/' || (SELECT count(*) FROM transitions) || '/' || "
        "(SELECT count(*) FROM jobs) || '/' || (SELECT count(*) FROM api_idempotency_keys)");
  }

  Config config_ = TestConfig();
  std::unique_ptr<store::Connection> db_;
  std::unique_ptr<sim::FakeFacility> facility_;
  std::unique_ptr<store::Pool> pool_;
  std::unique_ptr<workflows::WithBayAgents> with_agents_;
  std::unique_ptr<workflows::PatternRouter> router_;
  std::unique_ptr<workflows::Flow> flow_;
  workers::Registry registry_;
  std::unique_ptr<workflows::AgentProtocol> agent_;
  std::unique_ptr<api::ApiServer> server_;
  std::unique_ptr<workers::Runtime> runtime_;
};

}  // namespace clubos::apitest
