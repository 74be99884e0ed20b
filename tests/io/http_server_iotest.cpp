// The Pistache wrapper over real loopback HTTP, driven by our libcurl client: routing, parameters,
// headers Pistache parses itself, the error shape, keep-alive, and what a handler's exception or
// an oversized body turns into.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/http_server.h"
#include "integrations/http.h"

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
