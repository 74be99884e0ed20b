#pragma once
// A small HTTP/1.1 server over Pistache 0.0.5, the only place Pistache is included (compile time,
// and one place to hold its traps: keep-alive, the router's data race, exceptions leaking as 500
// bodies, request size, signal masks; shared/reference/toolchain.md §4). The API and the
// simulator route plain functions of Request -> Response through it.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"

namespace clubos::http {

struct Request {
  std::string method;  // GET, POST, ...
  std::string path;    // without the query string
  std::string route;   // the pattern that matched, e.g. /v1/threads/:id (metrics label)
  std::map<std::string, std::string> params;   // ":id" -> "42" (without the colon)
  std::map<std::string, std::string> query;    // decoded query parameters
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string peer;  // remote address

  std::optional<std::string> Header(const std::string& lower_name) const;
  std::optional<std::string> Query(const std::string& name) const;
  const std::string& Param(const std::string& name) const;  // asserts the route declares it
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response Json(int status, std::string body);
  static Response Text(int status, std::string body);
  // {"error": {"code", "message"}}: the one error shape of interfaces.md.
  static Response Error(int status, const std::string& code, const std::string& message);
};

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port, read back with Port()
  int threads = 2;
  // Every request is framed before Pistache parses it (http/http_framing.h): a head (request line
  // and headers) over max_header_bytes is answered 431, a Content-Length over max_body_bytes (0:
  // max_request_bytes) 413, in the error shape, as soon as the head arrives; the connection then
  // closes. Bodies are never read past the limit.
  std::size_t max_request_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 0;
  // Handlers run on this many threads of their own, off Pistache's reactor threads: a handler
  // that waits (on a row lock, the pool, the database) then stalls no other connection. Each
  // reactor serves many connections and, running handlers itself (0 here), serves them one
  // request at a time. Routes marked on_reactor still run there (cheap, never waiting ones).
  int handler_threads = 0;
  // Requests waiting for a handler thread; past this they are answered 503 at once.
  std::size_t handler_queue_max = 1024;
  Millis header_timeout{10'000};
  Millis body_timeout{10'000};
  Millis keepalive_timeout{75'000};
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes are fixed before Start (Pistache copies its router). Patterns use ":name" segments.
  // `on_reactor`: run on the reactor thread even when there are handler threads (for handlers
  // that never wait, such as liveness).
  void Route(const std::string& method, const std::string& pattern, Handler handler,
             bool on_reactor = false);
  // Called for every answered request (metrics, access logs). Must not throw.
  void OnAnswered(std::function<void(const Request&, int status, Millis took)> fn);
  // The routes registered so far, as (method, pattern), in registration order.
  std::vector<std::pair<std::string, std::string>> Routes() const;

  // Binds and serves on background threads. Throws std::runtime_error when it cannot bind.
  void Start();
  uint16_t Port() const;
  // Requests being handled right now (routed, not yet answered).
  int InFlight() const;
  // Waits until no request is being handled, or `timeout` passes; true when idle. A graceful
  // stop flips readiness, waits here, then calls Stop().
  bool WaitIdle(Millis timeout) const;
  // Stops accepting and closes connections. In-flight requests are not drained by Pistache: a
  // graceful stop flips readiness first and waits (the API does).
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-decoding of a query value or path segment ('+' is a space in queries only).
std::string UrlDecode(const std::string& s, bool plus_is_space);

}  // namespace clubos::http
