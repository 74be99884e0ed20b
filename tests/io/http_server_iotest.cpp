// The Pistache wrapper over real loopback HTTP, driven by our libcurl client: routing, parameters,
// headers Pistache parses itself, the error shape, keep-alive, and what a handler's exception or
// an oversized body turns into.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/http_server.h"
#include "integrations/http.h"
#include "tests/support/process.h"

using namespace clubos;
using namespace clubos::api;
using integrations::HttpRequest;
using integrations::HttpResponse;
using nlohmann::json;

namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(ServerOptions{.max_request_bytes = 16 * 1024});
    server_->Route("GET", "/items/:id/parts/:part", [](const Request& r) {
      return Response::Json(200, json{{"id", r.Param("id")},
                                      {"part", r.Param("part")},
                                      {"route", r.route},
                                      {"q", r.Query("q").value_or("-")},
                                      {"auth", r.Header("authorization").value_or("-")},
                                      {"custom", r.Header("x-custom").value_or("-")},
                                      {"type", r.Header("content-type").value_or("-")}}
                                     .dump());
    });
    server_->Route("POST", "/echo", [](const Request& r) {
      Response res = Response::Text(201, r.body);
      res.headers.emplace_back("Retry-After", "7");
      return res;
    });
    server_->Route("GET", "/boom", [](const Request&) -> Response {
      throw std::runtime_error("secret internal detail");
    });
    server_->OnAnswered([this](const Request& r, int status, Millis) {
      std::lock_guard lock(mu_);
      answered_.push_back(r.route + " " + std::to_string(status));
    });
    server_->Start();
  }

  HttpResponse Call(std::string method, std::string path, std::string body = "",
                    std::map<std::string, std::string> headers = {}) {
    return integrations::Send(
        HttpRequest{.method = std::move(method),
                    .url = "http://127.0.0.1:" + std::to_string(server_->Port()) + path,
                    .headers = std::move(headers),
                    .body = std::move(body)});
  }

  std::unique_ptr<Server> server_;
  std::mutex mu_;
  std::vector<std::string> answered_;
};

TEST_F(HttpServerTest, RoutesParametersQueryAndHeaders) {
  auto r = Call("GET", "/items/a%20b/parts/7?q=x%2By+z&other=1", "",
                {{"Authorization", "Bearer tok"}, {"X-Custom", "v"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = json::parse(r.body);
  EXPECT_EQ(j["id"], "a b");
  EXPECT_EQ(j["part"], "7");
  EXPECT_EQ(j["route"], "/items/:id/parts/:part");
  EXPECT_EQ(j["q"], "x+y z");
  EXPECT_EQ(j["auth"], "Bearer tok");  // a header Pistache parses into a typed object
  EXPECT_EQ(j["custom"], "v");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.headers["connection"], "Keep-Alive");
}

TEST_F(HttpServerTest, BodyStatusAndExtraHeaders) {
  auto r = Call("POST", "/echo", "hello", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "hello");
  ASSERT_TRUE(r.RetryAfter().has_value());
  EXPECT_EQ(*r.RetryAfter(), Millis(7000));
}

TEST_F(HttpServerTest, UnknownRouteAndWrongMethodAnswerTheErrorShape) {
  auto r = Call("GET", "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "not_found");
  for (auto [method, path] :
       {std::pair{"DELETE", "/echo"}, std::pair{"PATCH", "/items/1/parts/2"}}) {
    r = Call(method, path);
    EXPECT_EQ(r.status, 405) << method << " " << path;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "method_not_allowed");
  }
  EXPECT_EQ(r.headers["allow"], "GET");
}

TEST_F(HttpServerTest, AHandlersExceptionNeverLeaksItsMessage) {
  auto r = Call("GET", "/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "internal");
  std::lock_guard lock(mu_);
  EXPECT_NE(std::find(answered_.begin(), answered_.end(), "/boom 500"), answered_.end());
}

TEST_F(HttpServerTest, OversizedRequestIsRefusedWith413) {
  auto r = Call("POST", "/echo", std::string(64 * 1024, 'x'));
  EXPECT_EQ(r.status, 413);
  // and the server still answers afterwards
  EXPECT_EQ(Call("POST", "/echo", "ok").status, 201);
}

TEST(HttpServer, BusyPortIsAClearError) {
  Server a(ServerOptions{});
  a.Start();
  Server b(ServerOptions{.port = a.Port()});
  b.OnAnswered(nullptr);
  // ReuseAddr does not allow two listeners on one port: the second Start names it.
  try {
    b.Start();
    FAIL() << "second server bound a busy port";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(a.Port())), std::string::npos);
  }
}

}  // namespace

namespace {

// The server's own body limit answers in the error shape, before the handler runs.
TEST(HttpServer, ABodyOverItsLimitIsRefusedInTheErrorShape) {
  Server s(ServerOptions{.max_request_bytes = 64 * 1024, .max_body_bytes = 1024});
  std::atomic<int> handled{0};
  s.Route("POST", "/in", [&](const Request&) {
    ++handled;
    return Response::Json(200, "{}");
  });
  s.Start();
  const std::string url = "http://127.0.0.1:" + std::to_string(s.Port()) + "/in";
  auto r = integrations::Send({.method = "POST", .url = url, .body = std::string(1025, 'x')});
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "body_too_large");
  EXPECT_EQ(handled.load(), 0);
  EXPECT_EQ(
      integrations::Send({.method = "POST", .url = url, .body = std::string(1024, 'x')}).status,
      200);
  EXPECT_EQ(handled.load(), 1);
}

// A handler that waits, on handler threads of their own: the one reactor stays free for other
// connections, and a graceful stop waits for the request being handled (InFlight counts it until
// answered).
class SlowServer : public ::testing::Test {
 protected:
  void Start(ServerOptions o) {
    server_ = std::make_unique<Server>(o);
    server_->Route("GET", "/slow", [&](const Request&) {
      std::unique_lock lk(mu_);
      ++waiting_;
      cv_.notify_all();
      cv_.wait(lk, [&] { return release_; });
      return Response::Json(200, R"({"done":true})");
    });
    server_->Route("GET", "/fast", [](const Request&) { return Response::Json(200, "{}"); });
    server_->Start();
  }
  void TearDown() override {
    Release();
    for (auto& t : clients_) t.join();
    if (server_) server_->Stop();
  }
  std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(server_->Port()) + path;
  }
  void CallSlow(HttpResponse* out) {
    clients_.emplace_back(
        [this, out] { *out = integrations::Send({.method = "GET", .url = Url("/slow")}); });
  }
  void WaitForWaiting(int n) {
    std::unique_lock lk(mu_);
    ASSERT_TRUE(cv_.wait_for(lk, std::chrono::seconds(5), [&] { return waiting_ >= n; }));
  }
  void Release() {
    {
      std::lock_guard lk(mu_);
      release_ = true;
    }
    cv_.notify_all();
  }
  std::unique_ptr<Server> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool release_ = false;
  std::vector<std::thread> clients_;
};

TEST_F(SlowServer, AWaitingHandlerStallsNoOtherConnectionAndIsWaitedForWhenStopping) {
  Start(ServerOptions{.threads = 1, .handler_threads = 4});
  EXPECT_TRUE(server_->WaitIdle(Millis(10)));
  HttpResponse slow;
  CallSlow(&slow);
  WaitForWaiting(1);
  EXPECT_EQ(server_->InFlight(), 1);
  for (int i = 0; i < 3; ++i) {
    // Same (single) reactor as the waiting request: answered at once all the same.
    auto r = integrations::Send({.method = "GET", .url = Url("/fast"), .timeout = Millis(2'000)});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(integrations::Send({.method = "GET", .url = Url("/nope")}).status, 404);
  }
  EXPECT_EQ(server_->InFlight(), 1) << "other requests came and went";
  EXPECT_FALSE(server_->WaitIdle(Millis(50))) << "the slow request is still being handled";
  Release();
  EXPECT_TRUE(server_->WaitIdle(Millis(5'000)));
  clients_.back().join();
  clients_.pop_back();
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.body, R"({"done":true})");
}

TEST_F(SlowServer, WhenEveryHandlerIsBusyAndTheQueueFullTheAnswerIs503AtOnce) {
  Start(ServerOptions{.threads = 2, .handler_threads = 1, .handler_queue_max = 1});
  HttpResponse first, second;
  CallSlow(&first);
  WaitForWaiting(1);
  CallSlow(&second);  // queued behind the first
  ASSERT_TRUE(pgtest::WaitFor([&] { return server_->InFlight() == 2; }, Millis(5'000)));
  auto r = integrations::Send({.method = "GET", .url = Url("/fast"), .timeout = Millis(2'000)});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "busy");
  ASSERT_TRUE(r.RetryAfter());
  Release();
  for (auto& t : clients_) t.join();
  clients_.clear();
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(second.status, 200);
}

TEST(HttpServer, ListsItsRoutesInRegistrationOrder) {
  Server s(ServerOptions{});
  s.Route("GET", "/a/:id", [](const Request&) { return Response::Json(200, "{}"); });
  s.Route("POST", "/a", [](const Request&) { return Response::Json(200, "{}"); });
  const std::vector<std::pair<std::string, std::string>> want = {{"GET", "/a/:id"}, {"POST", "/a"}};
  EXPECT_EQ(s.Routes(), want);
}

}  // namespace
