#pragma once
// Shared by the API's translation units (api.cpp: wiring, auth, errors, idempotency, health and
// metrics; metrics_db.cpp; routes_intake.cpp; routes_operator.cpp; routes_policy.cpp). Not for use
// outside api/.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <tuple>

#include "api/accounts.h"
#include "api/api.h"
#include "api/auth.h"
#include "api/errors.h"
#include "api/events.h"
#include "api/intake.h"
#include "api/metrics.h"
#include "api/metrics_db.h"
#include "http/http_server.h"
#include "store/db.h"
#include "store/pool.h"
#include "store/read_route.h"

namespace clubos::api {

using nlohmann::json;
// The handlers take and give the HTTP room's request and answer (http/http_server.h).
using http::Request;
using http::Response;

namespace dto {
// The body as a JSON object, or BadRequest (not JSON, not an object, nested too deep).
json Object(const std::string& body);
// j[key] as an integer within min..max; nullopt when absent or null; BadRequest when it is not a
// whole number or out of range (never wrapped: 2^32+2 is not 2).
std::optional<int64_t> Integer(const json& j, const char* key, int64_t min, int64_t max);
}  // namespace dto

struct ApiServer::Impl {
  Impl(ApiOptions o, TokenSet t, workflows::Flow& f, workflows::AgentProtocol* a, const Clock& c);

  ApiOptions opt;
  TokenSet tokens;
  workflows::Flow& flow;
  workflows::AgentProtocol* agent;
  const Clock& clock;
  store::Pool pool;
  store::ReadRoute reads;  // the standby's connections, or `pool`'s
  RateLimiter limiter;
  FailureThrottle auth_failures;
  FailureThrottle login_failures;  // per account name
  Accounts accounts;
  metrics::Registry registry;
  IntakeBatcher intake;
  http::Server server;
  std::atomic<bool> draining{false};
  DatabaseMetrics db_metrics;  // after pool, which it reads
  EventFeed events;

  metrics::Family<metrics::Counter>* http_requests = nullptr;
  metrics::Family<metrics::Histogram>* http_duration = nullptr;
  metrics::Family<metrics::Histogram>* job_latency = nullptr;
  metrics::Family<metrics::Histogram>* job_run = nullptr;

  std::mutex prune_mu;
  std::condition_variable prune_cv;
  bool prune_stop = false;
  std::thread pruner;

  // A pooled connection for this request (503 when none frees up in time).
  store::Pool::Lease Db() { return pool.Acquire(opt.db_acquire_timeout); }
  // `read(store::Connection&)` on the read standby when `freshness` allows, else the primary
  // (store/read_route.h); never for a read that decides a write.
  template <typename F>
  auto Read(store::ReadRoute::Freshness freshness, F&& read) {
    return reads.Read(freshness, opt.db_acquire_timeout, std::forward<F>(read));
  }
  // The caller of a route, or ApiError 401/403.
  Principal Authorize(const Request& r, Access access);
  // ApiError 429 with Retry-After when `key` has used its rate.
  void Limit(const std::string& key);
  // ApiError 429 with Retry-After when the caller's address failed to authenticate too often;
  // AuthFailed counts one failure of it.
  void CheckAuthThrottle(const Request& r);
  void AuthFailed(const Request& r);
  // A request from a browser names its origin: one from another site is refused (403), whatever
  // its cookies (SameSite=Strict already keeps them from being sent; this is the second lock).
  void CheckSameOrigin(const Request& r) const;
  // The operator a session cookie names, or ApiError 401; 403 csrf when a request that changes
  // state lacks the session's CSRF token.
  Principal FromSession(const Request& r, const std::string& token);
  // Runs `create` once per Idempotency-Key (when the request carries one): a retry with the same
  // key and body gets the stored answer, another body with the key gets 422. `create` commits on
  // a connection of its own (intake's batches): if storing the answer then fails, a retry runs it
  // again, so it must be idempotent itself (a text is, by its provider id).
  Response Idempotent(const Request& r, const Principal& p,
                      const std::function<Response()>& create);
  // The same for a `create` that runs in the transaction storing its answer under the key: both
  // commit or neither does, so no failure can leave an action made and its key unknown (a retry
  // would then make it again: a second unlock of a door).
  Response IdempotentInTx(const Request& r, const Principal& p,
                          const std::function<Response(store::Tx&)>& create);

  // The two above: `in_key_tx` runs in the transaction that holds the key; `without_key` when the
  // request has none.
  Response Idempotently(const Request& r, const Principal& p,
                        const std::function<Response(store::Tx&)>& in_key_tx,
                        const std::function<Response()>& without_key);
  void RegisterMetrics();
  void PruneLoop();
};

using HandlerFn = Response (*)(ApiServer::Impl&, const Request&, const Principal&);

// The session cookie (routes_session.cpp): its name, its value in a request, and the Set-Cookie
// that gives it (HttpOnly, SameSite=Strict, Path=/; Secure behind TLS). No max_age: the cookie is
// cleared.
inline constexpr const char* kSessionCookie = "clubos_session";
std::optional<std::string> SessionToken(const Request& r);
std::string SessionCookie(const ApiServer::Impl& api, const Request& r, const std::string& token,
                          std::optional<Millis> max_age);

// ---- helpers for handlers (api.cpp) ----------------------------------------------------------
// The one mapping from what a handler threw to the answer (status, error shape, headers); called
// inside a catch block. ApiError as it says; the domain's errors (404, 409, 422, 403); database
// trouble as 503; a data exception of the database (SQLSTATE class 22: a value out of range or
// malformed) 400, a unique violation (23505) 409; anything else 500 "internal", logged.
Response ErrorResponse(const Request& r);

// A positive integer path parameter within int64_t (ParseInt64), or 400: never wrapped.
int64_t PathId(const Request& r, const char* name);
// The paging query: limit (1..page_max); the opaque cursor `after` is api/cursor.h's.
int PageLimit(const ApiServer::Impl& api, const Request& r);
// A timestamptz field as ISO 8601, or null.
json TimeJson(const store::Field& f);
// A jsonb field (as text) parsed, or null.
json JsonField(const store::Field& f);
// A text field, or null.
json TextField(const store::Field& f);
// An integer field, or null.
json IntField(const store::Field& f);
std::string MaskPhone(const std::string& phone);
// Phone numbers in free text (error messages) masked before they are logged.
std::string RedactPhones(const std::string& text);
Response JsonResponse(int status, const json& body);

// ---- handlers --------------------------------------------------------------------------------
// routes_intake.cpp
Response PostOpenPhoneWebhook(ApiServer::Impl& api, const Request& r, const Principal& p);
Response PostMessage(ApiServer::Impl& api, const Request& r, const Principal& p);
Response GetAgentPoll(ApiServer::Impl& api, const Request& r, const Principal& p);
Response PostAgentHeartbeat(ApiServer::Impl& api, const Request& r, const Principal& p);
Response PostAgentReport(ApiServer::Impl& api, const Request& r, const Principal& p);
// routes_operator.cpp
Response GetThread(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ListThreads(ApiServer::Impl& api, const Request& r, const Principal& p);
Response PostAction(ApiServer::Impl& api, const Request& r, const Principal& p);
Response GetAction(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ConfirmAction(ApiServer::Impl& api, const Request& r, const Principal& p);
Response RejectAction(ApiServer::Impl& api, const Request& r, const Principal& p);
Response FlagRollback(ApiServer::Impl& api, const Request& r, const Principal& p);
Response PostFeedback(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ListEscalations(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ClaimEscalation(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ResolveEscalation(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ReplyToThread(ApiServer::Impl& api, const Request& r, const Principal& p);
Response TakeOverThread(ApiServer::Impl& api, const Request& r, const Principal& p);
Response HandBackThread(ApiServer::Impl& api, const Request& r, const Principal& p);
// api.cpp
Response GetConfig(ApiServer::Impl& api, const Request& r, const Principal& p);
Response PostProposal(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ApproveProposal(ApiServer::Impl& api, const Request& r, const Principal& p);
Response PostRollback(ApiServer::Impl& api, const Request& r, const Principal& p);
Response RejectProposal(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ReplayProposal(ApiServer::Impl& api, const Request& r, const Principal& p);
Response GetEmergencyStop(ApiServer::Impl& api, const Request& r, const Principal& p);
Response PostEmergencyStop(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ListSuggestions(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ApproveSuggestion(ApiServer::Impl& api, const Request& r, const Principal& p);
Response RejectSuggestion(ApiServer::Impl& api, const Request& r, const Principal& p);
Response PostBooking(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ListBookings(ApiServer::Impl& api, const Request& r, const Principal& p);

Response GetHealthz(ApiServer::Impl& api, const Request& r, const Principal& p);
Response GetReadyz(ApiServer::Impl& api, const Request& r, const Principal& p);
Response GetMetrics(ApiServer::Impl& api, const Request& r, const Principal& p);
// routes_knowledge.cpp
Response SearchKnowledge(ApiServer::Impl& api, const Request& r, const Principal& p);
Response GetKnowledgeDocument(ApiServer::Impl& api, const Request& r, const Principal& p);
Response PostKnowledgeProposal(ApiServer::Impl& api, const Request& r, const Principal& p);
Response RestoreKnowledge(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ListKnowledgeProposals(ApiServer::Impl& api, const Request& r, const Principal& p);
Response GetKnowledgeProposal(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ReplayKnowledgeProposal(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ApproveKnowledgeProposal(ApiServer::Impl& api, const Request& r, const Principal& p);
Response RejectKnowledgeProposal(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ListKnowledgeConflicts(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ResolveKnowledgeConflict(ApiServer::Impl& api, const Request& r, const Principal& p);
Response PostKnowledgeReview(ApiServer::Impl& api, const Request& r, const Principal& p);
// routes_session.cpp
Response PostSession(ApiServer::Impl& api, const Request& r, const Principal& p);
Response GetSession(ApiServer::Impl& api, const Request& r, const Principal& p);
Response DeleteSession(ApiServer::Impl& api, const Request& r, const Principal& p);
Response ListUsers(ApiServer::Impl& api, const Request& r, const Principal& p);
Response PostUser(ApiServer::Impl& api, const Request& r, const Principal& p);
Response DisableUser(ApiServer::Impl& api, const Request& r, const Principal& p);
// routes_console.cpp
Response GetConsoleIndex(ApiServer::Impl& api, const Request& r, const Principal& p);
Response GetConsoleAsset(ApiServer::Impl& api, const Request& r, const Principal& p);
Response GetEvents(ApiServer::Impl& api, const Request& r, const Principal& p);
Response GetStatus(ApiServer::Impl& api, const Request& r, const Principal& p);

}  // namespace clubos::api
