#include "http/http_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <pistache/router.h>
#include <sys/socket.h>

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
#include "http/http_framing.h"

namespace clubos::http {

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

constexpr Http::Method kAllMethods[] = {
    Http::Method::Get,     Http::Method::Post,  Http::Method::Put,
    Http::Method::Delete,  Http::Method::Patch, Http::Method::Head,
    Http::Method::Options, Http::Method::Trace, Http::Method::Connect};

Http::Method MethodOf(const std::string& name) {
  for (auto m : kAllMethods)
    if (name == Http::methodString(m)) return m;
  CLUBOS_ASSERT(false, "unsupported HTTP method in a route");
  return Http::Method::Get;
}

// A path as an error message may show it: visible ASCII only (anything else, such as a raw 0xFF
// that would make the JSON answer invalid UTF-8, becomes '?'), and not all of a long one.
std::string Printable(const std::string& s) {
  constexpr std::size_t kMaxShown = 200;
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < kMaxShown; ++i)
    out.push_back(s[i] > ' ' && s[i] < 0x7f ? s[i] : '?');
  if (s.size() > kMaxShown) out += "...";
  return out;
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

// One connection as the server sees it, kept in the Pistache peer's data.
struct Connection {
  // The reactor thread's only (the peer's reactor reads input and starts requests):
  std::string pending;    // bytes received, not yet handed to Pistache's parser
  bool closing = false;   // refused: whatever arrives later is read and dropped
  uint64_t next_seq = 0;  // requests in the order they arrived
  // Answers leave in the order their requests arrived (HTTP/1.1 pipelining), whichever thread
  // finishes first: an answer waits here until every earlier one has been sent.
  struct Outgoing {
    std::optional<Http::ResponseWriter> writer;  // a routed request's answer
    Response response;
    bool keep_alive = false;
    std::string raw;  // or bytes of our own (a refusal), after which the connection closes
    std::weak_ptr<Tcp::Peer> peer;
  };
  std::mutex mu;
  uint64_t next_to_send = 0;
  std::map<uint64_t, Outgoing> ready;
};

constexpr const char* kConnectionData = "clubos.connection";

// Set by the guarded handler while Pistache routes a request it handed over (same thread, same
// call): which connection, and which place in its order, the request has.
thread_local std::shared_ptr<Connection> t_connection;
thread_local uint64_t t_seq = 0;
thread_local bool t_claimed = false;
thread_local bool t_on_reactor = false;

// Writes `raw` and, once it is written, shuts the connection's sending side: the client reads the
// answer, then end of file (a close with unread input could reset the connection and lose the
// answer). Continuations on Pistache's write promise are only safe on the peer's reactor, so a
// refusal sent from a handler thread (queued behind a pipelined request) is not shut: its
// `Connection: close` asks the client to, and the connection reads nothing more.
void SendAndClose(const std::weak_ptr<Tcp::Peer>& weak, const std::string& raw) {
  auto peer = weak.lock();
  if (!peer) return;
  auto written = peer->send(RawBuffer(raw, raw.size()));
  if (!t_on_reactor) return;
  written.then(
      [weak](ssize_t) {
        if (auto p = weak.lock()) ::shutdown(p->fd(), SHUT_WR);
      },
      [weak](std::exception_ptr) {
        if (auto p = weak.lock()) ::shutdown(p->fd(), SHUT_RDWR);
      });
}

void Write(Http::ResponseWriter& w, bool keep_alive, const Response& res) {
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
}

// Puts an answer in its place and sends every answer whose turn has come.
void Deliver(Connection& c, uint64_t seq, Connection::Outgoing out) {
  std::lock_guard lk(c.mu);
  c.ready.emplace(seq, std::move(out));
  for (auto it = c.ready.begin(); it != c.ready.end() && it->first == c.next_to_send;
       it = c.ready.erase(it), ++c.next_to_send) {
    Connection::Outgoing& o = it->second;
    if (o.writer)
      Write(*o.writer, o.keep_alive, o.response);
    else if (!o.raw.empty())
      SendAndClose(o.peer, o.raw);
    // else: a request Pistache answered itself (nothing of ours to send)
  }
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
  // Never throws: invalid UTF-8 in a message becomes U+FFFD (nlohmann's dump() throws on it).
  return Json(status, nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump(
                          -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

struct Server::Impl {
  ServerOptions options;
  FramingLimits limits;
  Rest::Router router;
  std::unique_ptr<Http::Endpoint> endpoint;
  std::function<void(const Request&, int, Millis)> on_answered;
  std::atomic<bool> started{false};
  std::map<std::string, std::set<std::string>> methods_by_pattern;
  std::vector<std::pair<std::string, std::string>> routes;

  mutable std::mutex idle_mu;
  mutable std::condition_variable idle_cv;
  int in_flight = 0;

  // Where an answer goes: the request's connection and its place in that connection's order
  // (null when Pistache routed a request the guarded handler did not hand over).
  struct Slot {
    std::shared_ptr<Connection> connection;
    uint64_t seq = 0;
  };

  // A request handed from a reactor to a handler thread.
  struct Task {
    Request req;
    Http::ResponseWriter writer;
    bool keep_alive;
    const Handler* handler;
    std::chrono::steady_clock::time_point t0;
    Slot slot;
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
    Slot slot;
    if (t_connection && !t_claimed) {
      slot = {t_connection, t_seq};
      t_claimed = true;
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
                    t0, slot);
    }
    if (on_reactor || handler_threads.empty())
      return Finish(req, w, keep_alive, Run(req, handler), t0, slot);
    auto task = std::make_unique<Task>(
        Task{std::move(req), std::move(w), keep_alive, &handler, t0, std::move(slot)});
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
    Finish(task->req, task->writer, keep_alive, busy, t0, task->slot);
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
      Finish(t->req, t->writer, t->keep_alive, Run(t->req, *t->handler), t->t0, t->slot);
    }
  }

  // Sends the answer: queues it to the connection's reactor, which writes it, after every answer
  // to an earlier request on the connection. The request counts as in flight until then. (Not
  // until the write completed: the promise send() returns is resolved by the reactor without its
  // lock, so a continuation attached from a handler thread can be lost, or race the reactor's
  // iteration; seen under ASan as a request that never left the in-flight count. Stop() gives the
  // reactors a moment to write what is queued instead.)
  void Finish(const Request& req, Http::ResponseWriter& w, bool keep_alive, const Response& res,
              std::chrono::steady_clock::time_point t0, const Slot& slot) {
    // Counted before the answer leaves: a client that reads /metrics right after its answer must
    // find its own request in it (counted after, a scrape could race it; seen under load).
    if (on_answered)
      on_answered(req, res.status, std::chrono::duration_cast<Millis>(MonoNow() - t0));
    if (slot.connection) {
      Connection::Outgoing out;
      out.writer.emplace(std::move(w));
      out.response = res;
      out.keep_alive = keep_alive;
      Deliver(*slot.connection, slot.seq, std::move(out));
    } else {
      Write(w, keep_alive, res);
    }
    Done();
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

namespace {

// Pistache's HTTP handler with its input step replaced: the bytes a connection sends are framed
// here (http/http_framing.h), and Pistache's parser is handed exactly one whole request at a time,
// so that it never answers by itself (as text, with exception messages) and never drops the
// second of two pipelined requests. What the framing refuses, or Pistache's parser still throws
// on, is answered in the error shape with `Connection: close`, and the connection closes. The
// rest is Pistache's own Http::Handler::onInput, as of 0.0.5.
class GuardedHandler final : public Rest::Private::RouterHandler {
 public:
  HTTP_PROTOTYPE(GuardedHandler)

  GuardedHandler(const Rest::Router& routes, const FramingLimits& limits)
      : RouterHandler(routes), limits_(limits) {}

  void onInput(const char* buffer, size_t len, const std::shared_ptr<Tcp::Peer>& peer) override {
    auto connection = std::static_pointer_cast<Connection>(peer->tryGetData(kConnectionData));
    if (!connection) {
      connection = std::make_shared<Connection>();
      peer->putData(kConnectionData, connection);
    }
    Connection& c = *connection;
    if (c.closing) return;
    c.pending.append(buffer, len);
    t_on_reactor = true;
    while (!c.closing && !c.pending.empty()) {
      const Frame f = NextRequest(c.pending, limits_);
      if (f.kind == Frame::Kind::kIncomplete) break;
      if (f.kind == Frame::Kind::kRefused) {
        Refuse(c, peer, f.status, f.code, f.message);
        break;
      }
      HandOver(connection, peer, c.pending.data() + f.skip, f.length);
      c.pending.erase(0, f.skip + f.length);
    }
    t_on_reactor = false;
  }

  // Pistache's own answer to a timeout is a bare 408.
  void onTimeout(const Http::Request&, Http::ResponseWriter response) override {
    response.headers().add<Http::Header::Connection>(Http::ConnectionControl::Close);
    response.headers().add(std::make_shared<AnyHeader>("Content-Type", "application/json"));
    response.send(
        Http::Code::Request_Timeout,
        Response::Error(408, "request_timeout", "the request took too long to arrive").body);
  }

 private:
  void HandOver(const std::shared_ptr<Connection>& connection,
                const std::shared_ptr<Tcp::Peer>& peer, const char* data, std::size_t size) {
    Connection& c = *connection;
    auto parser = getParser(peer);
    auto& request = parser->request;
    const uint64_t seq = c.next_seq++;
    try {
      if (!parser->feed(data, size) || parser->parse() != Http::Private::State::Done) {
        // The framing and Pistache disagree about where this request ends: stop here.
        parser->reset();
        Refuse(c, peer, 400, "bad_request", "malformed request", seq);
        return;
      }
      Http::ResponseWriter response(request.version(), transport(), this, peer);
      request.copyAddress(peer->address());
      const auto connection_header = request.headers().tryGet<Http::Header::Connection>();
      response.headers().add<Http::Header::Connection>(
          connection_header ? connection_header->control() : Http::ConnectionControl::Close);
      peer->setIdle(false);
      t_connection = connection;
      t_seq = seq;
      t_claimed = false;
      onRequest(request, std::move(response));
      const bool claimed = t_claimed;
      t_connection.reset();
      parser->reset();
      // Pistache answered this one itself (not through a route of ours): its place is freed.
      if (!claimed) Deliver(c, seq, {});
    } catch (const std::exception& e) {
      // Pistache's parser refused what the framing let through (a typed header it cannot read).
      t_connection.reset();
      parser->reset();
      log::Get()->warn("http: a request Pistache could not parse: {}", e.what());
      Refuse(c, peer, 400, "bad_request", "malformed request", seq);
    }
  }

  // Answers in the error shape, in the request's turn, and closes; nothing more is read.
  void Refuse(Connection& c, const std::shared_ptr<Tcp::Peer>& peer, int status,
              const std::string& code, const std::string& message,
              std::optional<uint64_t> seq = std::nullopt) {
    const std::string body = Response::Error(status, code, message).body;
    Connection::Outgoing out;
    out.raw =
        "HTTP/1.1 " + std::to_string(status) + " " + ReasonPhrase(status) +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n" + body;
    out.peer = peer;
    c.closing = true;
    c.pending.clear();
    Deliver(c, seq ? *seq : c.next_seq++, std::move(out));
  }

  FramingLimits limits_;
};

}  // namespace

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
    return Response::Error(404, "not_found", "no route for " + q.method + " " + Printable(q.path));
  };
  auto not_found = [impl = impl_.get(), answer_404](const Rest::Request& req,
                                                    Http::ResponseWriter w) {
    impl->Answer(req, std::move(w), "(none)", {}, answer_404, true);
    return Rest::Route::Result::Ok;
  };
  // Rest::Router::route() inserts into its method map when a method has no route, racing with
  // other threads (fixed upstream in 2024, not in Debian's 0.0.5): give every method one.
  for (auto m : kAllMethods) r.addRoute(m, "/__clubos_never_routed", not_found);
  r.addNotFoundHandler(not_found);
  // A known path with another method (any of the nine): 405 in our error shape with Allow
  // (Pistache's own 405 is a bare text body, sent past our routes).
  for (const auto& [pattern, methods] : impl_->methods_by_pattern) {
    std::string allow;
    for (const auto& m : methods) allow += (allow.empty() ? "" : ", ") + m;
    for (auto method : kAllMethods) {
      const std::string m = Http::methodString(method);
      if (methods.count(m)) continue;
      const Handler answer_405 = [allow](const Request& q) {
        Response res = Response::Error(405, "method_not_allowed",
                                       q.method + " is not allowed on " + Printable(q.path));
        res.headers.emplace_back("Allow", allow);
        return res;
      };
      r.addRoute(method, pattern,
                 [impl = impl_.get(), pattern, answer_405](const Rest::Request& req,
                                                           Http::ResponseWriter w) {
                   impl->Answer(req, std::move(w), pattern, {}, answer_405, true);
                   return Rest::Route::Result::Ok;
                 });
    }
  }

  const auto& o = impl_->options;
  auto& limits = impl_->limits;
  limits.max_header_bytes = std::min(o.max_header_bytes, o.max_request_bytes);
  limits.max_body_bytes =
      o.max_body_bytes ? std::min(o.max_body_bytes, o.max_request_bytes) : o.max_request_bytes;
  impl_->endpoint = std::make_unique<Http::Endpoint>(Address(o.host, Pistache::Port(o.port)));
  impl_->endpoint->init(Http::Endpoint::options()
                            .threads(o.threads)
                            .flags(Tcp::Options::ReuseAddr)
                            // Whatever the framing lets through fits Pistache's buffer: its own
                            // (text) 413 never answers.
                            .maxRequestSize(limits.max_header_bytes + limits.max_body_bytes)
                            .headerTimeout(o.header_timeout)
                            .bodyTimeout(o.body_timeout)
                            .keepaliveTimeout(o.keepalive_timeout));
  // Copies the router: every route is in by now.
  impl_->endpoint->setHandler(std::make_shared<GuardedHandler>(r, limits));
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

}  // namespace clubos::http
