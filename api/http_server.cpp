#include "api/http_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/router.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/assert.h"
#include "core/log.h"

namespace clubos::api {

using namespace Pistache;

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Request Convert(const Rest::Request& in, const std::string& route) {
  Request out;
  out.method = Http::methodString(in.method());
  out.path = in.resource();
  out.route = route;
  out.body = in.body();
  out.peer = in.address().host();
  // Pistache parses the headers it knows into typed objects and keeps only the others raw.
  for (const auto& h : in.headers().list()) {
    std::ostringstream value;
    h->write(value);
    out.headers[Lower(h->name())] = value.str();
  }
  for (const auto& [name, raw] : in.headers().rawList()) out.headers[Lower(name)] = raw.value();
  // The raw query, decoded here once (Pistache's parameter values are not percent-decoded).
  const std::string q = in.query().as_str();
  std::size_t start = !q.empty() && q[0] == '?' ? 1 : 0;
  while (start < q.size()) {
    std::size_t end = q.find('&', start);
    if (end == std::string::npos) end = q.size();
    const std::string pair = q.substr(start, end - start);
    const std::size_t eq = pair.find('=');
    if (!pair.empty())
      out.query[UrlDecode(pair.substr(0, eq), true)] =
          eq == std::string::npos ? "" : UrlDecode(pair.substr(eq + 1), true);
    start = end + 1;
  }
  return out;
}

// Pistache 0.0.5 writes only typed headers in a response (addRaw ones are silently dropped), and
// has no type for arbitrary ones: this is that type.
class AnyHeader final : public Http::Header::Header {
 public:
  AnyHeader(std::string name, std::string value)
      : name_(std::move(name)), value_(std::move(value)) {}
  const char* name() const override { return name_.c_str(); }
  void parse(const std::string& data) override { value_ = data; }
  void write(std::ostream& os) const override { os << value_; }
#ifdef SAFE_HEADER_CAST
  uint64_t hash() const override {
    return std::hash<std::string>{}(name_);
  }
#endif

 private:
  std::string name_, value_;
};

constexpr Millis kWriteFlushGrace{50};

Http::Method MethodOf(const std::string& name) {
  for (auto m : {Http::Method::Get, Http::Method::Post, Http::Method::Put, Http::Method::Delete,
                 Http::Method::Patch, Http::Method::Head, Http::Method::Options})
    if (name == Http::methodString(m)) return m;
  CLUBOS_ASSERT(false, "unsupported HTTP method in a route");
  return Http::Method::Get;
}

}  // namespace

std::string UrlDecode(const std::string& s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

std::optional<std::string> Request::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Request::Query(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

const std::string& Request::Param(const std::string& name) const {
  auto it = params.find(name);
  CLUBOS_ASSERT(it != params.end(), "route has no such parameter");
  return it->second;
}

Response Response::Json(int status, std::string body) {
  return Response{status, "application/json", std::move(body), {}};
}

Response Response::Text(int status, std::string body) {
  return Response{status, "text/plain; charset=utf-8", std::move(body), {}};
}

Response Response::Error(int status, const std::string& code, const std::string& message) {
  return Json(status, nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump());
}

struct Server::Impl {
  ServerOptions options;
  Rest::Router router;
  std::unique_ptr<Http::Endpoint> endpoint;
  std::function<void(const Request&, int, Millis)> on_answered;
  std::atomic<bool> started{false};
  std::map<std::string, std::set<std::string>> methods_by_pattern;
  std::vector<std::pair<std::string, std::string>> routes;

  mutable std::mutex idle_mu;
  mutable std::condition_variable idle_cv;
  int in_flight = 0;

  // A request handed from a reactor to a handler thread.
  struct Task {
    Request req;
    Http::ResponseWriter writer;
    bool keep_alive;
    const Handler* handler;
    std::chrono::steady_clock::time_point t0;
  };
  std::mutex tasks_mu;
  std::condition_variable tasks_cv;
  std::deque<std::unique_ptr<Task>> tasks;
  bool tasks_stop = false;
  std::vector<std::thread> handler_threads;

  void Answer(const Rest::Request& in, Http::ResponseWriter w, const std::string& route,
              const std::vector<std::string>& param_names, const Handler& handler,
              bool on_reactor) {
    const auto t0 = MonoNow();
    {
      std::lock_guard lk(idle_mu);
      ++in_flight;
    }
    // 0.0.5 answers "Connection: close" unless the client asked for keep-alive: the HTTP/1.1
    // default is restored when answering (a new connection per request costs ~5x throughput).
    auto c = in.headers().tryGet<Http::Header::Connection>();
    const bool keep_alive = in.version() == Http::Version::Http11 &&
                            !(c && c->control() == Http::ConnectionControl::Close);
    Request req;
    try {
      req = Convert(in, route);
      for (const auto& name : param_names)
        req.params[name] = UrlDecode(in.param(":" + name).as<std::string>(), false);
    } catch (const std::exception& e) {
      log::Get()->error("http {}: malformed request: {}", route, e.what());
      return Finish(req, w, keep_alive, Response::Error(400, "bad_request", "malformed request"),
                    t0);
    }
    if (on_reactor || handler_threads.empty())
      return Finish(req, w, keep_alive, Run(req, handler), t0);
    auto task =
        std::make_unique<Task>(Task{std::move(req), std::move(w), keep_alive, &handler, t0});
    {
      std::lock_guard lk(tasks_mu);
      if (tasks.size() < options.handler_queue_max && !tasks_stop) {
        tasks.push_back(std::move(task));
        tasks_cv.notify_one();
        return;
      }
    }
    // Every handler thread is busy and the queue is full: shed the load, at once.
    Response busy = Response::Error(503, "busy", "the server is busy; retry shortly");
    busy.headers.emplace_back("Retry-After", "1");
    Finish(task->req, task->writer, keep_alive, busy, t0);
  }

  Response Run(const Request& req, const Handler& handler) {
    try {
      if (options.max_body_bytes && req.body.size() > options.max_body_bytes)
        return Response::Error(413, "body_too_large",
                               "the body is " + std::to_string(req.body.size()) +
                                   " bytes; the limit is " +
                                   std::to_string(options.max_body_bytes));
      return handler(req);
    } catch (const std::exception& e) {
      // Pistache would send e.what() as the body: internals never leave the process.
      log::Get()->error("http {} {}: unhandled {}", req.method, req.route, e.what());
      return Response::Error(500, "internal", "internal error");
    }
  }

  void HandlerLoop() {
    for (;;) {
      std::unique_ptr<Task> t;
      {
        std::unique_lock lk(tasks_mu);
        tasks_cv.wait(lk, [&] { return tasks_stop || !tasks.empty(); });
        if (tasks_stop) return;  // requests not started are dropped with their connections
        t = std::move(tasks.front());
        tasks.pop_front();
      }
      Finish(t->req, t->writer, t->keep_alive, Run(t->req, *t->handler), t->t0);
    }
  }

  // Sends the answer: queues it to the connection's reactor, which writes it. The request counts
  // as in flight until then. (Not until the write completed: the promise send() returns is
  // resolved by the reactor without its lock, so a continuation attached from a handler thread
  // can be lost, or race the reactor's iteration; seen under ASan as a request that never left
  // the in-flight count. Stop() gives the reactors a moment to write what is queued instead.)
  void Finish(const Request& req, Http::ResponseWriter& w, bool keep_alive, const Response& res,
              std::chrono::steady_clock::time_point t0) {
    try {
      if (keep_alive) {
        w.headers().remove<Http::Header::Connection>();
        w.headers().add<Http::Header::Connection>(Http::ConnectionControl::KeepAlive);
      }
      w.headers().add(std::make_shared<AnyHeader>("Content-Type", res.content_type));
      for (const auto& [name, value] : res.headers)
        w.headers().add(std::make_shared<AnyHeader>(name, value));
      w.send(static_cast<Http::Code>(res.status), res.body);
    } catch (const std::exception&) {
      // The client went away while its request was handled.
    }
    Done();
    if (on_answered)
      on_answered(req, res.status, std::chrono::duration_cast<Millis>(MonoNow() - t0));
  }

  void Done() {
    std::lock_guard lk(idle_mu);
    if (--in_flight == 0) idle_cv.notify_all();
  }

  void StopHandlers() {
    {
      std::lock_guard lk(tasks_mu);
      tasks_stop = true;
    }
    tasks_cv.notify_all();
    for (auto& t : handler_threads)
      if (t.joinable()) t.join();
    handler_threads.clear();
    tasks.clear();
  }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

Server::~Server() {
  Stop();
}

void Server::Route(const std::string& method, const std::string& pattern, Handler handler,
                   bool on_reactor) {
  CLUBOS_ASSERT(!impl_->started, "routes are fixed before Start");
  std::vector<std::string> names;
  for (std::size_t i = pattern.find("/:"); i != std::string::npos; i = pattern.find("/:", i + 1)) {
    const std::size_t end = pattern.find('/', i + 1);
    names.push_back(pattern.substr(i + 2, end == std::string::npos ? end : end - i - 2));
  }
  impl_->methods_by_pattern[pattern].insert(method);
  impl_->routes.emplace_back(method, pattern);
  impl_->router.addRoute(MethodOf(method), pattern,
                         [impl = impl_.get(), pattern, names, h = std::move(handler), on_reactor](
                             const Rest::Request& req, Http::ResponseWriter w) {
                           impl->Answer(req, std::move(w), pattern, names, h, on_reactor);
                           return Rest::Route::Result::Ok;
                         });
}

void Server::OnAnswered(std::function<void(const Request&, int, Millis)> fn) {
  impl_->on_answered = std::move(fn);
}

std::vector<std::pair<std::string, std::string>> Server::Routes() const {
  return impl_->routes;
}

int Server::InFlight() const {
  std::lock_guard lk(impl_->idle_mu);
  return impl_->in_flight;
}

bool Server::WaitIdle(Millis timeout) const {
  std::unique_lock lk(impl_->idle_mu);
  return impl_->idle_cv.wait_for(lk, timeout, [&] { return impl_->in_flight == 0; });
}

void Server::Start() {
  CLUBOS_ASSERT(!impl_->started, "started twice");
  auto& r = impl_->router;
  const Handler answer_404 = [](const Request& q) {
    return Response::Error(404, "not_found", "no route for " + q.method + " " + q.path);
  };
  auto not_found = [impl = impl_.get(), answer_404](const Rest::Request& req,
                                                    Http::ResponseWriter w) {
    impl->Answer(req, std::move(w), "(none)", {}, answer_404, true);
    return Rest::Route::Result::Ok;
  };
  // Rest::Router::route() inserts into its method map when a method has no route, racing with
  // other threads (fixed upstream in 2024, not in Debian's 0.0.5): give every method one.
  for (auto m : {Http::Method::Get, Http::Method::Post, Http::Method::Put, Http::Method::Delete,
                 Http::Method::Patch, Http::Method::Head, Http::Method::Options,
                 Http::Method::Trace, Http::Method::Connect})
    r.addRoute(m, "/__clubos_never_routed", not_found);
  r.addNotFoundHandler(not_found);
  // A known path with another method: 405 in our error shape with Allow (Pistache's own 405 is
  // a bare text body).
  for (const auto& [pattern, methods] : impl_->methods_by_pattern) {
    std::string allow;
    for (const auto& m : methods) allow += (allow.empty() ? "" : ", ") + m;
    for (const char* m : {"GET", "POST", "PUT", "DELETE", "PATCH"}) {
      if (methods.count(m)) continue;
      const Handler answer_405 = [allow](const Request& q) {
        Response res =
            Response::Error(405, "method_not_allowed", q.method + " is not allowed on " + q.path);
        res.headers.emplace_back("Allow", allow);
        return res;
      };
      r.addRoute(MethodOf(m), pattern,
                 [impl = impl_.get(), pattern, answer_405](const Rest::Request& req,
                                                           Http::ResponseWriter w) {
                   impl->Answer(req, std::move(w), pattern, {}, answer_405, true);
                   return Rest::Route::Result::Ok;
                 });
    }
  }

  const auto& o = impl_->options;
  impl_->endpoint = std::make_unique<Http::Endpoint>(Address(o.host, Pistache::Port(o.port)));
  impl_->endpoint->init(Http::Endpoint::options()
                            .threads(o.threads)
                            .flags(Tcp::Options::ReuseAddr)
                            .maxRequestSize(o.max_request_bytes)
                            .headerTimeout(o.header_timeout)
                            .bodyTimeout(o.body_timeout)
                            .keepaliveTimeout(o.keepalive_timeout));
  impl_->endpoint->setHandler(r.handler());  // copies the router: every route is in by now
  for (int i = 0; i < o.handler_threads; ++i)
    impl_->handler_threads.emplace_back([impl = impl_.get()] { impl->HandlerLoop(); });
  try {
    impl_->endpoint->serveThreaded();
  } catch (const std::exception& e) {
    impl_->StopHandlers();
    throw std::runtime_error("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                             e.what());
  }
  impl_->started = true;
}

uint16_t Server::Port() const {
  CLUBOS_ASSERT(impl_->started, "not started");
  return static_cast<uint16_t>(impl_->endpoint->getPort());
}

void Server::Stop() {
  if (!impl_ || !impl_->started.exchange(false)) return;
  // Handler threads first, while the reactors can still carry what they send. Then the reactors
  // get a moment to write the answers queued last: Pistache offers no way to see its write
  // queues empty (its flush() would consume them from this thread, which they do not allow), so
  // this is a timed wait. A reactor writes a queued answer within microseconds; 50 ms is ample.
  impl_->StopHandlers();
  std::this_thread::sleep_for(kWriteFlushGrace);
  impl_->endpoint->shutdown();
}

}  // namespace clubos::api
