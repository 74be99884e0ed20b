#pragma once
// The ClubOS HTTP API (shared/design/interfaces.md): intake webhooks, confirmation replies,
// operator endpoints, bay agents, health and metrics, served by the HTTP room's server
// (http/http_server.h). Every route is one row of RouteTable(): its method, pattern and who may
// call it; authentication, rate limits and the one error mapping wrap every handler the same way.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/auth.h"
#include "core/clock.h"
#include "http/http_server.h"

namespace clubos::workers {
struct Job;
}
namespace clubos::workflows {
class Flow;
class AgentProtocol;
}  // namespace clubos::workflows

namespace clubos::api {

namespace metrics {
class Registry;
}

struct ApiOptions {
  clubos::http::ServerOptions http;  // http.handler_threads 0: 16
  std::string database_url;
  // Where the event feed LISTENs: database_url unless set. Empty behind a pooler in transaction
  // mode (store::IsTransactionPooled), which cannot carry a LISTEN: the feed then polls.
  std::string listen_url;
  // A hot standby for reads that change nothing (the thread, escalation and suggestion lists once
  // it has replayed what the primary had when they began; /v1/status while it is known to be at
  // most read_max_lag behind), the primary otherwise (store/read_route.h). Empty: none.
  std::string read_url;
  Millis read_max_lag{2'000};
  // A test seam: called just before each COMMIT on the API's pooled connections with the
  // transaction's name (store::ConnectionOptions::before_commit); what it throws fails the commit.
  std::function<void(const std::string& what)> db_before_commit;
  int db_pool_size = 0;                 // 0: handler threads + 4 (idempotent POSTs hold two)
  int db_statement_timeout_ms = 5'000;  // a request's statements; the request answers 503 past it
  Millis db_acquire_timeout{2'000};     // waiting for a pooled connection; 503 past it
  bool insecure_dev = false;            // no tokens: every caller acts as `dev`, with every role
  double rate_limit_per_s = 50;         // per token, sustained (0: no limit)
  double rate_limit_burst = 100;        // per token, at once
  // Failed authentications (wrong bearer token or device key) per client address: past this many
  // within the window, 429 with Retry-After for every credential from it until the window ends
  // (0: off). Behind a proxy every client has the proxy's address (docs/api.md).
  int auth_failures_max = 20;
  Millis auth_failure_window{60'000};
  std::string openphone_signing_secret;   // base64, for `openphone-signature` (legacy)
  std::string openphone_webhook_key;      // whsec_..., for the `webhook-*` headers
  Millis webhook_replay_window{300'000};  // a signature older or newer than this is refused
  Millis idempotency_retention{24LL * 3600 * 1000};
  Millis idempotency_prune_interval{600'000};
  int intake_committers = 2;  // threads storing intake in batches (api/intake.h)
  int intake_batch_max = 64;  // messages per intake transaction, at most
  // Transition counts in /metrics: rows begun longer ago than this are final (twice the longest
  // transaction ClubOS runs; statement and idle-in-transaction timeouts bound the rest) and are
  // counted once; newer ones are counted afresh at every scrape.
  Millis metrics_settle_window{120'000};
  // Operators' logins (api/accounts.h): a session lasts this long; its cookie is Secure when set
  // (or when a TLS proxy says X-Forwarded-Proto: https). Failed logins per account: past this many
  // within the window, 429 for that account until the window ends (per address: auth_failures).
  Millis session_ttl{12LL * 3600 * 1000};
  bool secure_cookies = false;
  int login_failures_max = 10;
  Millis login_failure_window{300'000};
  int page_default = 50;
  int page_max = 200;
};

// Who may call a route.
enum class Access {
  kPublic,             // health, readiness, metrics
  kWebhook,            // authenticated by the provider's signature, checked by the handler
  kAgent,              // authenticated by the bay agent's device key, checked by the handler
  kService,            // bearer token with role service
  kOperator,           // operator or admin
  kServiceOrOperator,  // service, operator or admin
};

struct RouteInfo {
  std::string method;
  std::string pattern;  // Pistache form: /v1/threads/:id
  Access access;
};

// Every route the API serves, in registration order. docs/openapi.json lists exactly these.
const std::vector<RouteInfo>& RouteTable();

class ApiServer {
 public:
  // `agent` may be null (no bay agents: the agent routes answer 503).
  ApiServer(ApiOptions options, TokenSet tokens, workflows::Flow& flow,
            workflows::AgentProtocol* agent, const Clock& clock);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds and serves; throws std::runtime_error when it cannot bind.
  void Start();
  uint16_t Port() const;
  // The graceful stop, in three steps: readiness goes false (new requests are still served);
  // wait until in-flight requests are answered; stop serving.
  void BeginDrain();
  bool draining() const;
  bool WaitIdle(Millis timeout) const;
  void Stop();

  // What the server registered (method, pattern): RouteTable() once started.
  std::vector<std::pair<std::string, std::string>> RegisteredRoutes() const;
  metrics::Registry& Metrics();
  // For workers::RuntimeOptions::on_job_ran of the in-process workers (`serve --workers N`).
  void ObserveJob(const workers::Job& job, std::chrono::microseconds start_latency,
                  std::chrono::microseconds run_time, const char* outcome);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace clubos::api
