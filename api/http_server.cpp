#include "api/http_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/router.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

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

  void Answer(const Rest::Request& in, Http::ResponseWriter& w, const std::string& route,
              const std::vector<std::string>& param_names, const Handler& handler) {
    const auto t0 = MonoNow();
    Request req;
    Response res;
    try {
      req = Convert(in, route);
      for (const auto& name : param_names)
        req.params[name] = UrlDecode(in.param(":" + name).as<std::string>(), false);
      res = handler(req);
    } catch (const std::exception& e) {
      // Pistache would send e.what() as the body: internals never leave the process.
      log::Get()->error("http {} {}: unhandled {}", req.method, route, e.what());
      res = Response::Error(500, "internal", "internal error");
    }
    Send(in, w, res);
    if (on_answered)
      on_answered(req, res.status, std::chrono::duration_cast<Millis>(MonoNow() - t0));
  }

  static void Send(const Http::Request& in, Http::ResponseWriter& w, const Response& res) {
    // 0.0.5 answers "Connection: close" unless the client asked for keep-alive: restore the
    // HTTP/1.1 default (a new connection per request costs ~5x throughput).
    auto c = in.headers().tryGet<Http::Header::Connection>();
    const bool client_close = c && c->control() == Http::ConnectionControl::Close;
    if (in.version() == Http::Version::Http11 && !client_close) {
      w.headers().remove<Http::Header::Connection>();
      w.headers().add<Http::Header::Connection>(Http::ConnectionControl::KeepAlive);
    }
    w.headers().add(std::make_shared<AnyHeader>("Content-Type", res.content_type));
    for (const auto& [name, value] : res.headers)
      w.headers().add(std::make_shared<AnyHeader>(name, value));
    w.send(static_cast<Http::Code>(res.status), res.body);
  }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

Server::~Server() {
  Stop();
}

void Server::Route(const std::string& method, const std::string& pattern, Handler handler) {
  CLUBOS_ASSERT(!impl_->started, "routes are fixed before Start");
  std::vector<std::string> names;
  for (std::size_t i = pattern.find("/:"); i != std::string::npos; i = pattern.find("/:", i + 1)) {
    const std::size_t end = pattern.find('/', i + 1);
    names.push_back(pattern.substr(i + 2, end == std::string::npos ? end : end - i - 2));
  }
  impl_->methods_by_pattern[pattern].insert(method);
  impl_->router.addRoute(MethodOf(method), pattern,
                         [impl = impl_.get(), pattern, names, h = std::move(handler)](
                             const Rest::Request& req, Http::ResponseWriter w) {
                           impl->Answer(req, w, pattern, names, h);
                           return Rest::Route::Result::Ok;
                         });
}

void Server::OnAnswered(std::function<void(const Request&, int, Millis)> fn) {
  impl_->on_answered = std::move(fn);
}

void Server::Start() {
  CLUBOS_ASSERT(!impl_->started, "started twice");
  auto& r = impl_->router;
  auto not_found = [impl = impl_.get()](const Rest::Request& req, Http::ResponseWriter w) {
    impl->Answer(req, w, "(none)", {}, [](const Request& q) {
      return Response::Error(404, "not_found", "no route for " + q.method + " " + q.path);
    });
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
      r.addRoute(
          MethodOf(m), pattern,
          [impl = impl_.get(), pattern, allow](const Rest::Request& req, Http::ResponseWriter w) {
            impl->Answer(req, w, pattern, {}, [&allow](const Request& q) {
              Response res = Response::Error(405, "method_not_allowed",
                                             q.method + " is not allowed on " + q.path);
              res.headers.emplace_back("Allow", allow);
              return res;
            });
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
  try {
    impl_->endpoint->serveThreaded();
  } catch (const std::exception& e) {
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
  impl_->endpoint->shutdown();
}

}  // namespace clubos::api
