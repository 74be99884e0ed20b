// The facility simulator over real loopback HTTP, in-process, on the example facility config, with
// a fake clock: every vendor's wire format and refusals, the time-driven changes (reboots, script
// runs, relocks, SMS delivery) seen by moving the clock, each fault mode, the call log, and
// customer webhooks checked by ClubOS's own signature and parsing code.
#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>

#include <csignal>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/config.h"
#include "core/log.h"
#include "http/http_server.h"
#include "integrations/http.h"
#include "integrations/openphone.h"
#include "integrations/signing.h"
#include "sim/facility_sim.h"

using namespace clubos;
using integrations::HttpRequest;
using integrations::HttpResponse;
using nlohmann::json;
using sim::FacilitySim;
using sim::SimOptions;
using sim::SimSecrets;

namespace {

const std::string kApiKey = "op-test-key";
const std::string kClientId = "ninja-client";
const std::string kClientSecret = "ninja-secret";
const std::string kUnifiToken = "unifi-test-token";
const std::string kSigningSecret = "c2lnbmluZy1zZWNyZXQtZm9yLXRlc3Rz";  // integrations.md §7
const std::string kWebhookKey = "whsec_c2lnbmluZy1zZWNyZXQtZm9yLXRlc3Rz";
const std::string kFrontDoor = "0ed545f8-2fcd-4839-9021-b39e707f6aa9";  // Bedford, example config
const std::string kCustomer = "+15555550100";
const std::string kLine = "+15555550199";
const std::string kUnifiBase = "/api/v1/developer";
const std::string kDoors = kUnifiBase + "/doors";

SimSecrets TestSecrets() {
  return SimSecrets{.openphone_api_key = kApiKey,
                    .ninjaone_client_id = kClientId,
                    .ninjaone_client_secret = kClientSecret,
                    .unifi_token = kUnifiToken,
                    .openphone_signing_secret = kSigningSecret,
                    .openphone_webhook_key = kWebhookKey};
}

json Parse(const HttpResponse& r) {
  json j = json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.body;
  return j;
}

class SimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::signal(SIGPIPE, SIG_IGN);  // a client that timed out leaves the server a closed socket
    Restart(TestSecrets(), SimOptions{});
  }

  void Restart(SimSecrets secrets, SimOptions options) {
    server_.reset();  // before the simulator its routes point into
    sim_.reset();
    options.seed = 42;
    sim_ = std::make_unique<FacilitySim>(
        Config::Load(std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json"),
        std::move(secrets), std::move(options), clock_);
    server_ = std::make_unique<http::Server>(http::ServerOptions{.threads = 4});
    sim_->Register(*server_);
    server_->Start();
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->Port()) + path;
  }

  HttpResponse Call(std::string method, const std::string& path, std::string body = "",
                    std::map<std::string, std::string> headers = {},
                    Millis timeout = Millis(5'000)) {
    if (!body.empty() && !headers.count("Content-Type"))
      headers["Content-Type"] = "application/json";
    auto r = integrations::Send(HttpRequest{.method = std::move(method),
                                            .url = Url(path),
                                            .headers = std::move(headers),
                                            .body = std::move(body),
                                            .timeout = timeout});
    return r;
  }

  HttpResponse TokenCall(const std::string& path, const std::string& form) {
    return Call("POST", path, form, {{"Content-Type", "application/x-www-form-urlencoded"}});
  }
  std::string NewToken() {
    auto r = TokenCall("/oauth/token", "grant_type=client_credentials&client_id=" + kClientId +
                                           "&client_secret=" + kClientSecret +
                                           "&scope=monitoring%20management%20control");
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse(r).value("access_token", "");
  }
  HttpResponse Ninja(std::string method, const std::string& path, std::string body = "") {
    if (token_.empty()) token_ = NewToken();
    return Call(std::move(method), path, std::move(body), {{"Authorization", "Bearer " + token_}});
  }
  HttpResponse Unifi(std::string method, const std::string& path, std::string body = "") {
    return Call(std::move(method), kUnifiBase + path, std::move(body),
                {{"Authorization", "Bearer " + kUnifiToken}});
  }
  HttpResponse Sms(const json& body, const std::string& key = kApiKey) {
    return Call("POST", "/v1/messages", body.dump(), {{"Authorization", key}});
  }
  json Device(const std::string& id) {
    auto r = Ninja("GET", "/v2/device/" + id);
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse(r);
  }
  json Activities(const std::string& id, const std::string& query = "") {
    auto r = Ninja("GET", "/v2/device/" + id + "/activities" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse(r)["activities"];
  }
  json State() {
    auto r = Call("GET", "/_sim/state");
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse(r);
  }
  json DeviceState(const std::string& id) {
    const json state = State();
    for (const auto& d : state["devices"])
      if (d["id"] == id) return d;
    ADD_FAILURE() << "no device " << id << " in /_sim/state";
    return json();
  }
  json Calls(int64_t since) {
    auto r = Call("GET", "/_sim/calls?since=" + std::to_string(since));
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse(r);
  }
  void AddFault(const json& fault) {
    auto r = Call("POST", "/_sim/faults", fault.dump());
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_TRUE(Parse(r)["id"].is_string());
  }
  std::string DoorRelay() {
    auto r = Unifi("GET", "/doors/" + kFrontDoor);
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse(r)["data"].value("door_lock_relay_status", "");
  }
  json LogHits(const json& body) {
    auto r = Unifi("POST", "/system/logs?page_num=1&page_size=50", body.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse(r);
  }
  int64_t NowSeconds() const { return clock_.Now().time_since_epoch().count() / 1'000'000; }
  double NowEpoch() const {
    return static_cast<double>(clock_.Now().time_since_epoch().count()) / 1e6;
  }

  FakeClock clock_{TimePoint(std::chrono::sys_days{std::chrono::year{2026} / 11 / 22})};
  std::unique_ptr<FacilitySim> sim_;  // declared first: destroyed after the server
  std::unique_ptr<http::Server> server_;
  std::string token_;
};

json SmsBody(std::string content = "Resetting bay 2 now") {
  return {{"content", std::move(content)}, {"from", kLine}, {"to", {kCustomer}}};
}

// ---- NinjaOne -----------------------------------------------------------------------------------

TEST_F(SimTest, NinjaOneTokensOnBothPathsExpireAndGuardEveryCall) {
  auto r = TokenCall("/oauth/token", "grant_type=client_credentials&client_id=" + kClientId +
                                         "&client_secret=wrong");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Parse(r)["error"], "invalid_client");
  r = TokenCall("/oauth/token", "client_id=" + kClientId + "&client_secret=" + kClientSecret);
  EXPECT_EQ(r.status, 400) << "grant_type is required";

  r = TokenCall("/ws/oauth/token", "grant_type=client_credentials&client_id=" + kClientId +
                                       "&client_secret=" + kClientSecret + "&scope=monitoring");
  ASSERT_EQ(r.status, 200) << r.body;
  json t = Parse(r);
  EXPECT_EQ(t["token_type"], "Bearer");
  EXPECT_EQ(t["expires_in"], 3600);
  EXPECT_EQ(t["scope"], "monitoring");
  const std::string token = t["access_token"].get<std::string>();
  // HTTP Basic client authentication is accepted too.
  r = Call(
      "POST", "/oauth/token", "grant_type=client_credentials",
      {{"Content-Type", "application/x-www-form-urlencoded"},
       {"Authorization", "Basic " + integrations::Base64Encode(kClientId + ":" + kClientSecret)}});
  EXPECT_EQ(r.status, 200) << r.body;

  r = Call("GET", "/v2/devices");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Parse(r)["error"], "invalid_token");
  EXPECT_EQ(Call("GET", "/v2/devices", "", {{"Authorization", "Bearer nope"}}).status, 401);
  EXPECT_EQ(Call("GET", "/v2/device/101", "", {{"Authorization", token}}).status, 401)
      << "a token without Bearer";

  r = Call("GET", "/v2/devices", "", {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<int> ids;
  for (const auto& d : Parse(r)) ids.push_back(d["id"].get<int>());
  EXPECT_EQ(ids, (std::vector<int>{101, 102, 103, 104, 105, 106}))
      << "every ninjaone bay, and no agent bay";

  clock_.Advance(std::chrono::seconds(3599));
  EXPECT_EQ(Call("GET", "/v2/device/101", "", {{"Authorization", "Bearer " + token}}).status, 200);
  clock_.Advance(std::chrono::seconds(1));
  r = Call("GET", "/v2/device/101", "", {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(r.status, 401) << "expired";
  EXPECT_EQ(Parse(r)["error"], "invalid_token");
  EXPECT_EQ(Call("GET", "/v2/device/101", "", {{"Authorization", "Bearer " + NewToken()}}).status,
            200);
}

TEST_F(SimTest, NinjaOneDeviceHasTheSpecFieldsAndUnknownDevicesAre404) {
  const json d = Device("102");
  EXPECT_EQ(d["id"], 102);
  EXPECT_EQ(d["offline"], false);
  EXPECT_EQ(d["nodeClass"], "WINDOWS_WORKSTATION");
  EXPECT_EQ(d["displayName"], "Bedford Bay 2 PC");
  EXPECT_TRUE(d["systemName"].is_string());
  EXPECT_TRUE(d["lastContact"].is_number_float());
  EXPECT_TRUE(d["lastUpdate"].is_number());
  EXPECT_LT(d["os"]["lastBootTime"].get<double>(), NowEpoch());
  EXPECT_DOUBLE_EQ(d["lastContact"].get<double>(), NowEpoch());
  for (const char* unknown : {"999", "201", "abc"})
    EXPECT_EQ(Ninja("GET", std::string("/v2/device/") + unknown).status, 404) << unknown;
}

TEST_F(SimTest, RebootTakesTheDeviceOfflineAndBringsItBackAfterTheDelay) {
  const double boot0 = Device("102")["os"]["lastBootTime"].get<double>();
  clock_.Advance(std::chrono::seconds(10));
  const double t_reboot = NowEpoch();
  auto r = Ninja("POST", "/v2/device/102/reboot/NORMAL", R"({"reason":"ClubOS: bay 2 frozen"})");
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(Device("102")["offline"], true) << "offline at once";
  EXPECT_EQ(DeviceState("102")["online"], false);
  clock_.Advance(Millis(1'499));
  EXPECT_EQ(Device("102")["offline"], true);
  clock_.Advance(Millis(1));
  const json d = Device("102");
  EXPECT_EQ(d["offline"], false) << "back after --reset-delay-ms";
  EXPECT_GT(d["os"]["lastBootTime"].get<double>(), boot0);
  EXPECT_NEAR(d["os"]["lastBootTime"].get<double>(), t_reboot + 1.5, 1e-3);
  EXPECT_NEAR(d["lastContact"].get<double>(), t_reboot + 1.5, 1e-3);
  const json acts = Activities("102");
  ASSERT_EQ(acts.size(), 2u);
  EXPECT_EQ(acts[0]["statusCode"], "COMPLETED") << "newest first";
  EXPECT_EQ(acts[1]["statusCode"], "START_REQUESTED");
  EXPECT_EQ(acts[1]["activityType"], "ACTION");
  EXPECT_EQ(acts[0]["deviceId"], 102);
  EXPECT_NE(Device("101")["offline"], true) << "other devices untouched";

  EXPECT_EQ(Ninja("POST", "/v2/device/102/reboot/SOFT", "{}").status, 400);
  EXPECT_EQ(Ninja("POST", "/v2/device/102/reboot/FORCED", "not json").status, 400);
  EXPECT_EQ(Ninja("POST", "/v2/device/999/reboot/NORMAL", "{}").status, 404);
  EXPECT_EQ(Ninja("POST", "/v2/device/103/reboot/FORCED", "").status, 204) << "body optional";
}

TEST_F(SimTest, ScriptRunRestartsTrackManThroughActivities) {
  auto r = Ninja("GET", "/v2/device/103/scripting/options");
  ASSERT_EQ(r.status, 200) << r.body;
  const json opts = Parse(r);
  EXPECT_TRUE(opts["categories"].is_array());
  ASSERT_EQ(opts["scripts"].size(), 1u);
  EXPECT_EQ(opts["scripts"][0]["id"], 117) << "trackman_script_id of the config";
  EXPECT_EQ(opts["scripts"][0]["name"], "Restart TrackMan");
  EXPECT_EQ(opts["scripts"][0]["type"], "SCRIPT");

  const double contact0 = Device("103")["lastContact"].get<double>();
  clock_.Advance(std::chrono::seconds(5));
  r = Ninja("POST", "/v2/device/103/script/run",
            R"({"type":"SCRIPT","id":117,"parameters":"-Bay 3","runAs":"system"})");
  ASSERT_EQ(r.status, 204) << r.body;
  json acts = Activities("103");
  ASSERT_EQ(acts.size(), 1u);
  EXPECT_EQ(acts[0]["activityType"], "SCRIPTING");
  EXPECT_EQ(acts[0]["statusCode"], "START_REQUESTED");
  EXPECT_EQ(acts[0]["sourceName"], "Restart TrackMan");
  const int64_t first = acts[0]["id"].get<int64_t>();
  EXPECT_EQ(DeviceState("103")["running_script"]["id"], 117);
  EXPECT_TRUE(DeviceState("103")["tps_restarted_at"].is_null());

  clock_.Advance(Millis(1'500));
  acts = Activities("103");
  ASSERT_EQ(acts.size(), 2u);
  EXPECT_EQ(acts[0]["statusCode"], "COMPLETED");
  EXPECT_GT(acts[0]["activityTime"].get<double>(), acts[1]["activityTime"].get<double>());
  const json d = Device("103");
  EXPECT_EQ(d["offline"], false) << "a TrackMan restart keeps the PC online";
  EXPECT_GT(d["lastContact"].get<double>(), contact0);
  const json s = DeviceState("103");
  EXPECT_TRUE(s["running_script"].is_null());
  EXPECT_EQ(s["tps_restarted_at"], "2026-11-22T00:00:06.500Z");
  r = Ninja("GET", "/v2/device/103/activities?newerThan=" + std::to_string(first));
  EXPECT_EQ(Parse(r)["activities"].size(), 1u);
  EXPECT_EQ(Parse(r)["lastActivityId"], acts[0]["id"]);

  for (const char* bad :
       {"nope", "{}", R"({"type":"SCRIPT"})", R"({"id":117})", R"({"type":"SCRIPT","id":"117"})",
        R"({"type":"SCRIPT","id":117,"parameters":{"bay":3}})", R"({"type":"SCRIPT","id":5})",
        R"({"type":"RUN","id":117})"})
    EXPECT_EQ(Ninja("POST", "/v2/device/103/script/run", bad).status, 400) << bad;
  EXPECT_EQ(Ninja("POST", "/v2/device/999/script/run", R"({"type":"SCRIPT","id":117})").status,
            404);
  EXPECT_EQ(Activities("103").size(), 2u) << "refused runs leave no activity";

  // A script sent to an offline PC fails.
  ASSERT_EQ(Ninja("POST", "/v2/device/105/reboot/NORMAL", "{}").status, 204);
  ASSERT_EQ(Ninja("POST", "/v2/device/105/script/run", R"({"type":"SCRIPT","id":117})").status,
            204);
  EXPECT_EQ(Activities("105")[0]["statusCode"], "FAILED");
}

// ---- UniFi Access -------------------------------------------------------------------------------

TEST_F(SimTest, DoorUnlockLogsAHitAndRelocks) {
  auto r = Call("GET", kDoors);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Parse(r)["code"], "CODE_UNAUTHORIZED");
  EXPECT_TRUE(Parse(r)["data"].is_null());
  EXPECT_EQ(Call("GET", kDoors, "", {{"Authorization", "Bearer wrong"}}).status, 401);

  r = Unifi("GET", "/doors");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Parse(r);
  EXPECT_EQ(j["code"], "SUCCESS");
  ASSERT_EQ(j["data"].size(), 2u);
  const json& door = j["data"][0];
  EXPECT_EQ(door["id"], kFrontDoor);
  EXPECT_EQ(door["name"], "Front Door");
  EXPECT_EQ(door["full_name"], "Bedford - 1F - Front Door");
  EXPECT_EQ(door["type"], "door");
  EXPECT_EQ(door["is_bind_hub"], true);
  EXPECT_EQ(door["door_lock_relay_status"], "lock");
  EXPECT_EQ(door["door_position_status"], "close");
  r = Unifi("GET", "/doors/not-a-door");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Parse(r)["code"], "CODE_NOT_EXISTS");

  const int64_t t0 = NowSeconds();
  r = Unifi("PUT", "/doors/" + kFrontDoor + "/unlock",
            json{{"actor_id", "clubos-ai"},
                 {"actor_name", "ClubOS (SMS confirm)"},
                 {"extra", {{"bay", 2}}}}
                .dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r), json::parse(R"({"code":"SUCCESS","msg":"success","data":null})"));
  EXPECT_EQ(DoorRelay(), "unlock");

  j = LogHits({{"topic", "door_openings"}, {"since", t0 - 60}, {"until", t0 + 60}});
  EXPECT_EQ(j["code"], "SUCCESS");
  EXPECT_EQ(j["total"], 1);
  EXPECT_EQ(j["page"], 1);
  ASSERT_EQ(j["data"]["hits"].size(), 1u);
  const json& hit = j["data"]["hits"][0];
  EXPECT_EQ(hit["@timestamp"], "2026-11-22T00:00:00Z");
  EXPECT_EQ(hit["tag"], "access");
  EXPECT_EQ(hit["_source"]["actor"]["id"], "clubos-ai");
  EXPECT_EQ(hit["_source"]["actor"]["display_name"], "ClubOS (SMS confirm)");
  EXPECT_EQ(hit["_source"]["actor"]["type"], "user");
  EXPECT_EQ(hit["_source"]["authentication"]["credential_provider"], "REMOTE_THROUGH_UAH");
  EXPECT_EQ(hit["_source"]["event"]["type"], "access.door.unlock");
  EXPECT_EQ(hit["_source"]["event"]["result"], "ACCESS");
  EXPECT_EQ(hit["_source"]["event"]["published"], t0 * 1000);
  EXPECT_EQ(hit["_source"]["target"][0]["id"], kFrontDoor);
  EXPECT_EQ(hit["_source"]["target"][0]["type"], "door");
  EXPECT_EQ(
      LogHits({{"topic", "door_openings"}, {"since", t0 - 60}, {"actor_id", "someone"}})["total"],
      0);
  EXPECT_EQ(LogHits({{"topic", "door_openings"}, {"since", t0 + 1}})["total"], 0);
  EXPECT_EQ(LogHits({{"topic", "critical"}})["total"], 0);
  EXPECT_EQ(Unifi("POST", "/system/logs", R"({"since":1})").status, 400) << "topic is required";

  clock_.Advance(Millis(4'999));
  EXPECT_EQ(DoorRelay(), "unlock");
  clock_.Advance(Millis(1));
  EXPECT_EQ(DoorRelay(), "lock") << "relocked after --unlock-seconds";
  const json events = State()["doors"][0]["events"];
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["type"], "unlock");
  EXPECT_EQ(events[0]["actor_id"], "clubos-ai");
  EXPECT_EQ(events[1]["type"], "lock");
  EXPECT_EQ(events[1]["at"], "2026-11-22T00:00:05.000Z");

  // Without a body the unlock is still logged, under the API's own actor.
  ASSERT_EQ(Unifi("PUT", "/doors/" + kFrontDoor + "/unlock").status, 200);
  EXPECT_EQ(LogHits({{"topic", "door_openings"}})["total"], 2);
  EXPECT_EQ(Unifi("PUT", "/doors/not-a-door/unlock").status, 404);
  EXPECT_EQ(Unifi("PUT", "/doors/" + kFrontDoor + "/unlock", "[1]").status, 400);
}

TEST_F(SimTest, DoorLockRules) {
  auto r =
      Unifi("PUT", "/doors/" + kFrontDoor + "/lock_rule", R"({"type":"custom","interval":10})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = Unifi("GET", "/doors/" + kFrontDoor + "/lock_rule");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r)["data"]["type"], "custom");
  EXPECT_EQ(Parse(r)["data"]["ended_time"], NowSeconds() + 600);
  EXPECT_EQ(DoorRelay(), "unlock");
  ASSERT_EQ(Unifi("PUT", "/doors/" + kFrontDoor + "/lock_rule", R"({"type":"lock_now"})").status,
            200);
  EXPECT_EQ(DoorRelay(), "lock");
  ASSERT_EQ(Unifi("PUT", "/doors/" + kFrontDoor + "/lock_rule", R"({"type":"keep_unlock"})").status,
            200);
  clock_.Advance(std::chrono::hours(2));
  EXPECT_EQ(DoorRelay(), "unlock");
  ASSERT_EQ(Unifi("PUT", "/doors/" + kFrontDoor + "/lock_rule", R"({"type":"reset"})").status, 200);
  EXPECT_EQ(DoorRelay(), "lock");
  EXPECT_EQ(Unifi("PUT", "/doors/" + kFrontDoor + "/lock_rule", R"({"type":"open"})").status, 400);
  EXPECT_EQ(Unifi("PUT", "/doors/" + kFrontDoor + "/lock_rule", R"({"type":"custom"})").status,
            400);
}

// ---- OpenPhone ----------------------------------------------------------------------------------

TEST_F(SimTest, SmsIsQueuedThenDelivered) {
  EXPECT_EQ(Call("POST", "/v1/messages", SmsBody().dump()).status, 401);
  EXPECT_EQ(Sms(SmsBody(), "Bearer " + kApiKey).status, 401) << "the raw key, no Bearer";
  EXPECT_EQ(Sms(SmsBody(), "wrong").status, 401);

  auto r = Sms(SmsBody());
  ASSERT_EQ(r.status, 202) << r.body;
  const json m = Parse(r)["data"];
  const std::string id = m["id"].get<std::string>();
  EXPECT_EQ(id.rfind("AC", 0), 0u);
  EXPECT_EQ(m["object"], "message");
  EXPECT_EQ(m["from"], kLine);
  EXPECT_EQ(m["to"], json::array({kCustomer}));
  EXPECT_EQ(m["text"], "Resetting bay 2 now");
  EXPECT_EQ(m["direction"], "outgoing");
  EXPECT_EQ(m["status"], "queued");
  EXPECT_EQ(m["createdAt"], "2026-11-22T00:00:00.000Z");

  r = Call("GET", "/v1/messages/" + id, "", {{"Authorization", kApiKey}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r)["data"]["status"], "queued");
  clock_.Advance(Millis(200));
  r = Call("GET", "/v1/messages/" + id, "", {{"Authorization", kApiKey}});
  EXPECT_EQ(Parse(r)["data"]["status"], "delivered");
  EXPECT_EQ(Parse(r)["data"]["id"], id);
  EXPECT_EQ(Call("GET", "/v1/messages/ACnope", "", {{"Authorization", kApiKey}}).status, 404);
  EXPECT_EQ(Call("GET", "/v1/messages/" + id).status, 401);

  const json outbox = State()["sms_outbox"];
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0]["to"], kCustomer);
  EXPECT_EQ(outbox[0]["status"], "delivered");
}

TEST_F(SimTest, SmsValidationAnswers400) {
  std::string accents;
  for (int i = 0; i < 1600; ++i) accents += "\xc3\xa9";  // é: 1600 characters, 3200 bytes
  EXPECT_EQ(Sms(SmsBody(std::string(1600, 'x'))).status, 202);
  EXPECT_EQ(Sms(SmsBody(accents)).status, 202) << "the limit counts characters, not bytes";

  std::vector<json> bad;
  bad.push_back(SmsBody(""));
  bad.push_back(SmsBody("   "));
  bad.push_back(SmsBody(std::string(1601, 'x')));
  json b = SmsBody();
  b.erase("content");
  bad.push_back(b);
  b = SmsBody();
  b["to"] = kCustomer;  // a string, not a list
  bad.push_back(b);
  b = SmsBody();
  b["to"] = {kCustomer, "+15555550101"};
  bad.push_back(b);
  b = SmsBody();
  b["to"] = {"5555550100"};
  bad.push_back(b);
  b = SmsBody();
  b["from"] = "bedford";
  bad.push_back(b);
  b = SmsBody();
  b["setInboxStatus"] = "open";
  bad.push_back(b);
  for (const auto& body : bad) {
    auto r = Sms(body);
    EXPECT_EQ(r.status, 400) << body.dump();
    EXPECT_TRUE(Parse(r)["message"].is_string()) << r.body;
    EXPECT_TRUE(Parse(r).contains("code")) << r.body;
  }
  auto r = Call("POST", "/v1/messages", "{not json", {{"Authorization", kApiKey}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(State()["sms_outbox"].size(), 2u) << "refused messages are not sent";
}

// ---- Slack --------------------------------------------------------------------------------------

TEST_F(SimTest, SlackAnswersLikeSlack) {
  const std::string hook = "/services/T000/B000/XXXX";
  auto r = Call("POST", hook, R"({"text":"ClubOS: bay 2 reset"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  r = Call("POST", hook, R"({"blocks":[{"type":"section"}]})");
  EXPECT_EQ(r.body, "ok");
  r = Call("POST", hook, "{nope");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "invalid_payload");
  r = Call("POST", hook, R"({"username":"bot"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "no_text");
  const json inbox = State()["slack_inbox"];
  ASSERT_EQ(inbox.size(), 2u);
  EXPECT_EQ(inbox[0]["text"], "ClubOS: bay 2 reset");
  EXPECT_EQ(inbox[0]["path"], hook);
}

// A Slack webhook's URL is its secret: the sim's log shows none of the path (defect L12: every
// call logged `sim slack POST /services/T0PROBE/B0PROBE/probeslacksecret -> 200` at debug).
TEST_F(SimTest, TheSlackWebhookPathNeverReachesTheLog) {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto logger = log::Get();
  const auto level = logger->level();
  logger->sinks().push_back(sink);
  logger->set_level(spdlog::level::debug);
  Call("POST", "/services/T0PROBE/B0PROBE/probeslacksecret", R"({"text":"ClubOS: hello"})");
  Call("POST", "/services/T0PROBE/B0PROBE/probeslacksecret", "{nope");
  Sms(SmsBody());
  logger->flush();
  logger->sinks().pop_back();
  logger->set_level(level);
  const std::string text = captured.str();
  EXPECT_NE(text.find("sim slack POST /services/***"), std::string::npos) << text;
  for (const char* secret : {"probeslacksecret", "B0PROBE", "T0PROBE"})
    EXPECT_EQ(text.find(secret), std::string::npos) << text;
  EXPECT_NE(text.find("sim openphone POST /v1/messages"), std::string::npos)
      << "others show theirs";
}

// The agent bays are simulated when their key is given (sim/README.md said they were not).
TEST_F(SimTest, AgentBaysWithAKeyAreSimulated) {
  auto simulated = [&] {
    std::map<std::string, bool> out;
    const json state = State();
    for (const auto& b : state["agent_bays"])
      out[b["device_id"].get<std::string>()] = b["simulated"].get<bool>();
    return out;
  };
  EXPECT_FALSE(simulated().at("201"));
  sim_->StartAgents({{"201", "agent-key-201-0123456789"}}, Millis(600'000));
  const auto now = simulated();
  EXPECT_TRUE(now.at("201"));
  EXPECT_FALSE(now.at("202")) << "no key: idle";
  sim_->StopAgents();
}

// ---- Faults -------------------------------------------------------------------------------------

TEST_F(SimTest, StuckOfflineDeviceNeverComesBackFromItsNextReset) {
  AddFault({{"target", "ninjaone:103"}, {"mode", "stuck_offline"}});
  ASSERT_EQ(Ninja("POST", "/v2/device/103/reboot/NORMAL", "{}").status, 204);
  clock_.Advance(std::chrono::minutes(30));  // well inside the token's hour
  EXPECT_EQ(Device("103")["offline"], true);
  for (const auto& a : Activities("103")) EXPECT_NE(a["statusCode"], "COMPLETED");
  EXPECT_EQ(DeviceState("103")["stuck"], true);
  // The fault was for one reset: the next reboot works.
  ASSERT_EQ(Ninja("POST", "/v2/device/103/reboot/NORMAL", "{}").status, 204);
  clock_.Advance(Millis(1'500));
  EXPECT_EQ(Device("103")["offline"], false);

  // A script run under the fault takes the PC down too, with no COMPLETED.
  AddFault({{"target", "ninjaone:104"}, {"mode", "stuck_offline"}});
  ASSERT_EQ(Ninja("POST", "/v2/device/104/script/run", R"({"type":"SCRIPT","id":117})").status,
            204);
  clock_.Advance(std::chrono::minutes(20));
  EXPECT_EQ(Device("104")["offline"], true);
  const json acts = Activities("104");
  ASSERT_EQ(acts.size(), 1u);
  EXPECT_EQ(acts[0]["statusCode"], "START_REQUESTED");
  EXPECT_TRUE(DeviceState("104")["tps_restarted_at"].is_null());
}

TEST_F(SimTest, ResetNoopAcceptsAndChangesNothing) {
  AddFault({{"target", "ninjaone:104"}, {"mode", "reset_noop"}});
  ASSERT_EQ(Ninja("POST", "/v2/device/104/script/run", R"({"type":"SCRIPT","id":117})").status,
            204);
  clock_.Advance(std::chrono::seconds(10));
  EXPECT_TRUE(Activities("104").empty());
  EXPECT_TRUE(DeviceState("104")["tps_restarted_at"].is_null());

  AddFault({{"target", "unifi:bedford-front"}, {"mode", "reset_noop"}, {"count", 0}});
  for (int i = 0; i < 2; ++i) {
    auto r = Unifi("PUT", "/doors/" + kFrontDoor + "/unlock");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(Parse(r)["code"], "SUCCESS");
    EXPECT_EQ(DoorRelay(), "lock");
  }
  EXPECT_EQ(LogHits({{"topic", "door_openings"}})["total"], 0);

  AddFault({{"target", "openphone"}, {"mode", "reset_noop"}});
  auto r = Sms(SmsBody());
  ASSERT_EQ(r.status, 202);
  EXPECT_EQ(Parse(r)["data"]["status"], "queued");
  const std::string id = Parse(r)["data"]["id"].get<std::string>();
  clock_.Advance(Millis(200));
  r = Call("GET", "/v1/messages/" + id, "", {{"Authorization", kApiKey}});
  EXPECT_EQ(Parse(r)["data"]["status"], "failed");

  AddFault({{"target", "slack"}, {"mode", "reset_noop"}});
  r = Call("POST", "/services/T/B/X", R"({"text":"lost"})");
  EXPECT_EQ(r.body, "ok");
  EXPECT_TRUE(State()["slack_inbox"].empty());

  // count 0 lasts until cleared.
  ASSERT_EQ(Call("DELETE", "/_sim/faults").status, 200);
  ASSERT_EQ(Unifi("PUT", "/doors/" + kFrontDoor + "/unlock").status, 200);
  EXPECT_EQ(DoorRelay(), "unlock");
}

TEST_F(SimTest, Http500And429HitOnlyTheirTargetAndOnlyNTimes) {
  AddFault({{"target", "openphone"}, {"mode", "http_500"}, {"count", 2}});
  EXPECT_EQ(Sms(SmsBody()).status, 500);
  EXPECT_EQ(Sms(SmsBody()).status, 500);
  EXPECT_EQ(Sms(SmsBody()).status, 202);
  EXPECT_EQ(State()["sms_outbox"].size(), 1u) << "a 500 sends nothing";

  AddFault({{"target", "unifi"}, {"mode", "http_429"}});
  auto r = Unifi("GET", "/doors");
  EXPECT_EQ(r.status, 429);
  ASSERT_TRUE(r.RetryAfter().has_value());
  EXPECT_EQ(*r.RetryAfter(), Millis(1'000));
  EXPECT_EQ(Unifi("GET", "/doors").status, 200);

  token_ = NewToken();
  AddFault({{"target", "ninjaone:101"}, {"mode", "http_500"}});
  EXPECT_EQ(Ninja("GET", "/v2/device/102").status, 200) << "another device";
  EXPECT_EQ(Ninja("GET", "/v2/devices").status, 200) << "not a call to the device";
  EXPECT_EQ(Ninja("GET", "/v2/device/101").status, 500);
  EXPECT_EQ(Ninja("GET", "/v2/device/101").status, 200);

  AddFault({{"target", "slack"}, {"mode", "http_429"}});
  r = Call("POST", "/services/T/B/X", R"({"text":"x"})");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers["retry-after"], "1");

  // The announced wait is the fault's to choose (a client's cap on it can then be tested).
  AddFault({{"target", "unifi"}, {"mode", "http_429"}, {"retry_after_ms", 2'500}});
  r = Unifi("GET", "/doors");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers["retry-after"], "3") << "whole seconds, rounded up";
}

TEST_F(SimTest, TokenExpiredForcesANewToken) {
  const std::string old_token = NewToken();
  AddFault({{"target", "ninjaone"}, {"mode", "token_expired"}});
  const std::string fresh = NewToken();  // the token endpoint is not failed by token_expired
  auto r = Call("GET", "/v2/device/101", "", {{"Authorization", "Bearer " + old_token}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Parse(r)["error"], "invalid_token");
  r = Call("GET", "/v2/device/101", "", {{"Authorization", "Bearer " + old_token}});
  EXPECT_EQ(r.status, 401) << "the expired token stays expired";
  r = Call("GET", "/v2/device/101", "", {{"Authorization", "Bearer " + fresh}});
  EXPECT_EQ(r.status, 200) << r.body;

  AddFault({{"target", "unifi"}, {"mode", "token_expired"}});
  r = Unifi("GET", "/doors");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Parse(r)["code"], "CODE_UNAUTHORIZED");
  EXPECT_EQ(Unifi("GET", "/doors").status, 200);
}

TEST_F(SimTest, SlowDelaysTheAnswerEnoughToTripAClientTimeout) {
  AddFault({{"target", "slack"}, {"mode", "slow"}, {"delay_ms", 400}});
  auto r = Call("POST", "/services/T/B/X", R"({"text":"slow"})", {}, Millis(100));
  EXPECT_EQ(r.transport, HttpResponse::Transport::kUnknown) << r.status << " " << r.error;
  r = Call("POST", "/services/T/B/X", R"({"text":"fast"})");
  EXPECT_EQ(r.status, 200) << "the fault was for one call";

  AddFault({{"target", "ninjaone:101"}, {"mode", "slow"}, {"delay_ms", 200}});
  token_ = NewToken();
  const auto t0 = MonoNow();
  r = Ninja("GET", "/v2/device/101");
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(MonoNow() - t0, Millis(200));
  // The slow call still happened: the log says so.
  bool seen = false;
  const json log = Calls(0);
  for (const auto& c : log["calls"])
    if (c["path"] == "/v2/device/101" && c["fault"] == "slow") seen = true;
  EXPECT_TRUE(seen);
}

TEST_F(SimTest, FaultsAreValidatedListedAndCleared) {
  for (const json& bad : std::vector<json>{
           {{"target", "nope"}, {"mode", "http_500"}},
           {{"target", "ninjaone:999"}, {"mode", "http_500"}},
           {{"target", "ninjaone:201"}, {"mode", "http_500"}},  // an agent bay
           {{"target", "agent:201"}, {"mode", "http_500"}},
           {{"target", "unifi:back-door"}, {"mode", "http_500"}},
           {{"target", "openphone:+15555550100"}, {"mode", "http_500"}},
           {{"target", "openphone"}, {"mode", "explode"}},
           {{"target", "slack"}, {"mode", "stuck_offline"}},
           {{"target", "openphone"}, {"mode", "token_expired"}},
           {{"target", "slack"}, {"mode", "slow"}},
           {{"target", "slack"}, {"mode", "http_500"}, {"count", -1}},
           {{"target", "slack"}, {"mode", "http_500"}, {"retry_after_ms", 1'000}},
           {{"target", "slack"}, {"mode", "http_429"}, {"retry_after_ms", -1}},
           {{"mode", "http_500"}},
       }) {
    auto r = Call("POST", "/_sim/faults", bad.dump());
    EXPECT_EQ(r.status, 400) << bad.dump();
    EXPECT_FALSE(Parse(r)["error"]["message"].get<std::string>().empty());
  }
  AddFault({{"target", "unifi:bedford-front"}, {"mode", "http_500"}, {"count", 3}});
  AddFault({{"target", "ninjaone"}, {"mode", "slow"}, {"delay_ms", 10}, {"count", 0}});
  auto r = Call("GET", "/_sim/faults");
  const json faults = Parse(r)["faults"];
  ASSERT_EQ(faults.size(), 2u);
  EXPECT_EQ(faults[0]["target"], "unifi:" + kFrontDoor) << "the door's config id is accepted";
  EXPECT_EQ(faults[0]["remaining"], 3);
  EXPECT_TRUE(faults[1]["remaining"].is_null()) << "until cleared";
  r = Call("DELETE", "/_sim/faults");
  EXPECT_EQ(Parse(r)["cleared"], 2);
  EXPECT_TRUE(State()["faults"].empty());
  EXPECT_EQ(Unifi("GET", "/doors/" + kFrontDoor).status, 200);
}

TEST_F(SimTest, UnsetSecretsRefuseEveryCallOfThatVendor) {
  Restart(SimSecrets{}, SimOptions{});
  EXPECT_EQ(Sms(SmsBody(), "").status, 401);
  EXPECT_EQ(Sms(SmsBody(), "anything").status, 401);
  auto r = TokenCall("/oauth/token", "grant_type=client_credentials&client_id=&client_secret=");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Parse(r)["error"], "invalid_client");
  EXPECT_EQ(Call("GET", kDoors, "", {{"Authorization", "Bearer "}}).status, 401);
  EXPECT_EQ(Call("GET", kDoors, "", {{"Authorization", "Bearer x"}}).status, 401);
  EXPECT_EQ(Call("POST", "/_sim/customer",
                 json{{"from", kCustomer}, {"to", kLine}, {"body", "hi"}}.dump())
                .status,
            400);
  EXPECT_EQ(Call("POST", "/services/T/B/X", R"({"text":"x"})").status, 200)
      << "Slack's secret is its URL";
}

// ---- The call log -------------------------------------------------------------------------------

TEST_F(SimTest, CallLogKeepsEveryVendorCallInOrder) {
  json j = Calls(0);
  EXPECT_TRUE(j["calls"].empty());
  EXPECT_EQ(j["next"], 0);

  Call("POST", "/services/T/B/X", R"({"text":"one"})");
  Sms(SmsBody(), "wrong");  // refused calls are logged too
  Sms(SmsBody());
  Unifi("PUT", "/doors/" + kFrontDoor + "/unlock", R"({"actor_id":"a"})");
  State();                                                                   // /_sim calls are not
  Call("POST", "/api/v1/developer/doors/" + kFrontDoor + "/remote_unlock");  // not a real path
  Call("DELETE", "/v1/messages");                                            // wrong method
  TokenCall("/oauth/token", "grant_type=client_credentials&client_id=x&client_secret=y");

  j = Calls(0);
  const json& calls = j["calls"];
  ASSERT_EQ(calls.size(), 7u) << j.dump(1);
  const std::vector<std::tuple<std::string, std::string, std::string, int>> want = {
      {"slack", "POST", "/services/T/B/X", 200},
      {"openphone", "POST", "/v1/messages", 401},
      {"openphone", "POST", "/v1/messages", 202},
      {"unifi", "PUT", kDoors + "/" + kFrontDoor + "/unlock", 200},
      {"unifi", "POST", kDoors + "/" + kFrontDoor + "/remote_unlock", 404},
      {"openphone", "DELETE", "/v1/messages", 405},
      {"ninjaone", "POST", "/oauth/token", 401},
  };
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto& [service, method, path, status] = want[i];
    EXPECT_EQ(calls[i]["seq"], static_cast<int64_t>(i + 1));
    EXPECT_EQ(calls[i]["service"], service) << i;
    EXPECT_EQ(calls[i]["method"], method) << i;
    EXPECT_EQ(calls[i]["path"], path) << i;
    EXPECT_EQ(calls[i]["status"], status) << i;
    EXPECT_TRUE(calls[i]["at"].is_string());
  }
  EXPECT_EQ(calls[0]["body"], R"({"text":"one"})");
  EXPECT_EQ(calls[2]["target"], kCustomer);
  EXPECT_EQ(calls[3]["target"], kFrontDoor);
  EXPECT_EQ(calls[3]["body"], R"({"actor_id":"a"})");
  EXPECT_EQ(calls[0]["target"], "");
  EXPECT_EQ(calls[6]["body"], "grant_type=client_credentials&client_id=x&client_secret=REDACTED")
      << "the client secret stays out of the log";
  EXPECT_EQ(j["next"], 7);

  j = Calls(5);
  ASSERT_EQ(j["calls"].size(), 2u);
  EXPECT_EQ(j["calls"][0]["seq"], 6);
  EXPECT_EQ(j["next"], 7);
  j = Calls(7);
  EXPECT_TRUE(j["calls"].empty());
  EXPECT_EQ(j["next"], 7);
  EXPECT_EQ(Call("GET", "/_sim/calls?since=abc").status, 400);
}

// ---- Customer webhooks --------------------------------------------------------------------------

// A stand-in for ClubOS's webhook endpoint that checks the delivery with ClubOS's own code.
class FakeClubos {
 public:
  explicit FakeClubos(const Clock& clock) : clock_(clock) {
    server_.Route("POST", "/v1/webhooks/openphone", [this](const http::Request& r) {
      std::lock_guard lock(mu_);
      requests_.push_back(r);
      const auto legacy = r.Header("openphone-signature");
      const auto verdict =
          legacy
              ? integrations::VerifyOpenPhoneLegacy(*legacy, r.body, kSigningSecret, clock_.Now(),
                                                    Millis(300'000))
              : integrations::VerifyStandardWebhook(
                    r.Header("webhook-id").value_or(""), r.Header("webhook-timestamp").value_or(""),
                    r.Header("webhook-signature").value_or(""), r.body, kWebhookKey, clock_.Now(),
                    Millis(300'000));
      verdicts_.push_back(verdict);
      if (verdict != integrations::Verdict::kValid)
        return http::Response::Error(401, "bad_signature", integrations::ToString(verdict));
      const auto parsed = integrations::ParseOpenPhoneWebhook(r.body);
      if (!parsed.event) return http::Response::Error(400, "bad_webhook", parsed.error);
      events_.push_back(*parsed.event);
      return http::Response::Json(
          202,
          json{{"thread_id", 7}, {"message_id", parsed.event->message_id}, {"duplicate", false}}
              .dump());
    });
    server_.Start();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.Port()); }

  std::mutex mu_;
  std::vector<http::Request> requests_;
  std::vector<integrations::Verdict> verdicts_;
  std::vector<integrations::OpenPhoneEvent> events_;

 private:
  const Clock& clock_;
  http::Server server_{http::ServerOptions{}};
};

TEST_F(SimTest, CustomerTextArrivesAsASignedLegacyWebhook) {
  FakeClubos clubos(clock_);
  Restart(TestSecrets(), SimOptions{.clubos_url = clubos.url()});
  auto r = Call(
      "POST", "/_sim/customer",
      json{{"from", kCustomer}, {"to", kLine}, {"body", "the trackman in bay 2 is frozen"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json answer = Parse(r);
  EXPECT_EQ(answer["status"], 202);
  EXPECT_EQ(answer["response"]["thread_id"], 7);
  const std::string message_id = answer["message_id"].get<std::string>();
  EXPECT_EQ(message_id.rfind("AC", 0), 0u);

  std::lock_guard lock(clubos.mu_);
  ASSERT_EQ(clubos.requests_.size(), 1u);
  EXPECT_EQ(clubos.verdicts_[0], integrations::Verdict::kValid);
  const http::Request& req = clubos.requests_[0];
  EXPECT_EQ(req.Header("content-type").value_or(""), "application/json");
  const std::string sig = req.Header("openphone-signature").value_or("");
  EXPECT_EQ(sig.rfind("hmac;1;1795305600000;", 0), 0u) << "a millisecond timestamp: " << sig;
  ASSERT_EQ(clubos.events_.size(), 1u);
  const auto& e = clubos.events_[0];
  EXPECT_EQ(e.type, "message.received");
  EXPECT_EQ(e.message_id, message_id);
  EXPECT_EQ(e.from, kCustomer);
  EXPECT_EQ(e.to, kLine);
  EXPECT_EQ(e.text, "the trackman in bay 2 is frozen");
  EXPECT_EQ(e.direction, "incoming");
  EXPECT_EQ(e.event_id.rfind("EV", 0), 0u);
  const json body = json::parse(req.body);
  EXPECT_EQ(body["object"], "event");
  EXPECT_EQ(body["apiVersion"], "v3");
  EXPECT_EQ(body["createdAt"], "2026-11-22T00:00:00.000Z");
  EXPECT_EQ(body["data"]["object"]["body"], "the trackman in bay 2 is frozen");
  EXPECT_EQ(body["data"]["object"]["to"], kLine) << "a string in webhooks";
  EXPECT_EQ(body["data"]["object"]["object"], "message");
  EXPECT_EQ(body["data"]["object"]["status"], "received");
  EXPECT_EQ(body["data"]["object"]["media"], json::array());
  const json customers = State()["customer_messages"];
  ASSERT_EQ(customers.size(), 1u);
  EXPECT_EQ(customers[0]["clubos_status"], 202);
  EXPECT_TRUE(Calls(0)["calls"].empty()) << "no vendor call was made";
}

TEST_F(SimTest, CustomerTextCanUseStandardWebhooks) {
  FakeClubos clubos(clock_);
  Restart(TestSecrets(), SimOptions{.clubos_url = clubos.url() + "/"});
  auto r = Call(
      "POST", "/_sim/customer",
      json{{"from", kCustomer}, {"to", kLine}, {"body", "door won't open"}, {"scheme", "standard"}}
          .dump());
  ASSERT_EQ(r.status, 200) << r.body;
  std::lock_guard lock(clubos.mu_);
  ASSERT_EQ(clubos.verdicts_.size(), 1u);
  EXPECT_EQ(clubos.verdicts_[0], integrations::Verdict::kValid);
  const http::Request& req = clubos.requests_[0];
  EXPECT_FALSE(req.Header("openphone-signature").has_value());
  EXPECT_EQ(req.Header("webhook-timestamp").value_or(""), "1795305600");
  EXPECT_EQ(req.Header("webhook-id").value_or("").rfind("msg_", 0), 0u);
  ASSERT_EQ(clubos.events_.size(), 1u);
  EXPECT_EQ(clubos.events_[0].text, "door won't open");
  EXPECT_EQ(clubos.events_[0].to, kLine);
  EXPECT_EQ(clubos.events_[0].message_id, Parse(r)["message_id"]);
  const json body = json::parse(req.body);
  EXPECT_EQ(body["apiVersion"], "2026-03-30");
  EXPECT_TRUE(body["data"]["resource"].is_object());
}

TEST_F(SimTest, CustomerInputIsCheckedAndAnUnreachableClubosIs502) {
  for (const json& bad : std::vector<json>{
           {{"from", kCustomer}, {"to", kLine}},
           {{"from", "5555550100"}, {"to", kLine}, {"body", "x"}},
           {{"from", kCustomer}, {"to", kLine}, {"body", ""}},
           {{"from", kCustomer}, {"to", kLine}, {"body", "x"}, {"scheme", "v9"}},
       })
    EXPECT_EQ(Call("POST", "/_sim/customer", bad.dump()).status, 400) << bad.dump();
  EXPECT_EQ(Call("POST", "/_sim/customer", "nope").status, 400);

  Restart(TestSecrets(), SimOptions{.clubos_url = "http://127.0.0.1:1"});
  auto r = Call("POST", "/_sim/customer",
                json{{"from", kCustomer}, {"to", kLine}, {"body", "hello"}}.dump());
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(Parse(r)["error"]["code"], "clubos_unreachable");
}

}  // namespace
