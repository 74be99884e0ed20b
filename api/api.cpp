#include "api/api.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include <openssl/crypto.h>
#include "api/dto.h"
#include "api/internal.h"
#include "core/log.h"
#include "core/text.h"
#include "core/time_format.h"
#include "integrations/signing.h"
#include "store/migrator.h"
#include "workers/job.h"
#include "workflows/agent.h"
#include "workflows/engine.h"
#include "workflows/flow.h"
#include "workflows/policy.h"

namespace clubos::api {
namespace {

struct RouteDef {
  const char* method;
  const char* pattern;
  Access access;
  HandlerFn fn;
  bool on_reactor = false;  // never waits: answered on the reactor, even when handlers are busy
};

// The route table: one row per route. docs/openapi.json documents exactly these rows (a test
// holds the two together).
const RouteDef kRoutes[] = {
    // Intake.
    {"POST", "/v1/webhooks/openphone", Access::kWebhook, PostOpenPhoneWebhook},
    {"POST", "/v1/messages", Access::kService, PostMessage},
    // Operators: threads, actions, the escalation queue.
    {"GET", "/v1/threads", Access::kOperator, ListThreads},
    {"GET", "/v1/threads/:id", Access::kOperator, GetThread},
    {"POST", "/v1/threads/:id/reply", Access::kOperator, ReplyToThread},  // pauses automation
    {"POST", "/v1/threads/:id/takeover", Access::kOperator, TakeOverThread},
    {"POST", "/v1/threads/:id/hand-back", Access::kOperator, HandBackThread},
    {"POST", "/v1/actions", Access::kOperator, PostAction},  // unlock_door: admin (handler)
    {"GET", "/v1/actions/:id", Access::kOperator, GetAction},
    {"POST", "/v1/actions/:id/confirm", Access::kServiceOrOperator, ConfirmAction},
    {"POST", "/v1/actions/:id/reject", Access::kServiceOrOperator, RejectAction},
    {"POST", "/v1/actions/:id/flag-rollback", Access::kOperator, FlagRollback},
    {"POST", "/v1/actions/:id/feedback", Access::kOperator, PostFeedback},  // automated answers
    {"GET", "/v1/escalations", Access::kOperator, ListEscalations},
    {"POST", "/v1/escalations/:thread_id/claim", Access::kOperator, ClaimEscalation},
    {"POST", "/v1/escalations/:thread_id/resolve", Access::kOperator, ResolveEscalation},
    // Policy (routes_policy.cpp): the profile is admin's (checked in the handlers).
    {"GET", "/v1/config", Access::kOperator, GetConfig},
    {"POST", "/v1/config/proposals", Access::kOperator, PostProposal},
    {"POST", "/v1/config/proposals/:id/approve", Access::kOperator, ApproveProposal},
    {"POST", "/v1/config/proposals/:id/reject", Access::kOperator, RejectProposal},
    {"GET", "/v1/config/proposals/:id/replay", Access::kOperator, ReplayProposal},
    {"POST", "/v1/config/rollback", Access::kOperator, PostRollback},
    {"GET", "/v1/emergency-stop", Access::kOperator, GetEmergencyStop},
    {"POST", "/v1/emergency-stop", Access::kOperator, PostEmergencyStop},
    {"GET", "/v1/suggestions", Access::kOperator, ListSuggestions},
    {"POST", "/v1/suggestions/:id/approve", Access::kOperator, ApproveSuggestion},
    {"POST", "/v1/suggestions/:id/reject", Access::kOperator, RejectSuggestion},
    {"POST", "/v1/bookings", Access::kService, PostBooking},
    {"GET", "/v1/bookings", Access::kService, ListBookings},
    // The knowledge store (routes_knowledge.cpp): proposals, their dry runs, approval by another
    // person, restore, conflicts, the reviewer.
    {"GET", "/v1/knowledge", Access::kOperator, SearchKnowledge},
    {"GET", "/v1/knowledge/documents/:id", Access::kOperator, GetKnowledgeDocument},
    {"POST", "/v1/knowledge/documents/:id/proposals", Access::kOperator, PostKnowledgeProposal},
    {"POST", "/v1/knowledge/documents/:id/restore", Access::kOperator, RestoreKnowledge},
    {"GET", "/v1/knowledge/proposals", Access::kOperator, ListKnowledgeProposals},
    {"GET", "/v1/knowledge/proposals/:id", Access::kOperator, GetKnowledgeProposal},
    {"POST", "/v1/knowledge/proposals/:id/replay", Access::kOperator, ReplayKnowledgeProposal},
    {"POST", "/v1/knowledge/proposals/:id/approve", Access::kOperator, ApproveKnowledgeProposal},
    {"POST", "/v1/knowledge/proposals/:id/reject", Access::kOperator, RejectKnowledgeProposal},
    {"GET", "/v1/knowledge/conflicts", Access::kOperator, ListKnowledgeConflicts},
    {"POST", "/v1/knowledge/conflicts/:id/resolve", Access::kOperator, ResolveKnowledgeConflict},
    {"POST", "/v1/knowledge/review", Access::kOperator, PostKnowledgeReview},
    // Bay agents (integrations.md §1.5), authenticated by their device key.
    {"GET", "/v1/agent/poll", Access::kAgent, GetAgentPoll},
    {"POST", "/v1/agent/heartbeat", Access::kAgent, PostAgentHeartbeat},
    {"POST", "/v1/agent/report", Access::kAgent, PostAgentReport},
    // Operations.
    {"GET", "/healthz", Access::kPublic, GetHealthz, true},
    {"GET", "/readyz", Access::kPublic, GetReadyz},
    {"GET", "/metrics", Access::kPublic, GetMetrics},
    // Operators as people (routes_session.cpp): login sessions, and accounts (admin's).
    {"POST", "/v1/session", Access::kPublic, PostSession},
    {"GET", "/v1/session", Access::kOperator, GetSession},
    {"DELETE", "/v1/session", Access::kOperator, DeleteSession},
    {"GET", "/v1/users", Access::kOperator, ListUsers},
    {"POST", "/v1/users", Access::kOperator, PostUser},
    {"POST", "/v1/users/:name/disable", Access::kOperator, DisableUser},
    // The operator console (routes_console.cpp): its files, and the live feed it reads.
    {"GET", "/", Access::kPublic, GetConsoleIndex},
    {"GET", "/ui/:file", Access::kPublic, GetConsoleAsset},
    {"GET", "/v1/events", Access::kOperator, GetEvents},
    {"GET", "/v1/status", Access::kOperator, GetStatus},
};

Response WithHeader(Response res, const std::string& name, const std::string& value) {
  res.headers.emplace_back(name, value);
  return res;
}

}  // namespace

// The one mapping from what a handler threw to what the caller sees. Called inside a catch.
Response ErrorResponse(const Request& r) {
  auto internal = [&](const char* what, const std::string& detail) {
    log::Get()->error("http {} {}: {}: {}", r.method, r.route, what, RedactPhones(detail));
  };
  try {
    throw;
  } catch (const ApiError& e) {
    Response res = Response::Error(e.status(), e.code(), e.what());
    for (const auto& h : e.headers) res.headers.push_back(h);
    return res;
  } catch (const workflows::IllegalTransition& e) {
    // 409 with the state the entity is in, so a caller knows what happened instead.
    return JsonResponse(
        409, json{{"error",
                   {{"code", "illegal_transition"}, {"message", e.what()}, {"state", e.state()}}}});
  } catch (const workflows::VersionConflict& e) {
    // 409 with what approving would change against the version active now, so the approver sees
    // what they would be deciding.
    return JsonResponse(409, json{{"error",
                                   {{"code", "version_conflict"},
                                    {"message", e.what()},
                                    {"active_version", e.active()},
                                    {"diff", json::parse(e.diff_json())}}}});
  } catch (const workflows::Conflict& e) {
    return Response::Error(409, e.code(), e.what());
  } catch (const workflows::NotFound& e) {
    return Response::Error(404, "not_found", e.what());
  } catch (const workflows::InvalidProfile& e) {  // an InvalidInput with a code of its own
    return Response::Error(422, "invalid_profile", e.what());
  } catch (const workflows::InvalidInput& e) {
    return Response::Error(422, "invalid_input", e.what());
  } catch (const workflows::Forbidden& e) {
    return Response::Error(403, "forbidden", e.what());
  } catch (const workflows::AgentAuthError&) {
    return Response::Error(401, "unauthorized", "unknown or wrong device key");
  } catch (const HashingBusy& e) {
    return WithHeader(Response::Error(503, "busy", e.what()), "Retry-After", "1");
  } catch (const store::PoolExhausted& e) {
    internal("busy", e.what());
    return WithHeader(Response::Error(503, "busy", "the server is busy; retry shortly"),
                      "Retry-After", "1");
  } catch (const store::CommitUnknown& e) {
    internal("commit unknown", e.what());
    return Response::Error(503, "outcome_unknown",
                           "the database connection broke while committing: the request may "
                           "have taken effect; retry it with the same Idempotency-Key");
  } catch (const store::ConnectionLost& e) {
    internal("database unavailable", e.what());
    return WithHeader(Response::Error(503, "database_unavailable", "the database is unavailable"),
                      "Retry-After", "1");
  } catch (const store::TxConflict& e) {
    internal("conflict", e.what());
    return WithHeader(Response::Error(503, "conflict", "concurrent updates collided; retry"),
                      "Retry-After", "1");
  } catch (const store::SchemaError& e) {
    internal("schema", e.what());
    return Response::Error(503, "schema_not_current", "the database schema is not current");
  } catch (const store::DbError& e) {
    if (e.sqlstate() == "57014") {  // query_canceled: the statement timeout
      internal("timeout", e.what());
      return WithHeader(Response::Error(503, "timeout", "the request took too long"), "Retry-After",
                        "1");
    }
    // What the database refused about a value the caller sent (SQLSTATE class 22, data
    // exception: a number or date out of range, a malformed value) is the caller's error; a
    // unique violation (23505) is a conflict with another request (two approvals racing). The
    // detail names columns and constraints: logged, never answered.
    if (e.sqlstate().rfind("22", 0) == 0) {
      internal("data exception", e.what());
      return Response::Error(400, "bad_request",
                             "a value in the request is outside what the database accepts");
    }
    if (e.sqlstate() == "23505") {
      internal("unique violation", e.what());
      return Response::Error(409, "conflict",
                             "the request conflicts with another one that took effect first; "
                             "read the current state and retry");
    }
    internal("database error", e.what());
    return Response::Error(500, "internal", "internal error");
  } catch (const std::exception& e) {
    internal("unhandled", e.what());
    return Response::Error(500, "internal", "internal error");
  } catch (...) {
    internal("unhandled", "a non-standard exception");
    return Response::Error(500, "internal", "internal error");
  }
}

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

const std::vector<RouteInfo>& RouteTable() {
  static const std::vector<RouteInfo> table = [] {
    std::vector<RouteInfo> t;
    for (const auto& r : kRoutes) t.push_back({r.method, r.pattern, r.access});
    return t;
  }();
  return table;
}

// ---- helpers ---------------------------------------------------------------------------------

int64_t PathId(const Request& r, const char* name) {
  const auto v = ParseInt64(r.Param(name));
  if (!v || *v <= 0)
    throw BadRequest(std::string(name) + " must be a positive integer within 1.." +
                     std::to_string(INT64_MAX));
  return *v;
}

int PageLimit(const ApiServer::Impl& api, const Request& r) {
  const auto q = r.Query("limit");
  if (!q) return api.opt.page_default;
  const auto v = ParseInt64(*q);
  if (!v || *v < 1 || *v > api.opt.page_max)
    throw BadRequest("limit must be a whole number within 1.." + std::to_string(api.opt.page_max));
  return static_cast<int>(*v);
}

json TimeJson(const store::Field& f) {
  if (f.IsNull()) return nullptr;
  return FormatIso8601(f.Time());
}

json JsonField(const store::Field& f) {
  if (f.IsNull()) return nullptr;
  json j = json::parse(f.Str(), nullptr, false);
  return j.is_discarded() ? json(nullptr) : j;
}

json TextField(const store::Field& f) {
  if (f.IsNull()) return nullptr;
  return f.Str();
}

json IntField(const store::Field& f) {
  if (f.IsNull()) return nullptr;
  return f.Int64();
}

std::string MaskPhone(const std::string& phone) {
  return log::MaskPhone(phone);
}

std::string RedactPhones(const std::string& text) {
  return log::RedactPhones(text);
}

Response JsonResponse(int status, const json& body) {
  // Invalid UTF-8 in a string (a path, stored text) becomes U+FFFD instead of dump() throwing.
  return Response::Json(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

// ---- the server ------------------------------------------------------------------------------

namespace {
ApiOptions WithDefaults(ApiOptions o) {
  if (o.http.handler_threads <= 0) o.http.handler_threads = 16;
  return o;
}
}  // namespace

ApiServer::Impl::Impl(ApiOptions o, TokenSet t, workflows::Flow& f, workflows::AgentProtocol* a,
                      const Clock& c)
    : opt(WithDefaults(std::move(o))),
      tokens(std::move(t)),
      flow(f),
      agent(a),
      clock(c),
      pool(opt.database_url, opt.db_pool_size > 0 ? opt.db_pool_size : opt.http.handler_threads + 4,
           store::ConnectionOptions{.application_name = "clubos-api",
                                    .statement_timeout_ms = opt.db_statement_timeout_ms,
                                    .before_commit = opt.db_before_commit}),
      reads(pool, {.standby_url = opt.read_url,
                   .max_size = std::max(2, opt.http.handler_threads / 2),
                   .max_lag = opt.read_max_lag,
                   .connection = {.application_name = "clubos-api-reads",
                                  .statement_timeout_ms = opt.db_statement_timeout_ms}}),
      limiter(opt.rate_limit_per_s, opt.rate_limit_burst),
      auth_failures(opt.auth_failures_max, opt.auth_failure_window),
      login_failures(opt.login_failures_max, opt.login_failure_window),
      accounts(c, opt.session_ttl),
      intake(opt.database_url,
             store::ConnectionOptions{.application_name = "clubos-api-intake",
                                      .statement_timeout_ms = opt.db_statement_timeout_ms},
             flow, opt.intake_committers, opt.intake_batch_max),
      server(opt.http),
      db_metrics(pool, opt.metrics_settle_window),
      // Half the handler threads may wait for news; the rest serve everything else.
      events(store::ListenUrlFor(opt.database_url, opt.listen_url),
             std::max(1, opt.http.handler_threads / 2)) {}

Principal ApiServer::Impl::Authorize(const Request& r, Access access) {
  if (access == Access::kPublic || access == Access::kWebhook || access == Access::kAgent)
    return Principal{Role::kService, "-"};  // not a token's caller; the handler checks its own
  if (opt.insecure_dev && tokens.empty()) return Principal{Role::kDev, "dev"};
  auto unauthorized = [](const std::string& why) {
    ApiError e(401, "unauthorized", why);
    e.headers.emplace_back("WWW-Authenticate", "Bearer");
    return e;
  };
  const auto header = r.Header("authorization");
  if (!header) {
    if (const auto session = SessionToken(r)) {
      const Principal p = FromSession(r, *session);
      const bool allowed = access != Access::kService && p.Has(Role::kOperator);
      if (!allowed) throw ApiError(403, "forbidden", "this route is not open to operators");
      Limit("session:" + p.name);
      return p;
    }
    throw unauthorized("missing Authorization: Bearer <token> (or a login session)");
  }
  CheckAuthThrottle(r);
  if (header->size() < 7 || Lower(header->substr(0, 7)) != "bearer ") {
    AuthFailed(r);
    throw unauthorized("the Authorization header must be Bearer <token>");
  }
  std::string token = header->substr(7);
  token.erase(0, token.find_first_not_of(' '));
  const auto p = tokens.Find(token);
  if (!p) {
    AuthFailed(r);
    throw unauthorized("unknown token");
  }
  const bool allowed = access == Access::kService ? p->Has(Role::kService)
                       : access == Access::kOperator
                           ? p->Has(Role::kOperator)
                           : p->Has(Role::kService) || p->Has(Role::kOperator);
  if (!allowed)
    throw ApiError(403, "forbidden",
                   std::string("this route is not open to the ") + ToString(p->role) + " role");
  Limit(std::string(ToString(p->role)) + ":" + p->name);
  return *p;
}

std::optional<std::string> SessionToken(const Request& r) {
  const auto cookies = r.Header("cookie");
  if (!cookies) return std::nullopt;
  const std::string want = std::string(kSessionCookie) + "=";
  for (std::size_t at = 0; at < cookies->size();) {
    std::size_t end = cookies->find(';', at);
    if (end == std::string::npos) end = cookies->size();
    std::size_t b = cookies->find_first_not_of(' ', at);
    if (b != std::string::npos && b < end && cookies->compare(b, want.size(), want) == 0) {
      std::string v = cookies->substr(b + want.size(), end - b - want.size());
      if (!v.empty()) return v;
    }
    at = end + 1;
  }
  return std::nullopt;
}

void ApiServer::Impl::CheckSameOrigin(const Request& r) const {
  const auto origin = r.Header("origin");
  if (!origin || *origin == "null") return;  // not a browser's cross-site request
  const std::string host = r.Header("host").value_or("");
  const auto scheme_end = origin->find("://");
  const std::string origin_host =
      scheme_end == std::string::npos ? *origin : origin->substr(scheme_end + 3);
  if (host.empty() || origin_host != host)
    throw ApiError(403, "cross_origin", "a request from another site is refused");
}

Principal ApiServer::Impl::FromSession(const Request& r, const std::string& token) {
  auto db = Db();
  const auto s = accounts.Find(*db, token);
  if (!s) {
    ApiError e(401, "unauthorized", "the session has ended (expired, logged out or revoked)");
    e.headers.emplace_back("Set-Cookie", SessionCookie(*this, r, "", std::nullopt));
    throw e;
  }
  if (r.method != "GET" && r.method != "HEAD") {
    CheckSameOrigin(r);
    const std::string given = r.Header("x-csrf-token").value_or("");
    if (given.size() != s->csrf.size() ||
        CRYPTO_memcmp(given.data(), s->csrf.data(), given.size()) != 0)
      throw ApiError(403, "csrf", "the request lacks the session's CSRF token (X-CSRF-Token)");
  }
  return Principal{s->role, s->name};
}

void ApiServer::Impl::Limit(const std::string& key) {
  if (const auto wait = limiter.Take(key)) {
    ApiError e(429, "rate_limited", "too many requests; slow down");
    e.headers.emplace_back("Retry-After",
                           std::to_string(std::max<int64_t>(1, (wait->count() + 999) / 1000)));
    throw e;
  }
}

void ApiServer::Impl::CheckAuthThrottle(const Request& r) {
  if (const auto wait = auth_failures.Blocked(r.peer)) {
    ApiError e(429, "too_many_failures",
               "too many failed authentications from this address; retry later");
    e.headers.emplace_back("Retry-After",
                           std::to_string(std::max<int64_t>(1, (wait->count() + 999) / 1000)));
    throw e;
  }
}

void ApiServer::Impl::AuthFailed(const Request& r) {
  auth_failures.Failed(r.peer);
}

namespace {
// Thrown through the holding transaction: an answer not to store, and a failure of `create` that
// must not be retried as the transaction's own.
struct NotStored {
  Response res;
};
struct Forwarded {
  std::exception_ptr e;
};
}  // namespace

Response ApiServer::Impl::Idempotent(const Request& r, const Principal& p,
                                     const std::function<Response()>& create) {
  std::optional<Response> made;  // kept across a retry of the holding transaction: create once
  return Idempotently(
      r, p,
      [&](store::Tx&) {
        if (!made) {
          try {
            made = create();
          } catch (...) {
            throw Forwarded{std::current_exception()};
          }
        }
        return *made;
      },
      create);
}

Response ApiServer::Impl::IdempotentInTx(const Request& r, const Principal& p,
                                         const std::function<Response(store::Tx&)>& create) {
  return Idempotently(r, p, create, [&] {
    Response out;
    auto db = Db();
    db->Transact("create", [&](store::Tx& tx) { out = create(tx); });
    return out;
  });
}

Response ApiServer::Impl::Idempotently(const Request& r, const Principal& p,
                                       const std::function<Response(store::Tx&)>& in_key_tx,
                                       const std::function<Response()>& without_key) {
  const auto key = r.Header("idempotency-key");
  if (!key) return without_key();
  if (key->empty() || key->size() > 255 ||
      std::any_of(key->begin(), key->end(), [](char c) { return c < ' ' || c > '~'; }))
    throw BadRequest("Idempotency-Key must be 1..255 printable ASCII characters");
  const std::string hash = integrations::Hex(integrations::HmacSha256(
      "clubos-idempotency-v1", r.method + " " + r.route + " " + r.path + "\n" + r.body));
  const std::string principal = p.Actor();
  // The key's row is inserted first and stays uncommitted while the answer is made: a concurrent
  // retry with the same key waits on it, then finds the answer (or, if this one failed and rolled
  // back, takes the key itself). A failed create stores nothing.
  Response out;
  auto db = Db();
  try {
    db->Transact("idempotency", [&](store::Tx& tx) {
      if (tx.Exec("api_idempotency_claim", {principal, *key, hash}).Empty()) {
        auto row = tx.Exec("api_idempotency_get", {principal, *key});
        if (row.Empty() || row.At(0, "status").IsNull())
          throw ApiError(409, "idempotency_conflict", "a request with this key is in progress");
        if (row.At(0, "request_hash").Str() != hash)
          throw ApiError(422, "idempotency_key_reused",
                         "this Idempotency-Key was used with a different request");
        out = Response::Json(row.At(0, "status").Int(), row.At(0, "response").Str());
        out.headers.emplace_back("Idempotent-Replayed", "true");
        return;
      }
      const Response made = in_key_tx(tx);
      if (made.status < 200 || made.status > 299) throw NotStored{made};
      tx.Exec("api_idempotency_store", {principal, *key, made.status, made.body});
      out = made;
    });
  } catch (NotStored& n) {
    return n.res;
  } catch (Forwarded& f) {
    std::rethrow_exception(f.e);
  }
  return out;
}

void ApiServer::Impl::RegisterMetrics() {
  http_requests = &registry.AddCounter("clubos_http_requests_total",
                                       "HTTP requests answered, by method, route and status",
                                       {"method", "route", "status"});
  http_duration = &registry.AddHistogram(
      "clubos_http_request_duration_seconds",
      "Time from routing a request to its answer, by method and route", {"method", "route"});
  job_latency = &registry.AddHistogram(
      "clubos_job_start_latency_seconds",
      "Time from a job's run_at to its start, in this process's workers", {"queue", "kind"});
  job_run = &registry.AddHistogram("clubos_job_run_seconds",
                                   "Handler run time, in this process's workers",
                                   {"queue", "kind", "outcome"});
  registry.AddCollector([this](metrics::TextWriter& w) {
    w.Family("clubos_http_requests_in_flight", "Requests being handled now", "gauge");
    w.Sample("clubos_http_requests_in_flight", {}, {}, server.InFlight());
    w.Family("clubos_api_draining", "1 while the server drains before it stops", "gauge");
    w.Sample("clubos_api_draining", {}, {}, draining ? 1 : 0);
    const auto batched = intake.stats();
    w.Family("clubos_intake_transactions_total",
             "Intake batches the API has run (group commit; a failed batch retries its messages "
             "one by one)",
             "counter");
    w.Sample("clubos_intake_transactions_total", {}, {}, static_cast<double>(batched.batches));
    w.Family("clubos_intake_messages_total", "Messages those batches took", "counter");
    w.Sample("clubos_intake_messages_total", {}, {}, static_cast<double>(batched.messages));
    w.Family("clubos_db_pool_connections", "The API's pooled database connections", "gauge");
    w.Sample("clubos_db_pool_connections", {"state"}, {"open"}, pool.open());
    w.Sample("clubos_db_pool_connections", {"state"}, {"idle"}, pool.idle());
    const auto routed = reads.stats();
    w.Family("clubos_db_reads_total",
             "Reads the read route may send to the standby (lists, status), by the server that "
             "answered",
             "counter");
    w.Sample("clubos_db_reads_total", {"server"}, {"standby"},
             static_cast<double>(routed.standby_reads));
    w.Sample("clubos_db_reads_total", {"server"}, {"primary"},
             static_cast<double>(routed.primary_reads));
    if (reads.HasStandby()) {
      w.Family("clubos_db_standby_usable",
               "1 while the read standby streams from this primary on its timeline", "gauge");
      w.Sample("clubos_db_standby_usable", {}, {}, routed.standby_usable ? 1 : 0);
      w.Family("clubos_db_standby_fresh", "1 while the read standby is within its allowed lag",
               "gauge");
      w.Sample("clubos_db_standby_fresh", {}, {}, routed.standby_fresh ? 1 : 0);
      w.Family("clubos_db_standby_lag_seconds",
               "Bound on the read standby's staleness at its last check (-1: unknown)", "gauge");
      w.Sample("clubos_db_standby_lag_seconds", {}, {},
               routed.standby_lag_ms < 0 ? -1.0 : routed.standby_lag_ms / 1000.0);
    }
  });
  registry.AddCollector([this](metrics::TextWriter& w) { db_metrics.Collect(w); });
}

void ApiServer::Impl::PruneLoop() {
  // Never shorter than a second: an interval of 0 would turn this wait into a spin.
  const Millis interval = std::max(opt.idempotency_prune_interval, Millis(1'000));
  std::unique_lock lk(prune_mu);
  while (!prune_cv.wait_for(lk, interval, [&] { return prune_stop; })) {
    lk.unlock();
    try {
      auto db = pool.Acquire(Millis(5'000));
      db->ExecOne("api_idempotency_prune",
                  {static_cast<int64_t>(opt.idempotency_retention.count())});
    } catch (const std::exception& e) {
      log::Get()->warn("pruning idempotency keys failed: {}", RedactPhones(e.what()));
    }
    lk.lock();
  }
}

ApiServer::ApiServer(ApiOptions options, TokenSet tokens, workflows::Flow& flow,
                     workflows::AgentProtocol* agent, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(tokens), flow, agent, clock)) {
  Impl& api = *impl_;
  api.RegisterMetrics();
  for (const auto& def : kRoutes) {
    api.server.Route(
        def.method, def.pattern,
        [&api, def](const Request& r) {
          const auto t0 = MonoNow();
          Response res;
          try {
            const Principal p = api.Authorize(r, def.access);
            res = def.fn(api, r, p);
          } catch (...) {
            res = ErrorResponse(r);
          }
          api.http_duration->With({r.method, r.route})
              .Observe(std::chrono::duration<double>(MonoNow() - t0).count());
          return res;
        },
        def.on_reactor);
  }
  api.server.OnAnswered([&api](const Request& r, int status, Millis) {
    api.http_requests->With({r.method, r.route, std::to_string(status)}).Inc();
  });
}

ApiServer::~ApiServer() {
  Stop();
}

void ApiServer::Start() {
  impl_->events.Start();
  impl_->server.Start();
  impl_->pruner = std::thread([this] { impl_->PruneLoop(); });
}

uint16_t ApiServer::Port() const {
  return impl_->server.Port();
}

void ApiServer::BeginDrain() {
  impl_->draining = true;
  impl_->events.Wake();  // streams waiting for news answer now: the drain need not wait them out
}

bool ApiServer::draining() const {
  return impl_->draining;
}

bool ApiServer::WaitIdle(Millis timeout) const {
  return impl_->server.WaitIdle(timeout);
}

void ApiServer::Stop() {
  impl_->events.Stop();  // waiting requests answer now, so the server's stop finds them done
  impl_->server.Stop();
  impl_->intake.Stop();
  {
    std::lock_guard lk(impl_->prune_mu);
    impl_->prune_stop = true;
  }
  impl_->prune_cv.notify_all();
  if (impl_->pruner.joinable()) impl_->pruner.join();
}

std::vector<std::pair<std::string, std::string>> ApiServer::RegisteredRoutes() const {
  return impl_->server.Routes();
}

metrics::Registry& ApiServer::Metrics() {
  return impl_->registry;
}

void ApiServer::ObserveJob(const workers::Job& job, std::chrono::microseconds start_latency,
                           std::chrono::microseconds run_time, const char* outcome) {
  using Seconds = std::chrono::duration<double>;
  impl_->job_latency->With({job.queue, job.kind})
      .Observe(std::max(0.0, std::chrono::duration_cast<Seconds>(start_latency).count()));
  impl_->job_run->With({job.queue, job.kind, outcome})
      .Observe(std::chrono::duration_cast<Seconds>(run_time).count());
}

// ---- operations routes -----------------------------------------------------------------------

Response GetHealthz(ApiServer::Impl&, const Request&, const Principal&) {
  return JsonResponse(200, json{{"status", "ok"}});
}

Response GetReadyz(ApiServer::Impl& api, const Request&, const Principal&) {
  json checks = {{"draining", api.draining.load()}};
  bool ready = !api.draining;
  try {
    auto db = api.pool.Acquire(Millis(1'000));
    const int version = db->ExecOne("api_schema_version").At(0, "version").Int();
    const int code = store::BuiltinMigrations().back().version;
    checks["database"] = "reachable";
    checks["schema"] = version == code ? "current"
                                       : "version " + std::to_string(version) + ", this binary " +
                                             std::to_string(code);
    ready = ready && version == code;
  } catch (const std::exception& e) {
    checks["database"] = "unreachable";
    ready = false;
    log::Get()->warn("readiness: {}", RedactPhones(e.what()));
  }
  if (ready) return JsonResponse(200, json{{"ready", true}, {"checks", checks}});
  std::string why = api.draining ? "draining" : "";
  if (checks["database"] != "reachable")
    why += std::string(why.empty() ? "" : "; ") + "database";
  else if (checks["schema"] != "current")
    why += std::string(why.empty() ? "" : "; ") + "schema";
  return JsonResponse(503,
                      json{{"error", {{"code", "not_ready"}, {"message", "not ready: " + why}}},
                           {"checks", checks}});
}

Response GetMetrics(ApiServer::Impl& api, const Request&, const Principal&) {
  return Response{200, "text/plain; version=0.0.4; charset=utf-8", api.registry.Render(), {}};
}

}  // namespace clubos::api
