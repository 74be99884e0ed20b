// The outbound HTTP client against a one-shot server on loopback: what it sends, what it reads,
// and how it tells "never sent" from "may have happened".
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "integrations/http.h"

using namespace clubos;
using namespace clubos::integrations;

namespace {

// Accepts one connection, reads one request, waits `delay`, answers `response` verbatim.
class OneShotServer {
 public:
  OneShotServer(std::string response, Millis delay = Millis(0)) : response_(std::move(response)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 1);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, delay] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[8192];
      for (;;) {
        const auto n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        request_.append(buf, static_cast<std::size_t>(n));
        const auto end = request_.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        const auto cl = request_.find("Content-Length: ");
        const std::size_t body_len =
            cl == std::string::npos ? 0 : std::stoul(request_.substr(cl + 16));
        if (request_.size() >= end + 4 + body_len) break;
      }
      std::this_thread::sleep_for(delay);
      [[maybe_unused]] auto w = ::write(c, response_.data(), response_.size());
      ::close(c);
    });
  }
  ~OneShotServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  const std::string& request() const { return request_; }

 private:
  int fd_;
  int port_ = 0;
  std::string response_;
  std::string request_;
  std::thread thread_;
};

}  // namespace

TEST(Http, SendsTheRequestAndReadsTheAnswer) {
  OneShotServer server(
      "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nX-Request-Id: r1\r\n"
      "Content-Length: 20\r\nConnection: close\r\n\r\n{\"data\":{\"id\":\"M1\"}}");
  const auto r =
      Send({.method = "POST",
            .url = server.url("/v1/messages"),
            .headers = {{"Authorization", "key123"}, {"Content-Type", "application/json"}},
            .body = R"({"content":"hi"})"});
  ASSERT_EQ(r.transport, HttpResponse::Transport::kOk) << r.error;
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, R"({"data":{"id":"M1"}})");
  EXPECT_EQ(r.headers.at("x-request-id"), "r1");
  EXPECT_NE(server.request().find("POST /v1/messages HTTP/1.1"), std::string::npos);
  EXPECT_NE(server.request().find("Authorization: key123"), std::string::npos);
  EXPECT_NE(server.request().find(R"({"content":"hi"})"), std::string::npos);
}

TEST(Http, ReadsRetryAfter) {
  OneShotServer server(
      "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n");
  const auto r = Send({.url = server.url("/x")});
  ASSERT_EQ(r.transport, HttpResponse::Transport::kOk) << r.error;
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.RetryAfter(), Millis(7'000));
}

TEST(Http, ARefusedConnectionWasCertainlyNotSent) {
  int port;
  {
    OneShotServer probe("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    port = std::stoi(probe.url("").substr(17));
    Send({.url = probe.url("/")});  // let it finish; the port is closed afterwards
  }
  const auto r = Send(
      {.url = "http://127.0.0.1:" + std::to_string(port) + "/", .connect_timeout = Millis(500)});
  EXPECT_EQ(r.transport, HttpResponse::Transport::kNotSent) << r.error;
}

TEST(Http, ATimeoutAfterSendingMayHaveHappened) {
  OneShotServer server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", Millis(800));
  const auto r = Send({.method = "PUT", .url = server.url("/unlock"), .timeout = Millis(150)});
  EXPECT_EQ(r.transport, HttpResponse::Transport::kUnknown) << r.error;
  EXPECT_FALSE(r.error.empty());
}
